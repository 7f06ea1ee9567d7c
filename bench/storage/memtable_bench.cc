// A flush of the dedupe index's memtable: 16-byte random keys (XXH3 hashes) with 16-byte values,
// the shape ClickPipeline writes, in the hash memtable (hash_memtable.h) against RocksDB's skip
// list as the baseline of the same run. Items/s is entries flushed per second: the iteration in
// key order (for the hash memtable, the sort) and the L0 table build, with no compression, as
// the dedupe column family is configured. The inserts are not timed.
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "benchmark/benchmark.h"
#include "hash_memtable.h"
#include "rocksdb/db.h"
#include "rocksdb/memtablerep.h"
#include "temp_dir.h"

namespace ricochet::storage {
namespace {

void Flush(benchmark::State& state, std::shared_ptr<rocksdb::MemTableRepFactory> factory) {
  const size_t entries = static_cast<size_t>(state.range(0));
  testing::TempDir dir;
  rocksdb::Options o;
  o.create_if_missing = true;
  o.allow_concurrent_memtable_write = false;
  o.memtable_factory = std::move(factory);
  o.write_buffer_size = 512u << 20;  // flushed only when the benchmark says
  o.compression = rocksdb::kNoCompression;
  o.disable_auto_compactions = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, dir.path(), &raw);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  std::mt19937_64 rng(42);
  char key[16];
  char value[16];
  auto fill = [&](char* p) {
    for (int i = 0; i < 2; ++i) {
      uint64_t v = rng();
      std::memcpy(p + 8 * i, &v, 8);
    }
  };
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t i = 0; i < entries; ++i) {
      fill(key);
      fill(value);
      s = db->Put(wo, rocksdb::Slice(key, 16), rocksdb::Slice(value, 16));
      if (!s.ok()) break;
    }
    state.ResumeTiming();
    if (s.ok()) s = db->Flush(rocksdb::FlushOptions());
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries));
}

void BM_FlushSkipList(benchmark::State& state) {
  Flush(state, std::make_shared<rocksdb::SkipListFactory>());
}
BENCHMARK(BM_FlushSkipList)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FlushHashIndex(benchmark::State& state) {
  Flush(state, NewHashIndexMemTableFactory(1 << 20));
}
BENCHMARK(BM_FlushHashIndex)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace ricochet::storage
