// Runs the real ricochetctl binary as a subprocess and parses what it prints: aligned tables,
// key/value tables and CSV, so tests can assert exact values.
#ifndef RICOCHET_TESTS_CTL_CTL_RUNNER_H_
#define RICOCHET_TESTS_CTL_CTL_RUNNER_H_

#include <map>
#include <string>
#include <vector>

#include "harness.h"

namespace ricochet::testing {

struct CtlResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs ricochetctl with `args`. The child's environment loses RICOCHET_SERVER,
// RICOCHET_ADMIN_TOKEN, RICOCHET_OPERATOR and USER, then gets `env`; `input` is its stdin.
CtlResult RunCtl(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {}, const std::string& input = "");

// RunCtl against `server`'s admin listener with the right token (as flags).
CtlResult Ctl(const Server& server, std::vector<std::string> args);

// "127.0.0.1:<admin port>".
std::string AdminAddress(const Server& server);

// An aligned table: one map per row, keyed by the (upper-case) header names. Cells shown as
// "-" (empty) come back as "".
std::vector<std::map<std::string, std::string>> ParseTable(const std::string& text);
// A KEY/VALUE table as a map.
std::map<std::string, std::string> ParseKeyValue(const std::string& text);
// RFC 4180 CSV: records of fields.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text);
// CSV with a header line: one map per record keyed by the header fields.
std::vector<std::map<std::string, std::string>> ParseCsvRecords(const std::string& text);

// A click on `offer` by `aff` on the public listener; returns the click id (the offer's URL must
// carry c={click_id}).
std::string MakeClick(const Server& s, const std::string& offer, const std::string& aff);
// A postback on the public listener; returns the conversion id it created (or found).
std::string MakeConversion(const Server& s, const std::string& click_id, const std::string& query);

}  // namespace ricochet::testing

#endif  // RICOCHET_TESTS_CTL_CTL_RUNNER_H_
