#include "storage/store.h"

#include <atomic>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "attribution/sv.h"
#include "codec.h"
#include "counters.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace ricochet::storage {
namespace {

enum Cf : size_t { kDefaultCf, kClicksCf, kDedupeCf, kVisitorsCf, kCountersCf, kConfigCf, kMetaCf, kCfCount };
const char* const kCfNames[kCfCount] = {"default",
                                        "clicks",
                                        "click_dedupe",
                                        "visitors",
                                        "counters",
                                        "config",
                                        "meta"};

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
  db_options.create_if_missing = true;
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
    return o;
  };

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions o = base(/*bloom=*/i == kDedupeCf || i == kClicksCf);
    switch (static_cast<Cf>(i)) {
      case kClicksCf:
        o.compaction_filter_factory =
            NewRetentionFilterFactory(options.retention_days, TimeIn::kKeyPrefix);
        break;
      case kDedupeCf:
        o.compaction_filter_factory =
            NewRetentionFilterFactory(options.retention_days, TimeIn::kValue);
        // Dedupe lookups are point reads of random keys: keep L0 small and filters hot.
        o.optimize_filters_for_hits = false;
        break;
      case kVisitorsCf:
        o.compaction_filter_factory =
            NewRetentionFilterFactory(options.retention_days, TimeIn::kKeySuffix);
        break;
      case kCountersCf:
        o.merge_operator = NewCounterMergeOperator();
        break;
      case kConfigCf:
      case kMetaCf:
        o.write_buffer_size = 4u << 20;
        break;
      default:
        break;
    }
    descriptors.emplace_back(kCfNames[i], o);
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, descriptors, &impl->cfs, &raw);
  if (!s.ok()) return ToStatus(s, absl::StrCat("open ", options.path));
  impl->db.reset(raw);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

absl::Status Store::PutConfig(std::string_view kind, std::string_view id, std::string_view json) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return ToStatus(impl_->db->Put(wo, impl_->cf(kConfigCf), ConfigKey(kind, id), json), "put config");
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
    rocksdb::Status s =
        batch.Put(impl_->cf(kClicksCf), codec::ClickKey(c.time_ms, c.click_id), codec::EncodeClick(c));
    if (!s.ok()) return ToStatus(s, "batch click");
    if (c.dedupe_key) {
      std::string t;
      codec::PutBigEndian64(t, static_cast<uint64_t>(c.time_ms));
      s = batch.Put(impl_->cf(kDedupeCf),
                    rocksdb::Slice(reinterpret_cast<const char*>(c.dedupe_key->data()),
                                   c.dedupe_key->size()),
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
    rocksdb::Status s =
        batch.Merge(impl_->cf(kCountersCf), key, codec::EncodeCounters(values.data(), values.size()));
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
      uint64_t x = 0;
      for (int b = 0; b < 8; ++b) x |= static_cast<uint64_t>(static_cast<uint8_t>(v[i * 8 + b])) << (b * 8);
      row.values[i] = static_cast<int64_t>(x);
    }
    fn(row);
  }
  return ToStatus(it->status(), "scan counters");
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
    if (absl::Status s = ToStatus(impl_->db->Flush(rocksdb::FlushOptions(), impl_->cf(static_cast<Cf>(i))), "flush");
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
  if (impl_->db->GetIntProperty(impl_->cf(kClicksCf), rocksdb::DB::Properties::kEstimateNumKeys, &v)) {
    st.estimated_clicks = v;
  }
  return st;
}

}  // namespace ricochet::storage
