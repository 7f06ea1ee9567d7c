// Click classification: which class a click falls in, decided from facts gathered by the
// caller (the dedupe store lookup, the per-minute rate counter). Pure functions only.
#ifndef RICOCHET_ATTRIBUTION_CLICK_H_
#define RICOCHET_ATTRIBUTION_CLICK_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ricochet::attribution {

// Stored as one byte: never renumber.
enum class ClickClass : uint8_t {
  kUnique = 0,
  kDuplicate = 1,
  kBot = 2,
  kRateLimited = 3,
};

// "unique", "duplicate", "bot", "rate_limited".
[[nodiscard]] std::string_view ClickClassName(ClickClass c);
[[nodiscard]] std::optional<ClickClass> ClickClassFromByte(uint8_t b);

// Case-insensitive substring matcher over User-Agent strings. Immutable; thread-safe.
class BotMatcher {
 public:
  // The shipped list: crawlers, link-preview fetchers and HTTP libraries.
  static std::vector<std::string> DefaultPatterns();

  // Patterns are matched as lower-cased substrings; empty patterns are dropped.
  explicit BotMatcher(const std::vector<std::string>& patterns);

  // True when `user_agent` is empty or contains any pattern (case-insensitively).
  [[nodiscard]] bool Matches(std::string_view user_agent) const;

  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  std::vector<std::string> patterns_;  // lower case
  // One pass over the User-Agent instead of a search per pattern (448 ns for a browser's
  // against the shipped list, most of an I/O thread's classification work): a bit per byte
  // pair that starts a pattern, and per byte that is a whole pattern; only a set bit leads to
  // comparing the patterns that start with that pair.
  std::vector<uint64_t> pair_starts_ = std::vector<uint64_t>(65536 / 64);
  std::array<uint64_t, 4> single_bytes_{};
  std::vector<std::pair<uint32_t, uint32_t>> by_pair_;  // (first two bytes, pattern index)
};

// 128-bit XXH3 over (offer, affiliate, client IP, User-Agent), each length-prefixed so that
// ("ab","c") and ("a","bc") never collide by construction.
using DedupeKey = std::array<uint8_t, 16>;
[[nodiscard]] DedupeKey MakeDedupeKey(std::string_view offer, std::string_view affiliate,
                                      std::string_view client_ip, std::string_view user_agent);

// What the per-IP click rate counts under: 128-bit XXH3 over (offer, client IP), built the
// same way. Fixed-size, so a minute's counts take no allocation per address.
using RateKey = std::array<uint8_t, 16>;
[[nodiscard]] RateKey MakeRateKey(std::string_view offer, std::string_view client_ip);

// Everything the classifier needs to know about one click.
struct ClickFacts {
  bool is_head = false;         // HEAD requests are never people
  bool bot_user_agent = false;  // BotMatcher::Matches on the User-Agent
  // Clicks from this (offer, client IP) in the current UTC minute, this one included.
  uint32_t clicks_this_minute = 1;
  uint32_t max_clicks_per_ip_per_minute = 0;  // 0 = off
  // Time of the unique click that holds the dedupe slot, if any (milliseconds since epoch).
  std::optional<int64_t> dedupe_slot_ms;
  int64_t now_ms = 0;
  int64_t dedupe_window_s = 86400;
};

// Classes are exclusive and the first match wins: bot, rate_limited, duplicate, unique.
[[nodiscard]] ClickClass Classify(const ClickFacts& facts);

// Whether a click of this class takes (or refreshes) the dedupe slot: only unique ones do.
[[nodiscard]] inline bool TakesDedupeSlot(ClickClass c) { return c == ClickClass::kUnique; }

}  // namespace ricochet::attribution

#endif  // RICOCHET_ATTRIBUTION_CLICK_H_
