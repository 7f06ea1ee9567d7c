// Commission computation: who earns what on one conversion. Pure: the caller passes the plans,
// the affiliate chain, the sale amount and the affiliate's count of earlier conversions; nothing
// here reads a clock, a database or a global.
#ifndef RICOCHET_ATTRIBUTION_COMMISSION_H_
#define RICOCHET_ATTRIBUTION_COMMISSION_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "attribution/money.h"
#include "attribution/plan.h"

namespace ricochet::attribution {

// One ancestor of the converting affiliate, nearest first (parent, grandparent, ...).
struct Ancestor {
  std::string id;
  bool active = true;  // paused ancestors earn nothing but keep their tier number
};

struct CommissionRequest {
  std::string_view event;                  // "sale", "lead", ...
  Micros sale_amount = 0;                  // the postback's amount, 0 when absent
  bool has_amount = false;                 // whether the postback carried an amount
  int currency_exponent = 2;               // ISO 4217 minor unit of the offer currency
  int64_t prior_conversions_in_month = 0;  // converting affiliate, this offer, this UTC month,
                                           // earlier and not rejected (all events)
  const Plan* offer_plan = nullptr;        // required
  const Plan* affiliate_plan = nullptr;    // the converting affiliate's override, may be null
  std::string_view affiliate;              // the converting affiliate (tier 1)
  std::vector<Ancestor> ancestors;         // at most kMaxTiers - 1 are considered
};

struct Commission {
  std::string affiliate;
  int tier = 1;       // 1 = the converting affiliate
  Micros amount = 0;  // rounded half-to-even to the currency's minor unit
  bool operator==(const Commission&) const = default;
};

// The effective rate of `event` for the converting affiliate: the affiliate plan's event if it
// names one, else the offer plan's; then the volume step (the affiliate's steps if it has any,
// else the offer's) with the highest min_conversions <= prior count replaces the fields it names.
// NotFound when neither plan names the event.
[[nodiscard]] absl::StatusOr<Rate> EffectiveRate(const CommissionRequest& request);

// cpa + amount * cps_percent / 100, rounded once, half-to-even, to the minor unit.
// OutOfRange on overflow.
[[nodiscard]] absl::StatusOr<Micros> RateAmount(const Rate& rate, Micros sale_amount,
                                                int currency_exponent);

// Every beneficiary's commission: tier 1 from the effective rate, tier k+1 from tiers[k-1] of
// the effective plan (the affiliate's tiers if it has any, else the offer's) for each active
// ancestor. Beneficiaries whose amount is zero are still listed (a zero commission is a fact the
// ledger records). Errors: NotFound (unknown event), InvalidArgument ("amount required" when the
// event's own rate pays a percent and no amount was given; parents' percents of an absent amount
// are simply 0), OutOfRange (overflow).
[[nodiscard]] absl::StatusOr<std::vector<Commission>> ComputeCommissions(
    const CommissionRequest& request);

}  // namespace ricochet::attribution

#endif  // RICOCHET_ATTRIBUTION_COMMISSION_H_
