// The scheduling policy (SCHED_OTHER, SCHED_IDLE, ...) of every thread of a process, by thread
// name, for tests of --record-priority.
#ifndef RICOCHET_TESTS_THREAD_POLICIES_H_
#define RICOCHET_TESTS_THREAD_POLICIES_H_

#include <sched.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace ricochet::testing {

// (name, policy) per thread of `pid`; a thread that exits meanwhile is left out.
inline std::vector<std::pair<std::string, int>> ThreadPolicies(pid_t pid) {
  std::vector<std::pair<std::string, int>> out;
  std::error_code ec;
  std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    int policy = sched_getscheduler(std::stoi(task.path().filename().string()));
    if (std::getline(comm, name) && policy >= 0) out.emplace_back(name, policy);
  }
  return out;
}

// The policies of the threads of `pid` whose name starts with `prefix`.
inline std::vector<int> PoliciesOf(pid_t pid, const std::string& prefix) {
  std::vector<int> out;
  for (const auto& [name, policy] : ThreadPolicies(pid)) {
    if (name.starts_with(prefix)) out.push_back(policy);
  }
  return out;
}

// The I/O priority classes (ioprio_get >> 13: 0 none, 1 real time, 2 best effort, 3 idle) of
// the threads of `pid` whose name starts with `prefix`.
inline std::vector<int> IoClassesOf(pid_t pid, const std::string& prefix) {
  std::vector<int> out;
  std::error_code ec;
  std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (!std::getline(comm, name) || !name.starts_with(prefix)) continue;
    long prio = syscall(SYS_ioprio_get, 1, std::stoi(task.path().filename().string()));
    if (prio >= 0) out.push_back(static_cast<int>(prio >> 13));
  }
  return out;
}

}  // namespace ricochet::testing

#endif  // RICOCHET_TESTS_THREAD_POLICIES_H_
