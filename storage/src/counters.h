// RocksDB plug-ins: the report counter merge operator, the retention compaction filter and the
// visitor index's prefix extractor.
#ifndef RICOCHET_STORAGE_COUNTERS_H_
#define RICOCHET_STORAGE_COUNTERS_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "rocksdb/compaction_filter.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/slice_transform.h"

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

// The prefix of a key that ends in an 8-byte time: the key less its time (the visitor index's
// offer and visitor). Keys shorter than 8 bytes have none. The prefix of a prefix is not
// itself, so a prefix-mode iterator must seek to a whole key (a prefix and a time).
std::shared_ptr<const rocksdb::SliceTransform> NewKeyLessTimeTransform();

}  // namespace ricochet::storage

#endif  // RICOCHET_STORAGE_COUNTERS_H_
