// RocksDB's CRC32C: its own table-driven function (what Debian's RocksDB runs) against
// storage/src/crc32c.cc's, which RocksDB's calls reach in our binaries. 300 bytes is about one
// click's share of a WAL record; 32 KiB is a WAL block, the longest record RocksDB checksums.
#include <string>

#include "benchmark/benchmark.h"
#include "crc32c.h"

namespace ricochet::storage {
namespace {

template <uint32_t (*Extend)(uint32_t, const char*, size_t)>
void BM_Crc32c(benchmark::State& state) {
  std::string data(static_cast<size_t>(state.range(0)), '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + 7);
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = Extend(crc, data.data() + 1, data.size() - 1);  // unaligned, as a WAL record's payload
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetLabel(std::string(Extend == &Crc32cExtend ? Crc32cImplementation() : "rocksdb table"));
}
BENCHMARK_TEMPLATE(BM_Crc32c, RocksDbCrc32cExtend)->Arg(300)->Arg(32768);
BENCHMARK_TEMPLATE(BM_Crc32c, Crc32cExtend)->Arg(300)->Arg(32768);

}  // namespace
}  // namespace ricochet::storage
