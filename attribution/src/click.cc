#include "attribution/click.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>
#include <string>

#include "xxhash.h"

namespace ricochet::attribution {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// 128-bit XXH3 over the fields, each prefixed by its 32-bit length (host order) so that
// ("ab","c") and ("a","bc") differ by construction. On the stack unless the fields are long.
std::array<uint8_t, 16> HashFields(std::initializer_list<std::string_view> fields) {
  size_t total = 0;
  for (std::string_view f : fields) total += sizeof(uint32_t) + f.size();
  char stack[512];
  std::string heap;
  char* buf = stack;
  if (total > sizeof(stack)) {
    heap.resize(total);
    buf = heap.data();
  }
  size_t at = 0;
  for (std::string_view f : fields) {
    uint32_t n = static_cast<uint32_t>(f.size());
    std::memcpy(buf + at, &n, sizeof(n));
    std::memcpy(buf + at + sizeof(n), f.data(), f.size());
    at += sizeof(n) + f.size();
  }
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits(buf, total));
  std::array<uint8_t, 16> key;
  std::memcpy(key.data(), canon.digest, key.size());
  return key;
}

}  // namespace

std::string_view ClickClassName(ClickClass c) {
  switch (c) {
    case ClickClass::kUnique:
      return "unique";
    case ClickClass::kDuplicate:
      return "duplicate";
    case ClickClass::kBot:
      return "bot";
    case ClickClass::kRateLimited:
      return "rate_limited";
  }
  return "unknown";
}

std::optional<ClickClass> ClickClassFromByte(uint8_t b) {
  if (b > static_cast<uint8_t>(ClickClass::kRateLimited)) return std::nullopt;
  return static_cast<ClickClass>(b);
}

std::vector<std::string> BotMatcher::DefaultPatterns() {
  return {"googlebot",
          "bingbot",
          "applebot",
          "yandexbot",
          "baiduspider",
          "duckduckbot",
          "ahrefsbot",
          "semrushbot",
          "mj12bot",
          "dotbot",
          "petalbot",
          "bytespider",
          "gptbot",
          "ccbot",
          "crawler",
          "spider",
          "facebookexternalhit",
          "facebookcatalog",
          "meta-externalagent",
          "twitterbot",
          "slackbot",
          "slack-imgproxy",
          "linkedinbot",
          "whatsapp",
          "telegrambot",
          "discordbot",
          "skypeuripreview",
          "pinterestbot",
          "redditbot",
          "embedly",
          "vkshare",
          "google-inspectiontool",
          "headlesschrome",
          "curl/",
          "wget/",
          "python-requests",
          "python-urllib",
          "aiohttp",
          "go-http-client",
          "java/",
          "okhttp",
          "libwww-perl",
          "apache-httpclient",
          "axios/",
          "node-fetch",
          "scrapy"};
}

namespace {
uint32_t Pair(char a, char b) {
  return static_cast<uint32_t>(static_cast<uint8_t>(a)) << 8 | static_cast<uint8_t>(b);
}
bool TestBit(const uint64_t* bits, uint32_t i) { return (bits[i >> 6] >> (i & 63)) & 1; }
void SetBit(uint64_t* bits, uint32_t i) { bits[i >> 6] |= uint64_t{1} << (i & 63); }
}  // namespace

BotMatcher::BotMatcher(const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns) {
    if (p.empty()) continue;
    std::string lower(p);
    std::transform(lower.begin(), lower.end(), lower.begin(), Lower);
    if (lower.size() == 1) {
      SetBit(single_bytes_.data(), static_cast<uint8_t>(lower[0]));
    } else {
      SetBit(pair_starts_.data(), Pair(lower[0], lower[1]));
      by_pair_.emplace_back(Pair(lower[0], lower[1]), static_cast<uint32_t>(patterns_.size()));
    }
    patterns_.push_back(std::move(lower));
  }
  std::sort(by_pair_.begin(), by_pair_.end());
}

bool BotMatcher::Matches(std::string_view user_agent) const {
  if (user_agent.empty()) return true;
  // User-Agents are short; one lower-cased copy on the stack (the first 512 bytes).
  char buf[512];
  const size_t n = std::min(user_agent.size(), sizeof(buf));
  for (size_t i = 0; i < n; ++i) buf[i] = Lower(user_agent[i]);
  const std::string_view ua(buf, n);
  for (size_t i = 0; i < n; ++i) {
    if (TestBit(single_bytes_.data(), static_cast<uint8_t>(buf[i]))) return true;
    if (i + 1 == n || !TestBit(pair_starts_.data(), Pair(buf[i], buf[i + 1]))) continue;
    const std::string_view rest = ua.substr(i);
    const uint32_t pair = Pair(buf[i], buf[i + 1]);
    for (auto it = std::lower_bound(by_pair_.begin(), by_pair_.end(), std::make_pair(pair, 0u));
         it != by_pair_.end() && it->first == pair; ++it) {
      if (rest.starts_with(patterns_[it->second])) return true;
    }
  }
  return false;
}

DedupeKey MakeDedupeKey(std::string_view offer, std::string_view affiliate,
                        std::string_view client_ip, std::string_view user_agent) {
  return HashFields({offer, affiliate, client_ip, user_agent});
}

RateKey MakeRateKey(std::string_view offer, std::string_view client_ip) {
  return HashFields({offer, client_ip});
}

ClickClass Classify(const ClickFacts& facts) {
  if (facts.is_head || facts.bot_user_agent) return ClickClass::kBot;
  if (facts.max_clicks_per_ip_per_minute > 0 &&
      facts.clicks_this_minute > facts.max_clicks_per_ip_per_minute) {
    return ClickClass::kRateLimited;
  }
  if (facts.dedupe_slot_ms.has_value() &&
      facts.now_ms - *facts.dedupe_slot_ms < facts.dedupe_window_s * 1000) {
    return ClickClass::kDuplicate;
  }
  return ClickClass::kUnique;
}

}  // namespace ricochet::attribution
