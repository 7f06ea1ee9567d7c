#include "storage/thread_policy.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"

namespace ricochet::storage {

pid_t CurrentThreadId() { return gettid(); }

absl::Status SetThreadPolicy(pid_t tid, ThreadPolicy policy) {
  sched_param param{};
  param.sched_priority = 0;
  if (sched_setscheduler(tid, policy == ThreadPolicy::kIdle ? SCHED_IDLE : SCHED_OTHER, &param) !=
      0) {
    int err = errno;
    return absl::ErrnoToStatus(
        err, absl::StrCat("sched_setscheduler(", tid,
                          policy == ThreadPolicy::kIdle ? ", SCHED_IDLE)" : ", SCHED_OTHER)"));
  }
  // Without an I/O priority of its own a thread's follows its CPU policy, and SCHED_IDLE means
  // the idle I/O class: the WAL syncs and flushes would queue behind any other disk I/O (and
  // stay there when the thread is raised). Best effort, level 4, is what nice 0 gets.
  constexpr int kWhoProcess = 1;                    // IOPRIO_WHO_PROCESS: one thread
  constexpr int kBestEffortLevel4 = (2 << 13) | 4;  // IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 4)
  if (policy == ThreadPolicy::kIdle &&
      syscall(SYS_ioprio_set, kWhoProcess, tid, kBestEffortLevel4) != 0) {
    int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("ioprio_set(", tid, ", best effort 4)"));
  }
  return absl::OkStatus();
}

std::vector<pid_t> ThreadsNamed(pid_t pid, std::string_view prefix) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name.starts_with(prefix)) {
      out.push_back(std::stoi(task.path().filename().string()));
    }
  }
  return out;
}

bool CanLeaveIdlePolicy() {
  bool ok = false;
  std::thread probe([&ok] {
    pid_t self = CurrentThreadId();
    ok = SetThreadPolicy(self, ThreadPolicy::kIdle).ok() &&
         SetThreadPolicy(self, ThreadPolicy::kNormal).ok();
  });
  probe.join();
  return ok;
}

}  // namespace ricochet::storage
