// The scheduling policy (SCHED_OTHER, SCHED_IDLE, ...) and I/O priority class of threads of a
// process, by thread name, for tests of --record-priority.
#ifndef RICOCHET_TESTS_THREAD_POLICIES_H_
#define RICOCHET_TESTS_THREAD_POLICIES_H_

#include <sched.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "catch2/catch.hpp"
#include "storage/thread_policy.h"

// Ends the test case with a warning where this process may not raise a thread back from
// SCHED_IDLE (no CAP_SYS_NICE, RLIMIT_NICE below 20): adaptive priority is off there.
#define RETURN_UNLESS_CAN_LEAVE_IDLE()                       \
  do {                                                       \
    if (!::ricochet::storage::CanLeaveIdlePolicy()) {        \
      WARN("skipped: needs CAP_SYS_NICE or RLIMIT_NICE 20"); \
      return;                                                \
    }                                                        \
  } while (0)

namespace ricochet::testing {

// The policies of the threads of `pid` whose name starts with `prefix`.
inline std::vector<int> PoliciesOf(pid_t pid, const std::string& prefix) {
  std::vector<int> out;
  for (pid_t tid : storage::ThreadsNamed(pid, prefix)) {
    if (int policy = sched_getscheduler(tid); policy >= 0) out.push_back(policy);
  }
  return out;
}

// Whether `pid` has threads whose name starts with `prefix`, all at `policy`.
inline bool AllAre(pid_t pid, const std::string& prefix, int policy) {
  std::vector<int> policies = PoliciesOf(pid, prefix);
  return !policies.empty() &&
         std::all_of(policies.begin(), policies.end(), [&](int p) { return p == policy; });
}

// The I/O priority classes (ioprio_get >> 13: 0 none, 1 real time, 2 best effort, 3 idle) of
// the threads of `pid` whose name starts with `prefix`.
inline std::vector<int> IoClassesOf(pid_t pid, const std::string& prefix) {
  std::vector<int> out;
  for (pid_t tid : storage::ThreadsNamed(pid, prefix)) {
    if (long prio = syscall(SYS_ioprio_get, 1, tid); prio >= 0) {
      out.push_back(static_cast<int>(prio >> 13));
    }
  }
  return out;
}

}  // namespace ricochet::testing

#endif  // RICOCHET_TESTS_THREAD_POLICIES_H_
