// Flag parsing for the programs of bench/ (click_loader, paced_load).
// Each program defines kProgram, its name and its usage line.
#ifndef RICOCHET_BENCH_FLAGS_H_
#define RICOCHET_BENCH_FLAGS_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ricochet::bench {

struct Program {
  const char* name;
  const char* usage;  // the flags, after the name
};
extern const Program kProgram;

// "<name>: <msg>" and the usage line on stderr; exits 2.
[[noreturn]] inline void Usage(const std::string& msg) {
  std::fprintf(stderr, "%s: %s\nusage: %s %s\n", kProgram.name, msg.c_str(), kProgram.name,
               kProgram.usage);
  std::exit(2);
}

// The value of `flag` as a whole number from `min` to `max`, or Usage().
inline int64_t ParseCount(const std::string& flag, const char* v, int64_t min, int64_t max) {
  char* end = nullptr;
  long long n = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || n < min || n > max) {
    Usage(flag + ": expected a whole number from " + std::to_string(min) + " to " +
          std::to_string(max));
  }
  return n;
}

// Calls fn(flag, value) for each "--flag value" pair of argv, or Usage() when the last flag has
// no value.
template <typename Fn>
void ForEachFlag(int argc, char** argv, Fn fn) {
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) Usage(std::string(argv[i]) + " needs a value");
    fn(std::string(argv[i]), argv[i + 1]);
  }
}

}  // namespace ricochet::bench

#endif  // RICOCHET_BENCH_FLAGS_H_
