// Amounts and currencies as a postback and a plan bring them (attribution/money.h,
// attribution/commission.h): a currency code, a sale amount, a CPA and a CPS percent, each ending
// at a backslash followed by any other byte (FuzzedDataProvider). Checks that parsed decimals
// re-format and re-parse to the same micros, that currency codes normalise to known upper-case
// codes, and that the two half-to-even roundings (RoundHalfEven and RateAmount's exact int128
// path) agree and land on the currency's minor unit.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "attribution/commission.h"
#include "attribution/money.h"
#include "attribution/plan.h"
#include "fuzz_check.h"

namespace {

namespace attribution = ricochet::attribution;
using attribution::Micros;

constexpr int64_t kPow10[] = {1, 10, 100, 1'000, 10'000, 100'000, 1'000'000};

// ParseDecimal as the callers use it; checks what any accepted decimal must satisfy.
std::optional<Micros> Decimal(const std::string& text, int max_decimals) {
  absl::StatusOr<Micros> v = attribution::ParseDecimal(text, max_decimals);
  if (!v.ok()) return std::nullopt;
  FUZZ_CHECK(*v >= 0 && *v < 1'000'000'000'000 * attribution::kMicrosPerUnit);
  FUZZ_CHECK(*v % kPow10[6 - max_decimals] == 0);
  // More decimals allowed never changes the value.
  absl::StatusOr<Micros> wide = attribution::ParseDecimal(text, 6);
  FUZZ_CHECK(wide.ok() && *wide == *v);
  for (int min_decimals : {0, 2, 6}) {
    std::string formatted = attribution::FormatMicros(*v, min_decimals);
    absl::StatusOr<Micros> again = attribution::ParseDecimal(formatted);
    FUZZ_CHECK(again.ok() && *again == *v);
  }
  return *v;
}

void CheckRounding(Micros value, int exponent) {
  const int64_t step = kPow10[6 - exponent];
  std::optional<Micros> rounded = attribution::RoundHalfEven(value, exponent);
  FUZZ_CHECK(rounded.has_value());  // parsed amounts stay far below INT64_MAX
  const Micros r = *rounded;
  FUZZ_CHECK(r % step == 0);
  FUZZ_CHECK(2 * (r > value ? r - value : value - r) <= step);
  // 100 % of the amount, and a CPA of the amount, round exactly as RoundHalfEven does.
  attribution::Rate percent{std::nullopt, attribution::kMaxPercent};
  absl::StatusOr<Micros> by_percent = attribution::RateAmount(percent, value, exponent);
  FUZZ_CHECK(by_percent.ok() && *by_percent == r);
  attribution::Rate cpa{value, std::nullopt};
  absl::StatusOr<Micros> by_cpa = attribution::RateAmount(cpa, 0, exponent);
  FUZZ_CHECK(by_cpa.ok() && *by_cpa == r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  std::string currency = fdp.ConsumeRandomLengthString(16);
  std::string amount_text = fdp.ConsumeRandomLengthString(64);
  std::string cpa_text = fdp.ConsumeRandomLengthString(64);
  std::string percent_text = fdp.ConsumeRandomLengthString(64);

  std::optional<std::string> code = attribution::NormalizeCurrency(currency);
  if (code) {
    FUZZ_CHECK(code->size() == 3);
    for (char c : *code) FUZZ_CHECK(c >= 'A' && c <= 'Z');
    FUZZ_CHECK(attribution::NormalizeCurrency(*code) == code);
  }
  if (std::optional<int> e = attribution::CurrencyExponent(currency)) {
    FUZZ_CHECK(*e >= 0 && *e <= 4);
    FUZZ_CHECK(code == currency);  // a known code is already normal
  }
  const int exponent = code ? attribution::CurrencyExponent(*code).value_or(2) : 2;

  // The postback's amount (6 decimals), a plan's cpa (6) and cps_percent (4).
  std::optional<Micros> amount = Decimal(amount_text, 6);
  std::optional<Micros> cpa = Decimal(cpa_text, 6);
  std::optional<Micros> percent = Decimal(percent_text, attribution::kPercentDecimals);
  Decimal(amount_text, exponent);  // catalog-style: at most the currency's decimals
  if (amount) CheckRounding(*amount, exponent);
  if (cpa) CheckRounding(*cpa, exponent);

  if (percent && *percent > attribution::kMaxPercent) percent.reset();  // plans reject these
  attribution::Rate rate{cpa, percent};
  absl::StatusOr<Micros> commission = attribution::RateAmount(rate, amount.value_or(0), exponent);
  FUZZ_CHECK(commission.ok());
  FUZZ_CHECK(*commission >= 0 && *commission % kPow10[6 - exponent] == 0);
  if (!percent || *percent == 0) {
    FUZZ_CHECK(*commission == attribution::RoundHalfEven(cpa.value_or(0), exponent));
  }
  return 0;
}
