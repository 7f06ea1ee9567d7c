// MatchRoute and the head scan run once per request on the I/O thread: the click route must stay
// a few nanoseconds and allocation-free.
#include "benchmark/benchmark.h"
#include "engine/http_framing.h"
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

// Before Beast parses a head, the session scans its raw bytes for bare CR or LF and folded
// lines (http_framing.h): a click's head as bench/wrk/click.lua sends it.
void BM_ScanRequestHeadClick(benchmark::State& state) {
  const std::string_view head =
      "GET /c/demo?aff=demo-aff&sub1=s1234 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
      "Gecko) Chrome/120.0.0.0 Safari/537.36\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n";
  for (auto _ : state) benchmark::DoNotOptimize(ScanRequestHead(head, 0));
}
BENCHMARK(BM_ScanRequestHeadClick);

}  // namespace
}  // namespace ricochet::engine
