// Click ids: opaque, URL-safe, exactly 32 characters (base64url of 24 bytes):
//   version (1) | issue time ms, big-endian (6) | partition (2) | nonce (7) | MAC (8)
// The MAC is SipHash-2-4 under a 128-bit server secret over the first 16 bytes, so a forged or
// mistyped id is rejected without touching the database, and the click time is readable even
// after the click row has expired.
#ifndef RICOCHET_ENGINE_CLICK_ID_H_
#define RICOCHET_ENGINE_CLICK_ID_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ricochet::engine {

inline constexpr size_t kClickIdLength = 32;
inline constexpr size_t kSecretBytes = 16;
inline constexpr size_t kVisitorIdLength = 22;

struct ClickIdInfo {
  int64_t time_ms = 0;
  uint16_t partition = 0;
};

// Immutable after construction; thread-safe.
class ClickIdCodec {
 public:
  explicit ClickIdCodec(const std::array<uint8_t, kSecretBytes>& secret);

  // Issues an id. `nonce` supplies the 56 random bits that make ids issued in the same
  // millisecond on the same partition distinct. With `visitor_id`, also mints the id of a new
  // visitor whose first click this is.
  [[nodiscard]] std::string Issue(int64_t time_ms, uint16_t partition, uint64_t nonce,
                                  std::string* visitor_id = nullptr) const;

  // Decodes and authenticates an id; nullopt when it is malformed or its MAC does not match.
  [[nodiscard]] std::optional<ClickIdInfo> Verify(std::string_view id) const;

  // Visitor ids (the rc_vid cookie): 22 characters, base64url of 16 bytes. A new visitor's id
  // is minted (Issue) from its first click: that click's first 16 bytes (version, time,
  // partition, nonce) under a keyed permutation of 128-bit blocks (a 4-round Feistel network
  // of SipHash-2-4 under keys derived from the secret). It reads as random to anyone without
  // the secret, and FirstClickOf gives the click back, so the visitor index needs no entry for
  // a visitor's first click.
  //
  // The visitor id a click id would mint: for tests, which forge ids from clicks of returning
  // visitors with it. `click_id` must be one this codec issued (its MAC is not checked again);
  // "" for one that is not even shaped like a click id.
  [[nodiscard]] std::string VisitorIdFor(std::string_view click_id) const;
  // The click id a visitor id was minted from, or nullopt (not 22 canonical characters, or
  // not minted by this secret: a random id, or one from before visitor ids were minted). A
  // click id returned here verifies (`info`, if given, gets what Verify would return), but
  // its click may not exist or may belong to another visitor: callers check the click's
  // stored visitor id. It is a valid id made from any input: never put it in an answer or a
  // log.
  [[nodiscard]] std::optional<std::string> FirstClickOf(std::string_view visitor_id,
                                                        ClickIdInfo* info = nullptr) const;

 private:
  // The keyed permutation of a 16-byte block, in place; `inverse` undoes it.
  void Permute(uint8_t block[16], bool inverse) const;
  // Appends the MAC of the 16-byte payload in `raw` (24 bytes) and encodes the click id.
  std::string Seal(uint8_t raw[24]) const;
  std::string VisitorIdOf(const uint8_t payload[16]) const;

  uint64_t k0_, k1_;
  uint64_t vk0_, vk1_;  // the visitor id permutation's keys
};

// SipHash-2-4 (Aumasson & Bernstein), 64-bit output. Exposed for its test vectors.
[[nodiscard]] uint64_t SipHash24(uint64_t k0, uint64_t k1, const uint8_t* data, size_t len);

// Base64url without padding.
[[nodiscard]] std::string Base64UrlEncode(const uint8_t* data, size_t len);
// Same characters as base64url, but an order-preserving alphabet: for equal-length inputs the
// encodings sort exactly as the bytes do. Record ids (conversions, outbox, payouts) use it so
// that RocksDB's key order is their time order.
[[nodiscard]] std::string SortableIdEncode(const uint8_t* data, size_t len);
// Strict decode: nullopt on any character outside the alphabet or non-canonical trailing bits.
[[nodiscard]] std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_CLICK_ID_H_
