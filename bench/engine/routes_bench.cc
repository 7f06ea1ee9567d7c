// MatchRoute runs once per request on the I/O thread: the click route must stay a few
// nanoseconds and allocation-free.
#include "benchmark/benchmark.h"
#include "engine/routes.h"

namespace ricochet::engine {
namespace {

void BM_MatchRouteClick(benchmark::State& state) {
  const std::string_view target = "/c/summer-sale?aff=affiliate-1234&sub1=campaign&source=fb";
  for (auto _ : state) {
    benchmark::DoNotOptimize(MatchRoute(Listener::kPublic, boost::beast::http::verb::get, target));
  }
}
BENCHMARK(BM_MatchRouteClick);

void BM_MatchRoutePostback(benchmark::State& state) {
  const std::string_view target = "/postback?cid=AQGiBwkcMQAAZvggCihxfqmn4JBuqUEu&payout=1.50";
  for (auto _ : state) {
    benchmark::DoNotOptimize(MatchRoute(Listener::kPublic, boost::beast::http::verb::get, target));
  }
}
BENCHMARK(BM_MatchRoutePostback);

// The admin API walks its table: the last entry is the slowest.
void BM_MatchRouteAdminAudit(benchmark::State& state) {
  const std::string_view target = "/api/audit?limit=50";
  for (auto _ : state) {
    benchmark::DoNotOptimize(MatchRoute(Listener::kAdmin, boost::beast::http::verb::get, target));
  }
}
BENCHMARK(BM_MatchRouteAdminAudit);

}  // namespace
}  // namespace ricochet::engine
