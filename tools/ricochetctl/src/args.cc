#include "ctl/args.h"

#include <algorithm>
#include <numeric>

namespace ricochet::ctl {

std::optional<std::string> Args::Get(std::string_view name) const {
  auto it = options.find(std::string(name));
  if (it == options.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::All(std::string_view name) const {
  auto it = options.find(std::string(name));
  return it == options.end() ? std::vector<std::string>() : it->second;
}

std::optional<Args> ParseArgs(const std::vector<std::string>& words,
                              const std::set<std::string, std::less<>>& with_value,
                              std::string* error) {
  Args args;
  bool options_done = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (options_done || w == "-" || w.empty() || w[0] != '-') {
      args.operands.push_back(w);
      continue;
    }
    if (w == "--") {
      options_done = true;
      continue;
    }
    std::string name;
    std::optional<std::string> inline_value;
    if (w == "-h") {
      name = "help";
    } else if (w.size() > 2 && w[1] == '-') {
      size_t eq = w.find('=');
      name = w.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) inline_value = w.substr(eq + 1);
    } else {
      *error = "unknown option " + w +
               " (options are spelled --name; an argument that starts with - goes after --)";
      return std::nullopt;
    }
    if (name.empty()) {
      *error = "malformed option " + w;
      return std::nullopt;
    }
    std::string value;
    if (with_value.count(name)) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < words.size()) {
        value = words[++i];
      } else {
        *error = "--" + name + " needs a value";
        return std::nullopt;
      }
    } else if (inline_value) {
      *error = "--" + name + " takes no value";
      return std::nullopt;
    }
    args.options[name].push_back(std::move(value));
    args.order.push_back(name);
  }
  return args;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  std::iota(prev.begin(), prev.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = 3;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_d && d * 2 < std::max(word.size(), c.size())) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace ricochet::ctl
