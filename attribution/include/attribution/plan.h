// Commission plan values, as configured on an offer and overridden per affiliate.
// Amounts are micro-units of the offer currency; percents are micro-percent (10^-6 %).
#ifndef RICOCHET_ATTRIBUTION_PLAN_H_
#define RICOCHET_ATTRIBUTION_PLAN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "attribution/money.h"

namespace ricochet::attribution {

inline constexpr int kMaxTiers = 5;         // the converting affiliate plus four ancestors
inline constexpr int kPercentDecimals = 4;  // "12.3456"
inline constexpr Micros kMaxPercent = 100 * kMicrosPerUnit;

struct Rate {
  std::optional<Micros> cpa = std::nullopt;          // fixed amount per conversion
  std::optional<Micros> cps_percent = std::nullopt;  // percent of the sale amount, micro-percent
  bool operator==(const Rate&) const = default;
};

struct VolumeStep {
  int64_t min_conversions = 0;
  Rate rate;
  bool operator==(const VolumeStep&) const = default;
};

struct Plan {
  std::map<std::string, Rate> events;                   // event name -> rate
  std::optional<std::vector<VolumeStep>> volume_steps;  // sorted by min_conversions
  std::optional<std::vector<Rate>> tiers;               // tiers[0] is the parent's (tier 2)
  bool operator==(const Plan&) const = default;
};

// Checks a plan against itself: event names [A-Za-z0-9_-]{1,64}, percents <= 100,
// volume steps with strictly increasing min_conversions >= 0, at most kMaxTiers - 1 tiers,
// every rate naming at least one of cpa / cps_percent. InvalidArgument names the field.
[[nodiscard]] absl::Status ValidatePlan(const Plan& plan);

}  // namespace ricochet::attribution

#endif  // RICOCHET_ATTRIBUTION_PLAN_H_
