#include "attribution/commission.h"

#include <random>

#include "boost/multiprecision/cpp_int.hpp"
#include "catch2/catch.hpp"

namespace ricochet::attribution {
namespace {

Micros M(const char* decimal) { return *ParseDecimal(decimal); }
Micros Pct(const char* decimal) { return *ParseDecimal(decimal, kPercentDecimals); }

CommissionRequest Request(const Plan& plan, const char* amount, int exponent = 2) {
  CommissionRequest r;
  r.event = "sale";
  r.sale_amount = M(amount);
  r.has_amount = true;
  r.currency_exponent = exponent;
  r.offer_plan = &plan;
  r.affiliate = "aff";
  return r;
}

Micros Tier1(const CommissionRequest& r) {
  auto c = ComputeCommissions(r);
  REQUIRE(c.ok());
  REQUIRE(!c->empty());
  return (*c)[0].amount;
}

}  // namespace

TEST_CASE("percent commissions round half-to-even to the minor unit", "[commission]") {
  Plan p;
  p.events["sale"] = Rate{.cps_percent = Pct("12.5")};
  CHECK(Tier1(Request(p, "0.20")) == M("0.02"));  // 0.025 -> 0.02
  CHECK(Tier1(Request(p, "0.60")) == M("0.08"));  // 0.075 -> 0.08
  CHECK(Tier1(Request(p, "0.28")) == M("0.04"));  // 0.035 -> 0.04
  CHECK(Tier1(Request(p, "100")) == M("12.50"));
  CHECK(Tier1(Request(p, "0.000001")) == 0);
  // JPY (no decimals): 12.5% of 20 = 2.5 -> 2; of 60 = 7.5 -> 8.
  CHECK(Tier1(Request(p, "20", 0)) == M("2"));
  CHECK(Tier1(Request(p, "60", 0)) == M("8"));
  // KWD (3 decimals): 12.5% of 0.02 = 0.0025 -> 0.002; of 0.06 = 0.0075 -> 0.008.
  CHECK(Tier1(Request(p, "0.02", 3)) == M("0.002"));
  CHECK(Tier1(Request(p, "0.06", 3)) == M("0.008"));
}

TEST_CASE("cpa plus percent is rounded once", "[commission]") {
  Plan p;
  p.events["sale"] = Rate{.cpa = M("1.005"), .cps_percent = Pct("0.5")};
  // 1.005 + 0.5% of 1.00 = 1.010 -> 1.01; rounding each part first would give 1.00 + 0.00.
  CHECK(Tier1(Request(p, "1.00")) == M("1.01"));
  Plan cpa_only;
  cpa_only.events["sale"] = Rate{.cpa = M("2.5")};
  CommissionRequest r = Request(cpa_only, "0");
  r.has_amount = false;
  CHECK(Tier1(r) == M("2.50"));
}

TEST_CASE("unknown events and missing amounts", "[commission]") {
  Plan p;
  p.events["sale"] = Rate{.cps_percent = Pct("10")};
  CommissionRequest r = Request(p, "10");
  r.event = "install";
  CHECK(absl::IsNotFound(ComputeCommissions(r).status()));
  r.event = "sale";
  r.has_amount = false;
  CHECK(absl::IsInvalidArgument(ComputeCommissions(r).status()));
}

TEST_CASE("affiliate plans override event by event; steps and tiers replace", "[commission]") {
  Plan offer;
  offer.events["sale"] = Rate{.cpa = M("5")};
  offer.events["lead"] = Rate{.cpa = M("1")};
  offer.tiers = std::vector<Rate>{Rate{.cpa = M("0.50")}};
  Plan aff;
  aff.events["sale"] = Rate{.cpa = M("7")};
  CommissionRequest r = Request(offer, "0");
  r.affiliate_plan = &aff;
  r.ancestors = {{"parent", true}};
  auto c = ComputeCommissions(r);
  REQUIRE(c.ok());
  REQUIRE(c->size() == 2);
  CHECK((*c)[0] == Commission{"aff", 1, M("7")});
  CHECK((*c)[1] == Commission{"parent", 2, M("0.50")});  // offer tiers still apply
  r.event = "lead";
  CHECK(Tier1(r) == M("1"));  // not overridden: the offer's
  aff.tiers = std::vector<Rate>{};
  r.event = "sale";
  CHECK(ComputeCommissions(r)->size() == 1);  // the affiliate's (empty) tiers replace the offer's
}

TEST_CASE("volume steps: highest step reached by earlier conversions, not retroactive",
          "[commission]") {
  Plan p;
  p.events["sale"] = Rate{.cpa = M("5"), .cps_percent = Pct("2")};
  p.events["lead"] = Rate{.cpa = M("1")};
  p.volume_steps = std::vector<VolumeStep>{{10, Rate{.cpa = M("6")}},
                                           {50, Rate{.cpa = M("8"), .cps_percent = Pct("3")}}};
  CommissionRequest r = Request(p, "100");
  r.prior_conversions_in_month = 0;
  CHECK(Tier1(r) == M("7"));  // 5 + 2% of 100: below the lowest step
  r.prior_conversions_in_month = 9;
  CHECK(Tier1(r) == M("7"));
  r.prior_conversions_in_month = 10;  // the 11th conversion of the month crosses the step
  CHECK(Tier1(r) == M("8"));          // 6 + 2% (the step names only cpa)
  r.prior_conversions_in_month = 50;
  CHECK(Tier1(r) == M("11"));  // 8 + 3%
  r.event = "lead";            // steps apply to every event of the plan: 8 + 3% of 100
  CHECK(Tier1(r) == M("11"));
  r.prior_conversions_in_month = 0;  // a new month starts from zero
  CHECK(Tier1(r) == M("1"));
}

TEST_CASE("five tiers with a paused middle ancestor", "[commission]") {
  Plan p;
  p.events["sale"] = Rate{.cps_percent = Pct("10")};
  p.tiers = std::vector<Rate>{Rate{.cps_percent = Pct("5")}, Rate{.cps_percent = Pct("3")},
                              Rate{.cps_percent = Pct("2")}, Rate{.cpa = M("0.01")}};
  CommissionRequest r = Request(p, "99.99");
  r.ancestors = {{"t2", true}, {"t3", false}, {"t4", true}, {"t5", true}, {"t6", true}};
  auto c = ComputeCommissions(r);
  REQUIRE(c.ok());
  REQUIRE(c->size() == 4);
  CHECK((*c)[0] == Commission{"aff", 1, M("10.00")});  // 9.999 -> 10.00
  CHECK((*c)[1] == Commission{"t2", 2, M("5.00")});    // 4.9995 -> 5.00
  CHECK((*c)[2] == Commission{"t4", 4, M("2.00")});    // paused t3 skipped, t4 keeps tier 4
  CHECK((*c)[3] == Commission{"t5", 5, M("0.01")});    // t6 would be tier 6: none
}

TEST_CASE("property: matches an exact rational reference over random plans", "[commission]") {
  using boost::multiprecision::cpp_int;
  using boost::multiprecision::cpp_rational;
  std::mt19937_64 rng(20261123);
  auto reference = [](Micros cpa, Micros pct, Micros amount, int exponent) -> Micros {
    cpp_rational units = cpp_rational(cpa, 1'000'000) +
                         cpp_rational(cpp_int(amount) * pct, cpp_int(1'000'000) * 1'000'000 * 100);
    cpp_rational minor = units * cpp_int(boost::multiprecision::pow(cpp_int(10), exponent));
    cpp_int whole =
        boost::multiprecision::numerator(minor) / boost::multiprecision::denominator(minor);
    cpp_rational frac = minor - cpp_rational(whole);
    if (frac > cpp_rational(1, 2) || (frac == cpp_rational(1, 2) && whole % 2 != 0)) whole += 1;
    cpp_int micros = whole * boost::multiprecision::pow(cpp_int(10), 6 - exponent);
    return micros.convert_to<Micros>();
  };
  const int exponents[] = {0, 2, 3};
  for (int i = 0; i < 20000; ++i) {
    Micros cpa = static_cast<Micros>(rng() % 1'000'000'000'000ULL);         // < 1,000,000 units
    Micros pct = static_cast<Micros>(rng() % 100'000'001ULL) / 100 * 100;   // 4 decimals, <= 100%
    Micros amount = static_cast<Micros>(rng() % 1'000'000'000'000'000ULL);  // < 10^12 units
    if (i % 3 == 0) amount = static_cast<Micros>(rng() % 10'000'000);       // small amounts: ties
    int exponent = exponents[rng() % 3];
    Rate rate{.cpa = cpa, .cps_percent = pct};
    absl::StatusOr<Micros> got = RateAmount(rate, amount, exponent);
    REQUIRE(got.ok());
    INFO("cpa=" << cpa << " pct=" << pct << " amount=" << amount << " exp=" << exponent);
    REQUIRE(*got == reference(cpa, pct, amount, exponent));
  }
}

}  // namespace ricochet::attribution
