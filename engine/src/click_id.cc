#include "engine/click_id.h"

#include <cstring>

namespace ricochet::engine {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kPayload = 16;
constexpr size_t kRaw = 24;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline void SipRound(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
  v0 += v1;
  v1 = Rotl(v1, 13);
  v1 ^= v0;
  v0 = Rotl(v0, 32);
  v2 += v3;
  v3 = Rotl(v3, 16);
  v3 ^= v2;
  v0 += v3;
  v3 = Rotl(v3, 21);
  v3 ^= v0;
  v2 += v1;
  v1 = Rotl(v1, 17);
  v1 ^= v2;
  v2 = Rotl(v2, 32);
}

inline uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

uint64_t SipHash24(uint64_t k0, uint64_t k1, const uint8_t* data, size_t len) {
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
  uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
  uint64_t v3 = 0x7465646279746573ULL ^ k1;
  size_t full = len - len % 8;
  for (size_t i = 0; i < full; i += 8) {
    uint64_t m = LoadLe64(data + i);
    v3 ^= m;
    SipRound(v0, v1, v2, v3);
    SipRound(v0, v1, v2, v3);
    v0 ^= m;
  }
  uint64_t b = static_cast<uint64_t>(len) << 56;
  for (size_t i = 0; i < len % 8; ++i) b |= static_cast<uint64_t>(data[full + i]) << (8 * i);
  v3 ^= b;
  SipRound(v0, v1, v2, v3);
  SipRound(v0, v1, v2, v3);
  v0 ^= b;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) SipRound(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

namespace {

std::string Encode64(const char* alphabet, const uint8_t* data, size_t len) {
  std::string out;
  out.reserve((len * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t n = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    out.push_back(alphabet[n & 63]);
  }
  if (len - i == 1) {
    uint32_t n = uint32_t{data[i]} << 16;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
  } else if (len - i == 2) {
    uint32_t n = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
  }
  return out;
}

// The 64 base64url characters in ASCII order, so byte order survives encoding.
constexpr char kSortableAlphabet[] =
    "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

}  // namespace

std::string Base64UrlEncode(const uint8_t* data, size_t len) {
  return Encode64(kAlphabet, data, len);
}

std::string SortableIdEncode(const uint8_t* data, size_t len) {
  return Encode64(kSortableAlphabet, data, len);
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int8_t v = kDecode[static_cast<uint8_t>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero, so every id has exactly one spelling.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

namespace {

// What a payload (version, BE48 time, BE16 partition, nonce) says.
ClickIdInfo InfoOf(const uint8_t* payload) {
  ClickIdInfo info;
  uint64_t t = 0;
  for (int i = 0; i < 6; ++i) t = (t << 8) | payload[1 + i];
  info.time_ms = static_cast<int64_t>(t);
  info.partition = static_cast<uint16_t>((payload[7] << 8) | payload[8]);
  return info;
}

}  // namespace

ClickIdCodec::ClickIdCodec(const std::array<uint8_t, kSecretBytes>& secret)
    : k0_(LoadLe64(secret.data())), k1_(LoadLe64(secret.data() + 8)) {
  // Keys of their own for the visitor id permutation, so that it never evaluates the MAC.
  static constexpr uint8_t kLabel0[] = "ricochet visitor id key 0";
  static constexpr uint8_t kLabel1[] = "ricochet visitor id key 1";
  vk0_ = SipHash24(k0_, k1_, kLabel0, sizeof(kLabel0) - 1);
  vk1_ = SipHash24(k0_, k1_, kLabel1, sizeof(kLabel1) - 1);
}

// Luby-Rackoff: four Feistel rounds of a pseudo-random function make a pseudo-random
// permutation of the 128-bit block, its halves read little-endian.
void ClickIdCodec::Permute(uint8_t block[kPayload], bool inverse) const {
  auto f = [this](int round, uint64_t x) {
    uint8_t in[9];
    in[0] = static_cast<uint8_t>(round);
    for (int i = 0; i < 8; ++i) in[1 + i] = static_cast<uint8_t>(x >> (8 * i));
    return SipHash24(vk0_, vk1_, in, sizeof(in));
  };
  uint64_t l = LoadLe64(block), r = LoadLe64(block + 8);
  if (!inverse) {
    for (int i = 0; i < 4; ++i) {
      uint64_t next_r = l ^ f(i, r);
      l = r;
      r = next_r;
    }
  } else {
    for (int i = 3; i >= 0; --i) {
      uint64_t prev_l = r ^ f(i, l);
      r = l;
      l = prev_l;
    }
  }
  for (int i = 0; i < 8; ++i) {
    block[i] = static_cast<uint8_t>(l >> (8 * i));
    block[8 + i] = static_cast<uint8_t>(r >> (8 * i));
  }
}

// The MAC over the payload, appended; then the text.
std::string ClickIdCodec::Seal(uint8_t raw[kRaw]) const {
  uint64_t mac = SipHash24(k0_, k1_, raw, kPayload);
  for (int i = 0; i < 8; ++i) raw[kPayload + i] = static_cast<uint8_t>(mac >> (8 * i));
  return Base64UrlEncode(raw, kRaw);
}

std::string ClickIdCodec::VisitorIdOf(const uint8_t payload[kPayload]) const {
  uint8_t block[kPayload];
  std::memcpy(block, payload, kPayload);
  Permute(block, /*inverse=*/false);
  return Base64UrlEncode(block, kPayload);
}

std::string ClickIdCodec::VisitorIdFor(std::string_view click_id) const {
  if (click_id.size() != kClickIdLength) return "";
  std::optional<std::string> raw = Base64UrlDecode(click_id);
  if (!raw || raw->size() != kRaw || (*raw)[0] != static_cast<char>(kVersion)) return "";
  return VisitorIdOf(reinterpret_cast<const uint8_t*>(raw->data()));
}

std::optional<std::string> ClickIdCodec::FirstClickOf(std::string_view visitor_id,
                                                      ClickIdInfo* info) const {
  if (visitor_id.size() != kVisitorIdLength) return std::nullopt;
  std::optional<std::string> block = Base64UrlDecode(visitor_id);
  if (!block || block->size() != kPayload) return std::nullopt;
  uint8_t raw[kRaw];
  std::memcpy(raw, block->data(), kPayload);
  Permute(raw, /*inverse=*/true);
  if (raw[0] != kVersion) return std::nullopt;
  if (info != nullptr) *info = InfoOf(raw);
  return Seal(raw);
}

std::string ClickIdCodec::Issue(int64_t time_ms, uint16_t partition, uint64_t nonce,
                                std::string* visitor_id) const {
  uint8_t raw[kRaw];
  raw[0] = kVersion;
  uint64_t t = static_cast<uint64_t>(time_ms);
  for (int i = 0; i < 6; ++i) raw[1 + i] = static_cast<uint8_t>(t >> (8 * (5 - i)));
  raw[7] = static_cast<uint8_t>(partition >> 8);
  raw[8] = static_cast<uint8_t>(partition);
  for (int i = 0; i < 7; ++i) raw[9 + i] = static_cast<uint8_t>(nonce >> (8 * i));
  if (visitor_id != nullptr) *visitor_id = VisitorIdOf(raw);
  return Seal(raw);
}

std::optional<ClickIdInfo> ClickIdCodec::Verify(std::string_view id) const {
  if (id.size() != kClickIdLength) return std::nullopt;
  std::optional<std::string> raw = Base64UrlDecode(id);
  if (!raw || raw->size() != kRaw) return std::nullopt;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(raw->data());
  if (p[0] != kVersion) return std::nullopt;
  uint64_t mac = SipHash24(k0_, k1_, p, kPayload);
  uint64_t got = LoadLe64(p + kPayload);
  // Constant-time in the sense that matters here: one full-width compare.
  if ((mac ^ got) != 0) return std::nullopt;
  return InfoOf(p);
}

}  // namespace ricochet::engine
