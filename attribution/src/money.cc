#include "attribution/money.h"

#include <algorithm>
#include <array>

#include "absl/status/status.h"

namespace ricochet::attribution {
namespace {

struct CurrencyInfo {
  const char code[4];
  int exponent;
};

// Active ISO 4217 codes (list 1, 2024) with their minor-unit exponents, sorted by code.
constexpr CurrencyInfo kCurrencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2},
    {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0},
    {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2},
    {"BYN", 2}, {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4},
    {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2}, {"CRC", 2}, {"CUC", 2}, {"CUP", 2}, {"CVE", 2},
    {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2}, {"ETB", 2},
    {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2},
    {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2},
    {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0},
    {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3}, {"KYD", 2},
    {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2},
    {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2},
    {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2}, {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2},
    {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2},
    {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2}, {"RUB", 2},
    {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2}, {"SHP", 2},
    {"SLE", 2}, {"SLL", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2},
    {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2},
    {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2},
    {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0},
    {"XCD", 2}, {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWL", 2},
};

constexpr int64_t kPow10[] = {1,
                              10,
                              100,
                              1'000,
                              10'000,
                              100'000,
                              1'000'000,
                              10'000'000,
                              100'000'000,
                              1'000'000'000,
                              10'000'000'000,
                              100'000'000'000,
                              1'000'000'000'000};

}  // namespace

absl::StatusOr<Micros> ParseDecimal(std::string_view text, int max_decimals, int64_t limit_units) {
  if (text.empty()) return absl::InvalidArgumentError("empty decimal");
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty()) return absl::InvalidArgumentError("decimal needs digits before '.'");
  if (dot != std::string_view::npos && frac.empty()) {
    return absl::InvalidArgumentError("decimal needs digits after '.'");
  }
  if (static_cast<int>(frac.size()) > max_decimals) {
    return absl::InvalidArgumentError("too many decimals");
  }
  auto all_digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(whole) || !all_digits(frac)) {
    return absl::InvalidArgumentError("not a plain decimal");
  }
  // Leading zeros are harmless; skip them so long zero runs cannot overflow.
  size_t first = whole.find_first_not_of('0');
  whole = first == std::string_view::npos ? std::string_view() : whole.substr(first);
  // No limit lets the result leave int64 (which holds 9,223,372,036,854.775807 units).
  limit_units = std::min(limit_units, INT64_MAX / kMicrosPerUnit);
  if (whole.size() > 13) return absl::InvalidArgumentError("decimal too large");
  int64_t units = 0;
  for (char c : whole) units = units * 10 + (c - '0');
  if (units >= limit_units) return absl::InvalidArgumentError("decimal too large");
  int64_t micros_frac = 0;
  for (size_t i = 0; i < 6; ++i) {
    micros_frac = micros_frac * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  }
  return units * kMicrosPerUnit + micros_frac;
}

std::string FormatMicros(Micros value, int min_decimals) {
  min_decimals = std::clamp(min_decimals, 0, 6);
  // Work in unsigned so INT64_MIN formats too.
  bool negative = value < 0;
  uint64_t magnitude = negative ? ~static_cast<uint64_t>(value) + 1 : static_cast<uint64_t>(value);
  uint64_t units = magnitude / kMicrosPerUnit;
  uint64_t frac = magnitude % kMicrosPerUnit;
  char digits[7] = {};
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  int keep = 6;
  while (keep > min_decimals && digits[keep - 1] == '0') --keep;
  std::string out = negative ? "-" : "";
  out += std::to_string(units);
  if (keep > 0) {
    out += '.';
    out.append(digits, keep);
  }
  return out;
}

std::optional<int> CurrencyExponent(std::string_view code) {
  if (code.size() != 3) return std::nullopt;
  auto it = std::lower_bound(
      std::begin(kCurrencies), std::end(kCurrencies), code,
      [](const CurrencyInfo& info, std::string_view c) { return std::string_view(info.code) < c; });
  if (it == std::end(kCurrencies) || std::string_view(it->code) != code) return std::nullopt;
  return it->exponent;
}

std::optional<std::string> NormalizeCurrency(std::string_view code) {
  if (code.size() != 3) return std::nullopt;
  std::string upper(code);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  if (!CurrencyExponent(upper)) return std::nullopt;
  return upper;
}

std::optional<Micros> RoundHalfEven(Micros value, int exponent) {
  exponent = std::clamp(exponent, 0, 6);
  const int64_t step = kPow10[6 - exponent];
  if (step == 1) return value;
  int64_t quotient = value / step;
  int64_t remainder = value % step;  // same sign as value
  int64_t twice = remainder * 2;     // |remainder| < step <= 10^6: no overflow
  if (twice > step || (twice == step && (quotient % 2 != 0))) {
    ++quotient;
  } else if (twice < -step || (twice == -step && (quotient % 2 != 0))) {
    --quotient;
  }
  Micros out;
  if (__builtin_mul_overflow(quotient, step, &out)) return std::nullopt;  // past INT64_MAX/MIN
  return out;
}

std::optional<Micros> CheckedAdd(Micros a, Micros b) {
  Micros out;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

std::optional<Micros> CheckedMul(Micros a, Micros b) {
  Micros out;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

}  // namespace ricochet::attribution
