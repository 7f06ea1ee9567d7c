#include "attribution/plan.h"

#include "absl/strings/str_cat.h"
#include "attribution/ids.h"

namespace ricochet::attribution {
namespace {

absl::Status ValidateRate(const Rate& rate, const std::string& where) {
  if (!rate.cpa && !rate.cps_percent) {
    return absl::InvalidArgumentError(absl::StrCat(where, " needs cpa or cps_percent"));
  }
  if (rate.cpa && *rate.cpa < 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".cpa must not be negative"));
  }
  if (rate.cps_percent && (*rate.cps_percent < 0 || *rate.cps_percent > kMaxPercent)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".cps_percent must be 0..100"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePlan(const Plan& plan) {
  for (const auto& [name, rate] : plan.events) {
    if (!IsValidId(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("plan.events: bad event name '", name, "' (use [A-Za-z0-9_-]{1,64})"));
    }
    if (absl::Status s = ValidateRate(rate, absl::StrCat("plan.events.", name)); !s.ok()) return s;
  }
  if (plan.volume_steps) {
    int64_t previous = -1;
    for (size_t i = 0; i < plan.volume_steps->size(); ++i) {
      const VolumeStep& step = (*plan.volume_steps)[i];
      std::string where = absl::StrCat("plan.volume_steps[", i, "]");
      if (step.min_conversions <= previous) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".min_conversions must be >= 0 and increasing"));
      }
      previous = step.min_conversions;
      if (absl::Status s = ValidateRate(step.rate, where); !s.ok()) return s;
    }
  }
  if (plan.tiers) {
    if (plan.tiers->size() > kMaxTiers - 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("plan.tiers: at most ", kMaxTiers - 1, " parent tiers"));
    }
    for (size_t i = 0; i < plan.tiers->size(); ++i) {
      if (absl::Status s = ValidateRate((*plan.tiers)[i], absl::StrCat("plan.tiers[", i, "]"));
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace ricochet::attribution
