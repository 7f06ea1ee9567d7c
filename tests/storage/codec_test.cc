#include "codec.h"

#include "catch2/catch.hpp"

namespace ricochet::storage::codec {

TEST_CASE("counter operands add element-wise and fail on corruption", "[codec]") {
  int64_t a[] = {1, 2, 3};
  int64_t b[] = {10, -20};
  std::string acc;
  REQUIRE(AddCounters(EncodeCounters(a, 3), &acc));
  REQUIRE(AddCounters(EncodeCounters(b, 2), &acc));
  REQUIRE(acc.size() == 24);
  CounterRow row;
  std::string sum = acc;
  int64_t expect[] = {11, -18, 3};
  CHECK(sum == EncodeCounters(expect, 3));
  // Not a multiple of 8 bytes: refused, accumulator untouched.
  std::string before = acc;
  CHECK_FALSE(AddCounters("1234567", &acc));
  CHECK(acc == before);
  // Overflow is corruption, never wrap-around.
  int64_t big[] = {INT64_MAX};
  std::string acc2 = EncodeCounters(big, 1);
  int64_t one[] = {1};
  CHECK_FALSE(AddCounters(EncodeCounters(one, 1), &acc2));
  // Far too long.
  CHECK_FALSE(AddCounters(std::string(8 * 65, '\0'), &acc));
}

TEST_CASE("counter keys sort by day and round-trip", "[codec]") {
  std::string k1 = CounterKey(19000, "offer", "aff", "sub");
  std::string k2 = CounterKey(19001, "a", "", "");
  CHECK(k1 < k2);
  CounterRow row;
  REQUIRE(DecodeCounterKey(k1, &row));
  CHECK(row.day == 19000);
  CHECK(row.offer == "offer");
  CHECK(row.affiliate == "aff");
  CHECK(row.sub1 == "sub");
  CHECK_FALSE(DecodeCounterKey("Cxx", &row));
  CHECK(DayFromMillis(-1) == -1);
  CHECK(DayFromMillis(86'400'000) == 1);
}

TEST_CASE("click rows reject truncated or unknown encodings", "[codec]") {
  ClickRecord c;
  c.click_id = std::string("id");  // not = "id": GCC 12 warns falsely (-Wmaybe-uninitialized)
  c.time_ms = 42;
  c.offer = "o";
  c.user_agent = std::string(300, 'u');  // multi-byte varint length
  std::string key = ClickKey(c.time_ms, c.click_id);
  std::string value = EncodeClick(c);
  ClickRecord out;
  REQUIRE(DecodeClick(key, value, &out));
  CHECK(out == c);
  for (size_t n = 0; n < value.size(); ++n) {
    INFO(n);
    CHECK_FALSE(DecodeClick(key, value.substr(0, n), &out));
  }
  CHECK_FALSE(DecodeClick(key, value + "x", &out));
  std::string bad_version = value;
  bad_version[0] = 9;
  CHECK_FALSE(DecodeClick(key, bad_version, &out));
}

}  // namespace ricochet::storage::codec
