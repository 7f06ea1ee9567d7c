// UTC calendar arithmetic for report days, daily caps and monthly volume steps. Pure.
#ifndef RICOCHET_ATTRIBUTION_CALENDAR_H_
#define RICOCHET_ATTRIBUTION_CALENDAR_H_

#include <cstdint>

namespace ricochet::attribution {

// Days since 1970-01-01 (UTC) of a millisecond timestamp; floors for negative times.
[[nodiscard]] constexpr int32_t UtcDay(int64_t ms) {
  int64_t day = ms / 86'400'000;
  if (ms < 0 && ms % 86'400'000 != 0) --day;
  return static_cast<int32_t>(day);
}

// Months since 1970-01 (UTC) of a millisecond timestamp (H. Hinnant's civil_from_days).
[[nodiscard]] constexpr int32_t UtcMonth(int64_t ms) {
  int64_t z = UtcDay(ms) + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  return static_cast<int32_t>((y - 1970) * 12 + (m - 1));
}

static_assert(UtcMonth(0) == 0);
static_assert(UtcMonth(31LL * 86'400'000) == 1);              // 1970-02-01
static_assert(UtcMonth(1'704'067'200'000LL) == 54 * 12);      // 2024-01-01
static_assert(UtcMonth(1'709'164'800'000LL) == 54 * 12 + 1);  // 2024-02-29
static_assert(UtcDay(-1) == -1);

}  // namespace ricochet::attribution

#endif  // RICOCHET_ATTRIBUTION_CALENDAR_H_
