#include "storage/store.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "attribution/ledger.h"
#include "attribution/sv.h"
#include "codec.h"
#include "counters.h"
#include "openssl/sha.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
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

}  // namespace

class StoreImpl {
 public:
  StoreOptions options;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  std::atomic<uint64_t> wal_syncs{0};
  std::mutex close_mu;
  bool closed = false;
  // The audit trail's tail: AppendAudit continues from here.
  std::mutex audit_mu;
  uint64_t audit_seq = 0;     // guarded by audit_mu
  int64_t audit_time_ms = 0;  // guarded by audit_mu

  rocksdb::ColumnFamilyHandle* cf(Cf c) { return cfs[c]; }

  absl::Status Close() {
    std::lock_guard<std::mutex> lock(close_mu);
    if (closed) return absl::OkStatus();
    closed = true;
    absl::Status result = ToStatus(db->SyncWAL(), "sync wal");
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
};

Store::Store(std::unique_ptr<StoreImpl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  if (impl_) (void)impl_->Close();  // errors were reported by an explicit Close() if they matter
}

absl::Status Store::Close() { return impl_->Close(); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.retention_days < 1) return absl::InvalidArgumentError("retention_days must be >= 1");
  auto impl = std::make_unique<StoreImpl>();
  impl->options = options;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = !options.inspect_only;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1u << 20;
  db_options.keep_log_file_num = 5;
  db_options.max_total_wal_size = 256u << 20;

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  auto table_options = [&](bool bloom) {
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    t.cache_index_and_filter_blocks = true;
    t.pin_l0_filter_and_index_blocks_in_cache = true;
    if (bloom) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    return std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(t));
  };
  auto base = [&](bool bloom) {
    rocksdb::ColumnFamilyOptions o;
    o.write_buffer_size = options.write_buffer_bytes;
    o.compression = rocksdb::kLZ4Compression;
    o.bottommost_compression = rocksdb::kZSTD;
    o.table_factory = table_options(bloom);
    o.level_compaction_dynamic_level_bytes = true;
    o.disable_auto_compactions = options.inspect_only;
    return o;
  };

  // The click writer inserts a dedupe slot, a visitor entry and a counter operand per click, at
  // random places of their memtables; a skip-list insert costs a cache miss per level, so small
  // memtables make them markedly cheaper, flushes and compactions included
  // (bench/storage/click_write_bench: docs/performance.md).
  const size_t small_write_buffer = std::max<size_t>(options.write_buffer_bytes / 8, 1u << 20);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions o = base(/*bloom=*/i == kDedupeCf || i == kClicksCf);
    switch (static_cast<Cf>(i)) {
      case kClicksCf:
        o.compaction_filter_factory =
            NewRetentionFilterFactory(options.retention_days, TimeIn::kKeyPrefix);
        // Keys lead with the big-endian time, so each insert lands next to the previous one:
        // start the search there. (One hint for all keys: the first byte of the time.)
        o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1));
        break;
      case kDedupeCf:
        o.compaction_filter_factory =
            NewRetentionFilterFactory(options.retention_days, TimeIn::kValue);
        // Dedupe lookups are point reads of random keys: keep L0 small and filters hot.
        o.optimize_filters_for_hits = false;
        // Nearly every lookup misses (a new visitor): a memtable bloom filter answers those
        // without searching the skip list.
        o.memtable_prefix_bloom_size_ratio = 0.1;
        o.memtable_whole_key_filtering = true;
        o.write_buffer_size = small_write_buffer;
        break;
      case kVisitorsCf:
        o.compaction_filter_factory =
            NewRetentionFilterFactory(options.retention_days, TimeIn::kKeySuffix);
        o.write_buffer_size = small_write_buffer;
        break;
      case kCountersCf:
        o.merge_operator = NewCounterMergeOperator();
        // Written by every click batch, read only by reports. max_successive_merges would
        // look each key up in the memtable on every merge (a third of the click writer's time
        // in profiles); instead the small memtable bounds how many operands a report read
        // folds (a few tens of thousands for the hottest row), and flushes fold them for good.
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
        o.write_buffer_size = 4u << 20;
        break;
      default:
        break;
    }
    descriptors.emplace_back(kCfNames[i], o);
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, descriptors, &impl->cfs, &raw);
  if (!s.ok()) return ToStatus(s, absl::StrCat("open ", options.path));
  impl->db.reset(raw);
  // The last key of the audit trail is the seq index entry of its last record.
  std::unique_ptr<rocksdb::Iterator> it(
      impl->db->NewIterator(rocksdb::ReadOptions(), impl->cf(kAuditCf)));
  it->SeekToLast();
  if (it->Valid()) {
    if (it->key().size() != 9 || it->key()[0] != 'S' || it->value().size() != 8) {
      return absl::DataLossError("corrupt last audit key");
    }
    impl->audit_seq = codec::GetBigEndian64(it->key().data() + 1);
    impl->audit_time_ms = static_cast<int64_t>(codec::GetBigEndian64(it->value().data()));
  }
  if (absl::Status st = ToStatus(it->status(), "read audit tail"); !st.ok()) return st;
  it.reset();
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

absl::Status Store::PutConfig(std::string_view kind, std::string_view id, std::string_view json) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return ToStatus(impl_->db->Put(wo, impl_->cf(kConfigCf), ConfigKey(kind, id), json),
                  "put config");
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Store::ListConfig(
    std::string_view kind) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string prefix = absl::StrCat(ToAbsl(kind), "/");
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kConfigCf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    out.emplace_back(it->key().ToString().substr(prefix.size()), it->value().ToString());
  }
  if (absl::Status st = ToStatus(it->status(), "list config"); !st.ok()) return st;
  return out;
}

absl::StatusOr<std::string> Store::LoadOrCreateMeta(std::string_view name,
                                                    std::string_view initial) {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kMetaCf), name, &value);
  if (s.ok()) return value;
  if (!s.IsNotFound()) return ToStatus(s, "get meta");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (absl::Status st = ToStatus(impl_->db->Put(wo, impl_->cf(kMetaCf), name, initial), "put meta");
      !st.ok()) {
    return st;
  }
  return std::string(initial);
}

absl::StatusOr<std::vector<std::optional<int64_t>>> Store::GetDedupeSlots(
    std::span<const attribution::DedupeKey> keys) {
  std::vector<std::optional<int64_t>> out(keys.size());
  if (keys.empty()) return out;
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const attribution::DedupeKey& k : keys) {
    slices.emplace_back(reinterpret_cast<const char*>(k.data()), k.size());
  }
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  impl_->db->MultiGet(rocksdb::ReadOptions(), impl_->cf(kDedupeCf), keys.size(), slices.data(),
                      values.data(), statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return ToStatus(statuses[i], "get dedupe slot");
    if (values[i].size() != 8) return absl::DataLossError("corrupt dedupe slot");
    out[i] = static_cast<int64_t>(codec::GetBigEndian64(values[i].data()));
  }
  return out;
}

absl::Status Store::WriteClicks(std::span<const ClickRecord> clicks) {
  if (clicks.empty()) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  // Sum counters per report row first: one merge operand per row and batch.
  std::map<std::string, std::array<int64_t, kCounterFieldCount>> counters;
  for (const ClickRecord& c : clicks) {
    rocksdb::Status s = batch.Put(impl_->cf(kClicksCf), codec::ClickKey(c.time_ms, c.click_id),
                                  codec::EncodeClick(c));
    if (!s.ok()) return ToStatus(s, "batch click");
    if (c.dedupe_key) {
      std::string t;
      codec::PutBigEndian64(t, static_cast<uint64_t>(c.time_ms));
      s = batch.Put(
          impl_->cf(kDedupeCf),
          rocksdb::Slice(reinterpret_cast<const char*>(c.dedupe_key->data()), c.dedupe_key->size()),
          t);
      if (!s.ok()) return ToStatus(s, "batch dedupe");
    }
    if (c.attributable && !c.visitor_id.empty()) {
      s = batch.Put(impl_->cf(kVisitorsCf), codec::VisitorKey(c.offer, c.visitor_id, c.time_ms),
                    c.click_id);
      if (!s.ok()) return ToStatus(s, "batch visitor");
    }
    auto& row = counters[codec::CounterKey(codec::DayFromMillis(c.time_ms), c.offer, c.affiliate,
                                           c.subs[0])];
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
  for (const auto& [key, values] : counters) {
    rocksdb::Status s = batch.Merge(impl_->cf(kCountersCf), key,
                                    codec::EncodeCounters(values.data(), values.size()));
    if (!s.ok()) return ToStatus(s, "batch counters");
  }
  rocksdb::WriteOptions wo;
  wo.sync = false;  // group-committed: the click pipeline calls SyncWal on its own schedule
  return ToStatus(impl_->db->Write(wo, &batch), "write clicks");
}

absl::Status Store::SyncWal() {
  absl::Status s = ToStatus(impl_->db->SyncWAL(), "sync wal");
  if (s.ok()) impl_->wal_syncs.fetch_add(1, std::memory_order_relaxed);
  return s;
}

absl::StatusOr<std::optional<ClickRecord>> Store::GetClick(int64_t time_ms,
                                                           std::string_view click_id) {
  std::string key = codec::ClickKey(time_ms, click_id);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kClicksCf), key, &value);
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
  std::vector<std::pair<int64_t, std::string>> out;
  std::string start = codec::VisitorKey(offer, visitor_id, from_ms);
  std::string prefix = start.substr(0, start.size() - 8);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kVisitorsCf)));
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
  std::string start = codec::CounterKey(from_day, "", "", "").substr(0, 5);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kCountersCf)));
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
    fn(row);
  }
  return ToStatus(it->status(), "scan counters");
}

absl::Status Store::AppendAudit(AuditRecord* record) {
  std::lock_guard<std::mutex> lock(impl_->audit_mu);
  record->seq = ++impl_->audit_seq;
  record->time_ms = std::max(record->time_ms, impl_->audit_time_ms);
  impl_->audit_time_ms = record->time_ms;
  std::string time;
  codec::PutBigEndian64(time, static_cast<uint64_t>(record->time_ms));
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Put(impl_->cf(kAuditCf), codec::AuditKey(record->time_ms, record->seq),
                                codec::EncodeAudit(*record));
  if (s.ok()) s = batch.Put(impl_->cf(kAuditCf), codec::AuditSeqKey(record->seq), time);
  rocksdb::WriteOptions wo;
  wo.sync = true;  // the admin answer is sent after this returns
  if (s.ok()) s = impl_->db->Write(wo, &batch);
  if (s.ok()) impl_->wal_syncs.fetch_add(1, std::memory_order_relaxed);
  return ToStatus(s, "append audit record");
}

namespace {
// The time of the first record with seq >= `seq` (forward) or the last with seq <= `seq`
// (backward), with that record's seq; nullopt when there is none.
absl::StatusOr<std::optional<std::pair<int64_t, uint64_t>>> FindAuditSeq(StoreImpl& impl,
                                                                         uint64_t seq,
                                                                         bool forward) {
  using Found = std::optional<std::pair<int64_t, uint64_t>>;
  std::unique_ptr<rocksdb::Iterator> it(
      impl.db->NewIterator(rocksdb::ReadOptions(), impl.cf(kAuditCf)));
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
  // Where the scan starts: the tighter of the time bound and the seq bound (keys order both).
  std::string start;
  if (!range.newest_first) {
    start = codec::AuditKey(range.from_ms, 0);
    if (range.after_seq > 0) {
      auto first = FindAuditSeq(*impl_, range.after_seq + 1, /*forward=*/true);
      if (!first.ok()) return first.status();
      if (!first->has_value()) return absl::OkStatus();
      start = std::max(start, codec::AuditKey((*first)->first, (*first)->second));
    }
  } else {
    start = codec::AuditKey(range.to_ms, UINT64_MAX);
    if (range.before_seq != UINT64_MAX) {
      auto last = FindAuditSeq(*impl_, range.before_seq - 1, /*forward=*/false);
      if (!last.ok()) return last.status();
      if (!last->has_value()) return absl::OkStatus();
      start = std::min(start, codec::AuditKey((*last)->first, (*last)->second));
    }
  }
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kAuditCf)));
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
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return ToStatus(impl_->db->Put(wo, impl_->cf(kMetaCf), "ready_probe", "1"), "ready probe");
}

absl::Status Store::CompactAllForTest() {
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::CompactRangeOptions o;
    o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    if (absl::Status s = ToStatus(
            impl_->db->Flush(rocksdb::FlushOptions(), impl_->cf(static_cast<Cf>(i))), "flush");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ToStatus(
            impl_->db->CompactRange(o, impl_->cf(static_cast<Cf>(i)), nullptr, nullptr), "compact");
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
  rocksdb::WriteBatch batch;
  auto check = [](const rocksdb::Status& s) { return ToStatus(s, "batch conversion"); };
  for (const ConversionRecord& c : b.conversions) {
    if (absl::Status st =
            check(batch.Put(impl_->cf(kConversionsCf), c.id, codec::EncodeConversion(c)));
        !st.ok()) {
      return st;
    }
    if (absl::Status st = check(batch.Put(impl_->cf(kConversionKeysCf), c.idempotency_key, c.id));
        !st.ok()) {
      return st;
    }
  }
  for (const OutboxEntry& o : b.outbox) {
    if (absl::Status st = check(batch.Put(impl_->cf(kOutboxCf), codec::OutboxKey(o.state, o.id),
                                          codec::EncodeOutbox(o)));
        !st.ok()) {
      return st;
    }
  }
  for (const PayoutRecord& p : b.payouts) {
    if (absl::Status st = check(batch.Put(impl_->cf(kPayoutsCf), p.id, codec::EncodePayout(p)));
        !st.ok()) {
      return st;
    }
  }
  for (const LedgerEntry& e : b.entries) {
    if (absl::Status st = check(
            batch.Put(impl_->cf(kLedgerCf), codec::LedgerKey(e.seq), codec::EncodeLedgerEntry(e)));
        !st.ok()) {
      return st;
    }
  }
  for (const ConversionBatch::BalanceChange& bc : b.balances) {
    int64_t v[3] = {bc.delta.pending, bc.delta.approved, bc.delta.paid};
    if (absl::Status st =
            check(batch.Merge(impl_->cf(kBalancesCf), codec::BalanceKey(bc.affiliate, bc.currency),
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
    auto cf = impl_->cf(kCountersCf);
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
  rocksdb::WriteOptions wo;
  wo.sync = true;  // the answer is sent only after this returns
  absl::Status st = ToStatus(impl_->db->Write(wo, &batch), "commit conversions");
  if (st.ok()) impl_->wal_syncs.fetch_add(1, std::memory_order_relaxed);
  return st;
}

absl::StatusOr<std::optional<ConversionRecord>> Store::GetConversion(std::string_view id) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kConversionsCf), id, &value);
  if (s.IsNotFound()) return std::optional<ConversionRecord>();
  if (!s.ok()) return ToStatus(s, "get conversion");
  ConversionRecord c;
  if (!codec::DecodeConversion(std::string_view(value.data(), value.size()), &c)) {
    return absl::DataLossError(absl::StrCat("corrupt conversion ", ToAbsl(id)));
  }
  return std::optional<ConversionRecord>(std::move(c));
}

absl::StatusOr<std::optional<std::string>> Store::FindConversionByKey(std::string_view key) {
  std::string value;
  rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kConversionKeysCf), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return ToStatus(s, "get conversion key");
  return std::optional<std::string>(std::move(value));
}

namespace {
absl::StatusOr<int64_t> ReadFirstCounter(StoreImpl& impl, const std::string& key) {
  std::string value;
  rocksdb::Status s = impl.db->Get(rocksdb::ReadOptions(), impl.cf(kCountersCf), key, &value);
  if (s.IsNotFound()) return int64_t{0};
  if (!s.ok()) return ToStatus(s, "get counter");
  int64_t v;
  if (!codec::FirstCounter(value, &v)) return absl::DataLossError("corrupt counter");
  return v;
}
}  // namespace

absl::StatusOr<int64_t> Store::CountedToday(std::string_view offer, int32_t day) {
  return ReadFirstCounter(*impl_, codec::DailyCountKey(day, offer));
}

absl::StatusOr<int64_t> Store::CountedMonth(std::string_view offer, std::string_view affiliate,
                                            int32_t month) {
  return ReadFirstCounter(*impl_, codec::MonthCountKey(month, offer, affiliate));
}

absl::StatusOr<std::pair<uint64_t, std::string>> Store::LedgerHead() {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kLedgerCf)));
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

absl::Status Store::ScanLedger(absl::FunctionRef<bool(const LedgerEntry&)> fn) {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kLedgerCf)));
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

absl::StatusOr<std::vector<BalanceRow>> Store::GetBalances(std::string_view affiliate) {
  std::vector<BalanceRow> out;
  std::string prefix = codec::BalanceKey(affiliate, "");
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kBalancesCf)));
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
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kBalancesCf)));
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
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kPayoutsCf), id, &value);
  if (s.IsNotFound()) return std::optional<PayoutRecord>();
  if (!s.ok()) return ToStatus(s, "get payout");
  PayoutRecord p;
  if (!codec::DecodePayout(value, &p)) return absl::DataLossError("corrupt payout");
  return std::optional<PayoutRecord>(std::move(p));
}

absl::Status Store::ScanOutbox(OutboxState state, absl::FunctionRef<bool(const OutboxEntry&)> fn) {
  const std::string prefix = codec::OutboxKey(state, "");
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kOutboxCf)));
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
  for (OutboxState state : {OutboxState::kPending, OutboxState::kDead, OutboxState::kDelivered}) {
    std::string value;
    rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kOutboxCf),
                                       codec::OutboxKey(state, id), &value);
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
  rocksdb::WriteBatch batch;
  rocksdb::Status s;
  if (from != entry.state) s = batch.Delete(impl_->cf(kOutboxCf), codec::OutboxKey(from, entry.id));
  if (s.ok()) {
    s = batch.Put(impl_->cf(kOutboxCf), codec::OutboxKey(entry.state, entry.id),
                  codec::EncodeOutbox(entry));
  }
  // Not synced: the WAL reaches the OS at once (a killed process loses nothing) and the click
  // writer's periodic WAL sync makes it durable within --wal-sync-ms.
  if (s.ok()) s = impl_->db->Write(rocksdb::WriteOptions(), &batch);
  return ToStatus(s, "update outbox entry");
}

absl::Status Store::ScanPayouts(absl::FunctionRef<bool(const PayoutRecord&)> fn) {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kPayoutsCf)));
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
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(impl_->db.get(), &raw);
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
  VerifyReport report;
  std::map<std::string, attribution::BalanceDelta> computed;  // balance key -> sums
  std::string prev = kGenesisHash;
  uint64_t expect_seq = 1;
  absl::Status st = ScanLedger([&](const LedgerEntry& e) {
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
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kBalancesCf)));
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
  std::string start = codec::MoneyKey(from_day, "", "", "", "").substr(0, 5);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kCountersCf)));
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

StoreStats Store::Stats() {
  StoreStats st;
  st.wal_syncs = impl_->wal_syncs.load(std::memory_order_relaxed);
  uint64_t v = 0;
  if (impl_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) {
    st.memtable_bytes = v;
  }
  if (impl_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                                          &v)) {
    st.pending_compaction_bytes = v;
  }
  if (impl_->db->GetIntProperty(impl_->cf(kClicksCf), rocksdb::DB::Properties::kEstimateNumKeys,
                                &v)) {
    st.estimated_clicks = v;
  }
  return st;
}

}  // namespace ricochet::storage
