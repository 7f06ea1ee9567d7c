// Invariant checks for the fuzz targets. Unlike assert() they stay on in the RelWithDebInfo
// build (NDEBUG), and abort() makes libFuzzer report the input as a crash.
#ifndef RICOCHET_FUZZ_FUZZ_CHECK_H_
#define RICOCHET_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

#endif  // RICOCHET_FUZZ_FUZZ_CHECK_H_
