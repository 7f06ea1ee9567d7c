// RocksDB plug-ins: the report counter merge operator and the retention compaction filter.
#ifndef RICOCHET_STORAGE_COUNTERS_H_
#define RICOCHET_STORAGE_COUNTERS_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "rocksdb/compaction_filter.h"
#include "rocksdb/merge_operator.h"

namespace ricochet::storage {

// Element-wise addition of packed little-endian int64 arrays. A corrupt operand (length not a
// multiple of 8, too long, or an overflowing sum) fails the merge: RocksDB then reports
// corruption for the key instead of silently counting from zero.
std::shared_ptr<rocksdb::MergeOperator> NewCounterMergeOperator();

// Where a row's time lives, for the retention filter.
enum class TimeIn { kKeyPrefix, kKeySuffix, kValue };

// Drops rows whose big-endian millisecond time (found as `where` says) is older than
// `retention_days` at the time the compaction starts. Rows too short to carry a time are kept.
// With `horizon_ms`, rows older than that many milliseconds go too (read at each compaction's
// start; it may change at any time).
std::shared_ptr<rocksdb::CompactionFilterFactory> NewRetentionFilterFactory(
    int retention_days, TimeIn where,
    std::shared_ptr<const std::atomic<int64_t>> horizon_ms = nullptr);

}  // namespace ricochet::storage

#endif  // RICOCHET_STORAGE_COUNTERS_H_
