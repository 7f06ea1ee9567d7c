// Ricochet's embedded database. The only interface to RocksDB.
#ifndef RICOCHET_STORAGE_STORE_H_
#define RICOCHET_STORAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/conversions.h"
#include "storage/records.h"
#include "storage/thread_policy.h"

namespace ricochet::storage {

// A change of Store::writable(), for the operator's log.
struct StoreHealthChange {
  bool writable = false;
  // Stopping: what stopped writes. Resuming: the error they were stopped by.
  std::string error;
  bool disk_full = false;  // the error is ENOSPC
  // Resuming only: how long writes were refused, how many recovery attempts that took, and
  // whether the database had to be closed and reopened (see Store::writable()).
  int64_t stopped_ms = 0;
  uint64_t attempts = 0;
  bool reopened = false;
};

struct StoreOptions {
  std::string path = "./data";
  // Clicks, dedupe slots and visitor index entries older than this are dropped by compaction.
  // Raise it when conversions arrive later than 90 days after the click.
  int retention_days = 90;
  // Shared block cache for all column families. Raise it when the dedupe working set
  // (about 40 bytes per unique click in the window) no longer fits.
  size_t block_cache_bytes = 128u << 20;
  // Memtable size per column family; larger absorbs click bursts with fewer flushes.
  size_t write_buffer_bytes = 32u << 20;
  // For offline tools (ricochetctl verify --data): fail instead of creating a database, and run
  // no compactions, so the retention filter cannot drop anything while inspecting. Such a store
  // does not recover from write errors by itself.
  bool inspect_only = false;
  // While writes are refused (disk full), how often the store tries to resume them. Each try
  // flushes the memtables, so it fails fast while the disk is still full.
  int resume_interval_ms = 1000;
  // How long the click counts of reports may stay in the counter journal (one entry per click
  // batch) before a batch folds them into the counters column family, summed per row. Reports
  // read both, so this changes no figure: only how often rows are merged.
  int counter_fold_ms = 1000;
  // Called once when the store stops accepting writes and once when it accepts them again, on a
  // RocksDB thread or the store's recovery thread. It must not call back into the store.
  std::function<void(const StoreHealthChange&)> on_health_change;
};

// Told of every write to the store, on the writing thread, just before and just after it, and
// of RocksDB starting to delay or stop writes (its flushes or compactions fell behind; on
// whatever thread RocksDB tells it, possibly late: after the write the stall held up). Must not
// call back into the store but for SetBackgroundPolicy.
class WriteObserver {
 public:
  virtual ~WriteObserver() = default;
  virtual void WriteBegins() = 0;
  virtual void WriteEnds() = 0;
  virtual void WritesStalled() = 0;
};

// Store statistics for /metrics.
struct StoreStats {
  uint64_t wal_syncs = 0;  // click WAL syncs and synced conversion commits
  uint64_t memtable_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
  uint64_t estimated_clicks = 0;
  bool writable = true;      // Store::writable()
  uint64_t write_stops = 0;  // times the store stopped accepting writes (disk full, I/O error)
  uint64_t recoveries = 0;   // times it accepted them again without a restart
  uint64_t reopens = 0;      // recoveries that closed and reopened the database
  // Times a column family began to have its writes delayed or stopped by RocksDB (too many
  // memtables or level-0 files): the flushes and compactions fell behind the writes.
  uint64_t write_stalls = 0;
  // What SetIndexHorizons keeps, margin included, in seconds; -1 until it is first called
  // (the retention applies then).
  int64_t dedupe_horizon_s = -1;
  int64_t visitors_horizon_s = -1;
  uint64_t counter_journal_rows = 0;  // report rows with counts still in the counter journal
};

// Which audit records ScanAudit visits. Bounds combine: a record must satisfy all of them.
struct AuditRange {
  int64_t from_ms = 0;               // time_ms >= from_ms
  int64_t to_ms = INT64_MAX;         // time_ms <= to_ms
  uint64_t after_seq = 0;            // seq > after_seq (a cursor: the last seq already seen)
  uint64_t before_seq = UINT64_MAX;  // seq < before_seq
  bool newest_first = false;
};

struct CheckpointInfo {
  std::string path;
  uint64_t files = 0;
  uint64_t bytes = 0;
};

class StoreImpl;

// Thread-safe. Every method returns a non-OK status only when RocksDB failed (I/O error,
// corruption, disk full); not-found is a value (nullopt), never an error.
//
// Write errors. When RocksDB cannot write (ENOSPC on the WAL, a flush or the MANIFEST; an I/O
// error) it refuses every later write until DB::Resume(). The store then refuses writes itself
// (ResourceExhausted when the disk is full, else Unavailable), without touching RocksDB, and its
// recovery thread calls Resume() every resume_interval_ms until the memtables flush and a synced
// probe write succeeds; reads keep working meanwhile. Where Resume() cannot replace a WAL whose
// append failed (RocksDB 7.8 switches WAL only when some memtable holds data), the database is
// closed and reopened instead, once the disk has room for it; reads fail (Unavailable) during
// that reopen. Nothing acknowledged is lost either way: a write that returned OK is in the WAL,
// and one that failed left nothing behind.
class Store {
 public:
  // Opens (creating if missing) the database at options.path.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();  // Syncs the WAL and closes the database.
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Syncs the WAL and closes. Idempotent; later calls on the store fail.
  [[nodiscard]] absl::Status Close();

  // --- Configuration objects (offers, affiliates) as JSON text, written synced.
  [[nodiscard]] absl::Status PutConfig(std::string_view kind, std::string_view id,
                                       std::string_view json);
  [[nodiscard]] absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListConfig(
      std::string_view kind);

  // --- Meta values: returns the stored value of `name`, or stores and returns `initial`.
  [[nodiscard]] absl::StatusOr<std::string> LoadOrCreateMeta(std::string_view name,
                                                             std::string_view initial);

  // --- Clicks.
  // Time (ms) of the unique click holding each dedupe slot, nullopt where none does.
  [[nodiscard]] absl::StatusOr<std::vector<std::optional<int64_t>>> GetDedupeSlots(
      std::span<const attribution::DedupeKey> keys);
  // Writes clicks, the dedupe slots of the unique ones, the visitor index and the report
  // counts (through the counter journal: StoreOptions::counter_fold_ms) in one atomic batch,
  // without waiting for fsync (see SyncWal).
  [[nodiscard]] absl::Status WriteClicks(std::span<const ClickRecord* const> clicks);
  [[nodiscard]] absl::Status WriteClicks(std::span<const ClickRecord> clicks);
  // Makes every earlier write durable (fsync of the WAL). Fails while writes are refused.
  [[nodiscard]] absl::Status SyncWal();
  [[nodiscard]] absl::StatusOr<std::optional<ClickRecord>> GetClick(int64_t time_ms,
                                                                    std::string_view click_id);
  // Click ids of `visitor_id` on `offer` issued in [from_ms, to_ms], oldest first.
  [[nodiscard]] absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> VisitorClicks(
      std::string_view offer, std::string_view visitor_id, int64_t from_ms, int64_t to_ms);

  // --- Conversions and the ledger.
  // Writes the batch atomically and fsyncs the WAL before returning.
  [[nodiscard]] absl::Status CommitConversions(const ConversionBatch& batch);
  [[nodiscard]] absl::StatusOr<std::optional<ConversionRecord>> GetConversion(std::string_view id);
  // The conversion id stored for an idempotency key.
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> FindConversionByKey(
      std::string_view key);
  // Non-rejected conversions of `offer` created on `day` (the daily cap's count).
  [[nodiscard]] absl::StatusOr<int64_t> CountedToday(std::string_view offer, int32_t day);
  // Non-rejected conversions of `affiliate` on `offer` created in `month` (volume steps).
  [[nodiscard]] absl::StatusOr<int64_t> CountedMonth(std::string_view offer,
                                                     std::string_view affiliate, int32_t month);
  // (last seq, its hash), or (0, genesis) for an empty ledger.
  [[nodiscard]] absl::StatusOr<std::pair<uint64_t, std::string>> LedgerHead();
  // Entries in seq order; fn returns false to stop.
  [[nodiscard]] absl::Status ScanLedger(absl::FunctionRef<bool(const LedgerEntry&)> fn);
  [[nodiscard]] absl::StatusOr<std::vector<BalanceRow>> GetBalances(std::string_view affiliate);
  // Every affiliate's balance in `currency`, by affiliate id.
  [[nodiscard]] absl::Status ScanBalances(
      std::string_view currency, absl::FunctionRef<void(const std::string&, const BalanceRow&)> fn);
  [[nodiscard]] absl::StatusOr<std::optional<PayoutRecord>> GetPayout(std::string_view id);
  [[nodiscard]] absl::Status ScanPayouts(absl::FunctionRef<bool(const PayoutRecord&)> fn);
  // Outbox entries in `state`, oldest first; fn returns false to stop.
  [[nodiscard]] absl::Status ScanOutbox(OutboxState state,
                                        absl::FunctionRef<bool(const OutboxEntry&)> fn);
  [[nodiscard]] absl::StatusOr<std::optional<OutboxEntry>> GetOutbox(std::string_view id);
  // Rewrites an entry that was in state `from` (moving it when entry.state differs). Only the
  // postback sender calls it; the conversion writer only adds new entries.
  [[nodiscard]] absl::Status UpdateOutbox(OutboxState from, const OutboxEntry& entry);
  // Recomputes every balance from the entries and checks the hash chain.
  [[nodiscard]] absl::StatusOr<VerifyReport> VerifyLedger();
  [[nodiscard]] absl::Status ScanMoney(int32_t from_day, int32_t to_day,
                                       absl::FunctionRef<void(const MoneyRow&)> fn);

  // --- Audit trail of admin calls (column family `audit`).
  // Assigns record->seq (the last one plus one) and raises record->time_ms to the previous
  // record's time if the clock went back, so seq, time and key order agree and a reader paging
  // with AuditRange::after_seq never misses a later record. Writes synced. Serialised: one
  // append at a time. A failed write still uses up its seq, so the trail shows a gap there.
  [[nodiscard]] absl::Status AppendAudit(AuditRecord* record);
  // Records within `range`, oldest first (or newest first); fn returns false to stop.
  [[nodiscard]] absl::Status ScanAudit(const AuditRange& range,
                                       absl::FunctionRef<bool(const AuditRecord&)> fn);

  // --- Reports: every counter row with day in [from_day, to_day], in key order, the counter
  // journal's counts included.
  [[nodiscard]] absl::Status ScanCounters(int32_t from_day, int32_t to_day,
                                          absl::FunctionRef<void(const CounterRow&)> fn);

  // --- Operations.
  // Writes and syncs a probe key: the database is open and accepts durable writes.
  [[nodiscard]] absl::Status CheckWritable();
  // False from a write error until the store has recovered from it (see above). Lock-free.
  bool writable() const;
  // An online, consistent copy of the database in `path` (which must not exist): hard links
  // where on the same file system, copies elsewhere.
  [[nodiscard]] absl::StatusOr<CheckpointInfo> Checkpoint(const std::string& path);
  // How far back, in seconds, dedupe slots and visitor index entries can still decide anything:
  // the server passes the longest dedupe_window_s and the longest lookback_days of its offers.
  // Compactions drop rows older than that plus kIndexHorizonMargin (and past retention_days,
  // everything goes regardless), so these column families hold a window's worth of clicks, not
  // the whole retention. The margin covers clicks still queued for the writer when a window
  // is shortened or a compaction starts, and a conversion's lookup that started just before.
  // Until the first call both are the retention. Thread-safe; applies from the next
  // compaction on.
  static constexpr int64_t kIndexHorizonMarginSeconds = 3600;
  void SetIndexHorizons(int64_t dedupe_s, int64_t visitors_s);
  // From now on `observer` (not owned; null: none) is told of every write, WAL syncs included.
  // Remove it before it goes away, at a moment no write is under way.
  void SetWriteObserver(WriteObserver* observer);
  // The scheduling policy of RocksDB's flush and compaction threads. kIdle lets them use only
  // the CPU that the threads answering requests leave; while a checkpoint, a recovery or a
  // forced compaction waits for them they run at kNormal whatever was asked. The threads are
  // the process's, shared by every open store; the server has one. On failure some threads may
  // have changed, and the next call sets them all again. Leaving kIdle needs a privilege: see
  // CanLeaveIdlePolicy.
  [[nodiscard]] absl::Status SetBackgroundPolicy(ThreadPolicy policy);
  // Forces a full compaction (tests use it to prove retention).
  [[nodiscard]] absl::Status CompactAllForTest();
  StoreStats Stats();

 private:
  explicit Store(std::unique_ptr<StoreImpl> impl);
  std::unique_ptr<StoreImpl> impl_;
};

}  // namespace ricochet::storage

#endif  // RICOCHET_STORAGE_STORE_H_
