#include "attribution/commission.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "attribution/sv.h"

namespace ricochet::attribution {
namespace {

using int128 = __int128;

// Fields the step names replace the event's.
Rate Overlay(Rate base, const Rate& step) {
  if (step.cpa) base.cpa = step.cpa;
  if (step.cps_percent) base.cps_percent = step.cps_percent;
  return base;
}

const std::vector<VolumeStep>* EffectiveSteps(const CommissionRequest& r) {
  if (r.affiliate_plan != nullptr && r.affiliate_plan->volume_steps) {
    return &*r.affiliate_plan->volume_steps;
  }
  if (r.offer_plan->volume_steps) return &*r.offer_plan->volume_steps;
  return nullptr;
}

const std::vector<Rate>* EffectiveTiers(const CommissionRequest& r) {
  if (r.affiliate_plan != nullptr && r.affiliate_plan->tiers) return &*r.affiliate_plan->tiers;
  if (r.offer_plan->tiers) return &*r.offer_plan->tiers;
  return nullptr;
}

// Half-to-even division of a non-negative numerator.
int128 DivideHalfEven(int128 numerator, int128 denominator) {
  int128 q = numerator / denominator;
  int128 rem = numerator % denominator;
  int128 twice = rem * 2;
  if (twice > denominator || (twice == denominator && (q % 2 != 0))) ++q;
  return q;
}

constexpr int64_t kPow10[] = {1, 10, 100, 1'000, 10'000, 100'000, 1'000'000};

}  // namespace

absl::StatusOr<Rate> EffectiveRate(const CommissionRequest& r) {
  if (r.offer_plan == nullptr) return absl::InvalidArgumentError("no offer plan");
  const Rate* base = nullptr;
  if (r.affiliate_plan != nullptr) {
    auto it = r.affiliate_plan->events.find(std::string(r.event));
    if (it != r.affiliate_plan->events.end()) base = &it->second;
  }
  if (base == nullptr) {
    auto it = r.offer_plan->events.find(std::string(r.event));
    if (it != r.offer_plan->events.end()) base = &it->second;
  }
  if (base == nullptr) {
    return absl::NotFoundError(absl::StrCat("event '", ToAbsl(r.event), "' is not in the plan"));
  }
  Rate rate = *base;
  if (const std::vector<VolumeStep>* steps = EffectiveSteps(r)) {
    const VolumeStep* chosen = nullptr;
    for (const VolumeStep& s : *steps) {
      if (s.min_conversions <= r.prior_conversions_in_month) chosen = &s;  // sorted ascending
    }
    if (chosen != nullptr) rate = Overlay(rate, chosen->rate);
  }
  return rate;
}

absl::StatusOr<Micros> RateAmount(const Rate& rate, Micros sale_amount, int currency_exponent) {
  if (currency_exponent < 0 || currency_exponent > 6) {
    return absl::InvalidArgumentError("currency exponent out of range");
  }
  if (sale_amount < 0) return absl::InvalidArgumentError("negative sale amount");
  // Exact rational: (cpa * 10^8 + amount * percent) / 10^8 micro-units, where percent is in
  // micro-percent (10^-6 %), so amount * percent / 100 / 10^6 = amount * percent / 10^8.
  constexpr int128 kScale = 100'000'000;
  int128 numerator = static_cast<int128>(rate.cpa.value_or(0)) * kScale;
  if (rate.cps_percent) numerator += static_cast<int128>(sale_amount) * *rate.cps_percent;
  const int128 step = kPow10[6 - currency_exponent];  // micro-units per minor unit
  int128 minor_units = DivideHalfEven(numerator, kScale * step);
  int128 micros = minor_units * step;
  if (micros > INT64_MAX) return absl::OutOfRangeError("commission overflows");
  return static_cast<Micros>(micros);
}

absl::StatusOr<std::vector<Commission>> ComputeCommissions(const CommissionRequest& r) {
  absl::StatusOr<Rate> rate = EffectiveRate(r);
  if (!rate.ok()) return rate.status();
  const std::vector<Rate>* tiers = EffectiveTiers(r);
  bool needs_amount = rate->cps_percent.has_value() && *rate->cps_percent > 0;
  std::vector<Commission> out;
  absl::StatusOr<Micros> own = RateAmount(*rate, r.sale_amount, r.currency_exponent);
  if (!own.ok()) return own.status();
  out.push_back({std::string(r.affiliate), 1, *own});
  if (tiers != nullptr) {
    size_t n = std::min({r.ancestors.size(), tiers->size(), static_cast<size_t>(kMaxTiers - 1)});
    for (size_t i = 0; i < n; ++i) {
      const Ancestor& a = r.ancestors[i];
      const Rate& tier_rate = (*tiers)[i];
      if (!a.active) continue;  // skipped; the next ancestor keeps its own tier number
      absl::StatusOr<Micros> amount = RateAmount(tier_rate, r.sale_amount, r.currency_exponent);
      if (!amount.ok()) return amount.status();
      out.push_back({a.id, static_cast<int>(i) + 2, *amount});
    }
  }
  if (needs_amount && !r.has_amount) {
    return absl::InvalidArgumentError("amount required: the plan pays a percent of the sale");
  }
  return out;
}

}  // namespace ricochet::attribution
