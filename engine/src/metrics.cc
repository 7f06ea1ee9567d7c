#include "engine/metrics.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "attribution/sv.h"

namespace ricochet::engine {
namespace {

size_t StatusSlot(int status) {
  for (size_t i = 0; i < std::size(kStatusCodes); ++i) {
    if (kStatusCodes[i] == status) return i;
  }
  return kStatusSlots - 1;
}

size_t BucketSlot(int64_t micros) {
  for (size_t i = 0; i < std::size(kLatencyBuckets); ++i) {
    if (static_cast<double>(micros) <= kLatencyBuckets[i] * 1e6) return i;
  }
  return kBucketSlots - 1;
}

inline void Inc(std::atomic<uint64_t>& a, uint64_t n = 1) {
  a.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace

std::string_view ListenerName(Listener l) { return l == Listener::kPublic ? "public" : "admin"; }

std::string_view RouteName(Route r) {
  switch (r) {
    case Route::kClick:
      return "click";
    case Route::kPostback:
      return "postback";
    case Route::kPixel:
      return "pixel";
    case Route::kHealthz:
      return "healthz";
    case Route::kReadyz:
      return "readyz";
    case Route::kMetrics:
      return "metrics";
    case Route::kAdminApi:
      return "admin_api";
    case Route::kNotFound:
      return "not_found";
    case Route::kBadRequest:
      return "bad_request";
    case Route::kCount:
      break;
  }
  return "unknown";
}

Metrics::Metrics(size_t shards) {
  // Labelled series exist from the start at 0, so rate()/increase() see their first event.
  for (const char* r : {"created", "duplicate", "updated", "rejected"}) conversions_[{r, ""}] = 0;
  for (const char* r : {"delivered", "retry", "dead", "ssrf_blocked"}) deliveries_[r] = 0;
  for (size_t i = 0; i < shards + 1; ++i) {
    auto s = std::make_unique<Shard>();
    // Zero every counter (std::atomic<uint64_t> default-init is indeterminate pre-C++20 libs).
    std::memset(static_cast<void*>(s.get()), 0, sizeof(Shard));
    shards_.push_back(std::move(s));
  }
}

void Metrics::RecordRequest(size_t shard, Listener listener, Route route, int status,
                            int64_t micros) {
  Shard& s = *shards_[shard];
  Inc(s.requests[size_t(listener)][size_t(route)][StatusSlot(status)]);
  const size_t code = StatusSlot(status);
  Inc(s.latency[size_t(route)][code][BucketSlot(micros)]);
  Inc(s.latency_sum_us[size_t(route)][code], static_cast<uint64_t>(micros < 0 ? 0 : micros));
}

void Metrics::CountClick(size_t shard, attribution::ClickClass c) {
  Inc(shards_[shard]->clicks[static_cast<size_t>(c) & 3]);
}
void Metrics::CountClicksDropped(size_t shard, uint64_t n) {
  Inc(shards_[shard]->clicks_dropped, n);
}
void Metrics::CountClickWriteError(size_t shard) { Inc(shards_[shard]->click_write_errors); }
void Metrics::CountConnection(size_t shard, Listener l) {
  Inc(shards_[shard]->connections[size_t(l)]);
}
void Metrics::CountAcceptBackoff(size_t shard) { Inc(shards_[shard]->accept_backoffs); }

void Metrics::CountConversion(std::string_view result, std::string_view reason) {
  std::lock_guard<std::mutex> lock(slow_mu_);
  ++conversions_[{std::string(result), std::string(reason)}];
}

void Metrics::CountDelivery(std::string_view result) {
  std::lock_guard<std::mutex> lock(slow_mu_);
  ++deliveries_[std::string(result)];
}

std::string Metrics::Render(const Gauges& g) const {
  auto sum = [&](auto member) {
    uint64_t total = 0;
    for (const auto& s : shards_) total += member(*s).load(std::memory_order_relaxed);
    return total;
  };
  std::string out;
  absl::StrAppend(&out, "# HELP ricochet_build_info Build information.\n",
                  "# TYPE ricochet_build_info gauge\n", "ricochet_build_info{version=\"",
                  RICOCHET_VERSION, "\"} 1\n");
  absl::StrAppend(&out, "# HELP ricochet_uptime_seconds Seconds since the server started.\n",
                  "# TYPE ricochet_uptime_seconds gauge\n",
                  absl::StrFormat("ricochet_uptime_seconds %.3f\n", g.uptime_seconds));

  absl::StrAppend(&out, "# HELP ricochet_http_requests_total HTTP requests answered.\n",
                  "# TYPE ricochet_http_requests_total counter\n");
  for (size_t l = 0; l < size_t(Listener::kCount); ++l) {
    for (size_t r = 0; r < size_t(Route::kCount); ++r) {
      for (size_t c = 0; c < kStatusSlots; ++c) {
        uint64_t v = sum(
            [&](const Shard& s) -> const std::atomic<uint64_t>& { return s.requests[l][r][c]; });
        if (v == 0) continue;
        std::string code = c < std::size(kStatusCodes) ? std::to_string(kStatusCodes[c]) : "other";
        absl::StrAppend(&out, "ricochet_http_requests_total{listener=\"",
                        ToAbsl(ListenerName(static_cast<Listener>(l))), "\",route=\"",
                        ToAbsl(RouteName(static_cast<Route>(r))), "\",code=\"", code, "\"} ", v,
                        "\n");
      }
    }
  }

  absl::StrAppend(&out,
                  "# HELP ricochet_http_request_duration_seconds Time from request parsed to "
                  "response ready.\n",
                  "# TYPE ricochet_http_request_duration_seconds histogram\n");
  for (size_t r = 0; r < size_t(Route::kCount); ++r) {
    std::string route(ToAbsl(RouteName(static_cast<Route>(r))));
    for (size_t c = 0; c < kStatusSlots; ++c) {
      std::string labels = absl::StrCat(
          "route=\"", route, "\",code=\"",
          c < std::size(kStatusCodes) ? std::to_string(kStatusCodes[c]) : "other", "\"");
      uint64_t cumulative = 0;
      std::string lines;
      for (size_t b = 0; b < kBucketSlots; ++b) {
        cumulative +=
            sum([&](const Shard& s) -> const std::atomic<uint64_t>& { return s.latency[r][c][b]; });
        std::string le =
            b < std::size(kLatencyBuckets) ? absl::StrFormat("%g", kLatencyBuckets[b]) : "+Inf";
        absl::StrAppend(&lines, "ricochet_http_request_duration_seconds_bucket{", labels, ",le=\"",
                        le, "\"} ", cumulative, "\n");
      }
      if (cumulative == 0) continue;
      uint64_t sum_us = sum(
          [&](const Shard& s) -> const std::atomic<uint64_t>& { return s.latency_sum_us[r][c]; });
      absl::StrAppend(&out, lines, "ricochet_http_request_duration_seconds_sum{", labels, "} ",
                      absl::StrFormat("%.6f", static_cast<double>(sum_us) / 1e6), "\n",
                      "ricochet_http_request_duration_seconds_count{", labels, "} ", cumulative,
                      "\n");
    }
  }

  absl::StrAppend(&out, "# HELP ricochet_clicks_total Clicks recorded, by class.\n",
                  "# TYPE ricochet_clicks_total counter\n");
  for (int c = 0; c < 4; ++c) {
    uint64_t v = sum([&](const Shard& s) -> const std::atomic<uint64_t>& { return s.clicks[c]; });
    absl::StrAppend(&out, "ricochet_clicks_total{class=\"",
                    ToAbsl(attribution::ClickClassName(static_cast<attribution::ClickClass>(c))),
                    "\"} ", v, "\n");
  }
  auto counter = [&](std::string_view name, std::string_view help, uint64_t v) {
    absl::StrAppend(&out, "# HELP ", ToAbsl(name), " ", ToAbsl(help), "\n# TYPE ", ToAbsl(name),
                    " counter\n", ToAbsl(name), " ", v, "\n");
  };
  auto gauge = [&](std::string_view name, std::string_view help, uint64_t v) {
    absl::StrAppend(&out, "# HELP ", ToAbsl(name), " ", ToAbsl(help), "\n# TYPE ", ToAbsl(name),
                    " gauge\n", ToAbsl(name), " ", v, "\n");
  };
  counter("ricochet_clicks_dropped_total",
          "Clicks redirected but not recorded (queue full or storage failure).",
          sum([](const Shard& s) -> const std::atomic<uint64_t>& { return s.clicks_dropped; }));
  counter("ricochet_click_write_errors_total", "Failed click batch writes.",
          sum([](const Shard& s) -> const std::atomic<uint64_t>& { return s.click_write_errors; }));
  counter("ricochet_accept_backoffs_total",
          "Times the accept loop paused because the process ran out of descriptors.",
          sum([](const Shard& s) -> const std::atomic<uint64_t>& { return s.accept_backoffs; }));
  absl::StrAppend(&out,
                  "# HELP ricochet_audit_records_total Audit records written for admin calls "
                  "that may change something, by actor.\n",
                  "# TYPE ricochet_audit_records_total counter\n",
                  "ricochet_audit_records_total{actor=\"admin\"} ",
                  audit_records_[1].load(std::memory_order_relaxed), "\n",
                  "ricochet_audit_records_total{actor=\"unauthenticated\"} ",
                  audit_records_[0].load(std::memory_order_relaxed), "\n");
  counter("ricochet_audit_write_errors_total",
          "Admin calls answered without an audit record (the synced write failed).",
          audit_write_errors_.load(std::memory_order_relaxed));
  absl::StrAppend(&out, "# HELP ricochet_connections_total Connections accepted.\n",
                  "# TYPE ricochet_connections_total counter\n");
  for (size_t l = 0; l < size_t(Listener::kCount); ++l) {
    absl::StrAppend(
        &out, "ricochet_connections_total{listener=\"",
        ToAbsl(ListenerName(static_cast<Listener>(l))), "\"} ",
        sum([&](const Shard& s) -> const std::atomic<uint64_t>& { return s.connections[l]; }),
        "\n");
  }
  absl::StrAppend(&out, "# HELP ricochet_open_connections Connections currently open.\n",
                  "# TYPE ricochet_open_connections gauge\n");
  for (size_t l = 0; l < size_t(Listener::kCount); ++l) {
    absl::StrAppend(&out, "ricochet_open_connections{listener=\"",
                    ToAbsl(ListenerName(static_cast<Listener>(l))), "\"} ",
                    open_[l].load(std::memory_order_relaxed), "\n");
  }
  gauge("ricochet_click_queue_depth", "Clicks waiting for the writer.", g.click_queue_depth);
  counter("ricochet_click_batches_total",
          "Click batches the click writer wrote to the store (failed writes not counted); clicks "
          "over batches is the mean batch size.",
          g.click_batches);
  gauge("ricochet_recording_idle",
        "1 while adaptive priority has the click writer and RocksDB's flush and compaction "
        "threads at idle priority (--record-priority adaptive), 0 while they are boosted or "
        "always normal.",
        g.recording_idle ? 1 : 0);
  counter("ricochet_recording_boosts_total",
          "Times the recording threads got normal priority back: they fell behind, RocksDB "
          "stalled writes, or someone waited for the writer (a stop counts one).",
          g.recording_boosts);
  counter("ricochet_recording_raises_total",
          "Click-writer store writes raised to normal priority alone: another thread (a "
          "postback commit, an outbox update) wrote at the same time, or the write (a click "
          "batch or a WAL sync) had lasted 10 ms at idle priority.",
          g.recording_raises);
  counter("ricochet_rocksdb_write_stalls_total",
          "Times RocksDB began to delay or stop a column family's writes (flushes or "
          "compactions behind).",
          g.store.write_stalls);
  counter("ricochet_rocksdb_wal_syncs_total",
          "WAL fsyncs (click writer and conversion group commits).", g.store.wal_syncs);
  gauge("ricochet_rocksdb_memtable_bytes", "Bytes in all memtables.", g.store.memtable_bytes);
  gauge("ricochet_rocksdb_pending_compaction_bytes", "Estimated bytes compaction must rewrite.",
        g.store.pending_compaction_bytes);
  gauge("ricochet_rocksdb_estimated_clicks", "Estimated number of stored clicks.",
        g.store.estimated_clicks);
  gauge("ricochet_counter_journal_rows",
        "Report rows whose latest click counts are in the counter journal, not yet folded "
        "into the counters (reports include them).",
        g.store.counter_journal_rows);
  gauge("ricochet_storage_writable",
        "1 while the database accepts writes, 0 while it refuses them (disk full, I/O error).",
        g.store.writable ? 1 : 0);
  counter("ricochet_storage_write_stops_total",
          "Times the database stopped accepting writes (disk full, I/O error).",
          g.store.write_stops);
  counter("ricochet_storage_recoveries_total",
          "Times the database accepted writes again without a restart.", g.store.recoveries);
  absl::StrAppend(&out,
                  "# HELP ricochet_index_horizon_seconds How far back compactions keep dedupe "
                  "slots and visitor entries: the longest offer window plus a margin (-1: the "
                  "retention).\n# TYPE ricochet_index_horizon_seconds gauge\n",
                  "ricochet_index_horizon_seconds{index=\"click_dedupe\"} ",
                  g.store.dedupe_horizon_s, "\nricochet_index_horizon_seconds{index=\"visitors\"} ",
                  g.store.visitors_horizon_s, "\n");

  absl::StrAppend(&out,
                  "# HELP ricochet_conversions_total Postback and status-change outcomes, by "
                  "result and reason.\n",
                  "# TYPE ricochet_conversions_total counter\n");
  std::lock_guard<std::mutex> lock(slow_mu_);
  for (const auto& [key, v] : conversions_) {
    absl::StrAppend(&out, "ricochet_conversions_total{result=\"", key.first, "\",reason=\"",
                    key.second, "\"} ", v, "\n");
  }
  gauge("ricochet_outbox_pending", "Outgoing postbacks waiting for delivery (in flight included).",
        g.outbox_pending);
  gauge("ricochet_outbox_in_flight", "Outgoing postback attempts under way.", g.outbox_in_flight);
  absl::StrAppend(&out,
                  "# HELP ricochet_outbox_deliveries_total Outgoing postback attempt results "
                  "(delivered, retry, dead, ssrf_blocked).\n",
                  "# TYPE ricochet_outbox_deliveries_total counter\n");
  for (const auto& [result, v] : deliveries_) {
    absl::StrAppend(&out, "ricochet_outbox_deliveries_total{result=\"", result, "\"} ", v, "\n");
  }
  return out;
}

}  // namespace ricochet::engine
