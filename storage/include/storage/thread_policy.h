// Scheduling policies for the threads that record rather than answer: the click writer and
// RocksDB's flush and compaction threads. Linux only.
#ifndef RICOCHET_STORAGE_THREAD_POLICY_H_
#define RICOCHET_STORAGE_THREAD_POLICY_H_

#include <sys/types.h>

#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace ricochet::storage {

enum class ThreadPolicy {
  kNormal,  // SCHED_OTHER at nice 0, like every other thread of the server
  // SCHED_IDLE: the thread runs only on a core no normal thread wants, and a normal thread
  // that wakes up takes the core from it at once. Under a full load it gets almost no CPU.
  kIdle,
};

// The calling thread's kernel id, for SetThreadPolicy from another thread.
pid_t CurrentThreadId();

// Sets thread `tid` of this process to `policy`. kIdle also gives it the best-effort I/O class
// (level 4, as at nice 0) explicitly, not the idle I/O class SCHED_IDLE implies.
[[nodiscard]] absl::Status SetThreadPolicy(pid_t tid, ThreadPolicy policy);

// The ids of the threads of process `pid` whose name (/proc/PID/task/TID/comm) starts with
// `prefix`; a thread that exits meanwhile is left out.
std::vector<pid_t> ThreadsNamed(pid_t pid, std::string_view prefix);

// Whether this process may move a thread from kIdle back to kNormal. Linux allows that only
// with CAP_SYS_NICE or an RLIMIT_NICE of at least 20 (systemd's LimitNICE=20); anyone may move
// a thread to kIdle. Tried on a scratch thread.
bool CanLeaveIdlePolicy();

}  // namespace ricochet::storage

#endif  // RICOCHET_STORAGE_THREAD_POLICY_H_
