#include "attribution/conversion.h"

namespace ricochet::attribution {

std::string_view StatusName(ConversionStatus s) {
  switch (s) {
    case ConversionStatus::kPending:
      return "pending";
    case ConversionStatus::kApproved:
      return "approved";
    case ConversionStatus::kRejected:
      return "rejected";
    case ConversionStatus::kReversed:
      return "reversed";
    case ConversionStatus::kPaid:
      return "paid";
  }
  return "pending";
}

std::optional<ConversionStatus> ParseRequestedStatus(std::string_view text) {
  if (text == "approved") return ConversionStatus::kApproved;
  if (text == "pending") return ConversionStatus::kPending;
  if (text == "rejected") return ConversionStatus::kRejected;
  if (text == "reversed") return ConversionStatus::kReversed;
  return std::nullopt;
}

bool IsAllowedTransition(ConversionStatus from, ConversionStatus to) {
  using S = ConversionStatus;
  switch (from) {
    case S::kPending:
      return to == S::kApproved || to == S::kRejected;
    case S::kApproved:
      return to == S::kReversed || to == S::kPaid;
    case S::kPaid:
      return to == S::kReversed;
    case S::kRejected:
    case S::kReversed:
      return false;
  }
  return false;
}

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone:
      return "";
    case Reason::kLookbackExpired:
      return "lookback_expired";
    case Reason::kCapExceeded:
      return "cap_exceeded";
    case Reason::kFastCtit:
      return "fast_ctit";
    case Reason::kBotClick:
      return "bot_click";
    case Reason::kInvalidAffiliate:
      return "invalid_affiliate";
  }
  return "";
}

Outcome DecideNewConversion(const NewConversionFacts& f) {
  if (!f.click_attributable || !f.affiliate_active) {
    return {ConversionStatus::kRejected, Reason::kInvalidAffiliate};
  }
  if (f.now_ms - f.click_ms > f.lookback_days * 86'400'000) {
    return {ConversionStatus::kRejected, Reason::kLookbackExpired};
  }
  ConversionStatus status = f.requested.value_or(f.default_status);
  if (status == ConversionStatus::kRejected) return {status, Reason::kNone};
  if (f.daily_conversion_cap > 0 && f.counted_conversions_today >= f.daily_conversion_cap) {
    return {ConversionStatus::kRejected, Reason::kCapExceeded};
  }
  if (f.min_ctit_s > 0 && f.now_ms - f.click_ms < f.min_ctit_s * 1000) {
    return {ConversionStatus::kPending, Reason::kFastCtit};
  }
  if (f.click_is_bot) return {ConversionStatus::kPending, Reason::kBotClick};
  return {status, Reason::kNone};
}

std::optional<size_t> SelectClick(const std::vector<std::pair<int64_t, std::string_view>>& clicks,
                                  AttributionModel model, int64_t now_ms, int64_t lookback_days) {
  const int64_t earliest = now_ms - lookback_days * 86'400'000;
  std::optional<size_t> best;
  for (size_t i = 0; i < clicks.size(); ++i) {
    int64_t t = clicks[i].first;
    if (t < earliest || t > now_ms) continue;
    if (!best) {
      best = i;
    } else if (model == AttributionModel::kLastClick ? t >= clicks[*best].first
                                                     : t < clicks[*best].first) {
      best = i;
    }
  }
  return best;
}

}  // namespace ricochet::attribution
