#include "attribution/money.h"

#include <cstdint>

#include "catch2/catch.hpp"

namespace ricochet::attribution {

TEST_CASE("ParseDecimal accepts plain decimals exactly", "[money]") {
  struct Case {
    const char* text;
    Micros micros;
  };
  for (const Case& c : std::vector<Case>{{"5", 5'000'000},
                                         {"5.5", 5'500'000},
                                         {"0.000001", 1},
                                         {"19.99", 19'990'000},
                                         {"19.990", 19'990'000},
                                         {"0", 0},
                                         {"007.10", 7'100'000},
                                         {"999999999999.999999", 999'999'999'999'999'999}}) {
    INFO(c.text);
    absl::StatusOr<Micros> m = ParseDecimal(c.text);
    REQUIRE(m.ok());
    CHECK(*m == c.micros);
  }
}

TEST_CASE("ParseDecimal rejects everything else", "[money]") {
  for (const char* bad : {"", "+5", "-5", ".5", "5.", "1e5", "5.1234567", "1000000000000", "0x10",
                          " 5", "5 ", "5,5", "1.2.3", "NaN", "inf", "１"}) {
    INFO(bad);
    CHECK_FALSE(ParseDecimal(bad).ok());
  }
  CHECK_FALSE(ParseDecimal("1.23456", 4).ok());
  CHECK(ParseDecimal("1.2345", 4).ok());
  CHECK_FALSE(ParseDecimal("101", 6, 101).ok());
}

TEST_CASE("FormatMicros writes minimal exact decimals", "[money]") {
  CHECK(FormatMicros(2'500'000, 2) == "2.50");
  CHECK(FormatMicros(12'500'000, 0) == "12.5");
  CHECK(FormatMicros(0, 2) == "0.00");
  CHECK(FormatMicros(0, 0) == "0");
  CHECK(FormatMicros(-10'000, 2) == "-0.01");
  CHECK(FormatMicros(1, 2) == "0.000001");
  CHECK(FormatMicros(1'000'000, 3) == "1.000");
  CHECK(FormatMicros(INT64_MIN, 2) == "-9223372036854.775808");
}

TEST_CASE("RoundHalfEven rounds to the currency minor unit", "[money]") {
  // 12.5% of 0.20 = 0.025 -> 0.02; of 0.60 = 0.075 -> 0.08.
  CHECK(RoundHalfEven(25'000, 2) == 20'000);
  CHECK(RoundHalfEven(75'000, 2) == 80'000);
  CHECK(RoundHalfEven(15'000, 2) == 20'000);
  CHECK(RoundHalfEven(14'999, 2) == 10'000);
  CHECK(RoundHalfEven(-25'000, 2) == -20'000);
  CHECK(RoundHalfEven(-75'000, 2) == -80'000);
  CHECK(RoundHalfEven(1'500'000, 0) == 2'000'000);  // JPY
  CHECK(RoundHalfEven(2'500'000, 0) == 2'000'000);
  CHECK(RoundHalfEven(1'234'500, 3) == 1'234'000);  // KWD tie to even
  CHECK(RoundHalfEven(1'235'500, 3) == 1'236'000);
  CHECK(RoundHalfEven(123, 6) == 123);
}

TEST_CASE("RoundHalfEven and ParseDecimal never leave int64", "[money]") {
  // INT64_MAX = 9223372036854775807: to cents the tail 5807 rounds up, past INT64_MAX.
  CHECK(RoundHalfEven(INT64_MAX, 2) == std::nullopt);
  CHECK(RoundHalfEven(INT64_MIN, 2) == std::nullopt);
  CHECK(RoundHalfEven(INT64_MAX, 6) == INT64_MAX);
  CHECK(RoundHalfEven(9'223'372'036'854'774'999, 2) == 9'223'372'036'854'770'000);
  CHECK(RoundHalfEven(-9'223'372'036'854'774'999, 2) == -9'223'372'036'854'770'000);
  // A caller's limit above what int64 micro-units hold is capped, not trusted.
  CHECK(ParseDecimal("9223372036853.999999", 6, INT64_MAX).value() == 9'223'372'036'853'999'999);
  CHECK_FALSE(ParseDecimal("9223372036854", 6, INT64_MAX).ok());
  CHECK_FALSE(ParseDecimal("9999999999999", 6, INT64_MAX).ok());
}

TEST_CASE("currencies", "[money]") {
  CHECK(CurrencyExponent("USD") == 2);
  CHECK(CurrencyExponent("JPY") == 0);
  CHECK(CurrencyExponent("KRW") == 0);
  CHECK(CurrencyExponent("KWD") == 3);
  CHECK(CurrencyExponent("BHD") == 3);
  CHECK(CurrencyExponent("OMR") == 3);
  CHECK_FALSE(CurrencyExponent("XYZ").has_value());
  CHECK_FALSE(CurrencyExponent("usd").has_value());
  CHECK(NormalizeCurrency("eur") == "EUR");
  CHECK_FALSE(NormalizeCurrency("EURO").has_value());
}

TEST_CASE("checked arithmetic", "[money]") {
  CHECK(CheckedAdd(1, 2) == 3);
  CHECK_FALSE(CheckedAdd(INT64_MAX, 1).has_value());
  CHECK_FALSE(CheckedMul(INT64_MAX / 2, 3).has_value());
  CHECK(CheckedMul(-4, 5) == -20);
}

}  // namespace ricochet::attribution
