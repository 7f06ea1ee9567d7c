// Command-line words split into operands and options. Options may appear anywhere on the line:
// `--name value`, `--name=value`, or a bare `--flag`; `-h` is `--help`; `--` ends the options.
#ifndef RICOCHET_CTL_ARGS_H_
#define RICOCHET_CTL_ARGS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ricochet::ctl {

struct Args {
  std::vector<std::string> operands;
  // Option name (without "--") to its values in order; a flag has one "" per occurrence.
  std::map<std::string, std::vector<std::string>> options;
  // Option names in the order they were given, for error messages.
  std::vector<std::string> order;

  bool Has(std::string_view name) const { return options.count(std::string(name)) > 0; }
  // The last value given (a later option overrides an earlier one), or nullopt.
  std::optional<std::string> Get(std::string_view name) const;
  std::vector<std::string> All(std::string_view name) const;
};

// Splits `words`. Options named in `with_value` take the next word (or the text after '=') as
// their value; every other option is a flag and must not carry "=value". On a malformed line
// returns nullopt and sets *error to a sentence saying what is wrong.
std::optional<Args> ParseArgs(const std::vector<std::string>& words,
                              const std::set<std::string, std::less<>>& with_value,
                              std::string* error);

// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b);
// The candidate closest to `word` when it is a plausible typo (distance <= 2 and less than
// half the word), else "".
std::string Suggest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace ricochet::ctl

#endif  // RICOCHET_CTL_ARGS_H_
