// Macro substitution, query parsing and UTF-8 repair: the per-click string work of the redirect.
#include "benchmark/benchmark.h"
#include "engine/url.h"
#include "engine/url_template.h"

namespace ricochet::engine {
namespace {

void BM_TemplateRender(benchmark::State& state) {
  UrlTemplate t = UrlTemplate::Parse(
      "https://shop.example.com/landing/page?click_id={click_id}&aff={aff_id}&s1={sub1}&s2={sub2}"
      "&src={source}&ts={timestamp}");
  MacroValues v{};
  v[size_t(Macro::kClickId)] = "AQGiBwkcMQAAZvggCihxfqmn4JBuqUEu";
  v[size_t(Macro::kAffId)] = "affiliate-1234";
  v[size_t(Macro::kSub1)] = "campaign summer 2026";
  v[size_t(Macro::kSub2)] = "adset/42";
  v[size_t(Macro::kSource)] = "facebook";
  v[size_t(Macro::kTimestamp)] = "1763000000";
  for (auto _ : state) benchmark::DoNotOptimize(t.Render(v));
}
BENCHMARK(BM_TemplateRender);

void BM_ParseClickQuery(benchmark::State& state) {
  const std::string query =
      "aff=affiliate-1234&sub1=campaign%20summer%202026&sub2=adset%2F42&sub3=x&source=facebook&"
      "utm_source=fb&gclid=abc123";
  for (auto _ : state) {
    size_t n = 0;
    ForEachQueryParam(query, [&](std::string_view name, std::string_view value) {
      n += name.size() + value.size();
    });
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_ParseClickQuery);

void BM_PercentEncode(benchmark::State& state) {
  const std::string value = "campaign summer 2026/adset?x=1&y=2";
  for (auto _ : state) benchmark::DoNotOptimize(PercentEncode(value));
}
BENCHMARK(BM_PercentEncode);

// Every stored click's User-Agent, sub-ids and source pass through it on the I/O thread.
void BM_AssignValidUtf8UserAgent(benchmark::State& state) {
  const std::string user_agent =
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36";
  std::string out;
  for (auto _ : state) {
    AssignValidUtf8(user_agent, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_AssignValidUtf8UserAgent);

}  // namespace
}  // namespace ricochet::engine
