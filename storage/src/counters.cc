#include "counters.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "codec.h"

namespace ricochet::storage {
namespace {

class CounterMergeOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& key, const rocksdb::Slice* existing_value,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* logger) const override {
    std::string acc;
    if (existing_value != nullptr) {
      // The existing value must itself be well-formed: add it to an empty accumulator.
      if (!codec::AddCounters(std::string_view(existing_value->data(), existing_value->size()),
                              &acc)) {
        return false;
      }
    }
    if (!codec::AddCounters(std::string_view(value.data(), value.size()), &acc)) return false;
    *new_value = std::move(acc);
    return true;
  }
  const char* Name() const override { return "ricochet.CounterAdd.v1"; }
};

class RetentionFilter final : public rocksdb::CompactionFilter {
 public:
  RetentionFilter(int64_t cutoff_ms, TimeIn where) : cutoff_ms_(cutoff_ms), where_(where) {}

  bool Filter(int level, const rocksdb::Slice& key, const rocksdb::Slice& value,
              std::string* new_value, bool* value_changed) const override {
    const rocksdb::Slice& src = where_ == TimeIn::kValue ? value : key;
    if (src.size() < 8) return false;
    const char* p = where_ == TimeIn::kKeySuffix ? src.data() + src.size() - 8 : src.data();
    int64_t t = static_cast<int64_t>(codec::GetBigEndian64(p));
    return t < cutoff_ms_;
  }
  const char* Name() const override { return "ricochet.Retention"; }

 private:
  int64_t cutoff_ms_;
  TimeIn where_;
};

class RetentionFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  RetentionFilterFactory(int retention_days, TimeIn where,
                         std::shared_ptr<const std::atomic<int64_t>> horizon_ms)
      : retention_ms_(static_cast<int64_t>(retention_days) * 86'400'000),
        where_(where),
        horizon_ms_(std::move(horizon_ms)) {}

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override {
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    int64_t keep_ms = retention_ms_;
    if (horizon_ms_) keep_ms = std::min(keep_ms, horizon_ms_->load(std::memory_order_relaxed));
    return std::make_unique<RetentionFilter>(now_ms - keep_ms, where_);
  }
  const char* Name() const override { return "ricochet.RetentionFactory"; }

 private:
  int64_t retention_ms_;
  TimeIn where_;
  std::shared_ptr<const std::atomic<int64_t>> horizon_ms_;
};

class KeyLessTimeTransform final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "ricochet.KeyLessTime"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= 8; }
};

}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> NewKeyLessTimeTransform() {
  return std::make_shared<KeyLessTimeTransform>();
}

std::shared_ptr<rocksdb::MergeOperator> NewCounterMergeOperator() {
  return std::make_shared<CounterMergeOperator>();
}

std::shared_ptr<rocksdb::CompactionFilterFactory> NewRetentionFilterFactory(
    int retention_days, TimeIn where, std::shared_ptr<const std::atomic<int64_t>> horizon_ms) {
  return std::make_shared<RetentionFilterFactory>(retention_days, where, std::move(horizon_ms));
}

}  // namespace ricochet::storage
