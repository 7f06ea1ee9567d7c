#include "attribution/plan.h"

#include "catch2/catch.hpp"

namespace ricochet::attribution {

TEST_CASE("plan validation", "[plan]") {
  Plan p;
  p.events["sale"] = Rate{.cpa = 2'500'000};
  p.events["lead"] = Rate{.cps_percent = 12'500'000};
  CHECK(ValidatePlan(p).ok());

  Plan empty_rate = p;
  empty_rate.events["x"] = Rate{};
  CHECK_FALSE(ValidatePlan(empty_rate).ok());

  Plan bad_name = p;
  bad_name.events["sa le"] = Rate{.cpa = 1};
  CHECK_FALSE(ValidatePlan(bad_name).ok());

  Plan too_much = p;
  too_much.events["sale"].cps_percent = kMaxPercent + 1;
  CHECK_FALSE(ValidatePlan(too_much).ok());

  Plan steps = p;
  steps.volume_steps = std::vector<VolumeStep>{{0, Rate{.cpa = 1}}, {10, Rate{.cpa = 2}}};
  CHECK(ValidatePlan(steps).ok());
  steps.volume_steps->push_back({10, Rate{.cpa = 3}});
  CHECK_FALSE(ValidatePlan(steps).ok());

  Plan tiers = p;
  tiers.tiers = std::vector<Rate>(4, Rate{.cpa = 1});
  CHECK(ValidatePlan(tiers).ok());
  tiers.tiers->push_back(Rate{.cpa = 1});
  CHECK_FALSE(ValidatePlan(tiers).ok());
}

}  // namespace ricochet::attribution
