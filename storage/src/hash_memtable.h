// A RocksDB memtable for column families read only by whole key: a hash index for inserts and
// point reads, sorted once when the memtable is iterated (its flush).
//
// RocksDB's skip list costs a cache miss per level on every insert of a random key (42% of the
// click writer's samples were in memtable inserts, docs/performance.md). Here an
// insert is a hash, a short chain walk and a pointer store; the order that a flush needs is a
// std::sort of the entries' pointers, on the flush thread. RocksDB's own hash memtables
// (NewHashLinkListRepFactory, NewHashSkipListRepFactory) insert as cheaply but build a skip
// list of the whole memtable at flush, which costs what the skip list would have.
//
// Contract and limits:
// - For column families with the default bytewise comparator (the sort at flush relies on it).
// - Inserts are not concurrent: the column family's DB must have
//   `allow_concurrent_memtable_write = false` (RocksDB refuses to open otherwise).
// - Reads may run concurrently with the one writer: chains are published with release stores.
// - Point reads (Get, MultiGet) walk one chain. With the column family's prefix extractor, a
//   chain holds all of a prefix's entries, so prefix-mode iterators (the default ReadOptions on
//   such a column family) walk one chain too, from a whole key: SeekToFirst finds nothing
//   there, as in RocksDB's own hash memtables.
// - A total-order iterator (a flush, `total_order_seek`) first copies and sorts every entry:
//   correct, but O(n log n) per iterator.
// - Each DB iterator leaves about 60 bytes with the memtable until it is freed; they count
//   toward its size, so heavy scanning brings its flush forward.
// - Not implemented: ApproximateNumEntries (approximate sizes see nothing of the memtable) and
//   UniqueRandomSample (so no `experimental_mempurge_threshold`).
#ifndef RICOCHET_STORAGE_HASH_MEMTABLE_H_
#define RICOCHET_STORAGE_HASH_MEMTABLE_H_

#include <cstddef>
#include <memory>

#include "rocksdb/memtablerep.h"

namespace ricochet::storage {

// `bucket_count` is rounded up to a power of two; about one bucket per entry a full memtable
// holds keeps the chains short (a bucket is 8 bytes, charged to the memtable's size).
std::shared_ptr<rocksdb::MemTableRepFactory> NewHashIndexMemTableFactory(size_t bucket_count);

}  // namespace ricochet::storage

#endif  // RICOCHET_STORAGE_HASH_MEMTABLE_H_
