// Exact decimal money. Every amount is an int64 count of micro-units (10^-6 of the currency
// unit, or of a percent for rates); nothing here ever touches floating point.
#ifndef RICOCHET_ATTRIBUTION_MONEY_H_
#define RICOCHET_ATTRIBUTION_MONEY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ricochet::attribution {

using Micros = int64_t;
inline constexpr Micros kMicrosPerUnit = 1'000'000;

// Parses a non-negative decimal: digits, optionally '.' and 1..max_decimals digits.
// Rejects signs, exponents, ".5", "5.", empty input and values >= `limit_units` whole units
// (and, whatever `limit_units` says, values of INT64_MAX / 10^6 = 9,223,372,036,854 whole units
// or more, so the result always fits an int64 of micro-units).
// Returns micro-units. InvalidArgument says why.
[[nodiscard]] absl::StatusOr<Micros> ParseDecimal(std::string_view text, int max_decimals = 6,
                                                  int64_t limit_units = 1'000'000'000'000);

// Formats micro-units as a decimal string with at least `min_decimals` decimals and no
// trailing zeros beyond them: FormatMicros(2'500'000, 2) == "2.50",
// FormatMicros(12'500'000, 0) == "12.5", FormatMicros(-10'000, 2) == "-0.01".
[[nodiscard]] std::string FormatMicros(Micros value, int min_decimals);

// ISO 4217 minor-unit exponent of an upper-case code, or nullopt for an unknown code.
[[nodiscard]] std::optional<int> CurrencyExponent(std::string_view code);

// Upper-cases a three-letter code if it is a known ISO 4217 currency.
[[nodiscard]] std::optional<std::string> NormalizeCurrency(std::string_view code);

// Rounds micro-units half-to-even to a multiple of 10^(6 - exponent) (the currency's minor
// unit). exponent is clamped to [0, 6]. nullopt when the rounded value leaves int64 (within
// half a minor unit of INT64_MAX or INT64_MIN).
[[nodiscard]] std::optional<Micros> RoundHalfEven(Micros value, int exponent);

// Overflow-checked helpers: nullopt on overflow.
[[nodiscard]] std::optional<Micros> CheckedAdd(Micros a, Micros b);
[[nodiscard]] std::optional<Micros> CheckedMul(Micros a, Micros b);

}  // namespace ricochet::attribution

#endif  // RICOCHET_ATTRIBUTION_MONEY_H_
