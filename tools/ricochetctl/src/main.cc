// ricochetctl: the admin CLI. Everything but reading the process environment is in ctl::Run.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "ctl/cli.h"

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);  // `ricochetctl ledger | head` must not die mid-write
  ricochet::ctl::Environment env;
  if (const char* s = std::getenv("RICOCHET_SERVER"); s != nullptr && *s != '\0') env.server = s;
  if (const char* t = std::getenv("RICOCHET_ADMIN_TOKEN"); t != nullptr && *t != '\0') {
    env.token = t;
  }
  if (const char* o = std::getenv("RICOCHET_OPERATOR"); o != nullptr && *o != '\0') {
    env.operator_name = o;
  }
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') env.user = u;
  env.stderr_is_tty = isatty(STDERR_FILENO) == 1;
  std::vector<std::string> words(argv + 1, argv + argc);
  int code = ricochet::ctl::Run(words, env, std::cout, std::cerr);
  std::cout.flush();
  return code;
}
