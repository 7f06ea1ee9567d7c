#include "attribution/click.h"
#include "benchmark/benchmark.h"

namespace ricochet::attribution {
namespace {

const char kChrome[] =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36";

void BM_DedupeKey(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(MakeDedupeKey("offer-1", "affiliate-1234", "203.0.113.77", kChrome));
  }
}
BENCHMARK(BM_DedupeKey);

void BM_BotMatchHuman(benchmark::State& state) {
  BotMatcher m(BotMatcher::DefaultPatterns());
  for (auto _ : state) benchmark::DoNotOptimize(m.Matches(kChrome));
}
BENCHMARK(BM_BotMatchHuman);

void BM_BotMatchCrawler(benchmark::State& state) {
  BotMatcher m(BotMatcher::DefaultPatterns());
  for (auto _ : state) benchmark::DoNotOptimize(m.Matches("facebookexternalhit/1.1"));
}
BENCHMARK(BM_BotMatchCrawler);

void BM_Classify(benchmark::State& state) {
  ClickFacts f;
  f.now_ms = 1'763'000'000'000;
  f.dedupe_slot_ms = f.now_ms - 1000;
  f.max_clicks_per_ip_per_minute = 10;
  f.clicks_this_minute = 3;
  for (auto _ : state) benchmark::DoNotOptimize(Classify(f));
}
BENCHMARK(BM_Classify);

}  // namespace
}  // namespace ricochet::attribution
