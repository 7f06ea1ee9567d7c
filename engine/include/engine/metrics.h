// Prometheus metrics. Counters are sharded per I/O worker (one cache line set each) so the hot
// path increments without contention; a scrape sums the shards.
#ifndef RICOCHET_ENGINE_METRICS_H_
#define RICOCHET_ENGINE_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "attribution/click.h"
#include "storage/store.h"

namespace ricochet::engine {

enum class Route : uint8_t {
  kClick,
  kPostback,
  kPixel,
  kHealthz,
  kReadyz,
  kMetrics,
  kAdminApi,
  kNotFound,
  kBadRequest,  // rejected before routing (framing, limits)
  kCount,
};
std::string_view RouteName(Route r);

enum class Listener : uint8_t { kPublic, kAdmin, kCount };
std::string_view ListenerName(Listener l);

inline constexpr int kStatusCodes[] = {200, 201, 204, 302, 304, 400, 401, 403, 404,
                                       405, 409, 413, 414, 422, 431, 500, 503};
inline constexpr size_t kStatusSlots = std::size(kStatusCodes) + 1;  // last: other
inline constexpr double kLatencyBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  0.5,    1.0};
inline constexpr size_t kBucketSlots = std::size(kLatencyBuckets) + 1;  // last: +Inf

// Point-in-time values the owner of each subsystem supplies at scrape time.
struct Gauges {
  uint64_t click_queue_depth = 0;
  bool recording_idle = false;    // ClickPipeline::idle()
  uint64_t recording_boosts = 0;  // ClickPipeline::boosts()
  uint64_t recording_raises = 0;  // ClickPipeline::raises()
  uint64_t click_batches = 0;     // ClickPipeline::batches()
  storage::StoreStats store;
  uint64_t outbox_pending = 0;
  uint64_t outbox_in_flight = 0;
  double uptime_seconds = 0;
};

// Thread-safe. `shard` must be < shards given at construction; the last shard is for
// non-I/O threads (click writer, admin pool).
class Metrics {
 public:
  explicit Metrics(size_t shards);
  size_t other_shard() const { return shards_.size() - 1; }

  void RecordRequest(size_t shard, Listener listener, Route route, int status, int64_t micros);
  void CountClick(size_t shard, attribution::ClickClass c);
  void CountClicksDropped(size_t shard, uint64_t n);
  void CountClickWriteError(size_t shard);
  void CountConnection(size_t shard, Listener listener);
  // The open-connections gauge (any thread); the server drains on it at shutdown.
  void ConnectionOpened(Listener l) { open_[size_t(l)].fetch_add(1, std::memory_order_relaxed); }
  void ConnectionClosed(Listener l) { open_[size_t(l)].fetch_sub(1, std::memory_order_relaxed); }
  uint64_t open_connections() const {
    return open_[0].load(std::memory_order_relaxed) + open_[1].load(std::memory_order_relaxed);
  }
  void CountAcceptBackoff(size_t shard);
  // Low-rate labelled counters, off the click path (a mutex and a map).
  void CountConversion(std::string_view result, std::string_view reason);
  void CountDelivery(std::string_view result);
  // An audit record written (ok) or lost (its synced write failed), by whether the caller had
  // the admin token.
  void CountAuditRecord(bool ok, bool authenticated) {
    (ok ? audit_records_[authenticated ? 1 : 0] : audit_write_errors_)
        .fetch_add(1, std::memory_order_relaxed);
  }

  // Prometheus text exposition format 0.0.4.
  std::string Render(const Gauges& gauges) const;

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> requests[size_t(Listener::kCount)][size_t(Route::kCount)][kStatusSlots];
    std::atomic<uint64_t> latency[size_t(Route::kCount)][kStatusSlots][kBucketSlots];
    std::atomic<uint64_t> latency_sum_us[size_t(Route::kCount)][kStatusSlots];
    std::atomic<uint64_t> clicks[4];
    std::atomic<uint64_t> clicks_dropped;
    std::atomic<uint64_t> click_write_errors;
    std::atomic<uint64_t> connections[size_t(Listener::kCount)];
    std::atomic<uint64_t> accept_backoffs;
  };
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> open_[size_t(Listener::kCount)] = {0, 0};
  std::atomic<uint64_t> audit_records_[2] = {0, 0};  // unauthenticated, admin
  std::atomic<uint64_t> audit_write_errors_{0};
  mutable std::mutex slow_mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> conversions_;  // (result, reason)
  std::map<std::string, uint64_t> deliveries_;                           // result
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_METRICS_H_
