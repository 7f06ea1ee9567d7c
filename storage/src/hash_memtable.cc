#include "hash_memtable.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "rocksdb/slice.h"
#include "rocksdb/slice_transform.h"
#include "xxhash.h"

namespace ricochet::storage {
namespace {

using rocksdb::MemTableRep;
using rocksdb::Slice;

// An entry's chain link, followed in the memtable's arena by the entry RocksDB encodes (the
// length-prefixed internal key, then the value).
struct Node {
  std::atomic<Node*> next;
  const char* entry() const { return reinterpret_cast<const char*>(this + 1); }
};

class HashIndexRep final : public MemTableRep {
 public:
  HashIndexRep(const KeyComparator& cmp, rocksdb::Allocator* allocator,
               const rocksdb::SliceTransform* prefix_extractor, size_t bucket_count)
      : MemTableRep(allocator),
        cmp_(cmp),
        prefix_extractor_(prefix_extractor),
        mask_(bucket_count - 1),
        buckets_(new std::atomic<Node*>[bucket_count]) {
    for (size_t i = 0; i < bucket_count; ++i) buckets_[i].store(nullptr, std::memory_order_relaxed);
  }

  ~HashIndexRep() override {
    for (void* storage : arena_iterators_) ::operator delete(storage);
  }

  // The link goes in front of the entry, aligned, in the same arena allocation.
  rocksdb::KeyHandle Allocate(const size_t len, char** buf) override {
    char* raw = nullptr;
    MemTableRep::Allocate(len + sizeof(Node) + alignof(Node) - 1, &raw);
    const uintptr_t at =
        (reinterpret_cast<uintptr_t>(raw) + alignof(Node) - 1) & ~uintptr_t{alignof(Node) - 1};
    Node* node = new (reinterpret_cast<void*>(at)) Node;
    node->next.store(nullptr, std::memory_order_relaxed);
    *buf = const_cast<char*>(node->entry());
    return node;
  }

  // Each chain is kept in the memtable's order (user key ascending, then newest first), so a
  // point read stops at the first entry past its key.
  void Insert(rocksdb::KeyHandle handle) override {
    Node* node = static_cast<Node*>(handle);
    const char* entry = node->entry();
    std::atomic<Node*>* link = &buckets_[Bucket(rocksdb::GetLengthPrefixedSlice(entry))];
    Node* cur = link->load(std::memory_order_relaxed);
    while (cur != nullptr && cmp_(cur->entry(), entry) < 0) {
      link = &cur->next;
      cur = link->load(std::memory_order_relaxed);
    }
    node->next.store(cur, std::memory_order_relaxed);
    link->store(node, std::memory_order_release);  // readers see the node whole
    entries_.store(entries_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  bool Contains(const char* key) const override {
    const Slice internal = rocksdb::GetLengthPrefixedSlice(key);
    const Node* n = FirstAtOrAfter(ChainOf(internal), internal);
    return n != nullptr && Compare(n, internal) == 0;
  }

  // The entries are in the arena, counted by the memtable. Iterators kept for callers' arenas
  // (InArena) count too while the memtable takes writes, so that scans of a memtable that
  // lives long bring its flush forward, which frees them. Once read-only the figure stays what
  // it was: RocksDB subtracts the same figure it added when it lets the memtable go.
  size_t ApproximateMemoryUsage() override {
    if (size_t frozen = read_only_usage_.load(std::memory_order_acquire); frozen != 0) {
      return frozen;
    }
    return (mask_ + 1) * sizeof(std::atomic<Node*>) +
           arena_iterator_bytes_.load(std::memory_order_relaxed);
  }
  void MarkReadOnly() override {
    read_only_usage_.store(ApproximateMemoryUsage(), std::memory_order_release);
  }

  Iterator* GetIterator(rocksdb::Arena* arena) override;
  Iterator* GetDynamicPrefixIterator(rocksdb::Arena* arena) override;

  // The head of the chain that holds `internal_key`'s entries.
  const std::atomic<Node*>& ChainOf(const Slice& internal_key) const {
    return buckets_[Bucket(internal_key)];
  }
  int Compare(const Node* n, const Slice& internal_key) const {
    return cmp_(n->entry(), internal_key);
  }
  // The first node of `chain` at or after `internal_key`, or nullptr.
  const Node* FirstAtOrAfter(const std::atomic<Node*>& chain, const Slice& internal_key) const {
    const Node* n = chain.load(std::memory_order_acquire);
    while (n != nullptr && Compare(n, internal_key) < 0) {
      n = n->next.load(std::memory_order_acquire);
    }
    return n;
  }

 private:
  friend class SortedIterator;

  // The key's prefix when there is a prefix extractor (a chain then holds whole prefixes),
  // else the whole user key.
  size_t Bucket(const Slice& internal_key) const {
    Slice key(internal_key.data(), internal_key.size() - 8);  // less the sequence and type
    if (prefix_extractor_ != nullptr && prefix_extractor_->InDomain(key)) {
      key = prefix_extractor_->Transform(key);
    }
    return static_cast<size_t>(XXH3_64bits(key.data(), key.size())) & mask_;
  }

  template <typename It>
  It* InArena(rocksdb::Arena* arena);

  const KeyComparator& cmp_;                               // the memtable's; outlives this
  const rocksdb::SliceTransform* const prefix_extractor_;  // the column family's, or null
  const size_t mask_;
  std::unique_ptr<std::atomic<Node*>[]> buckets_;
  std::atomic<size_t> entries_{0};
  // Storage of iterators built for a caller's arena (below); freed with the memtable.
  std::mutex arena_mu_;
  std::vector<void*> arena_iterators_;
  std::atomic<size_t> arena_iterator_bytes_{0};
  std::atomic<size_t> read_only_usage_{0};  // 0 until MarkReadOnly
};

// The first 8 bytes of an entry's user key as a big-endian number, zero-padded.
uint64_t LeadingBytes(const char* entry) {
  const Slice internal = rocksdb::GetLengthPrefixedSlice(entry);
  const size_t n = std::min<size_t>(internal.size() - 8, 8);
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(internal[i])} << (56 - 8 * i);
  return v;
}

// How many entries ahead a sorted walk prefetches (bench/storage/memtable_bench).
constexpr size_t kAhead = 8;

// Every entry, sorted once: what a flush (or a DB iterator) walks.
class SortedIterator final : public MemTableRep::Iterator {
 public:
  explicit SortedIterator(const HashIndexRep& rep) : cmp_(rep.cmp_) {
    // Sorted by the user key's first 8 bytes (big-endian, zero-padded: the same order as the
    // bytewise comparator's) held beside the pointer, so most comparisons touch no entry;
    // ties go to the memtable's comparator.
    // The entries lie in the arena in insertion order, which is not the buckets' order: each is
    // a cache miss, so the heads of the buckets a few ahead are fetched while this one is read.
    entries_.reserve(rep.entries_.load(std::memory_order_relaxed));
    for (size_t b = 0; b <= rep.mask_; ++b) {
      if (b + kAhead <= rep.mask_) {
        __builtin_prefetch(rep.buckets_[b + kAhead].load(std::memory_order_relaxed));
      }
      for (const Node* n = rep.buckets_[b].load(std::memory_order_acquire); n != nullptr;
           n = n->next.load(std::memory_order_acquire)) {
        entries_.emplace_back(LeadingBytes(n->entry()), n->entry());
      }
    }
    std::sort(entries_.begin(), entries_.end(), [this](const Entry& a, const Entry& b) {
      return a.first != b.first ? a.first < b.first : cmp_(a.second, b.second) < 0;
    });
    pos_ = entries_.size();
  }

  bool Valid() const override { return pos_ < entries_.size(); }
  const char* key() const override { return entries_[pos_].second; }
  // A flush reads each entry once, in key order, which is not their order in memory: the
  // entry a few places on is fetched ahead.
  void Next() override {
    ++pos_;
    if (pos_ + kAhead < entries_.size()) __builtin_prefetch(entries_[pos_ + kAhead].second);
  }
  void Prev() override { pos_ = pos_ == 0 ? entries_.size() : pos_ - 1; }
  void Seek(const Slice& internal_key, const char* /*memtable_key*/) override {
    pos_ = static_cast<size_t>(
        std::lower_bound(entries_.begin(), entries_.end(), internal_key,
                         [this](const Entry& e, const Slice& k) { return cmp_(e.second, k) < 0; }) -
        entries_.begin());
  }
  void SeekForPrev(const Slice& internal_key, const char* /*memtable_key*/) override {
    // The last entry at or before the key.
    size_t after = static_cast<size_t>(
        std::upper_bound(entries_.begin(), entries_.end(), internal_key,
                         [this](const Slice& k, const Entry& e) { return cmp_(e.second, k) > 0; }) -
        entries_.begin());
    pos_ = after == 0 ? entries_.size() : after - 1;
  }
  void SeekToFirst() override { pos_ = 0; }
  void SeekToLast() override { pos_ = entries_.empty() ? 0 : entries_.size() - 1; }

 private:
  using Entry = std::pair<uint64_t, const char*>;  // (LeadingBytes, the entry)

  const MemTableRep::KeyComparator& cmp_;
  std::vector<Entry> entries_;
  size_t pos_;
};

// One chain, from a key: what MemTableRep::Get walks for a point read, and a prefix iterator
// (with a prefix extractor, a chain holds every entry of the key's prefix, in order, and
// perhaps other prefixes' entries after or before them, as any prefix iterator may). Without
// a key, SeekToFirst finds nothing, and SeekToLast goes to the end of the chain last sought
// (MemTableIterator's SeekForPrev ends in SeekToLast when its Seek found nothing).
class ChainIterator final : public MemTableRep::Iterator {
 public:
  explicit ChainIterator(const HashIndexRep& rep) : rep_(&rep) {}
  // See GetDynamicPrefixIterator.
  static void operator delete(void* p);

  bool Valid() const override { return node_ != nullptr; }
  const char* key() const override { return node_->entry(); }
  void Next() override { node_ = node_->next.load(std::memory_order_acquire); }
  void Prev() override {
    // Singly linked: walk the chain again to the node before this one.
    const Node* prev = nullptr;
    for (const Node* n = First(); n != node_; n = n->next.load(std::memory_order_acquire)) {
      prev = n;
    }
    node_ = prev;
  }
  void Seek(const Slice& internal_key, const char* /*memtable_key*/) override {
    chain_ = &rep_->ChainOf(internal_key);
    node_ = rep_->FirstAtOrAfter(*chain_, internal_key);
  }
  void SeekForPrev(const Slice& internal_key, const char* /*memtable_key*/) override {
    chain_ = &rep_->ChainOf(internal_key);
    const Node* last = nullptr;
    for (const Node* n = First(); n != nullptr && rep_->Compare(n, internal_key) <= 0;
         n = n->next.load(std::memory_order_acquire)) {
      last = n;
    }
    node_ = last;
  }
  void SeekToFirst() override { node_ = nullptr; }
  void SeekToLast() override {
    node_ = First();
    while (node_ != nullptr) {
      const Node* next = node_->next.load(std::memory_order_acquire);
      if (next == nullptr) break;
      node_ = next;
    }
  }

 private:
  const Node* First() const {
    return chain_ == nullptr ? nullptr : chain_->load(std::memory_order_acquire);
  }

  const HashIndexRep* rep_;
  const std::atomic<Node*>* chain_ = nullptr;  // the bucket last sought
  const Node* node_ = nullptr;
};

// Memtable iterators are built in the caller's arena, which destroys them in place but never
// frees them. rocksdb::Arena is not a public type, so their storage comes from here and is
// freed with the memtable, which outlives its iterators.
template <typename It>
It* HashIndexRep::InArena(rocksdb::Arena* arena) {
  if (arena == nullptr) return new It(*this);
  void* storage = ::operator new(sizeof(It));
  {
    std::lock_guard<std::mutex> lock(arena_mu_);
    arena_iterators_.push_back(storage);
  }
  arena_iterator_bytes_.fetch_add(sizeof(It) + sizeof(void*), std::memory_order_relaxed);
  return new (storage) It(*this);
}

MemTableRep::Iterator* HashIndexRep::GetIterator(rocksdb::Arena* arena) {
  return InArena<SortedIterator>(arena);
}

// Callers: a DB iterator in prefix mode (the column family has a prefix extractor), always
// with an arena; and, with none, MemTableRep::Get (the library's point read under MemTable::Get
// and MultiGet), MemTable::Update (in-place updates) and the count of merge operands
// (max_successive_merges). Get seeks the iterator, walks it while its callback takes the
// entries, and never deletes it (RocksDB 7.8, memtable.cc); the others delete theirs. So the
// iterator without an arena lives in storage of the calling thread, rebuilt on each call, and
// deleting it frees nothing (ChainIterator::operator delete). None of these calls nests in
// another on one thread.
alignas(ChainIterator) thread_local unsigned char point_storage[sizeof(ChainIterator)];

void ChainIterator::operator delete(void* p) {
  if (p != point_storage) ::operator delete(p);
}

MemTableRep::Iterator* HashIndexRep::GetDynamicPrefixIterator(rocksdb::Arena* arena) {
  if (arena != nullptr) return InArena<ChainIterator>(arena);
  return new (point_storage) ChainIterator(*this);
}

class HashIndexFactory final : public rocksdb::MemTableRepFactory {
 public:
  explicit HashIndexFactory(size_t bucket_count)
      : bucket_count_(std::bit_ceil(std::max<size_t>(bucket_count, 16))) {}

  const char* Name() const override { return "RicochetHashIndexFactory"; }

  using MemTableRepFactory::CreateMemTableRep;
  MemTableRep* CreateMemTableRep(const MemTableRep::KeyComparator& cmp,
                                 rocksdb::Allocator* allocator,
                                 const rocksdb::SliceTransform* prefix_extractor,
                                 rocksdb::Logger* /*logger*/) override {
    return new HashIndexRep(cmp, allocator, prefix_extractor, bucket_count_);
  }

 private:
  const size_t bucket_count_;
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> NewHashIndexMemTableFactory(size_t bucket_count) {
  return std::make_shared<HashIndexFactory>(bucket_count);
}

}  // namespace ricochet::storage
