// Conversion rules: statuses and their allowed transitions, the outcome of a new conversion
// (the contract's reasons), and which click a visitor's conversion is attributed to.
// Pure: time and counts are passed in.
#ifndef RICOCHET_ATTRIBUTION_CONVERSION_H_
#define RICOCHET_ATTRIBUTION_CONVERSION_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace ricochet::attribution {

// Stored as one byte: never renumber.
enum class ConversionStatus : uint8_t {
  kPending = 0,
  kApproved = 1,
  kRejected = 2,
  kReversed = 3,
  kPaid = 4,  // set by a payout run, never by a postback
};
[[nodiscard]] std::string_view StatusName(ConversionStatus s);
// "approved", "pending", "rejected", "reversed" (what a postback or the API may ask for).
[[nodiscard]] std::optional<ConversionStatus> ParseRequestedStatus(std::string_view text);

// pending -> approved | rejected; approved -> reversed | paid; paid -> reversed.
[[nodiscard]] bool IsAllowedTransition(ConversionStatus from, ConversionStatus to);

// Stored as one byte: never renumber.
enum class Reason : uint8_t {
  kNone = 0,
  kLookbackExpired = 1,
  kCapExceeded = 2,
  kFastCtit = 3,
  kBotClick = 4,
  kInvalidAffiliate = 5,
};
[[nodiscard]] std::string_view ReasonName(Reason r);  // "" for kNone

enum class AttributionModel : uint8_t { kLastClick = 0, kFirstClick = 1 };

// What is known when a new conversion (a new idempotency key) arrives.
struct NewConversionFacts {
  int64_t now_ms = 0;
  int64_t click_ms = 0;
  bool click_attributable = true;  // false for fallback clicks
  bool affiliate_active = true;    // the click's affiliate still exists and is active
  bool click_is_bot = false;
  int64_t lookback_days = 30;
  int64_t min_ctit_s = 0;                     // 0 = off
  int64_t daily_conversion_cap = 0;           // 0 = off
  int64_t counted_conversions_today = 0;      // this offer, this UTC day, not rejected
  std::optional<ConversionStatus> requested;  // the postback's status, if any (not kReversed)
  ConversionStatus default_status = ConversionStatus::kApproved;
};

struct Outcome {
  ConversionStatus status = ConversionStatus::kApproved;
  Reason reason = Reason::kNone;
  bool operator==(const Outcome&) const = default;
};

// Rejections first (invalid_affiliate, lookback_expired, cap_exceeded: status rejected), then the
// requested or default status, held back to pending by fast_ctit or bot_click. A conversion
// counts toward the daily cap unless it ends up rejected.
[[nodiscard]] Outcome DecideNewConversion(const NewConversionFacts& facts);

// The click a visitor's conversion goes to: among (time_ms, click) pairs issued within
// [now - lookback, now], the latest (last_click) or the earliest (first_click). Returns the
// index into `clicks`, or nullopt when none qualifies.
[[nodiscard]] std::optional<size_t> SelectClick(
    const std::vector<std::pair<int64_t, std::string_view>>& clicks, AttributionModel model,
    int64_t now_ms, int64_t lookback_days);

}  // namespace ricochet::attribution

#endif  // RICOCHET_ATTRIBUTION_CONVERSION_H_
