#include "attribution/money.h"
#include "benchmark/benchmark.h"

namespace ricochet::attribution {
namespace {

void BM_ParseDecimal(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ParseDecimal("1234.567891"));
}
BENCHMARK(BM_ParseDecimal);

void BM_FormatMicros(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(FormatMicros(1'234'567'891, 2));
}
BENCHMARK(BM_FormatMicros);

void BM_RoundHalfEven(benchmark::State& state) {
  Micros v = 1'234'567;
  for (auto _ : state) benchmark::DoNotOptimize(RoundHalfEven(v++, 2));
}
BENCHMARK(BM_RoundHalfEven);

}  // namespace
}  // namespace ricochet::attribution
