// Delivers outgoing affiliate postbacks from the durable outbox.
//
// The conversion writer adds outbox entries in the conversion's own batch; this sender owns them
// from then on. It runs on one I/O worker's io_context (asynchronous resolve, connect, TLS,
// request; no thread per delivery), keeps the schedule in memory (loaded from the pending range
// of the outbox at start) and writes every state change of an entry back to the store:
//
//   pending --2xx--> delivered
//   pending --failure--> pending (next attempt after retry_ms * 2^(attempts-1), +-20% jitter)
//                    --attempts == max_attempts--> dead
//   pending --private target--> dead ("ssrf_blocked"), at once: retrying cannot help
//   dead | delivered --Retry()--> pending with a fresh attempt count (replay)
//
// An attempt is written to the store ("in_flight", attempts + 1) before its request leaves, so a
// crash or restart mid-attempt neither loses nor double-counts it: at start such entries are
// marked "interrupted" and retried. Delivery is at least once; each request carries the entry id
// as the {event_id} macro so the receiver can drop repeats.
//
// SSRF guard: the host is resolved once, every resolved address is checked (BlockedTargetClass)
// and the connection goes to exactly those addresses (no second lookup a DNS rebinding could
// change). Redirects are never followed: a 3xx is a failed attempt.
#ifndef RICOCHET_ENGINE_POSTBACK_SENDER_H_
#define RICOCHET_ENGINE_POSTBACK_SENDER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ssl/context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/thread_pool.hpp"
#include "engine/log.h"
#include "engine/metrics.h"
#include "storage/store.h"

namespace ricochet::engine {

struct PostbackSenderOptions {
  bool allow_private = false;
  bool paused = false;  // schedule, record, send nothing
  int max_attempts = 10;
  int64_t retry_ms = 1000;
  int64_t retry_max_ms = 3'600'000;
  int64_t timeout_ms = 10'000;
  int concurrency = 32;
};

class PostbackSender {
 public:
  // Answer of Retry(): HTTP-like status (200, 404 unknown id, 409 attempt in flight, 503 store
  // failure) and the entry as it now stands.
  struct RetryResult {
    int status = 200;
    std::string reason;
    storage::OutboxEntry entry;
  };

  PostbackSender(boost::asio::io_context& ioc, storage::Store* store, Metrics* metrics,
                 const Logger* log, PostbackSenderOptions options);
  ~PostbackSender();
  PostbackSender(const PostbackSender&) = delete;
  PostbackSender& operator=(const PostbackSender&) = delete;

  // Loads the pending entries (marking attempts a restart cut off) and starts delivering once the
  // io_context runs.
  [[nodiscard]] absl::Status Start();
  // Cancels attempts in flight (they stay "in_flight" in the store and are retried after the next
  // start) and waits until the io_context has run the cancellation. Call while it still runs.
  void Stop();

  // Thread-safe. Entries the conversion writer has just committed.
  void Enqueue(std::vector<storage::OutboxEntry> entries);
  // Thread-safe. Schedules entry `id` (pending, dead or delivered) for delivery now with a fresh
  // attempt count; `done` runs on the sender's io_context.
  void Retry(std::string id, std::function<void(RetryResult)> done);

  uint64_t pending() const { return pending_.load(std::memory_order_relaxed); }
  uint64_t in_flight() const { return in_flight_count_.load(std::memory_order_relaxed); }

 private:
  class Attempt;
  friend class Attempt;
  struct Outcome {
    bool delivered = false;
    bool final = false;  // dead now, whatever the attempt count (ssrf_blocked, bad_url)
    int status = 0;
    std::string error;  // "code" or "code: detail"
  };

  // A new pending entry (counted), unless it is already known.
  void Add(storage::OutboxEntry entry);
  // Schedules an entry already counted as pending for its next_attempt_ms.
  void Wait(storage::OutboxEntry entry);
  void Arm();
  void Pump();
  void Launch(storage::OutboxEntry entry);
  void Finish(storage::OutboxEntry entry, Outcome outcome);
  int64_t Backoff(int64_t attempts);
  // The outbox write of an attempt (or its result) failed, or succeeded: while the store refuses
  // writes (disk full) every pending entry fails each retry, so this logs the first failure
  // and the resumption, not each one.
  void OutboxWriteFailed(std::string_view message, const std::string& id, const absl::Status& st);
  void OutboxWriteOk();

  boost::asio::io_context& ioc_;
  storage::Store* const store_;
  Metrics* const metrics_;
  const Logger* const log_;
  const PostbackSenderOptions options_;
  boost::asio::ssl::context tls_;
  boost::asio::thread_pool dns_pool_{4};  // blocking getaddrinfo, off the io_context

  // io_context state.
  boost::asio::steady_timer timer_;
  std::multimap<int64_t, std::string> schedule_;                   // next attempt ms -> id
  std::unordered_map<std::string, storage::OutboxEntry> waiting_;  // pending, not in flight
  std::unordered_map<std::string, std::weak_ptr<Attempt>> flying_;
  std::mt19937_64 rng_;
  bool started_ = false;
  bool stopping_ = false;
  FailureRun outbox_write_failures_;  // since the last outbox write that succeeded

  std::atomic<uint64_t> pending_{0};  // entries in state pending, in flight included
  std::atomic<uint64_t> in_flight_count_{0};
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_POSTBACK_SENDER_H_
