#include "attribution/conversion.h"

#include "catch2/catch.hpp"

namespace ricochet::attribution {
namespace {
using S = ConversionStatus;
constexpr int64_t kDay = 86'400'000;

NewConversionFacts Fresh() {
  NewConversionFacts f;
  f.click_ms = 1'763'000'000'000;
  f.now_ms = f.click_ms + 3'600'000;
  return f;
}
}  // namespace

TEST_CASE("status transitions", "[conversion]") {
  CHECK(IsAllowedTransition(S::kPending, S::kApproved));
  CHECK(IsAllowedTransition(S::kPending, S::kRejected));
  CHECK(IsAllowedTransition(S::kApproved, S::kReversed));
  CHECK(IsAllowedTransition(S::kApproved, S::kPaid));
  CHECK(IsAllowedTransition(S::kPaid, S::kReversed));
  for (S to : {S::kPending, S::kApproved, S::kRejected, S::kReversed, S::kPaid}) {
    CHECK_FALSE(IsAllowedTransition(S::kRejected, to));
    CHECK_FALSE(IsAllowedTransition(S::kReversed, to));
  }
  CHECK_FALSE(IsAllowedTransition(S::kApproved, S::kPending));
  CHECK_FALSE(IsAllowedTransition(S::kApproved, S::kRejected));
  CHECK_FALSE(IsAllowedTransition(S::kPending, S::kReversed));
  CHECK_FALSE(IsAllowedTransition(S::kPending, S::kPaid));
  CHECK_FALSE(IsAllowedTransition(S::kPaid, S::kApproved));
  CHECK(ParseRequestedStatus("reversed") == S::kReversed);
  CHECK_FALSE(ParseRequestedStatus("paid").has_value());
  CHECK_FALSE(ParseRequestedStatus("Approved").has_value());
  CHECK(StatusName(S::kPaid) == "paid");
}

TEST_CASE("new conversion outcomes and their reasons", "[conversion]") {
  NewConversionFacts f = Fresh();
  CHECK(DecideNewConversion(f) == Outcome{S::kApproved, Reason::kNone});
  f.default_status = S::kPending;
  CHECK(DecideNewConversion(f) == Outcome{S::kPending, Reason::kNone});
  f.requested = S::kApproved;  // the postback's status beats the offer default
  CHECK(DecideNewConversion(f) == Outcome{S::kApproved, Reason::kNone});

  SECTION("invalid affiliate") {
    f.click_attributable = false;
    CHECK(DecideNewConversion(f) == Outcome{S::kRejected, Reason::kInvalidAffiliate});
    f.click_attributable = true;
    f.affiliate_active = false;
    CHECK(DecideNewConversion(f) == Outcome{S::kRejected, Reason::kInvalidAffiliate});
  }
  SECTION("lookback: exactly the window is still in, a millisecond more is out") {
    f.lookback_days = 30;
    f.now_ms = f.click_ms + 30 * kDay;
    CHECK(DecideNewConversion(f).reason == Reason::kNone);
    f.now_ms += 1;
    CHECK(DecideNewConversion(f) == Outcome{S::kRejected, Reason::kLookbackExpired});
  }
  SECTION("daily cap: the cap-th is paid, the next rejected") {
    f.daily_conversion_cap = 3;
    f.counted_conversions_today = 2;
    CHECK(DecideNewConversion(f).status == S::kApproved);
    f.counted_conversions_today = 3;
    CHECK(DecideNewConversion(f) == Outcome{S::kRejected, Reason::kCapExceeded});
    f.requested = S::kRejected;  // a rejected conversion is recorded as such, no reason
    CHECK(DecideNewConversion(f) == Outcome{S::kRejected, Reason::kNone});
  }
  SECTION("fast CTIT and bot clicks are kept pending") {
    f.min_ctit_s = 7200;
    CHECK(DecideNewConversion(f) == Outcome{S::kPending, Reason::kFastCtit});
    f.min_ctit_s = 3600;  // exactly the minimum: fine
    CHECK(DecideNewConversion(f) == Outcome{S::kApproved, Reason::kNone});
    f.click_is_bot = true;
    CHECK(DecideNewConversion(f) == Outcome{S::kPending, Reason::kBotClick});
  }
  SECTION("rejections take precedence over pending reasons") {
    f.click_is_bot = true;
    f.min_ctit_s = 7200;
    f.now_ms = f.click_ms + 31 * kDay;
    CHECK(DecideNewConversion(f).reason == Reason::kLookbackExpired);
    f.affiliate_active = false;
    CHECK(DecideNewConversion(f).reason == Reason::kInvalidAffiliate);
  }
  CHECK(ReasonName(Reason::kFastCtit) == "fast_ctit");
  CHECK(ReasonName(Reason::kNone).empty());
}

TEST_CASE("visitor attribution picks the last or first click within the lookback", "[conversion]") {
  const int64_t now = 100 * kDay;
  std::vector<std::pair<int64_t, std::string_view>> clicks = {{now - 40 * kDay, "ancient"},
                                                              {now - 20 * kDay, "first"},
                                                              {now - 10 * kDay, "middle"},
                                                              {now - kDay, "last"},
                                                              {now + 1000, "future"}};
  CHECK(clicks[*SelectClick(clicks, AttributionModel::kLastClick, now, 30)].second == "last");
  CHECK(clicks[*SelectClick(clicks, AttributionModel::kFirstClick, now, 30)].second == "first");
  CHECK(clicks[*SelectClick(clicks, AttributionModel::kFirstClick, now, 50)].second == "ancient");
  CHECK_FALSE(SelectClick(clicks, AttributionModel::kLastClick, now, 0).has_value());
  CHECK_FALSE(SelectClick({}, AttributionModel::kLastClick, now, 30).has_value());
}

}  // namespace ricochet::attribution
