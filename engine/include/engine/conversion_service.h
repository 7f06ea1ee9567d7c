// The conversion committer. Postbacks and status changes are queued to one writer thread, which
// processes them in arrival order against the store plus the batch's own pending changes, then
// writes the whole batch (conversions, idempotency keys, hash-chained ledger entries, balance and
// counter merges) in one atomic RocksDB write with the WAL fsynced, and only then answers.
//
// Why one writer: idempotency (one conversion per key under concurrent replays), the daily cap
// (never overshoot), volume-step counts and the ledger chain are all read-then-write decisions;
// a single owner makes them exact without locks or transactions, and many concurrent postbacks
// still share one fsync (group commit). For scale-out, one writer per click-id partition.
#ifndef RICOCHET_ENGINE_CONVERSION_SERVICE_H_
#define RICOCHET_ENGINE_CONVERSION_SERVICE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "attribution/money.h"
#include "engine/catalog.h"
#include "engine/click_id.h"
#include "engine/click_pipeline.h"
#include "engine/log.h"
#include "engine/metrics.h"
#include "engine/postback_params.h"
#include "storage/store.h"

namespace ricochet::engine {

// An answer for the HTTP layer: status code and JSON body (or plain "OK").
struct ServiceReply {
  int status = 200;
  std::string body;
  bool plain_text = false;
  // For metrics: "created", "duplicate", "updated", "rejected", "refused" (4xx), "unavailable"
  // (503), and the reason if any.
  std::string result;
  std::string reason;
};

class ConversionService {
 public:
  using Done = std::function<void(ServiceReply)>;

  // `partition` is this node's (--partition), carried in every conversion id.
  ConversionService(storage::Store* store, CatalogHolder* catalog, const ClickIdCodec* click_ids,
                    ClickPipeline* clicks, Metrics* metrics, const Logger* log, uint16_t partition);
  ~ConversionService();  // Stop()s

  // Called on the writer thread with the outbox entries of each batch once it is durable. Set
  // before Start().
  void SetOutboxListener(std::function<void(const std::vector<storage::OutboxEntry>&)> fn) {
    outbox_listener_ = std::move(fn);
  }

  // Loads the ledger head and starts the writer.
  [[nodiscard]] absl::Status Start();
  // Answers everything queued, then joins. Idempotent.
  void Stop();

  // `done` runs on the writer thread once the outcome is durable (or refused).
  void SubmitPostback(PostbackParams params, Done done);
  // `note`: the operator's reason, kept on the conversion ("" keeps none).
  void SubmitStatusChange(std::string conversion_id, std::string status, std::string note,
                          Done done);
  // Pays every affiliate whose approved balance in `currency` is positive and at least
  // `min_amount`: one payout ledger entry each (approved -> paid), one payout record. Runs alone
  // in its batch, so it sees every earlier conversion committed.
  void SubmitPayout(std::string currency, attribution::Micros min_amount, Done done);

 private:
  struct Request {
    enum Kind { kPostback, kStatusChange, kPayout } kind = kPostback;
    PostbackParams params;
    std::string conversion_id;  // status change
    std::string status;         // status change; payout currency
    std::string note;           // status change
    attribution::Micros min_amount = 0;
    Done done;
  };
  struct Batch;

  void Run();
  void ProcessBatch(std::deque<Request>& requests);
  ServiceReply HandlePostback(const Request& r, Batch& b);
  ServiceReply HandleStatusChange(const Request& r, Batch& b);
  ServiceReply HandlePayout(const Request& r, Batch& b);
  void Submit(Request r);
  void Commit(Batch& b, std::vector<ServiceReply>& replies);
  absl::StatusOr<std::optional<storage::ConversionRecord>> Lookup(Batch& b, const std::string& key);
  void ApplyTransition(Batch& b, storage::ConversionRecord& c, attribution::ConversionStatus to);
  // Outbox entries for every beneficiary with a postback_url, in the batch being built.
  void QueueOutbox(Batch& b, const storage::ConversionRecord& c, const storage::ClickRecord* click);
  std::string NewId(std::string_view prefix, int64_t now_ms);

  storage::Store* const store_;
  CatalogHolder* const catalog_;
  const ClickIdCodec* const click_ids_;
  ClickPipeline* const clicks_;
  Metrics* const metrics_;
  const Logger* const log_;
  std::function<void(const std::vector<storage::OutboxEntry>&)> outbox_listener_;
  const uint16_t partition_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;

  // Non-rejected conversion counts as committed, cached because this thread alone changes them
  // (the store keeps them as merge operands, slow to read back one by one). Batch deltas are
  // added only after a successful commit.
  absl::StatusOr<int64_t> CountedToday(const std::string& offer, int32_t day);
  absl::StatusOr<int64_t> CountedMonth(const std::string& offer, const std::string& affiliate,
                                       int32_t month);

  // Writer-thread state: the durable chain head, the id counter and the count caches.
  uint64_t ledger_seq_ = 0;
  std::string ledger_hash_;
  uint32_t id_counter_ = 0;
  FailureRun unavailable_;  // 503s since the last successful commit
  std::mt19937_64 rng_{std::random_device{}()};
  int32_t cached_day_ = INT32_MIN;
  int32_t cached_month_ = INT32_MIN;
  std::map<std::string, int64_t> today_counts_;                          // offer -> count
  std::map<std::pair<std::string, std::string>, int64_t> month_counts_;  // (offer, aff) -> count
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_CONVERSION_SERVICE_H_
