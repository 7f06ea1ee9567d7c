#include "ctl/output.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "boost/json/serialize.hpp"

namespace ricochet::ctl {
namespace json = boost::json;
namespace {

size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count lead bytes only
  return n;
}

std::string Sanitize(std::string_view s) {
  if (s.empty()) return "-";
  std::string out(s);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = ' ';
  }
  return out;
}

bool IsPlainNumber(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  bool dot = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.' && !dot && i + 1 < s.size()) {
      dot = true;
    } else if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

void FlattenInto(const json::value& v, const std::string& prefix,
                 std::vector<std::pair<std::string, std::string>>* out) {
  auto key = [&](std::string_view k) {
    return prefix.empty() ? std::string(k) : prefix + "." + std::string(k);
  };
  if (v.is_object() && !v.get_object().empty()) {
    for (const auto& [k, child] : v.get_object()) FlattenInto(child, key(k), out);
  } else if (v.is_array() && !v.get_array().empty()) {
    const json::array& a = v.get_array();
    for (size_t i = 0; i < a.size(); ++i) FlattenInto(a[i], key(std::to_string(i)), out);
  } else {
    out->emplace_back(prefix, Cell(v));
  }
}

}  // namespace

std::string RenderTable(const Table& table) {
  std::vector<std::string> header;
  for (const std::string& c : table.columns) {
    std::string h = c;
    std::transform(h.begin(), h.end(), h.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    header.push_back(std::move(h));
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(table.rows.size());
  for (const auto& r : table.rows) {
    std::vector<std::string> cells;
    for (size_t i = 0; i < header.size(); ++i) cells.push_back(Sanitize(i < r.size() ? r[i] : ""));
    rows.push_back(std::move(cells));
  }
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = DisplayWidth(header[i]);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], DisplayWidth(r[i]));
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      l += cells[i];
      if (i + 1 < cells.size()) l.append(width[i] - DisplayWidth(cells[i]) + 2, ' ');
    }
    out += l;
    out += '\n';
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

std::string CsvField(std::string_view field) {
  std::string f(field);
  if (!f.empty() && std::string_view("=+-@\t\r").find(f[0]) != std::string_view::npos &&
      !IsPlainNumber(f)) {
    f.insert(0, 1, '\'');
  }
  if (f.find_first_of(",\"\r\n") == std::string::npos) return f;
  std::string out = "\"";
  for (char c : f) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string RenderCsv(const Table& table) {
  std::string out;
  auto line = [&](const std::vector<std::string>& cells, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      out += CsvField(i < cells.size() ? cells[i] : "");
    }
    out += '\n';
  };
  line(table.columns, table.columns.size());
  for (const auto& r : table.rows) line(r, table.columns.size());
  return out;
}

std::string Cell(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  if (v.is_double()) {
    // Boost.JSON would write 1.5 as "1.5E0"; people read the shortest decimal form.
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v.get_double());
    if (ec == std::errc()) return std::string(buf, end);
  }
  return json::serialize(v);
}

std::vector<std::pair<std::string, std::string>> Flatten(const json::value& v) {
  std::vector<std::pair<std::string, std::string>> out;
  FlattenInto(v, "", &out);
  return out;
}

Table KeyValueTable(const json::value& v) {
  Table t;
  t.columns = {"key", "value"};
  for (auto& [k, val] : Flatten(v)) t.rows.push_back({k, val});
  return t;
}

Table ObjectsTable(const json::array& items, const std::vector<std::string>& columns) {
  Table t;
  t.columns = columns;
  for (const json::value& item : items) {
    std::vector<std::string> row;
    for (const std::string& c : columns) {
      const json::value* v = item.is_object() ? item.get_object().if_contains(c) : nullptr;
      row.push_back(v == nullptr ? "" : Cell(*v));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace ricochet::ctl
