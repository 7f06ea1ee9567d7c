#include "engine/click_id.h"

#include <cstring>
#include <set>

#include "catch2/catch.hpp"

namespace ricochet::engine {
namespace {
std::array<uint8_t, 16> Secret(uint8_t base) {
  std::array<uint8_t, 16> s;
  for (int i = 0; i < 16; ++i) s[i] = static_cast<uint8_t>(base + i);
  return s;
}
constexpr char kPinnedVisitorId[] = "aDx_WpiDZlaodVbFMebhwA";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}  // namespace

TEST_CASE("SipHash-2-4 matches the reference vectors", "[click_id]") {
  // Key 00..0f; messages 00..(n-1). From the SipHash paper, appendix A / reference vectors.h.
  uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
  uint8_t msg[64];
  for (int i = 0; i < 64; ++i) msg[i] = static_cast<uint8_t>(i);
  CHECK(SipHash24(k0, k1, msg, 0) == 0x726fdb47dd0e0e31ULL);
  CHECK(SipHash24(k0, k1, msg, 1) == 0x74f839c593dc67fdULL);
  CHECK(SipHash24(k0, k1, msg, 15) == 0xa129ca6149be45e5ULL);
}

TEST_CASE("click ids round-trip time and partition", "[click_id]") {
  ClickIdCodec codec(Secret(0));
  std::string id = codec.Issue(1'763'000'000'123, 513, 0x00abcdef01234567ULL);
  CHECK(id.size() == kClickIdLength);
  for (char c : id) CHECK(std::string_view(kAlphabet).find(c) != std::string_view::npos);
  std::optional<ClickIdInfo> info = codec.Verify(id);
  REQUIRE(info.has_value());
  CHECK(info->time_ms == 1'763'000'000'123);
  CHECK(info->partition == 513);
  CHECK(codec.Issue(1, 2, 3) != codec.Issue(1, 2, 4));
}

TEST_CASE("visitor ids name their first click to the secret's holder only", "[click_id]") {
  ClickIdCodec codec(Secret(0));
  std::set<std::string> seen;
  for (uint64_t n = 0; n < 2000; ++n) {
    // Same millisecond and partition: only the nonce differs.
    std::string vid;
    std::string id = codec.Issue(1'763'000'000'123, 7, n, &vid);
    CHECK(id == codec.Issue(1'763'000'000'123, 7, n));  // minting changes nothing of the id
    CHECK(vid == codec.VisitorIdFor(id));
    REQUIRE(vid.size() == kVisitorIdLength);
    for (char c : vid) REQUIRE(std::string_view(kAlphabet).find(c) != std::string_view::npos);
    CHECK(Base64UrlDecode(vid).has_value());  // canonical: one spelling
    ClickIdInfo info;
    CHECK(codec.FirstClickOf(vid, &info) == id);
    CHECK(info.time_ms == 1'763'000'000'123);  // what Verify says of the id
    CHECK(info.partition == 7);
    seen.insert(vid);
  }
  CHECK(seen.size() == 2000);
  // Nothing of the click shows: ids of consecutive nonces share no long common prefix.
  std::string a = codec.VisitorIdFor(codec.Issue(1'763'000'000'123, 7, 1));
  std::string b = codec.VisitorIdFor(codec.Issue(1'763'000'000'123, 7, 2));
  CHECK(a.substr(0, 4) != b.substr(0, 4));

  // The permutation is keyed: another secret mints another id for the same payload (the click
  // ids differ only in their MACs), and reads another click (or none) from this one.
  ClickIdCodec other(Secret(1));
  std::string id = codec.Issue(1'763'000'000'123, 7, 99);
  std::string other_id = other.Issue(1'763'000'000'123, 7, 99);
  CHECK(id.substr(0, 21) == other_id.substr(0, 21));
  CHECK(codec.VisitorIdFor(id) != other.VisitorIdFor(other_id));
  CHECK(other.FirstClickOf(codec.VisitorIdFor(id)) != std::optional<std::string>(other_id));
  // Minted ids live a year in cookies: the format is pinned (values from this code at the
  // commit that introduced it).
  CHECK(codec.VisitorIdFor(id) == kPinnedVisitorId);
  // Not a click id, not a visitor id.
  CHECK(codec.VisitorIdFor("not-a-click-id") == "");
  CHECK(codec.VisitorIdFor(std::string(kClickIdLength, '!')) == "");
  CHECK_FALSE(codec.FirstClickOf("short").has_value());
  CHECK_FALSE(codec.FirstClickOf("AAAAAAAAAAAAAAAAAAAAA!").has_value());
  CHECK_FALSE(codec.FirstClickOf("AAAAAAAAAAAAAAAAAAAAAB").has_value());  // non-canonical tail
  // Random ids (from before ids were minted) mostly fail the version check; any that pass give
  // a well-formed click id, which callers check against the stored click's visitor.
  int named = 0;
  for (uint64_t n = 0; n < 4096; ++n) {
    uint8_t raw[16];
    for (int i = 0; i < 16; ++i) raw[i] = static_cast<uint8_t>((n * 2654435761u) >> (i % 24));
    raw[15] = static_cast<uint8_t>(n);
    if (std::optional<std::string> c = codec.FirstClickOf(Base64UrlEncode(raw, 16))) {
      ++named;
      CHECK(codec.Verify(*c).has_value());
    }
  }
  CHECK(named < 64);  // about 1 in 256
}

TEST_CASE("every single-character change of a click id is rejected", "[click_id]") {
  ClickIdCodec codec(Secret(7));
  std::string id = codec.Issue(1'763'000'000'000, 3, 0x1122334455667788ULL);
  int tried = 0;
  for (size_t pos = 0; pos < id.size(); ++pos) {
    for (char c : std::string(kAlphabet) + "=+/.%~ ") {
      if (c == id[pos]) continue;
      std::string mutated = id;
      mutated[pos] = c;
      CHECK_FALSE(codec.Verify(mutated).has_value());
      ++tried;
    }
  }
  CHECK(tried == 32 * (63 + 7));
  CHECK_FALSE(codec.Verify(id.substr(1)).has_value());
  CHECK_FALSE(codec.Verify(id + "A").has_value());
  CHECK_FALSE(codec.Verify("").has_value());
  CHECK_FALSE(ClickIdCodec(Secret(8)).Verify(id).has_value());  // another server's secret
}

TEST_CASE("base64url is strict", "[click_id]") {
  const uint8_t bytes[] = {0xfb, 0xff, 0x00};
  CHECK(Base64UrlEncode(bytes, 3) == "-_8A");
  CHECK(Base64UrlEncode(bytes, 1) == "-w");
  CHECK(Base64UrlDecode("-w") == std::string("\xfb", 1));
  CHECK_FALSE(Base64UrlDecode("-x").has_value());  // non-zero trailing bits
  CHECK_FALSE(Base64UrlDecode("A").has_value());
  CHECK_FALSE(Base64UrlDecode("ab+c").has_value());
}

TEST_CASE("sortable ids sort as their bytes do", "[click_id]") {
  // The base64url alphabet is not in ASCII order ('z' < '0' in value, not in bytes); record ids
  // are RocksDB keys, so their encoding must keep byte order. Every adjacent 6-bit value pair:
  for (uint8_t v = 0; v < 63; ++v) {
    const uint8_t a[] = {static_cast<uint8_t>(v << 2)}, b[] = {static_cast<uint8_t>((v + 1) << 2)};
    CHECK(SortableIdEncode(a, 1) < SortableIdEncode(b, 1));
  }
  uint64_t x = 0x9e3779b97f4a7c15;  // and random 12-byte pairs
  for (int i = 0; i < 2000; ++i) {
    uint8_t p[12], q[12];
    for (int j = 0; j < 12; ++j) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      p[j] = static_cast<uint8_t>(x);
      q[j] = static_cast<uint8_t>(x >> 8);
    }
    CHECK((std::memcmp(p, q, 12) < 0) == (SortableIdEncode(p, 12) < SortableIdEncode(q, 12)));
  }
}

}  // namespace ricochet::engine
