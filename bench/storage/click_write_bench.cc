// The click writer's storage work per batch, as ClickPipeline::ProcessBatch does it: one
// MultiGet of the batch's dedupe slots, then one WriteBatch with each click, its dedupe slot,
// its visitor index entry and the summed counter merges. Every click is new (random dedupe key
// and visitor), so every lookup misses, as on a busy tracker. Items/s is clicks/s of one writer
// thread; the store (a temp directory) grows through several memtable flushes during a run.
#include <sys/resource.h>

#include <random>
#include <string>
#include <vector>

#include "attribution/click.h"
#include "benchmark/benchmark.h"
#include "storage/store.h"
#include "temp_dir.h"

namespace ricochet::storage {
namespace {

constexpr char kIdAlphabet[] = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

std::string RandomText(std::mt19937_64& rng, size_t n) {
  std::string s(n, ' ');
  for (char& c : s) c = kIdAlphabet[rng() % 64];
  return s;
}

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void BM_ClickBatchWrite(benchmark::State& state) {
  const size_t batch_size = static_cast<size_t>(state.range(0));
  testing::TempDir dir;  // declared first: outlives the store
  StoreOptions o;
  o.path = dir.path();
  auto store = Store::Open(o);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  std::mt19937_64 rng(42);
  int64_t now_ms = 1'763'000'000'000;
  uint64_t n = 0;
  std::vector<ClickRecord> batch(batch_size);
  std::vector<attribution::DedupeKey> keys(batch_size);
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t i = 0; i < batch_size; ++i, ++n) {
      ClickRecord& c = batch[i];
      // Random ids; the stored key leads with time_ms, as in the server.
      c.click_id = RandomText(rng, 32);
      c.time_ms = now_ms + static_cast<int64_t>(n / 50);  // 50k clicks/s
      c.offer = "demo";
      c.affiliate = "demo-aff";
      c.subs[0] = "s" + std::to_string(n % 2000);
      c.client_ip = std::to_string(rng() % 223 + 1) + ".1.2." + std::to_string(rng() % 256);
      c.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0";
      c.visitor_id = RandomText(rng, 22);
      c.dedupe_key =
          attribution::MakeDedupeKey(c.offer, c.affiliate, c.client_ip, std::to_string(rng()));
      keys[i] = *c.dedupe_key;
    }
    state.ResumeTiming();
    auto slots = (*store)->GetDedupeSlots(keys);
    benchmark::DoNotOptimize(slots);
    if (absl::Status s = (*store)->WriteClicks(batch); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  // Every thread of the process: the writer plus RocksDB's flushes and compactions (those
  // still running at the end are not counted). Includes the untimed click generation.
  if (n > 0) state.counters["process_us_per_click"] = (ProcessCpuSeconds() - cpu_start) * 1e6 / n;
}
BENCHMARK(BM_ClickBatchWrite)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ricochet::storage
