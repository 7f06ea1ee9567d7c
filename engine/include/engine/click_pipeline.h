// The click writer. I/O threads hand finished clicks to it through a lock-free queue and answer
// the visitor at once; one writer thread classifies them (rate limit, dedupe) in arrival order,
// writes them to the store in batches, fsyncs the WAL at least every wal_sync_ms, and hands each
// click back to the I/O thread that acquired it (Acquire) for reuse.
//
// Classification happens here, not on the I/O thread, because the dedupe read-then-write is
// exact only when one thread owns it; the redirect does not depend on the class.
#ifndef RICOCHET_ENGINE_CLICK_PIPELINE_H_
#define RICOCHET_ENGINE_CLICK_PIPELINE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "attribution/click.h"
#include "engine/log.h"
#include "engine/metrics.h"
#include "storage/records.h"
#include "storage/store.h"
#include "storage/thread_policy.h"

namespace ricochet::engine {

// One click on its way to the store. From Acquire on an I/O thread, owned by the pipeline after
// Submit.
struct PendingClick {
  std::atomic<PendingClick*> next{nullptr};  // queue and free-list link, pipeline-internal
  storage::ClickRecord record;
  bool is_head = false;
  bool bot_user_agent = false;
  int64_t max_clicks_per_ip_per_minute = 0;
  int64_t dedupe_window_s = 86400;
  attribution::DedupeKey dedupe_key{};
  size_t producer = 0;  // whose free list it goes back to; set by Acquire
};

struct ClickPipelineOptions {
  int wal_sync_ms = 100;
  size_t max_batch = 4096;
  size_t queue_limit = 1'000'000;
  // I/O threads that Acquire clicks. The writer hands each written click back to the thread
  // that acquired it, and its strings keep their buffers: a click allocated on one thread and
  // freed on another misses glibc's per-thread caches on both sides (docs/performance.md).
  // A thread keeps at most about 2 x `recycle_limit` (handed back, and taken but not yet
  // used); the writer deletes the rest. At saturation the queue holds up to boost_depth clicks
  // (sampled: a median of about 1,600, up to 9,300): with a limit of 1024 the writer freed,
  // and the I/O threads allocated afresh, a share of every batch (docs/performance.md). A kept
  // click holds about 750 bytes: up to about 12 MiB per I/O thread.
  size_t producers = 1;
  size_t recycle_limit = 8192;
  // Adaptive priority: the writer and RocksDB's flush and compaction threads run at
  // storage::ThreadPolicy::kIdle, on CPU the I/O threads leave, so that a redirect never waits
  // behind them. They get their normal priority back while they fall behind: from the moment
  // the queue holds boost_depth clicks, someone waits for the writer (Flush, Stop), RocksDB
  // starts to stall writes, or a writer store write at idle priority has lasted stuck_boost,
  // until the writer has emptied the queue and kMinBoost has passed since the last of those.
  // Only where storage::CanLeaveIdlePolicy() holds; the server checks that.
  bool idle_priority = false;
  size_t boost_depth = 8192;
  // At idle priority a batch holds at most this many clicks (max_batch otherwise), so that each
  // store write is short (well under a millisecond of CPU here) and one that lasts stuck_raise
  // means the writer is starved or stalled, not that it met a large batch. Without the cap, a
  // backlog left by a few milliseconds without CPU became a batch of 1,000-2,600 clicks, whose
  // write at idle priority outlasted the stuck-write limit, in paced runs at half of the peak
  // rate (docs/performance.md).
  size_t idle_max_batch = 512;
  // A writer store write at idle priority that has lasted stuck_raise (Submit checks) is raised
  // to normal priority alone, until it ends, as another thread's write raises it: the writer
  // was starved of CPU, mostly by RocksDB's flushes and compactions, which share the idle
  // class with it. One that has lasted stuck_boost boosts every recording thread: RocksDB
  // stopped the write until a flush or a compaction ends (it tells of such a stall only after
  // the write), and those threads need the CPU. Boosting all of them at the first limit put
  // CPU-bound flushes and compactions at normal priority for at least kMinBoost, in paced runs
  // at half of the peak rate, and the redirects' p99 with them (docs/performance.md).
  std::chrono::milliseconds stuck_raise{10};
  std::chrono::milliseconds stuck_boost{50};
};

class ClickPipeline : private storage::WriteObserver {
 public:
  ClickPipeline(storage::Store* store, Metrics* metrics, const Logger* log,
                ClickPipelineOptions options);
  ~ClickPipeline();  // Stop()s if running.
  ClickPipeline(const ClickPipeline&) = delete;
  ClickPipeline& operator=(const ClickPipeline&) = delete;

  void Start();
  // Writes everything submitted so far, fsyncs, and joins the writer. Idempotent.
  void Stop();

  // Thread-safe and lock-free (a mutex only to wake a sleeping writer). Returns false when the
  // queue is over its limit: the click is dropped and counted.
  bool Submit(std::unique_ptr<PendingClick> click);

  // An empty click to fill and Submit, as a new PendingClick would be, but reused when the
  // writer has handed one back. Only ever called by I/O thread `producer`; a `producer` of
  // `producers` or more gets a new click that is deleted once written.
  std::unique_ptr<PendingClick> Acquire(size_t producer);

  // Blocks until every click submitted before the call has been written (not necessarily
  // fsynced). False on timeout. For admin reads that must see the caller's own clicks.
  bool Flush(std::chrono::milliseconds timeout);

  uint64_t depth() const;
  // Adaptive priority (ClickPipelineOptions::idle_priority): whether the recording threads are
  // at idle priority now, and how many times they were given their normal priority back.
  bool idle() const { return idle_.load(std::memory_order_relaxed); }
  uint64_t boosts() const { return boosts_.load(std::memory_order_relaxed); }
  // How many of the writer's store writes were raised to normal priority alone: another
  // thread wrote at the same time (WriteBegins), or the write lasted stuck_raise (Submit).
  uint64_t raises() const { return raises_.load(std::memory_order_relaxed); }
  // Click batches written to the store so far (ProcessBatch; failed writes not counted).
  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }

  static constexpr std::chrono::milliseconds kMinBoost{100};

 private:
  void Run();
  PendingClick* Pop();
  // Writer thread only: something was pushed that Pop() has not returned yet.
  bool HasWork() const { return head_.load(std::memory_order_acquire) != tail_; }
  void ProcessBatch(std::vector<std::unique_ptr<PendingClick>>& batch);
  // Writer thread: clears `click` and returns it to its producer's free list (or deletes it).
  void Recycle(PendingClick* click);
  uint32_t CountForRateLimit(const storage::ClickRecord& r);
  // Adaptive priority. Boost: any thread; stamps the request, and raises the threads if idle.
  // Relax: the writer, once it has emptied the queue.
  void Boost();
  void Relax();
  // storage::WriteObserver, for adaptive priority. Another thread's write (a postback's synced
  // commit, an outbox update) can wait for the writer inside RocksDB: in the write group the
  // writer leads, or behind its WAL sync. While one is under way the writer makes its own writes
  // at normal priority, and one it makes at idle priority is raised at once, so that no
  // answering thread waits for an idle core.
  void WriteBegins() override;
  void WriteEnds() override;
  void WritesStalled() override;  // Boost()
  // The writer, in a store write at idle priority, to normal priority until that write ends.
  // Any thread: WriteBegins (another thread writes), and Submit (the write that began at
  // `since`, on idle_write_since_ns_'s clock, lasted stuck_raise; no other write).
  void RaiseWriter(int64_t since = 0);
  // The writer's and RocksDB's threads to `policy`. On failure, logs, ends adaptive priority
  // and returns false.
  bool SetPolicy(storage::ThreadPolicy policy) ABSL_EXCLUSIVE_LOCKS_REQUIRED(priority_mu_);

  storage::Store* const store_;
  Metrics* const metrics_;
  const Logger* const log_;
  const ClickPipelineOptions options_;

  // Vyukov intrusive MPSC queue: producers exchange head_, the writer alone moves tail_.
  std::atomic<PendingClick*> head_;
  PendingClick* tail_;
  PendingClick stub_;

  // Written clicks on their way back to their producer: the writer pushes, the producer takes
  // the whole list at once (so no ABA) and then pops from `owned` alone.
  struct alignas(64) FreeList {
    std::atomic<PendingClick*> returned{nullptr};
    std::atomic<size_t> returned_count{0};  // about how many; reset when taken
    // The producer's alone, on a line of its own: the writer changes the two above per click.
    alignas(64) PendingClick* owned = nullptr;
  };
  std::unique_ptr<FreeList[]> free_lists_;

  std::atomic<uint64_t> submitted_{0};
  std::atomic<uint64_t> processed_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stopping_{false};

  std::mutex mu_;
  std::condition_variable wake_cv_;
  std::condition_variable flushed_cv_;
  std::thread thread_;

  std::atomic<bool> idle_{false};
  std::atomic<uint64_t> boosts_{0};
  absl::Mutex priority_mu_;
  pid_t writer_tid_ ABSL_GUARDED_BY(priority_mu_) = 0;
  bool adaptive_ ABSL_GUARDED_BY(priority_mu_) = false;  // until a policy change fails
  // Other threads' store writes under way, whether the writer is in a store write at idle
  // priority, and whether RaiseWriter raised it for that write.
  std::atomic<int> shared_writes_{0};
  std::atomic<bool> writing_idle_{false};
  std::atomic<bool> raised_{false};
  std::atomic<uint64_t> raises_{0};
  std::atomic<uint64_t> batches_{0};
  // steady_clock ns of the last Boost() request, and of the start of the writer's store write
  // under way at idle priority (0: none).
  std::atomic<int64_t> boost_requested_ns_{0};
  std::atomic<int64_t> idle_write_since_ns_{0};

  // Writer-thread state.
  int64_t rate_minute_ = -1;
  absl::flat_hash_map<attribution::RateKey, uint32_t> rate_counts_;
  bool unsynced_ = false;
  std::chrono::steady_clock::time_point last_sync_;
  FailureRun write_failures_;  // clicks dropped since writes last succeeded
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_CLICK_PIPELINE_H_
