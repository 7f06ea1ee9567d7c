// Click ids (engine/click_id.h): Verify on arbitrary text, Issue -> Verify round trips, a
// one-character change always rejected, and the base64url codecs (canonical, round-tripping,
// order-preserving for record ids).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/click_id.h"
#include "fuzz_check.h"

namespace {

namespace engine = ricochet::engine;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::array<uint8_t, engine::kSecretBytes> Secret(uint8_t seed) {
  std::array<uint8_t, engine::kSecretBytes> s;
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
  return s;
}

uint64_t TakeBytes(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

int Sign(int c) { return (c > 0) - (c < 0); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Function-local statics: built once, immutable, thread-safe by contract.
  static const engine::ClickIdCodec codec(Secret(1));
  static const engine::ClickIdCodec other(Secret(2));
  std::string_view in(reinterpret_cast<const char*>(data), size);

  // Whatever verifies is a canonical 32-character id with a 48-bit time.
  if (std::optional<engine::ClickIdInfo> info = codec.Verify(in)) {
    FUZZ_CHECK(in.size() == engine::kClickIdLength);
    FUZZ_CHECK(info->time_ms >= 0 && info->time_ms < (int64_t{1} << 48));
    std::optional<std::string> raw = engine::Base64UrlDecode(in);
    FUZZ_CHECK(raw.has_value());
    FUZZ_CHECK(
        engine::Base64UrlEncode(reinterpret_cast<const uint8_t*>(raw->data()), raw->size()) == in);
  }

  // Strict decoding: one spelling per byte string.
  if (std::optional<std::string> raw = engine::Base64UrlDecode(in)) {
    FUZZ_CHECK(
        engine::Base64UrlEncode(reinterpret_cast<const uint8_t*>(raw->data()), raw->size()) == in);
  }
  std::string enc = engine::Base64UrlEncode(data, size);
  std::optional<std::string> dec = engine::Base64UrlDecode(enc);
  FUZZ_CHECK(dec.has_value() && *dec == in);

  // Sortable ids: for equal lengths, the encodings sort as the bytes do.
  size_t half = size / 2;
  std::string_view a = in.substr(0, half), b = in.substr(half, half);
  std::string ea = engine::SortableIdEncode(data, half);
  std::string eb = engine::SortableIdEncode(data + half, half);
  FUZZ_CHECK(Sign(a.compare(b)) == Sign(std::string_view(ea).compare(eb)));

  // Issue -> Verify, from fields taken out of the input.
  if (size >= 17) {
    int64_t time_ms = static_cast<int64_t>(TakeBytes(data, 6));
    uint16_t partition = static_cast<uint16_t>(TakeBytes(data + 6, 2));
    uint64_t nonce = TakeBytes(data + 8, 7);
    std::string id = codec.Issue(time_ms, partition, nonce);
    FUZZ_CHECK(id.size() == engine::kClickIdLength);
    std::optional<engine::ClickIdInfo> info = codec.Verify(id);
    FUZZ_CHECK(info.has_value());
    FUZZ_CHECK(info->time_ms == time_ms && info->partition == partition);
    FUZZ_CHECK(!other.Verify(id).has_value());  // another server's secret
    // Any single changed character is rejected.
    size_t pos = data[15] % id.size();
    size_t old = kAlphabet.find(id[pos]);
    FUZZ_CHECK(old != std::string_view::npos);
    std::string forged = id;
    forged[pos] = kAlphabet[(old + 1 + data[16] % 63) % 64];
    FUZZ_CHECK(!codec.Verify(forged).has_value());
  }
  return 0;
}
