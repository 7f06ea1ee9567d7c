#include "benchmark/benchmark.h"
#include "engine/click_id.h"

namespace ricochet::engine {
namespace {

std::array<uint8_t, 16> Secret() {
  std::array<uint8_t, 16> s;
  for (int i = 0; i < 16; ++i) s[i] = static_cast<uint8_t>(i * 7);
  return s;
}

void BM_ClickIdIssue(benchmark::State& state) {
  ClickIdCodec codec(Secret());
  uint64_t nonce = 1;
  for (auto _ : state) benchmark::DoNotOptimize(codec.Issue(1'763'000'000'000, 1, nonce++));
}
BENCHMARK(BM_ClickIdIssue);

// What a new visitor's click costs the redirect: the id and the visitor id minted from it.
void BM_ClickIdIssueWithVisitor(benchmark::State& state) {
  ClickIdCodec codec(Secret());
  uint64_t nonce = 1;
  std::string visitor;
  for (auto _ : state) {
    benchmark::DoNotOptimize(codec.Issue(1'763'000'000'000, 1, nonce++, &visitor));
    benchmark::DoNotOptimize(visitor);
  }
}
BENCHMARK(BM_ClickIdIssueWithVisitor);

void BM_ClickIdVerify(benchmark::State& state) {
  ClickIdCodec codec(Secret());
  std::string id = codec.Issue(1'763'000'000'000, 1, 42);
  for (auto _ : state) benchmark::DoNotOptimize(codec.Verify(id));
}
BENCHMARK(BM_ClickIdVerify);

void BM_ClickIdVerifyForged(benchmark::State& state) {
  ClickIdCodec codec(Secret());
  std::string id = codec.Issue(1'763'000'000'000, 1, 42);
  id[20] = id[20] == 'A' ? 'B' : 'A';
  for (auto _ : state) benchmark::DoNotOptimize(codec.Verify(id));
}
BENCHMARK(BM_ClickIdVerifyForged);

}  // namespace
}  // namespace ricochet::engine
