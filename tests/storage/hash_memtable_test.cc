// The hash memtable (storage/src/hash_memtable.h) under a real RocksDB, checked against a
// std::map model: point reads, snapshots, prefix scans both ways, total-order iteration, and
// the same after a flush (which sorts it) and after a reopen (which replays the WAL into it).
// Few buckets, so chains are long and hold several keys and prefixes.
#include "hash_memtable.h"

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "catch2/catch.hpp"
#include "codec.h"
#include "counters.h"
#include "rocksdb/db.h"
#include "temp_dir.h"

namespace ricochet::storage {
namespace {

using Model = std::map<std::string, std::string>;

rocksdb::Options HashOptions(bool prefix) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.allow_concurrent_memtable_write = false;
  o.memtable_factory = NewHashIndexMemTableFactory(16);
  if (prefix) o.prefix_extractor = NewKeyLessTimeTransform();
  o.write_buffer_size = 16u << 20;  // nothing flushes unless the test says so
  return o;
}

std::unique_ptr<rocksdb::DB> OpenDb(const std::string& path, const rocksdb::Options& o) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, path, &raw);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return std::unique_ptr<rocksdb::DB>(raw);
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::optional<std::string> Get(rocksdb::DB* db, const std::string& key,
                               const rocksdb::Snapshot* snapshot = nullptr) {
  rocksdb::ReadOptions r;
  r.snapshot = snapshot;
  std::string v;
  rocksdb::Status s = db->Get(r, key, &v);
  if (s.IsNotFound()) return std::nullopt;
  REQUIRE(s.ok());
  return v;
}

// Every key of `pool` reads as the model says, by Get and by MultiGet.
void CheckPointReads(rocksdb::DB* db, const std::vector<std::string>& pool, const Model& model,
                     const rocksdb::Snapshot* snapshot = nullptr) {
  std::vector<rocksdb::Slice> keys(pool.begin(), pool.end());
  std::vector<std::string> values(pool.size());
  rocksdb::ReadOptions r;
  r.snapshot = snapshot;
  std::vector<rocksdb::Status> statuses = db->MultiGet(r, keys, &values);
  for (size_t i = 0; i < pool.size(); ++i) {
    auto it = model.find(pool[i]);
    std::optional<std::string> got = Get(db, pool[i], snapshot);
    if (it == model.end()) {
      CHECK_FALSE(got.has_value());
      CHECK(statuses[i].IsNotFound());
    } else {
      REQUIRE(got.has_value());
      CHECK(*got == it->second);
      REQUIRE(statuses[i].ok());
      CHECK(values[i] == it->second);
    }
  }
}

// A total-order scan, forwards and backwards, is the model.
void CheckTotalOrder(rocksdb::DB* db, const Model& model) {
  rocksdb::ReadOptions r;
  r.total_order_seek = true;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(r));
  Model seen;
  std::string last;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!seen.empty()) CHECK(last < it->key().ToString());
    last = it->key().ToString();
    seen.emplace(last, it->value().ToString());
  }
  REQUIRE(it->status().ok());
  CHECK(seen == model);
  size_t back = 0;
  auto m = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++m, ++back) {
    REQUIRE(m != model.rend());
    CHECK(it->key().ToString() == m->first);
  }
  CHECK(back == model.size());
}

TEST_CASE("hash memtable: point reads, snapshots and scans match a model", "[hash_memtable]") {
  testing::TempDir dir;
  const rocksdb::Options options = HashOptions(/*prefix=*/false);
  std::unique_ptr<rocksdb::DB> db = OpenDb(dir.path(), options);
  std::mt19937_64 rng(7);
  std::vector<std::string> pool;
  for (int i = 0; i < 400; ++i) pool.push_back(RandomBytes(rng, 16));
  pool.push_back(std::string(16, '\0'));  // the smallest key, and a short one
  pool.push_back("k");
  Model model;
  Model at_snapshot;
  const rocksdb::Snapshot* snapshot = nullptr;
  for (int op = 0; op < 6000; ++op) {
    const std::string& key = pool[rng() % pool.size()];
    if (rng() % 5 == 0) {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), key).ok());
      model.erase(key);
    } else {
      std::string value = std::to_string(op);
      REQUIRE(db->Put(rocksdb::WriteOptions(), key, value).ok());
      model[key] = value;
    }
    if (op == 3000) {
      snapshot = db->GetSnapshot();
      at_snapshot = model;
    }
  }
  // All of it is in the memtable: overwrites and deletes were chained newest first.
  std::string files;
  REQUIRE(db->GetProperty("rocksdb.num-files-at-level0", &files));
  CHECK(files == "0");
  CheckPointReads(db.get(), pool, model);
  CheckPointReads(db.get(), pool, at_snapshot, snapshot);
  CheckTotalOrder(db.get(), model);

  // A flush sorts the memtable into a table file (RocksDB checks the order as it writes).
  db->ReleaseSnapshot(snapshot);
  REQUIRE(db->Flush(rocksdb::FlushOptions()).ok());
  REQUIRE(db->GetProperty("rocksdb.num-files-at-level0", &files));
  CHECK(files == "1");
  CheckPointReads(db.get(), pool, model);
  CheckTotalOrder(db.get(), model);

  // Newer writes in a fresh memtable shadow the file; a reopen replays them from the WAL.
  for (size_t i = 0; i < pool.size(); i += 3) {
    REQUIRE(db->Put(rocksdb::WriteOptions(), pool[i], "after").ok());
    model[pool[i]] = "after";
  }
  CheckPointReads(db.get(), pool, model);
  REQUIRE(db->Close().ok());
  db = OpenDb(dir.path(), options);
  CheckPointReads(db.get(), pool, model);
  CheckTotalOrder(db.get(), model);
}

std::string VisitorKey(const std::string& visitor, uint64_t time) {
  std::string k = "offer";
  k.push_back('\0');
  k += visitor;
  k.push_back('\0');
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>(time >> (8 * i)));
  return k;
}

// One visitor's entries from `from`, by a prefix-mode scan (as Store::VisitorClicks reads),
// forwards; and backwards from the end of the prefix.
void CheckVisitorScans(rocksdb::DB* db, const std::vector<std::string>& visitors,
                       const Model& model) {
  for (const std::string& v : visitors) {
    const std::string prefix = VisitorKey(v, 0).substr(0, VisitorKey(v, 0).size() - 8);
    const std::string from = VisitorKey(v, 500);
    std::vector<std::string> want;
    for (auto it = model.lower_bound(from); it != model.end() && it->first.starts_with(prefix);
         ++it) {
      want.push_back(it->first + "=" + it->second);
    }
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    std::vector<std::string> got;
    for (it->Seek(from); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      got.push_back(it->key().ToString() + "=" + it->value().ToString());
    }
    REQUIRE(it->status().ok());
    CHECK(got == want);

    std::vector<std::string> backwards;
    for (it->SeekForPrev(VisitorKey(v, UINT64_MAX)); it->Valid() && it->key().starts_with(prefix);
         it->Prev()) {
      backwards.push_back(it->key().ToString());
    }
    REQUIRE(it->status().ok());
    std::vector<std::string> want_backwards;
    for (auto m = model.lower_bound(prefix); m != model.end() && m->first.starts_with(prefix);
         ++m) {
      want_backwards.insert(want_backwards.begin(), m->first);
    }
    CHECK(backwards == want_backwards);
  }
}

TEST_CASE("hash memtable: prefix scans read one visitor's entries in order", "[hash_memtable]") {
  testing::TempDir dir;
  const rocksdb::Options options = HashOptions(/*prefix=*/true);
  std::unique_ptr<rocksdb::DB> db = OpenDb(dir.path(), options);
  std::mt19937_64 rng(11);
  std::vector<std::string> visitors;
  for (int i = 0; i < 60; ++i) visitors.push_back("v" + std::to_string(rng() % 100000));
  Model model;
  auto write = [&](int n) {
    for (int i = 0; i < n; ++i) {
      std::string key = VisitorKey(visitors[rng() % visitors.size()], rng() % 1000);
      if (rng() % 6 == 0) {
        REQUIRE(db->Delete(rocksdb::WriteOptions(), key).ok());
        model.erase(key);
      } else {
        std::string value = "c" + std::to_string(i);
        REQUIRE(db->Put(rocksdb::WriteOptions(), key, value).ok());
        model[key] = value;
      }
    }
  };
  write(3000);
  CheckVisitorScans(db.get(), visitors, model);
  CheckTotalOrder(db.get(), model);
  // Part in a table file, part in the memtable: the scans merge both.
  REQUIRE(db->Flush(rocksdb::FlushOptions()).ok());
  write(1500);
  CheckVisitorScans(db.get(), visitors, model);
  CheckTotalOrder(db.get(), model);
  // A visitor never seen reads nothing, even where its chain holds other visitors.
  for (int i = 0; i < 50; ++i) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    const std::string absent = "absent" + std::to_string(i);
    const std::string prefix = VisitorKey(absent, 0).substr(0, VisitorKey(absent, 0).size() - 8);
    it->Seek(VisitorKey(absent, 0));
    CHECK_FALSE((it->Valid() && it->key().starts_with(prefix)));
  }
}

TEST_CASE("hash memtable: reads run while the one writer inserts", "[hash_memtable]") {
  testing::TempDir dir;
  std::unique_ptr<rocksdb::DB> db = OpenDb(dir.path(), HashOptions(/*prefix=*/false));
  auto key = [](int i) { return "key-" + std::to_string(i * 7919 % 100003); };
  constexpr int kKeys = 20000;
  std::atomic<int> written{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937 rng(r);
      while (written.load(std::memory_order_acquire) < kKeys) {
        int n = written.load(std::memory_order_acquire);
        if (n == 0) continue;
        int i = static_cast<int>(rng() % static_cast<unsigned>(n));
        std::string v;
        if (!db->Get(rocksdb::ReadOptions(), key(i), &v).ok() || v != std::to_string(i)) ++wrong;
      }
    });
  }
  for (int i = 0; i < kKeys; ++i) {
    REQUIRE(db->Put(rocksdb::WriteOptions(), key(i), std::to_string(i)).ok());
    written.store(i + 1, std::memory_order_release);
  }
  for (std::thread& t : readers) t.join();
  CHECK(wrong.load() == 0);
}

// RocksDB asks for (and deletes) an iterator of its own for in-place updates and for counting
// merge operands; MemTableRep::Get asks for one and never deletes it. Both on one memtable.
TEST_CASE("hash memtable: in-place updates and successive merges", "[hash_memtable]") {
  testing::TempDir dir;
  rocksdb::Options o = HashOptions(/*prefix=*/false);
  o.inplace_update_support = true;
  std::unique_ptr<rocksdb::DB> db = OpenDb(dir.path() + "/inplace", o);
  for (int i = 0; i < 300; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    REQUIRE(db->Put(rocksdb::WriteOptions(), key, std::to_string(1000 + i)).ok());
    CHECK(Get(db.get(), key) == std::to_string(1000 + i));
  }
  for (int k = 0; k < 7; ++k) CHECK(Get(db.get(), "k" + std::to_string(k)).has_value());
  REQUIRE(db->Close().ok());

  rocksdb::Options m = HashOptions(/*prefix=*/false);
  m.merge_operator = NewCounterMergeOperator();
  m.max_successive_merges = 4;  // the memtable counts a key's operands before each merge
  db = OpenDb(dir.path() + "/merge", m);
  const int64_t one = 1;
  const std::string operand = codec::EncodeCounters(&one, 1);
  for (int i = 0; i < 50; ++i) {
    REQUIRE(db->Merge(rocksdb::WriteOptions(), "row" + std::to_string(i % 3), operand).ok());
  }
  for (int r = 0; r < 3; ++r) {
    std::optional<std::string> v = Get(db.get(), "row" + std::to_string(r));
    REQUIRE(v.has_value());
    REQUIRE(v->size() == 8);
    const int64_t want = r < 2 ? 17 : 16;
    CHECK(*v == codec::EncodeCounters(&want, 1));
  }
}

TEST_CASE("hash memtable: a DB with concurrent memtable writes refuses it", "[hash_memtable]") {
  testing::TempDir dir;
  rocksdb::Options o = HashOptions(/*prefix=*/false);
  o.allow_concurrent_memtable_write = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, dir.path(), &raw);
  CHECK(s.IsInvalidArgument());
  delete raw;
}

}  // namespace
}  // namespace ricochet::storage
