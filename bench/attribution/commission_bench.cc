#include "attribution/commission.h"
#include "benchmark/benchmark.h"

namespace ricochet::attribution {
namespace {

void BM_CommissionFiveTiers(benchmark::State& state) {
  Plan p;
  p.events["sale"] = Rate{.cpa = 1'000'000, .cps_percent = 12'500'000};
  p.volume_steps =
      std::vector<VolumeStep>{{10, Rate{.cpa = 2'000'000}}, {100, Rate{.cps_percent = 15'000'000}}};
  p.tiers = std::vector<Rate>(4, Rate{.cps_percent = 2'000'000});
  CommissionRequest r;
  r.event = "sale";
  r.sale_amount = 99'990'000;
  r.has_amount = true;
  r.prior_conversions_in_month = 42;
  r.offer_plan = &p;
  r.affiliate = "aff";
  r.ancestors = {{"p1", true}, {"p2", false}, {"p3", true}, {"p4", true}};
  for (auto _ : state) benchmark::DoNotOptimize(ComputeCommissions(r));
}
BENCHMARK(BM_CommissionFiveTiers);

void BM_RateAmount(benchmark::State& state) {
  Rate rate{.cpa = 1'005'000, .cps_percent = 12'500'000};
  Micros amount = 199'990'000;
  for (auto _ : state) benchmark::DoNotOptimize(RateAmount(rate, amount++, 2));
}
BENCHMARK(BM_RateAmount);

}  // namespace
}  // namespace ricochet::attribution
