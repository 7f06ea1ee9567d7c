// ricochetctl's entry point as a library: parses the command line, runs one verb against the
// admin API (or, for `verify --data`, against a stopped database), prints the result.
#ifndef RICOCHET_CTL_CLI_H_
#define RICOCHET_CTL_CLI_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace ricochet::ctl {

// Exit codes; scripts may rely on them (docs/ricochetctl.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitProblems = 1,  // verify found a broken chain or a wrong balance
  kExitUsage = 2,     // bad command line, unreadable --file, bad --server
  kExitAuth = 3,      // no token, or the server answered 401
  kExitNotFound = 4,  // 404: unknown id (or route), missing data directory
  kExitRejected = 5,  // the server refused the input: 400, 403, 405, 409, 422
  kExitServer = 6,    // 5xx, unreachable, timeout, garbled answer, database unavailable
};

// What the process environment supplies.
struct Environment {
  std::optional<std::string> server;         // RICOCHET_SERVER
  std::optional<std::string> token;          // RICOCHET_ADMIN_TOKEN
  std::optional<std::string> operator_name;  // RICOCHET_OPERATOR
  std::optional<std::string> user;           // USER (the operator when nothing else names one)
  bool stderr_is_tty = false;                // progress redraws one line instead of printing lines
};

// Runs `words` (argv without the program name). Results go to `out`; errors, as
// "ricochetctl: <what happened>; <what to do>", and progress go to `err`. Returns the exit code.
int Run(const std::vector<std::string>& words, const Environment& env, std::ostream& out,
        std::ostream& err);

}  // namespace ricochet::ctl

#endif  // RICOCHET_CTL_CLI_H_
