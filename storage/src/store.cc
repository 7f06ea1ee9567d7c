#include "storage/store.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "attribution/ledger.h"
#include "attribution/sv.h"
#include "codec.h"
#include "counters.h"
#include "crc32c.h"
#include "hash_memtable.h"
#include "info_log.h"
#include "openssl/sha.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/transaction_log.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace ricochet::storage {
namespace {

enum Cf : size_t {
  kDefaultCf,
  kClicksCf,
  kDedupeCf,
  kVisitorsCf,
  kCountersCf,
  kConfigCf,
  kMetaCf,
  kConversionsCf,
  kConversionKeysCf,
  kLedgerCf,
  kBalancesCf,
  kPayoutsCf,
  kOutboxCf,
  kAuditCf,
  kCfCount
};
const char* const kCfNames[kCfCount] = {
    "default",     "clicks",          "click_dedupe", "visitors", "counters", "config", "meta",
    "conversions", "conversion_keys", "ledger",       "balances", "payouts",  "outbox", "audit"};

// Free space the disk must have before a reopen is tried (a new MANIFEST, OPTIONS file, WAL and
// LOG), on top of twice what the memtables hold (a reopen replays and flushes the WAL).
constexpr uint64_t kReopenHeadroomBytes = 16u << 20;

absl::Status ToStatus(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(ToAbsl(what), ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsBusy() || s.IsTryAgain()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

std::string ConfigKey(std::string_view kind, std::string_view id) {
  return absl::StrCat(ToAbsl(kind), "/", ToAbsl(id));
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// WriteClicks folds the counter journal once it holds this many rows, whatever its age.
constexpr size_t kMaxJournalRows = 1 << 16;

}  // namespace

class StoreImpl {
 public:
  StoreOptions options;
  rocksdb::DBOptions db_options;  // kept to reopen the database
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  std::atomic<uint64_t> wal_syncs{0};
  // SetIndexHorizons: how long dedupe slots and visitor entries can still matter, in ms; read
  // by their retention filters at each compaction. The retention until the server sets them.
  std::shared_ptr<std::atomic<int64_t>> dedupe_horizon_ms =
      std::make_shared<std::atomic<int64_t>>(INT64_MAX);
  std::shared_ptr<std::atomic<int64_t>> visitors_horizon_ms =
      std::make_shared<std::atomic<int64_t>>(INT64_MAX);
  // Click counts not yet merged into their counter rows (see WriteClicks): the sum of the
  // journal entries (counters keys 'J' BE64(seq)) with seq in [journal_first, journal_next).
  absl::Mutex journal_mu ABSL_ACQUIRED_AFTER(db_mu);
  codec::CounterDeltas journal_rows ABSL_GUARDED_BY(journal_mu);
  uint64_t journal_first ABSL_GUARDED_BY(journal_mu) = 0;
  uint64_t journal_next ABSL_GUARDED_BY(journal_mu) = 0;
  int64_t journal_folded_ms ABSL_GUARDED_BY(journal_mu) = 0;  // steady clock
  std::atomic<uint64_t> journal_row_count{0};  // journal_rows.size(), for Stats() without a lock
  // The audit trail's tail: AppendAudit continues from here.
  std::mutex audit_mu;
  uint64_t audit_seq = 0;     // guarded by audit_mu
  int64_t audit_time_ms = 0;  // guarded by audit_mu

  // Readers: every operation. Writer: Resume(), reopening and closing, so that no write can
  // slip between RocksDB clearing its error and the store's check below (see Write()). absl's
  // Mutex does not let a stream of readers starve the writer. db is null once closed, and
  // while a reopen has failed.
  absl::Mutex db_mu;
  std::unique_ptr<rocksdb::DB> db ABSL_GUARDED_BY(db_mu);
  std::vector<rocksdb::ColumnFamilyHandle*> cfs ABSL_GUARDED_BY(db_mu);
  bool closed ABSL_GUARDED_BY(db_mu) = false;

  // Write health. writable mirrors !stopped for lock-free reads; writes check it under db_mu.
  std::atomic<bool> writable{true};
  absl::Mutex health_mu;
  bool stopped ABSL_GUARDED_BY(health_mu) = false;
  // A WAL append or sync failed since the last recovery: that WAL's writer is unusable.
  bool wal_failed ABSL_GUARDED_BY(health_mu) = false;
  bool shutting_down ABSL_GUARDED_BY(health_mu) = false;
  absl::Status stop_status ABSL_GUARDED_BY(health_mu);
  int64_t stopped_at_ms ABSL_GUARDED_BY(health_mu) = 0;
  uint64_t attempts ABSL_GUARDED_BY(health_mu) = 0;  // in the current stop
  std::atomic<uint64_t> write_stops{0};
  std::atomic<uint64_t> recoveries{0};
  std::atomic<uint64_t> reopens{0};
  std::thread recovery;

  // RocksDB's flush and compaction threads: the policy asked for, the one they have (none
  // known after a failed change), and the store's own calls that wait for a flush or
  // compaction (they get kNormal while one exists).
  absl::Mutex policy_mu;
  ThreadPolicy background_wanted ABSL_GUARDED_BY(policy_mu) = ThreadPolicy::kNormal;
  std::optional<ThreadPolicy> background_applied ABSL_GUARDED_BY(policy_mu) = ThreadPolicy::kNormal;
  int background_waiters ABSL_GUARDED_BY(policy_mu) = 0;
  std::atomic<uint64_t> write_stalls{0};
  std::atomic<WriteObserver*> write_observer{nullptr};
  absl::Status ApplyBackgroundPolicy() ABSL_EXCLUSIVE_LOCKS_REQUIRED(policy_mu);

  // Status for a write refused because writes are stopped.
  absl::Status Refused(std::string_view what);
  // Writes `batch` unless writes are stopped. Every write of the store goes through here.
  absl::Status Write(bool sync, rocksdb::WriteBatch* batch, std::string_view what)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu);
  // A write or background job failed: stop accepting writes until recovered. `wal`: the error
  // came from the WAL (or a memtable switch), so the current WAL writer must not be used again.
  void MarkStopped(const rocksdb::Status& error, bool wal);
  void RecoveryLoop();
  void TryRecover();
  rocksdb::Status OpenDb() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu);
  void CloseDb() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu);
  rocksdb::Status Reopen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu);
  uint64_t CurrentWal() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu);
  // Reads the counter journal into journal_rows (at open, and after a reopen replayed the WAL).
  absl::Status LoadJournal() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu);
  // Adds to `batch` the merges of journal_rows plus `extra` into the counters, and the deletion
  // of the journal entries they came from.
  rocksdb::Status AddFold(rocksdb::WriteBatch* batch, const codec::CounterDeltas& extra)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(journal_mu);
  absl::Status Close();
};

namespace {

// Tells the store about RocksDB's background errors, and keeps RocksDB's own recovery from
// ENOSPC out of the way: it polls free space every 5 s (SstFileManager), and while it waits a
// manual DB::Resume() answers Busy. The store's recovery thread resumes every second instead.
class HealthListener final : public rocksdb::EventListener {
 public:
  explicit HealthListener(StoreImpl* impl) : impl_(impl) {}

  void OnBackgroundError(rocksdb::BackgroundErrorReason reason, rocksdb::Status* error) override {
    // A compaction that fails for space is a soft error: writes go on, compactions retry.
    if (reason == rocksdb::BackgroundErrorReason::kCompaction &&
        error->severity() < rocksdb::Status::Severity::kHardError) {
      return;
    }
    impl_->MarkStopped(*error, reason == rocksdb::BackgroundErrorReason::kWriteCallback ||
                                   reason == rocksdb::BackgroundErrorReason::kMemTable);
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }

 private:
  StoreImpl* const impl_;  // outlives the database
};

// For its lifetime, RocksDB's flush and compaction threads run at kNormal: the caller waits for
// them (a checkpoint's flush, a recovery's, a forced compaction), so they must not wait for
// idle CPU, which a busy machine may not have for a long time.
class BackgroundNeeded {
 public:
  explicit BackgroundNeeded(StoreImpl& impl) : impl_(impl) { Change(+1); }
  ~BackgroundNeeded() { Change(-1); }
  BackgroundNeeded(const BackgroundNeeded&) = delete;
  BackgroundNeeded& operator=(const BackgroundNeeded&) = delete;

 private:
  void Change(int delta) {
    absl::MutexLock lock(&impl_.policy_mu);
    impl_.background_waiters += delta;
    (void)impl_.ApplyBackgroundPolicy();  // failures: see Store::SetBackgroundPolicy
  }
  StoreImpl& impl_;
};

// Tells the write observer when RocksDB starts to delay or stop writes.
class StallListener final : public rocksdb::EventListener {
 public:
  explicit StallListener(StoreImpl* impl) : impl_(impl) {}
  void OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) override {
    // Only the start of a stall is acted on, as a hint: RocksDB delivers a stall that a
    // write's memtable switch caused at the end of that write, possibly after the notice of
    // its end.
    if (info.condition.cur == rocksdb::WriteStallCondition::kNormal) return;
    impl_->write_stalls.fetch_add(1, std::memory_order_relaxed);
    if (WriteObserver* observer = impl_->write_observer.load(std::memory_order_acquire)) {
      observer->WritesStalled();
    }
  }

 private:
  StoreImpl* const impl_;  // outlives the database
};

// Shared access to the open database for one operation.
class DbRef {
 public:
  explicit DbRef(StoreImpl& impl) ABSL_SHARED_LOCK_FUNCTION(impl.db_mu)
      : impl_(impl), lock_(&impl.db_mu) {}
  bool ok() const { return impl_.db != nullptr; }
  absl::Status Closed() const {
    return absl::UnavailableError(impl_.closed ? "the database is closed"
                                               : "the database is being reopened");
  }
  rocksdb::DB* operator->() const { return impl_.db.get(); }
  rocksdb::DB* get() const { return impl_.db.get(); }
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return impl_.cfs[c]; }
  StoreImpl& impl() const { return impl_; }

 private:
  StoreImpl& impl_;
  absl::ReaderMutexLock lock_;
};

// One synced Put, through the write gate.
absl::Status PutSynced(const DbRef& db, Cf cf, std::string_view key, std::string_view value,
                       std::string_view what) {
  rocksdb::WriteBatch batch;
  if (absl::Status st = ToStatus(batch.Put(db.cf(cf), key, value), what); !st.ok()) return st;
  return db.impl().Write(/*sync=*/true, &batch, what);
}

}  // namespace

absl::Status StoreImpl::Refused(std::string_view what) {
  absl::MutexLock lock(&health_mu);
  std::string msg = absl::StrCat(ToAbsl(what), ": storage not writable (", stop_status.message(),
                                 "); retrying every ", options.resume_interval_ms, " ms");
  if (absl::IsResourceExhausted(stop_status)) return absl::ResourceExhaustedError(msg);
  return absl::UnavailableError(msg);
}

absl::Status StoreImpl::Write(bool sync, rocksdb::WriteBatch* batch, std::string_view what) {
  // Checked under db_mu: the recovery thread changes it only while holding db_mu exclusively.
  if (!writable.load(std::memory_order_acquire)) return Refused(what);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  WriteObserver* observer = write_observer.load(std::memory_order_acquire);
  if (observer != nullptr) observer->WriteBegins();
  rocksdb::Status s = db->Write(wo, batch);
  if (observer != nullptr) observer->WriteEnds();
  // RocksDB has normally told the listener already; an I/O error it did not report still means
  // the WAL may hold part of this batch, so its writer is treated as failed too.
  if (!s.ok() && s.IsIOError()) MarkStopped(s, /*wal=*/true);
  return ToStatus(s, what);
}

void StoreImpl::MarkStopped(const rocksdb::Status& error, bool wal) {
  StoreHealthChange change;
  {
    absl::MutexLock lock(&health_mu);
    if (wal) wal_failed = true;
    if (stopped) return;
    stopped = true;
    writable.store(false, std::memory_order_release);
    stop_status = ToStatus(error, "rocksdb");
    stopped_at_ms = SteadyMs();
    attempts = 0;
    write_stops.fetch_add(1, std::memory_order_relaxed);
    change.error = error.ToString();
    change.disk_full = error.IsNoSpace();
  }
  if (options.on_health_change) options.on_health_change(change);
}

void StoreImpl::RecoveryLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&health_mu);
      health_mu.Await(absl::Condition(
          +[](StoreImpl* s) { return s->stopped || s->shutting_down; }, this));
      if (shutting_down) return;
      // Wait first: the disk is not freed within milliseconds, and RocksDB may still be
      // finishing the job that failed.
      health_mu.AwaitWithTimeout(absl::Condition(
                                     +[](StoreImpl* s) { return s->shutting_down; }, this),
                                 absl::Milliseconds(options.resume_interval_ms));
      if (shutting_down) return;
    }
    TryRecover();
  }
}

uint64_t StoreImpl::CurrentWal() {
  std::unique_ptr<rocksdb::LogFile> wal;
  if (!db->GetCurrentWalFile(&wal).ok() || wal == nullptr) return 0;
  return wal->LogNumber();
}

rocksdb::Status StoreImpl::OpenDb() {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, descriptors, &cfs, &raw);
  if (s.ok()) db.reset(raw);
  return s;
}

void StoreImpl::CloseDb() {
  if (db == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* h : cfs)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  cfs.clear();
  // Fails when the WAL's last append failed ("Seen error. Skip writing buffer."): that record
  // was never acknowledged, and replay stops at its torn end.
  db->Close().PermitUncheckedError();
  db.reset();
}

rocksdb::Status StoreImpl::Reopen() {
  uint64_t memtables = 0;
  if (db != nullptr) {
    db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
  }
  std::error_code ec;
  std::filesystem::space_info space = std::filesystem::space(options.path, ec);
  const uint64_t need = kReopenHeadroomBytes + 2 * memtables;
  if (!ec && space.available < need) {
    return rocksdb::Status::NoSpace(
        absl::StrCat("waiting for ", need >> 20, " MiB free to reopen the database"));
  }
  CloseDb();
  reopens.fetch_add(1, std::memory_order_relaxed);
  return OpenDb();
}

absl::Status StoreImpl::LoadJournal() {
  absl::MutexLock lock(&journal_mu);
  journal_rows.clear();
  journal_first = journal_next = 0;
  journal_folded_ms = SteadyMs();
  absl::Status st = [&]() -> absl::Status {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions(), cfs[kCountersCf]));
    bool first = true;
    for (it->Seek(codec::kJournalPrefix); it->Valid(); it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      if (!key.starts_with(codec::kJournalPrefix)) break;
      uint64_t seq;
      if (!codec::DecodeJournalKey(key, &seq) || seq == UINT64_MAX) {
        return absl::DataLossError("corrupt counter journal key");
      }
      if (!codec::AddCounterDeltas(std::string_view(it->value().data(), it->value().size()),
                                   &journal_rows)) {
        return absl::DataLossError(absl::StrCat("corrupt counter journal entry ", seq));
      }
      if (first) journal_first = seq;
      first = false;
      journal_next = seq + 1;
    }
    if (!it->status().ok()) return ToStatus(it->status(), "read counter journal");
    CounterRow row;
    for (const auto& [key, values] : journal_rows) {
      if (!codec::DecodeCounterKey(key, &row)) {
        return absl::DataLossError("corrupt counter journal row");
      }
    }
    return absl::OkStatus();
  }();
  if (!st.ok()) {
    journal_rows.clear();
    journal_first = journal_next = 0;
  }
  journal_row_count.store(journal_rows.size(), std::memory_order_relaxed);
  return st;
}

rocksdb::Status StoreImpl::AddFold(rocksdb::WriteBatch* batch, const codec::CounterDeltas& extra) {
  auto merge = [&](const std::string& key, const std::array<int64_t, kCounterFieldCount>& v) {
    return batch->Merge(cfs[kCountersCf], key, codec::EncodeCounters(v.data(), v.size()));
  };
  for (const auto& [key, values] : journal_rows) {
    std::array<int64_t, kCounterFieldCount> sum = values;
    if (auto e = extra.find(key); e != extra.end()) {
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += e->second[i];
    }
    if (rocksdb::Status s = merge(key, sum); !s.ok()) return s;
  }
  for (const auto& [key, values] : extra) {
    if (journal_rows.contains(key)) continue;
    if (rocksdb::Status s = merge(key, values); !s.ok()) return s;
  }
  if (journal_first == journal_next) return rocksdb::Status::OK();
  // The same column family as the merges: a WAL replay (after a crash in a recovery that
  // flushed some column families and not others) applies all of a fold or none of it.
  return batch->DeleteRange(cfs[kCountersCf], codec::JournalKey(journal_first),
                            codec::JournalKey(journal_next));
}

void StoreImpl::TryRecover() {
  BackgroundNeeded need(*this);  // Resume() and a reopen flush the memtables
  absl::WriterMutexLock db_lock(&db_mu);
  bool wal_failed_now;
  {
    absl::MutexLock lock(&health_mu);
    if (shutting_down || !stopped) return;
    ++attempts;
    wal_failed_now = wal_failed;
  }
  bool reopened = false;
  rocksdb::Status s;
  if (db == nullptr) {
    if (closed) return;
    s = Reopen();  // the last reopen failed
    reopened = true;
  } else {
    const uint64_t wal_before = CurrentWal();
    s = db->Resume();
    if ((s.ok() && wal_failed_now && (wal_before == 0 || CurrentWal() == wal_before)) ||
        s.severity() == rocksdb::Status::Severity::kFatalError) {
      // Resume() left the WAL whose append failed in place (it switches WAL only while some
      // memtable holds data: facebook/rocksdb#11643, fixed in RocksDB 9): the next write would
      // meet "Writer has previous error", a fatal error, or abort the process where RocksDB is
      // built with assertions (Debian's is). Fatal errors cannot be resumed either. A reopen
      // starts a new WAL.
      s = Reopen();
      reopened = true;
    }
  }
  if (s.ok() && reopened) {
    // The reopen replayed the WAL: the journal on disk is what counts now. Unreadable, it
    // keeps writes stopped, and the next attempt reopens and reads it again.
    if (absl::Status js = LoadJournal(); !js.ok()) {
      s = rocksdb::Status::Corruption(js.ToString());
      CloseDb();
    }
  }
  if (s.ok()) {
    // Proves the WAL takes a synced write again. A failure stops writes anew: the listener
    // usually says so, and an I/O error it did not report is treated as Write() treats it.
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, cfs[kMetaCf], "ready_probe", "1");
    if (!s.ok() && s.IsIOError()) MarkStopped(s, /*wal=*/true);
  }
  if (!s.ok()) return;
  StoreHealthChange change;
  {
    absl::MutexLock lock(&health_mu);
    change.writable = true;
    change.error = std::string(stop_status.message());
    change.disk_full = absl::IsResourceExhausted(stop_status);
    change.stopped_ms = SteadyMs() - stopped_at_ms;
    change.attempts = attempts;
    change.reopened = reopened;
    stopped = false;
    wal_failed = false;
    stop_status = absl::OkStatus();
    writable.store(true, std::memory_order_release);
    recoveries.fetch_add(1, std::memory_order_relaxed);
  }
  if (options.on_health_change) options.on_health_change(change);
}

absl::Status StoreImpl::Close() {
  {
    absl::MutexLock lock(&health_mu);
    shutting_down = true;
  }
  if (recovery.joinable()) recovery.join();
  {
    // For good: a closing database's jobs must finish, and the threads outlive this store.
    absl::MutexLock lock(&policy_mu);
    background_wanted = ThreadPolicy::kNormal;
    (void)ApplyBackgroundPolicy();  // failures: see Store::SetBackgroundPolicy
  }
  absl::WriterMutexLock db_lock(&db_mu);
  if (closed) return absl::OkStatus();
  closed = true;
  if (db == nullptr) return absl::UnavailableError("close: the database was not open");
  absl::Status result;
  if (writable.load(std::memory_order_acquire)) {
    // The counter journal folded (but not into a store opened to inspect it), and the WAL
    // synced: a synced write goes through the write queue, where DB::SyncWAL() would touch a
    // WAL writer that has failed (an assertion in RocksDB builds that keep them).
    rocksdb::WriteBatch last;
    absl::MutexLock lock(&journal_mu);
    rocksdb::Status s = options.inspect_only ? rocksdb::Status::OK() : AddFold(&last, {});
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (s.ok()) s = db->Write(wo, &last);
    result = ToStatus(s, "fold counters and sync wal");
  } else {
    result = Refused("close");
  }
  for (rocksdb::ColumnFamilyHandle* h : cfs) {
    rocksdb::Status s = db->DestroyColumnFamilyHandle(h);
    if (result.ok()) result = ToStatus(s, "close column family");
  }
  cfs.clear();
  rocksdb::Status s = db->Close();
  if (result.ok()) result = ToStatus(s, "close");
  db.reset();
  return result;
}

Store::Store(std::unique_ptr<StoreImpl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  if (impl_) (void)impl_->Close();  // errors were reported by an explicit Close() if they matter
}

absl::Status Store::Close() { return impl_->Close(); }

bool Store::writable() const { return impl_->writable.load(std::memory_order_acquire); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.retention_days < 1) return absl::InvalidArgumentError("retention_days must be >= 1");
  auto impl = std::make_unique<StoreImpl>();
  impl->options = options;

  if (!options.inspect_only) {
    std::error_code ec;
    std::filesystem::create_directories(options.path, ec);  // for the LOG, before RocksDB
  }
  rocksdb::DBOptions& db_options = impl->db_options;
  db_options.create_if_missing = !options.inspect_only;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1u << 20;
  db_options.keep_log_file_num = 5;
  db_options.max_total_wal_size = 256u << 20;
  db_options.info_log = OpenInfoLog(options.path);  // see info_log.h: a full disk must not abort
  if (db_options.info_log != nullptr) {
    const std::string_view crc = Crc32cImplementation();
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, db_options.info_log,
                 "ricochet: crc32c on %.*s (storage/src/crc32c.h)", static_cast<int>(crc.size()),
                 crc.data());
  }
  db_options.listeners.push_back(std::make_shared<HealthListener>(impl.get()));
  db_options.listeners.push_back(std::make_shared<StallListener>(impl.get()));

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  auto table_options = [&](bool bloom, size_t block_size) {
    rocksdb::BlockBasedTableOptions t;
    t.block_size = block_size;
    t.block_cache = cache;
    t.cache_index_and_filter_blocks = true;
    t.cache_index_and_filter_blocks_with_high_priority = true;
    t.pin_l0_filter_and_index_blocks_in_cache = true;
    // Indexes and filters in 4 KiB partitions under a small pinned top level. A whole-file
    // filter of a 64 MiB file is megabytes: larger than a shard of the block cache (1/64 of
    // it), so it was evicted on release and read and checksummed again on the next lookup.
    // With 50M clicks stored that made the click writer's dedupe lookups 3x slower than on an
    // empty database (docs/performance.md).
    t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    t.metadata_block_size = 4096;
    t.pin_top_level_index_and_filter = true;
    if (bloom) {
      t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      t.partition_filters = true;
    }
    return std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(t));
  };
  // `type` on every level but L0 (the bottommost level has its own setting): a flush's file
  // is merged and compressed again by the first compaction that reads it, so compressing it
  // cost the flush thread for nothing kept. With dynamic level bytes, element 0 is L0 and the
  // others count from the base level. (`compression` is what RocksDB reads when the list is
  // empty; it is kept equal to the levels' for the OPTIONS file.)
  auto compress_below_l0 = [](rocksdb::ColumnFamilyOptions& o, rocksdb::CompressionType type) {
    o.compression = type;
    o.compression_per_level.assign(7, type);
    o.compression_per_level[0] = rocksdb::kNoCompression;
  };
  auto base = [&](bool bloom) {
    rocksdb::ColumnFamilyOptions o;
    o.write_buffer_size = options.write_buffer_bytes;
    compress_below_l0(o, rocksdb::kLZ4Compression);
    o.bottommost_compression = rocksdb::kZSTD;
    // ZSTD's level 1, not its default 3: clicks' compactions cost 1.55-1.64 instead of
    // 1.80-2.19 us per click, for 0.3% more on disk (docs/performance.md).
    o.bottommost_compression_opts.enabled = true;
    o.bottommost_compression_opts.level = 1;
    o.table_factory = table_options(bloom, 4096);
    o.level_compaction_dynamic_level_bytes = true;
    o.disable_auto_compactions = options.inspect_only;
    return o;
  };

  // Random-key inserts into a skip list (visitor entries; counter merges) cost a cache miss per
  // level, so small memtables make them markedly cheaper, flushes and compactions included
  // (bench/storage/click_write_bench: docs/performance.md).
  const size_t small_write_buffer = std::max<size_t>(options.write_buffer_bytes / 8, 1u << 20);
  // The dedupe and visitor indexes use a hash memtable (hash_memtable.h), which takes one
  // writer at a time. Only the click writer writes clicks, and postbacks commit in groups
  // whose leader inserts the group's few keys itself.
  db_options.allow_concurrent_memtable_write = false;
  // About one bucket per entry of a full memtable (a dedupe entry takes about 50 bytes).
  auto hash_buckets = [](size_t write_buffer) { return write_buffer / 64; };
  std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors = impl->descriptors;
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions o = base(/*bloom=*/i == kDedupeCf || i == kClicksCf);
    switch (static_cast<Cf>(i)) {
      case kClicksCf:
        o.compaction_filter_factory =
            NewRetentionFilterFactory(options.retention_days, TimeIn::kKeyPrefix);
        // Keys lead with the big-endian time, so each insert lands next to the previous one:
        // start the search there. (One hint for all keys: the first byte of the time.)
        o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1));
        // Clicks are looked up by ids the server signed, so lookups nearly always find them:
        // no filter on the last level, which holds most of them (and most of the filter bytes).
        o.optimize_filters_for_hits = true;
        // 16 KiB blocks: ZSTD compresses click records 3.17x at 650 MB/s in them, against 2.75x
        // at 420 MB/s in 4 KiB ones (zstd -b1 on a flushed clicks file): compactions spend
        // less, and a click read (a postback's lookup) decompresses 16 KiB, a few microseconds.
        o.table_factory = table_options(/*bloom=*/true, 16384);
        // ZSTD level 1 on every level below L0, as on the last: a file that overlaps nothing
        // below it then moves down a level as it is (a trivial move, which needs the two
        // levels' compressions to match), and time-ordered clicks rarely overlap. With LZ4 above
        // the last level, a click was decompressed and compressed again at every level on its
        // way down: with 50M clicks stored (base level L4), three compactions per click.
        compress_below_l0(o, rocksdb::kZSTD);
        o.compression_opts.level = 1;
        // Clicks arrive nearly in key order, but not quite (two I/O threads): each L0 file
        // overlaps the newest file of the last level, which its compaction then rewrites whole.
        // Smaller files make that rewrite smaller.
        o.target_file_size_base = 16u << 20;
        break;
      case kDedupeCf:
        o.compaction_filter_factory = NewRetentionFilterFactory(
            options.retention_days, TimeIn::kValue, impl->dedupe_horizon_ms);
        // Dedupe lookups are point reads of random keys: keep L0 small and filters hot.
        o.optimize_filters_for_hits = false;
        // Nearly every lookup misses (a new visitor): a memtable bloom filter answers those
        // without searching the memtable.
        o.memtable_prefix_bloom_size_ratio = 0.1;
        o.memtable_whole_key_filtering = true;
        // A full-size memtable: an insert into the hash memtable costs the same however full
        // it is, and 8x fewer flushes leave fewer L0 files for each lookup to probe and less
        // to compact (40 s keep-alive runs: the writer -0.6 us and compaction -1.5 us per
        // click against a small one; docs/performance.md).
        // Random hashes and times do not compress (18% in the loader's files), and compressing
        // them was a third of the compaction threads' CPU per click.
        compress_below_l0(o, rocksdb::kNoCompression);
        o.bottommost_compression = rocksdb::kNoCompression;
        // Read by whole key only: a hash memtable, not a skip list (a cache miss per level on
        // every insert of a random key).
        o.memtable_factory = NewHashIndexMemTableFactory(hash_buckets(o.write_buffer_size));
        break;
      case kVisitorsCf:
        o.compaction_filter_factory = NewRetentionFilterFactory(
            options.retention_days, TimeIn::kKeySuffix, impl->visitors_horizon_ms);
        o.write_buffer_size = small_write_buffer;
        // Random visitor and click ids: ZSTD on the last level cost a third of the compaction
        // threads' CPU per click; LZ4 saves most of that space for little.
        o.bottommost_compression = rocksdb::kLZ4Compression;
        // Read only as one visitor's entries (VisitorClicks, a prefix scan): the prefix is the
        // key less its time, and a hash memtable keeps each prefix's entries in one chain.
        o.prefix_extractor = NewKeyLessTimeTransform();
        o.memtable_factory = NewHashIndexMemTableFactory(hash_buckets(o.write_buffer_size));
        break;
      case kCountersCf:
        o.merge_operator = NewCounterMergeOperator();
        // Click counts arrive as a journal entry per click batch and one merge per row and
        // fold (WriteClicks); conversions add merges. max_successive_merges would look each
        // key up in the memtable on every merge; instead the small memtable bounds how many
        // operands a read folds, and flushes fold them for good.
        o.write_buffer_size = small_write_buffer;
        break;
      case kBalancesCf:  // [pending, approved, paid]: the same checked element-wise addition
        o.merge_operator = NewCounterMergeOperator();
        // A busy affiliate's balance would otherwise pile up operands that every read must
        // fold; collapse them in the memtable after this many.
        o.max_successive_merges = 64;
        break;
      case kConfigCf:
      case kMetaCf:
      case kAuditCf:
        // Rarely written. Never above the other column families: RocksDB preallocates each WAL
        // file at 1.1 x the largest memtable.
        o.write_buffer_size = small_write_buffer;
        break;
      default:
        break;
    }
    descriptors.emplace_back(kCfNames[i], o);
  }

  {
    absl::WriterMutexLock lock(&impl->db_mu);
    rocksdb::Status s = impl->OpenDb();
    if (!s.ok()) return ToStatus(s, absl::StrCat("open ", options.path));
    // The last key of the audit trail is the seq index entry of its last record.
    std::unique_ptr<rocksdb::Iterator> it(
        impl->db->NewIterator(rocksdb::ReadOptions(), impl->cfs[kAuditCf]));
    it->SeekToLast();
    if (it->Valid()) {
      if (it->key().size() != 9 || it->key()[0] != 'S' || it->value().size() != 8) {
        return absl::DataLossError("corrupt last audit key");
      }
      impl->audit_seq = codec::GetBigEndian64(it->key().data() + 1);
      impl->audit_time_ms = static_cast<int64_t>(codec::GetBigEndian64(it->value().data()));
    }
    if (absl::Status st = ToStatus(it->status(), "read audit tail"); !st.ok()) return st;
    if (absl::Status st = impl->LoadJournal(); !st.ok()) return st;
  }
  if (!options.inspect_only) {
    impl->recovery = std::thread([impl = impl.get()] {
      pthread_setname_np(pthread_self(), "store-recovery");
      impl->RecoveryLoop();
    });
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

absl::Status Store::PutConfig(std::string_view kind, std::string_view id, std::string_view json) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  return PutSynced(db, kConfigCf, ConfigKey(kind, id), json, "put config");
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Store::ListConfig(
    std::string_view kind) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::vector<std::pair<std::string, std::string>> out;
  std::string prefix = absl::StrCat(ToAbsl(kind), "/");
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), db.cf(kConfigCf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.emplace_back(it->key().ToString().substr(prefix.size()), it->value().ToString());
  }
  if (absl::Status st = ToStatus(it->status(), "list config"); !st.ok()) return st;
  return out;
}

absl::StatusOr<std::string> Store::LoadOrCreateMeta(std::string_view name,
                                                    std::string_view initial) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), db.cf(kMetaCf), name, &value);
  if (s.ok()) return value;
  if (!s.IsNotFound()) return ToStatus(s, "get meta");
  if (absl::Status st = PutSynced(db, kMetaCf, name, initial, "put meta"); !st.ok()) return st;
  return std::string(initial);
}

absl::StatusOr<std::vector<std::optional<int64_t>>> Store::GetDedupeSlots(
    std::span<const attribution::DedupeKey> keys) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::vector<std::optional<int64_t>> out(keys.size());
  if (keys.empty()) return out;
  // In key order, sorted here (two big-endian words compare as the bytewise comparator does),
  // so MultiGet need not sort them itself through the comparator: a twentieth of the writer's
  // work when it did.
  std::vector<uint32_t> order(keys.size());
  std::vector<std::pair<uint64_t, uint64_t>> words(keys.size());
  for (uint32_t i = 0; i < order.size(); ++i) {
    order[i] = i;
    words[i] = {codec::GetBigEndian64(reinterpret_cast<const char*>(keys[i].data())),
                codec::GetBigEndian64(reinterpret_cast<const char*>(keys[i].data()) + 8)};
  }
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return words[a] < words[b]; });
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (uint32_t i : order) {
    slices.emplace_back(reinterpret_cast<const char*>(keys[i].data()), keys[i].size());
  }
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db->MultiGet(rocksdb::ReadOptions(), db.cf(kDedupeCf), keys.size(), slices.data(), values.data(),
               statuses.data(), /*sorted_input=*/true);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return ToStatus(statuses[i], "get dedupe slot");
    if (values[i].size() != 8) return absl::DataLossError("corrupt dedupe slot");
    out[order[i]] = static_cast<int64_t>(codec::GetBigEndian64(values[i].data()));
  }
  return out;
}

absl::Status Store::WriteClicks(std::span<const ClickRecord> clicks) {
  std::vector<const ClickRecord*> each(clicks.size());
  for (size_t i = 0; i < clicks.size(); ++i) each[i] = &clicks[i];
  return WriteClicks(each);
}

absl::Status Store::WriteClicks(std::span<const ClickRecord* const> clicks) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  if (clicks.empty()) return absl::OkStatus();
  // Sized up front: grown by doubling, the batch's buffer was copied about ten times a batch.
  size_t reserve = 64;
  for (const ClickRecord* c : clicks) {
    reserve += 192 + c->click_id.size() + c->offer.size() + c->affiliate.size() +
               c->client_ip.size() + c->user_agent.size() + c->visitor_id.size() +
               c->referer.size() + c->source.size();
    for (const std::string& sub : c->subs) reserve += sub.size();
  }
  rocksdb::WriteBatch batch(reserve);
  // The clicks first, in key order (time, then id). They arrive nearly in that order, but two
  // I/O threads interleave within a millisecond: out of order, each insert into the skip list
  // searched several levels again from its hint (a fifth of the writer's samples); in order,
  // each lands right after the previous one. Click keys are unique, so the order changes
  // nothing stored.
  std::vector<uint32_t> order(clicks.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const ClickRecord& x = *clicks[a];
    const ClickRecord& y = *clicks[b];
    return x.time_ms != y.time_ms ? x.time_ms < y.time_ms : x.click_id < y.click_id;
  });
  std::string key, value;  // reused by every click
  for (uint32_t i : order) {
    const ClickRecord& c = *clicks[i];
    codec::ClickKey(c.time_ms, c.click_id, &key);
    codec::EncodeClick(c, &value);
    rocksdb::Status s = batch.Put(db.cf(kClicksCf), key, value);
    if (!s.ok()) return ToStatus(s, "batch click");
  }
  // This batch's report counts, by row. Each click's row key is built in one reused buffer: the
  // map copies it only for a row new to the batch.
  codec::CounterDeltas counters;
  std::string row_key;
  for (const ClickRecord* click : clicks) {
    const ClickRecord& c = *click;
    rocksdb::Status s;
    if (c.dedupe_key) {
      value.clear();
      codec::PutBigEndian64(value, static_cast<uint64_t>(c.time_ms));
      s = batch.Put(
          db.cf(kDedupeCf),
          rocksdb::Slice(reinterpret_cast<const char*>(c.dedupe_key->data()), c.dedupe_key->size()),
          value);
      if (!s.ok()) return ToStatus(s, "batch dedupe");
    }
    if (c.attributable && !c.visitor_id.empty() && !c.visitor_first_click) {
      s = batch.Put(db.cf(kVisitorsCf), codec::VisitorKey(c.offer, c.visitor_id, c.time_ms),
                    c.click_id);
      if (!s.ok()) return ToStatus(s, "batch visitor");
    }
    codec::CounterKey(codec::DayFromMillis(c.time_ms), c.offer, c.affiliate, c.subs[0], &row_key);
    auto& row = counters[row_key];
    row[kClicks] += 1;
    switch (c.klass) {
      case attribution::ClickClass::kUnique:
        row[kUniqueClicks] += 1;
        break;
      case attribution::ClickClass::kDuplicate:
        row[kDuplicateClicks] += 1;
        break;
      case attribution::ClickClass::kBot:
        row[kBotClicks] += 1;
        break;
      case attribution::ClickClass::kRateLimited:
        row[kRateLimitedClicks] += 1;
        break;
    }
  }
  // The counts go to the counter journal: one entry for the whole batch, where a merge per
  // row into the counters' memtable (a random place in a skip list, each) cost the click path
  // about 2 us per click, a third of its storage work (docs/performance.md). Every
  // counter_fold_ms, the batch instead folds the journal's rows into the counters, summed
  // over all its batches (a second's clicks share few rows), and deletes those entries: the
  // same batch and column family, so a crash leaves each count either in the journal or in its
  // row. Open reads the journal back; ScanCounters adds it.
  StoreImpl& impl = *impl_;
  absl::MutexLock lock(&impl.journal_mu);
  const int64_t now = SteadyMs();
  const bool fold = now - impl.journal_folded_ms >= impl.options.counter_fold_ms ||
                    impl.journal_rows.size() >= kMaxJournalRows;
  rocksdb::Status s;
  if (fold) {
    s = impl.AddFold(&batch, counters);
  } else {
    std::string entry;
    if (!codec::EncodeCounterDeltas(counters, &entry)) {
      return absl::InvalidArgumentError("click counts out of range");
    }
    s = batch.Put(db.cf(kCountersCf), codec::JournalKey(impl.journal_next), entry);
  }
  if (!s.ok()) return ToStatus(s, "batch counters");
  // Not synced: group-committed, the click pipeline calls SyncWal on its own schedule.
  if (absl::Status st = impl.Write(/*sync=*/false, &batch, "write clicks"); !st.ok()) return st;
  if (fold) {
    impl.journal_rows.clear();
    impl.journal_first = impl.journal_next;
    impl.journal_folded_ms = now;
  } else {
    for (const auto& [key, values] : counters) {
      std::array<int64_t, kCounterFieldCount>& row = impl.journal_rows[key];
      for (size_t i = 0; i < row.size(); ++i) row[i] += values[i];
    }
    ++impl.journal_next;
  }
  impl.journal_row_count.store(impl.journal_rows.size(), std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status Store::SyncWal() {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  // An empty synced write rather than DB::SyncWAL(): it goes through RocksDB's write queue, so
  // it fails cleanly once a write has failed, where SyncWAL() would sync the failed WAL writer
  // (an assertion failure, an abort, in RocksDB builds that keep assertions, as Debian's does).
  rocksdb::WriteBatch empty;
  absl::Status s = impl_->Write(/*sync=*/true, &empty, "sync wal");
  if (s.ok()) impl_->wal_syncs.fetch_add(1, std::memory_order_relaxed);
  return s;
}

absl::StatusOr<std::optional<ClickRecord>> Store::GetClick(int64_t time_ms,
                                                           std::string_view click_id) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::string key = codec::ClickKey(time_ms, click_id);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), db.cf(kClicksCf), key, &value);
  if (s.IsNotFound()) return std::optional<ClickRecord>();
  if (!s.ok()) return ToStatus(s, "get click");
  ClickRecord click;
  if (!codec::DecodeClick(key, std::string_view(value.data(), value.size()), &click)) {
    return absl::DataLossError(absl::StrCat("corrupt click row ", ToAbsl(click_id)));
  }
  return std::optional<ClickRecord>(std::move(click));
}

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> Store::VisitorClicks(
    std::string_view offer, std::string_view visitor_id, int64_t from_ms, int64_t to_ms) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::vector<std::pair<int64_t, std::string>> out;
  std::string start = codec::VisitorKey(offer, visitor_id, from_ms);
  std::string prefix = start.substr(0, start.size() - 8);
  // A prefix-mode iterator (the column family's prefix extractor): it reads the chain of the
  // seek key's prefix in the memtable, and stops being meaningful past that prefix.
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), db.cf(kVisitorsCf)));
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 8) continue;
    int64_t t = static_cast<int64_t>(codec::GetBigEndian64(it->key().data() + prefix.size()));
    if (t > to_ms) break;
    out.emplace_back(t, it->value().ToString());
  }
  if (absl::Status st = ToStatus(it->status(), "scan visitor"); !st.ok()) return st;
  return out;
}

absl::Status Store::ScanCounters(int32_t from_day, int32_t to_day,
                                 absl::FunctionRef<void(const CounterRow&)> fn) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::string start = codec::CounterKey(from_day, "", "", "").substr(0, 5);
  // The journal's rows and the iterator's snapshot taken together: a fold between the two would
  // count its rows twice, or not at all. (Its keys were checked when they were loaded or made.)
  std::vector<std::pair<std::string, CounterRow>> journal;  // by key
  std::unique_ptr<rocksdb::Iterator> it;
  {
    absl::MutexLock lock(&impl_->journal_mu);
    it.reset(db->NewIterator(rocksdb::ReadOptions(), db.cf(kCountersCf)));
    for (const auto& [key, values] : impl_->journal_rows) {
      const int32_t day = codec::CounterKeyDay(key);
      if (day < from_day || day > to_day) continue;
      journal.emplace_back(key, CounterRow());
      journal.back().second.values = values;
    }
  }
  for (auto& [key, row] : journal) (void)codec::DecodeCounterKey(key, &row);
  std::sort(journal.begin(), journal.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  auto next = journal.begin();
  for (it->Seek(start); it->Valid(); it->Next()) {
    CounterRow row;
    std::string_view key(it->key().data(), it->key().size());
    if (!codec::DecodeCounterKey(key, &row)) {
      if (!key.empty() && key[0] != 'C') break;  // other record kinds sort after
      return absl::DataLossError("corrupt counter key");
    }
    if (row.day > to_day) break;
    std::string_view v(it->value().data(), it->value().size());
    if (v.size() % 8 != 0) return absl::DataLossError("corrupt counter value");
    for (size_t i = 0; i < row.values.size() && i * 8 < v.size(); ++i) {
      row.values[i] = codec::PackedAt(v, i);
    }
    for (; next != journal.end() && next->first < key; ++next) fn(next->second);
    if (next != journal.end() && next->first == key) {
      for (size_t i = 0; i < row.values.size(); ++i) row.values[i] += next->second.values[i];
      ++next;
    }
    fn(row);
  }
  if (absl::Status st = ToStatus(it->status(), "scan counters"); !st.ok()) return st;
  for (; next != journal.end(); ++next) fn(next->second);
  return absl::OkStatus();
}

absl::Status Store::AppendAudit(AuditRecord* record) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::lock_guard<std::mutex> lock(impl_->audit_mu);
  record->seq = ++impl_->audit_seq;
  record->time_ms = std::max(record->time_ms, impl_->audit_time_ms);
  impl_->audit_time_ms = record->time_ms;
  std::string time;
  codec::PutBigEndian64(time, static_cast<uint64_t>(record->time_ms));
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Put(db.cf(kAuditCf), codec::AuditKey(record->time_ms, record->seq),
                                codec::EncodeAudit(*record));
  if (s.ok()) s = batch.Put(db.cf(kAuditCf), codec::AuditSeqKey(record->seq), time);
  if (!s.ok()) return ToStatus(s, "append audit record");
  // Synced: the admin answer is sent after this returns.
  absl::Status st = impl_->Write(/*sync=*/true, &batch, "append audit record");
  if (st.ok()) impl_->wal_syncs.fetch_add(1, std::memory_order_relaxed);
  return st;
}

namespace {
// The time of the first record with seq >= `seq` (forward) or the last with seq <= `seq`
// (backward), with that record's seq; nullopt when there is none.
absl::StatusOr<std::optional<std::pair<int64_t, uint64_t>>> FindAuditSeq(const DbRef& db,
                                                                         uint64_t seq,
                                                                         bool forward) {
  using Found = std::optional<std::pair<int64_t, uint64_t>>;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), db.cf(kAuditCf)));
  const std::string key = codec::AuditSeqKey(seq);
  if (forward) {
    it->Seek(key);
  } else {
    it->SeekForPrev(key);
  }
  if (!it->Valid() || it->key().size() == 0 || it->key()[0] != 'S') {
    if (absl::Status st = ToStatus(it->status(), "find audit seq"); !st.ok()) return st;
    return Found();
  }
  if (it->key().size() != 9 || it->value().size() != 8) {
    return absl::DataLossError("corrupt audit seq key");
  }
  return Found(std::make_pair(static_cast<int64_t>(codec::GetBigEndian64(it->value().data())),
                              codec::GetBigEndian64(it->key().data() + 1)));
}
}  // namespace

absl::Status Store::ScanAudit(const AuditRange& range,
                              absl::FunctionRef<bool(const AuditRecord&)> fn) {
  if (range.from_ms > range.to_ms || range.after_seq >= range.before_seq ||
      range.before_seq - range.after_seq < 2) {
    return absl::OkStatus();
  }
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  // Where the scan starts: the tighter of the time bound and the seq bound (keys order both).
  std::string start;
  if (!range.newest_first) {
    start = codec::AuditKey(range.from_ms, 0);
    if (range.after_seq > 0) {
      auto first = FindAuditSeq(db, range.after_seq + 1, /*forward=*/true);
      if (!first.ok()) return first.status();
      if (!first->has_value()) return absl::OkStatus();
      start = std::max(start, codec::AuditKey((*first)->first, (*first)->second));
    }
  } else {
    start = codec::AuditKey(range.to_ms, UINT64_MAX);
    if (range.before_seq != UINT64_MAX) {
      auto last = FindAuditSeq(db, range.before_seq - 1, /*forward=*/false);
      if (!last.ok()) return last.status();
      if (!last->has_value()) return absl::OkStatus();
      start = std::min(start, codec::AuditKey((*last)->first, (*last)->second));
    }
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), db.cf(kAuditCf)));
  if (range.newest_first) {
    it->SeekForPrev(start);
  } else {
    it->Seek(start);
  }
  for (; it->Valid(); range.newest_first ? it->Prev() : it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.empty() || key[0] != 'R') break;  // the seq index ('S') sorts after the records
    AuditRecord a;
    if (!codec::DecodeAudit(key, std::string_view(it->value().data(), it->value().size()), &a)) {
      return absl::DataLossError("corrupt audit record");
    }
    if (a.time_ms < range.from_ms || a.time_ms > range.to_ms || a.seq <= range.after_seq ||
        a.seq >= range.before_seq) {
      break;  // seq and time grow together: nothing further is in range
    }
    if (!fn(a)) break;
  }
  return ToStatus(it->status(), "scan audit");
}

absl::Status Store::CheckWritable() {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  return PutSynced(db, kMetaCf, "ready_probe", "1", "ready probe");
}

void Store::SetIndexHorizons(int64_t dedupe_s, int64_t visitors_s) {
  auto ms = [](int64_t s) {
    s = std::max<int64_t>(s, 0);
    return s >= INT64_MAX / 1000 - kIndexHorizonMarginSeconds
               ? INT64_MAX
               : (s + kIndexHorizonMarginSeconds) * 1000;
  };
  impl_->dedupe_horizon_ms->store(ms(dedupe_s), std::memory_order_relaxed);
  impl_->visitors_horizon_ms->store(ms(visitors_s), std::memory_order_relaxed);
}

absl::Status Store::CompactAllForTest() {
  BackgroundNeeded need(*impl_);
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::CompactRangeOptions o;
    o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    if (absl::Status s =
            ToStatus(db->Flush(rocksdb::FlushOptions(), db.cf(static_cast<Cf>(i))), "flush");
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            ToStatus(db->CompactRange(o, db.cf(static_cast<Cf>(i)), nullptr, nullptr), "compact");
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::string ChainLedgerEntry(LedgerEntry* entry, const std::string& prev_hash) {
  entry->prev_hash = prev_hash;
  std::string data = prev_hash + codec::LedgerCanonical(*entry);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  entry->hash.assign(reinterpret_cast<const char*>(digest), sizeof(digest));
  return entry->hash;
}

absl::Status Store::CommitConversions(const ConversionBatch& b) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  rocksdb::WriteBatch batch;
  auto check = [](const rocksdb::Status& s) { return ToStatus(s, "batch conversion"); };
  for (const ConversionRecord& c : b.conversions) {
    if (absl::Status st = check(batch.Put(db.cf(kConversionsCf), c.id, codec::EncodeConversion(c)));
        !st.ok()) {
      return st;
    }
    if (absl::Status st = check(batch.Put(db.cf(kConversionKeysCf), c.idempotency_key, c.id));
        !st.ok()) {
      return st;
    }
  }
  for (const OutboxEntry& o : b.outbox) {
    if (absl::Status st = check(
            batch.Put(db.cf(kOutboxCf), codec::OutboxKey(o.state, o.id), codec::EncodeOutbox(o)));
        !st.ok()) {
      return st;
    }
  }
  for (const PayoutRecord& p : b.payouts) {
    if (absl::Status st = check(batch.Put(db.cf(kPayoutsCf), p.id, codec::EncodePayout(p)));
        !st.ok()) {
      return st;
    }
  }
  for (const LedgerEntry& e : b.entries) {
    if (absl::Status st = check(
            batch.Put(db.cf(kLedgerCf), codec::LedgerKey(e.seq), codec::EncodeLedgerEntry(e)));
        !st.ok()) {
      return st;
    }
  }
  for (const ConversionBatch::BalanceChange& bc : b.balances) {
    int64_t v[3] = {bc.delta.pending, bc.delta.approved, bc.delta.paid};
    if (absl::Status st =
            check(batch.Merge(db.cf(kBalancesCf), codec::BalanceKey(bc.affiliate, bc.currency),
                              codec::EncodeCounters(v, 3)));
        !st.ok()) {
      return st;
    }
  }
  for (const ConversionStats& st : b.stats) {
    std::array<int64_t, kCounterFieldCount> row{};
    row[kConversions] = st.conversions;
    row[kApproved] = st.approved;
    row[kPending] = st.pending;
    row[kRejected] = st.rejected;
    row[kReversed] = st.reversed;
    auto cf = db.cf(kCountersCf);
    absl::Status s1 =
        check(batch.Merge(cf, codec::CounterKey(st.day, st.offer, st.affiliate, st.sub1),
                          codec::EncodeCounters(row.data(), row.size())));
    int64_t money[2] = {st.revenue, st.payout};
    absl::Status s2 =
        check(batch.Merge(cf, codec::MoneyKey(st.day, st.offer, st.affiliate, st.sub1, st.currency),
                          codec::EncodeCounters(money, 2)));
    absl::Status s3 = check(batch.Merge(cf, codec::DailyCountKey(st.day, st.offer),
                                        codec::EncodeCounters(&st.counted_today, 1)));
    absl::Status s4 = check(batch.Merge(cf, codec::MonthCountKey(st.month, st.offer, st.affiliate),
                                        codec::EncodeCounters(&st.counted_month, 1)));
    for (const absl::Status& x : {s1, s2, s3, s4}) {
      if (!x.ok()) return x;
    }
  }
  // Synced: the answer is sent only after this returns.
  absl::Status st = impl_->Write(/*sync=*/true, &batch, "commit conversions");
  if (st.ok()) impl_->wal_syncs.fetch_add(1, std::memory_order_relaxed);
  return st;
}

absl::StatusOr<std::optional<ConversionRecord>> Store::GetConversion(std::string_view id) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), db.cf(kConversionsCf), id, &value);
  if (s.IsNotFound()) return std::optional<ConversionRecord>();
  if (!s.ok()) return ToStatus(s, "get conversion");
  ConversionRecord c;
  if (!codec::DecodeConversion(std::string_view(value.data(), value.size()), &c)) {
    return absl::DataLossError(absl::StrCat("corrupt conversion ", ToAbsl(id)));
  }
  return std::optional<ConversionRecord>(std::move(c));
}

absl::StatusOr<std::optional<std::string>> Store::FindConversionByKey(std::string_view key) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), db.cf(kConversionKeysCf), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return ToStatus(s, "get conversion key");
  return std::optional<std::string>(std::move(value));
}

namespace {
absl::StatusOr<int64_t> ReadFirstCounter(const DbRef& db, const std::string& key) {
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), db.cf(kCountersCf), key, &value);
  if (s.IsNotFound()) return int64_t{0};
  if (!s.ok()) return ToStatus(s, "get counter");
  int64_t v;
  if (!codec::FirstCounter(value, &v)) return absl::DataLossError("corrupt counter");
  return v;
}
}  // namespace

absl::StatusOr<int64_t> Store::CountedToday(std::string_view offer, int32_t day) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  return ReadFirstCounter(db, codec::DailyCountKey(day, offer));
}

absl::StatusOr<int64_t> Store::CountedMonth(std::string_view offer, std::string_view affiliate,
                                            int32_t month) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  return ReadFirstCounter(db, codec::MonthCountKey(month, offer, affiliate));
}

absl::StatusOr<std::pair<uint64_t, std::string>> Store::LedgerHead() {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), db.cf(kLedgerCf)));
  it->SeekToLast();
  if (!it->Valid()) {
    if (absl::Status st = ToStatus(it->status(), "ledger head"); !st.ok()) return st;
    return std::make_pair(uint64_t{0}, kGenesisHash);
  }
  LedgerEntry e;
  if (!codec::DecodeLedgerEntry(std::string_view(it->key().data(), it->key().size()),
                                std::string_view(it->value().data(), it->value().size()), &e)) {
    return absl::DataLossError("corrupt last ledger entry");
  }
  return std::make_pair(e.seq, e.hash);
}

namespace {
// Holds no lock of its own: VerifyLedger calls it under its DbRef (absl::Mutex reader locks do
// not nest safely: a waiting writer blocks the second one).
absl::Status ScanLedgerIn(const DbRef& db, absl::FunctionRef<bool(const LedgerEntry&)> fn) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), db.cf(kLedgerCf)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    LedgerEntry e;
    if (!codec::DecodeLedgerEntry(std::string_view(it->key().data(), it->key().size()),
                                  std::string_view(it->value().data(), it->value().size()), &e)) {
      return absl::DataLossError("corrupt ledger entry");
    }
    if (!fn(e)) break;
  }
  return ToStatus(it->status(), "scan ledger");
}
}  // namespace

absl::Status Store::ScanLedger(absl::FunctionRef<bool(const LedgerEntry&)> fn) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  return ScanLedgerIn(db, fn);
}

absl::StatusOr<std::vector<BalanceRow>> Store::GetBalances(std::string_view affiliate) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::vector<BalanceRow> out;
  std::string prefix = codec::BalanceKey(affiliate, "");
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), db.cf(kBalancesCf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view v(it->value().data(), it->value().size());
    if (v.size() != 24) return absl::DataLossError("corrupt balance");
    BalanceRow row;
    row.currency = it->key().ToString().substr(prefix.size());
    row.pending = codec::PackedAt(v, 0);
    row.approved = codec::PackedAt(v, 1);
    row.paid = codec::PackedAt(v, 2);
    out.push_back(std::move(row));
  }
  if (absl::Status st = ToStatus(it->status(), "get balances"); !st.ok()) return st;
  return out;
}

absl::Status Store::ScanBalances(
    std::string_view currency, absl::FunctionRef<void(const std::string&, const BalanceRow&)> fn) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), db.cf(kBalancesCf)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    size_t z = key.find('\0');
    if (z == std::string_view::npos || key.substr(z + 1) != currency) continue;
    std::string_view v(it->value().data(), it->value().size());
    if (v.size() != 24) return absl::DataLossError("corrupt balance");
    BalanceRow row;
    row.currency.assign(currency);
    row.pending = codec::PackedAt(v, 0);
    row.approved = codec::PackedAt(v, 1);
    row.paid = codec::PackedAt(v, 2);
    fn(std::string(key.substr(0, z)), row);
  }
  return ToStatus(it->status(), "scan balances");
}

absl::StatusOr<std::optional<PayoutRecord>> Store::GetPayout(std::string_view id) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), db.cf(kPayoutsCf), id, &value);
  if (s.IsNotFound()) return std::optional<PayoutRecord>();
  if (!s.ok()) return ToStatus(s, "get payout");
  PayoutRecord p;
  if (!codec::DecodePayout(value, &p)) return absl::DataLossError("corrupt payout");
  return std::optional<PayoutRecord>(std::move(p));
}

absl::Status Store::ScanOutbox(OutboxState state, absl::FunctionRef<bool(const OutboxEntry&)> fn) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  const std::string prefix = codec::OutboxKey(state, "");
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), db.cf(kOutboxCf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    OutboxEntry o;
    if (!codec::DecodeOutbox(std::string_view(it->value().data(), it->value().size()), &o) ||
        o.state != state) {
      return absl::DataLossError("corrupt outbox entry");
    }
    if (!fn(o)) break;
  }
  return ToStatus(it->status(), "scan outbox");
}

absl::StatusOr<std::optional<OutboxEntry>> Store::GetOutbox(std::string_view id) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  for (OutboxState state : {OutboxState::kPending, OutboxState::kDead, OutboxState::kDelivered}) {
    std::string value;
    rocksdb::Status s =
        db->Get(rocksdb::ReadOptions(), db.cf(kOutboxCf), codec::OutboxKey(state, id), &value);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return ToStatus(s, "get outbox entry");
    OutboxEntry o;
    if (!codec::DecodeOutbox(value, &o) || o.state != state)
      return absl::DataLossError("corrupt outbox entry");
    return std::optional<OutboxEntry>(std::move(o));
  }
  return std::optional<OutboxEntry>();
}

absl::Status Store::UpdateOutbox(OutboxState from, const OutboxEntry& entry) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  rocksdb::WriteBatch batch;
  rocksdb::Status s;
  if (from != entry.state) s = batch.Delete(db.cf(kOutboxCf), codec::OutboxKey(from, entry.id));
  if (s.ok()) {
    s = batch.Put(db.cf(kOutboxCf), codec::OutboxKey(entry.state, entry.id),
                  codec::EncodeOutbox(entry));
  }
  // Not synced: the WAL reaches the OS at once (a killed process loses nothing) and the click
  // writer's periodic WAL sync makes it durable within --wal-sync-ms.
  if (!s.ok()) return ToStatus(s, "update outbox entry");
  return impl_->Write(/*sync=*/false, &batch, "update outbox entry");
}

absl::Status Store::ScanPayouts(absl::FunctionRef<bool(const PayoutRecord&)> fn) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), db.cf(kPayoutsCf)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    PayoutRecord p;
    if (!codec::DecodePayout(std::string_view(it->value().data(), it->value().size()), &p)) {
      return absl::DataLossError("corrupt payout");
    }
    if (!fn(p)) break;
  }
  return ToStatus(it->status(), "scan payouts");
}

absl::StatusOr<CheckpointInfo> Store::Checkpoint(const std::string& path) {
  BackgroundNeeded need(*impl_);  // it flushes the memtables first
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db.get(), &raw);
  if (!s.ok()) return ToStatus(s, "checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  // log_size_for_flush = 0: memtables are flushed first, so the checkpoint holds every write
  // acknowledged so far in SST files plus the live WAL tail.
  s = cp->CreateCheckpoint(path, /*log_size_for_flush=*/0);
  if (!s.ok()) return ToStatus(s, "checkpoint");
  CheckpointInfo info;
  info.path = path;
  std::error_code ec;
  for (const auto& f : std::filesystem::recursive_directory_iterator(path, ec)) {
    if (!f.is_regular_file()) continue;
    ++info.files;
    info.bytes += f.file_size();
  }
  return info;
}

absl::StatusOr<VerifyReport> Store::VerifyLedger() {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  VerifyReport report;
  std::map<std::string, attribution::BalanceDelta> computed;  // balance key -> sums
  std::string prev = kGenesisHash;
  uint64_t expect_seq = 1;
  absl::Status st = ScanLedgerIn(db, [&](const LedgerEntry& e) {
    ++report.entries;
    if (e.seq != expect_seq) {
      report.problems.push_back(absl::StrCat("entry ", e.seq, ": expected seq ", expect_seq));
    }
    expect_seq = e.seq + 1;
    LedgerEntry check = e;
    ChainLedgerEntry(&check, prev);
    if (e.prev_hash != prev)
      report.problems.push_back(absl::StrCat("entry ", e.seq, ": broken chain"));
    if (check.hash != e.hash)
      report.problems.push_back(absl::StrCat("entry ", e.seq, ": hash mismatch"));
    prev = e.hash;
    std::optional<attribution::BalanceDelta> d =
        attribution::BalanceEffect(e.kind, e.status, e.amount);
    if (!d) {
      report.problems.push_back(absl::StrCat("entry ", e.seq, ": impossible kind/status"));
      return true;
    }
    attribution::BalanceDelta& acc = computed[codec::BalanceKey(e.affiliate, e.currency)];
    acc.pending += d->pending;
    acc.approved += d->approved;
    acc.paid += d->paid;
    return true;
  });
  if (!st.ok()) return st;
  // Every stored balance must equal the recomputed one, and no computed one may be missing.
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), db.cf(kBalancesCf)));
  std::map<std::string, bool> seen;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string key = it->key().ToString();
    std::string_view v(it->value().data(), it->value().size());
    ++report.balances_checked;
    seen[key] = true;
    int64_t stored[3] = {0, 0, 0};
    if (v.size() != 24) {
      report.problems.push_back("corrupt balance row");
      continue;
    }
    for (size_t i = 0; i < 3; ++i) stored[i] = codec::PackedAt(v, i);
    attribution::BalanceDelta want = computed[key];
    if (stored[0] != want.pending || stored[1] != want.approved || stored[2] != want.paid) {
      std::string readable = key;
      std::replace(readable.begin(), readable.end(), '\0', '/');
      report.problems.push_back(absl::StrCat("balance ", readable, " differs from its entries"));
    }
  }
  if (absl::Status s2 = ToStatus(it->status(), "scan balances"); !s2.ok()) return s2;
  for (const auto& [key, d] : computed) {
    if (!seen.count(key) && (d.pending != 0 || d.approved != 0 || d.paid != 0)) {
      report.problems.push_back("a balance with entries is missing");
    }
  }
  return report;
}

absl::Status Store::ScanMoney(int32_t from_day, int32_t to_day,
                              absl::FunctionRef<void(const MoneyRow&)> fn) {
  DbRef db(*impl_);
  if (!db.ok()) return db.Closed();
  std::string start = codec::MoneyKey(from_day, "", "", "", "").substr(0, 5);
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), db.cf(kCountersCf)));
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.empty() || key[0] != 'M') break;
    MoneyRow row;
    if (!codec::DecodeMoneyKey(key, &row)) return absl::DataLossError("corrupt money key");
    if (row.day > to_day) break;
    std::string_view v(it->value().data(), it->value().size());
    if (v.size() < 16 || v.size() % 8 != 0) return absl::DataLossError("corrupt money value");
    row.revenue = codec::PackedAt(v, 0);
    row.payout = codec::PackedAt(v, 1);
    fn(row);
  }
  return ToStatus(it->status(), "scan money");
}

absl::Status StoreImpl::ApplyBackgroundPolicy() {
  ThreadPolicy policy = background_waiters == 0 ? background_wanted : ThreadPolicy::kNormal;
  if (policy == background_applied) return absl::OkStatus();
  // RocksDB's Env names its pool threads "rocksdb:low" (compactions), "rocksdb:high" (flushes)
  // and "rocksdb:bottom"; it starts them when the database opens.
  const std::vector<pid_t> threads = ThreadsNamed(getpid(), "rocksdb:");
  absl::Status result;
  if (threads.empty()) result = absl::InternalError("no rocksdb:* thread in /proc/self/task");
  for (pid_t tid : threads) {
    absl::Status st = SetThreadPolicy(tid, policy);
    if (!st.ok() && result.ok()) result = st;
  }
  // After a failure some threads may have changed: the next call walks them all again.
  background_applied = result.ok() ? std::optional<ThreadPolicy>(policy) : std::nullopt;
  return result;
}

void Store::SetWriteObserver(WriteObserver* observer) {
  impl_->write_observer.store(observer, std::memory_order_release);
}

absl::Status Store::SetBackgroundPolicy(ThreadPolicy policy) {
  absl::MutexLock lock(&impl_->policy_mu);
  impl_->background_wanted = policy;
  return impl_->ApplyBackgroundPolicy();
}

StoreStats Store::Stats() {
  StoreStats st;
  StoreImpl& impl = *impl_;
  st.wal_syncs = impl.wal_syncs.load(std::memory_order_relaxed);
  st.writable = impl.writable.load(std::memory_order_acquire);
  st.write_stops = impl.write_stops.load(std::memory_order_relaxed);
  st.recoveries = impl.recoveries.load(std::memory_order_relaxed);
  st.reopens = impl.reopens.load(std::memory_order_relaxed);
  st.write_stalls = impl.write_stalls.load(std::memory_order_relaxed);
  auto seconds = [](const std::atomic<int64_t>& ms) {
    int64_t v = ms.load(std::memory_order_relaxed);
    return v == INT64_MAX ? int64_t{-1} : v / 1000;
  };
  st.dedupe_horizon_s = seconds(*impl.dedupe_horizon_ms);
  st.visitors_horizon_s = seconds(*impl.visitors_horizon_ms);
  st.counter_journal_rows = impl.journal_row_count.load(std::memory_order_relaxed);
  // A scrape must not wait for a recovery (which holds db_mu while RocksDB flushes): the
  // RocksDB figures are left out of that one scrape instead.
  if (!impl.db_mu.ReaderTryLock()) return st;
  if (impl.db != nullptr) {
    uint64_t v = 0;
    if (impl.db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) {
      st.memtable_bytes = v;
    }
    if (impl.db->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                                          &v)) {
      st.pending_compaction_bytes = v;
    }
    if (impl.db->GetIntProperty(impl.cfs[kClicksCf], rocksdb::DB::Properties::kEstimateNumKeys,
                                &v)) {
      st.estimated_clicks = v;
    }
  }
  impl.db_mu.ReaderUnlock();
  return st;
}

}  // namespace ricochet::storage
