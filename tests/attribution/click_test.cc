#include "attribution/click.h"

#include "absl/strings/str_cat.h"
#include "catch2/catch.hpp"

namespace ricochet::attribution {

TEST_CASE("classification: first match wins in the order bot, rate_limited, duplicate, unique",
          "[click]") {
  ClickFacts f;
  f.now_ms = 1'000'000'000;
  f.dedupe_window_s = 60;
  CHECK(Classify(f) == ClickClass::kUnique);

  f.dedupe_slot_ms = f.now_ms - 59'999;
  CHECK(Classify(f) == ClickClass::kDuplicate);
  f.dedupe_slot_ms = f.now_ms - 60'000;  // the window has passed
  CHECK(Classify(f) == ClickClass::kUnique);

  f.dedupe_slot_ms = f.now_ms - 1;
  f.max_clicks_per_ip_per_minute = 3;
  f.clicks_this_minute = 3;
  CHECK(Classify(f) == ClickClass::kDuplicate);
  f.clicks_this_minute = 4;
  CHECK(Classify(f) == ClickClass::kRateLimited);
  f.max_clicks_per_ip_per_minute = 0;  // off
  CHECK(Classify(f) == ClickClass::kDuplicate);

  f.max_clicks_per_ip_per_minute = 3;
  f.bot_user_agent = true;
  CHECK(Classify(f) == ClickClass::kBot);
  f.bot_user_agent = false;
  f.is_head = true;
  CHECK(Classify(f) == ClickClass::kBot);

  CHECK(TakesDedupeSlot(ClickClass::kUnique));
  for (ClickClass c : {ClickClass::kBot, ClickClass::kRateLimited, ClickClass::kDuplicate}) {
    CHECK_FALSE(TakesDedupeSlot(c));
  }
  CHECK(Classify(ClickFacts{.dedupe_slot_ms = 0, .now_ms = 5, .dedupe_window_s = 0}) ==
        ClickClass::kUnique);
}

TEST_CASE("class names and stored bytes", "[click]") {
  CHECK(ClickClassName(ClickClass::kUnique) == "unique");
  CHECK(ClickClassName(ClickClass::kDuplicate) == "duplicate");
  CHECK(ClickClassName(ClickClass::kBot) == "bot");
  CHECK(ClickClassName(ClickClass::kRateLimited) == "rate_limited");
  CHECK(ClickClassFromByte(3) == ClickClass::kRateLimited);
  CHECK_FALSE(ClickClassFromByte(4).has_value());
}

TEST_CASE("bot matcher: shipped list, case-insensitive substrings, empty UA", "[click]") {
  BotMatcher m(BotMatcher::DefaultPatterns());
  for (const char* ua :
       {"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0)", "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8.4.0",
        "Wget/1.21", "python-requests/2.31.0", "Go-http-client/1.1", "CURL/7", ""}) {
    INFO(ua);
    CHECK(m.Matches(ua));
  }
  for (const char* ua :
       {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
        "Mozilla/5.0 (Linux; Android 12; CUBOT KingKong) Chrome/119"}) {
    INFO(ua);
    CHECK_FALSE(m.Matches(ua));
  }
  BotMatcher custom({"MyScanner", ""});
  CHECK(custom.Matches("xx myscanner/2"));
  CHECK_FALSE(custom.Matches("curl/8"));
  CHECK(custom.patterns().size() == 1);
  // Where a pattern sits, patterns sharing their first two bytes, one-byte patterns, and the
  // 512-byte cut.
  BotMatcher edges({"ab", "abcd", "Q", "xyz"});
  CHECK(edges.Matches("ab"));
  CHECK(edges.Matches("zzAB"));
  CHECK(edges.Matches("zzaBc"));
  CHECK_FALSE(edges.Matches("a"));
  CHECK_FALSE(edges.Matches("zzzb a"));
  CHECK(edges.Matches("mozilla q"));
  CHECK(edges.Matches("q"));
  CHECK_FALSE(edges.Matches("xy"));
  CHECK_FALSE(edges.Matches("xyxy zyx"));
  CHECK(edges.Matches("..xyz"));
  CHECK(edges.Matches(std::string(509, '.') + "xyz"));
  CHECK_FALSE(edges.Matches(std::string(510, '.') + "xyz"));  // past the first 512 bytes
  CHECK(BotMatcher({"abc", "abd"}).Matches("xxabd"));
  CHECK_FALSE(BotMatcher({"abc", "abd"}).Matches("xxabe ab"));
}

TEST_CASE("dedupe key: stable, field-separated, sensitive to every field", "[click]") {
  DedupeKey k = MakeDedupeKey("offer", "aff", "1.2.3.4", "UA");
  CHECK(k == MakeDedupeKey("offer", "aff", "1.2.3.4", "UA"));
  CHECK(k != MakeDedupeKey("offer2", "aff", "1.2.3.4", "UA"));
  CHECK(k != MakeDedupeKey("offer", "aff2", "1.2.3.4", "UA"));
  CHECK(k != MakeDedupeKey("offer", "aff", "1.2.3.5", "UA"));
  CHECK(k != MakeDedupeKey("offer", "aff", "1.2.3.4", "UA2"));
  // Shifting bytes between fields must not collide.
  CHECK(MakeDedupeKey("ab", "c", "", "") != MakeDedupeKey("a", "bc", "", ""));
}

std::string Hex(const std::array<uint8_t, 16>& k) {
  std::string out;
  for (uint8_t b : k) absl::StrAppend(&out, absl::Hex(b, absl::kZeroPad2));
  return out;
}

// Dedupe keys are stored: the bytes must not change across versions, or an upgrade would
// forget every slot. Values from XXH3-128 over the length-prefixed fields, computed apart.
TEST_CASE("dedupe and rate keys: pinned bytes, long fields included", "[click]") {
  CHECK(Hex(MakeDedupeKey("offer", "aff", "1.2.3.4", "UA")) == "7bf065c80fdacdef8c92be80203472df");
  CHECK(Hex(MakeDedupeKey("offer", "aff", "1.2.3.4", std::string(600, 'M'))) ==
        "c83dee719525107b66c1de8810c5f234");
  CHECK(Hex(MakeRateKey("offer", "1.2.3.4")) == "89070b742376fd7cef9298a110823895");
  CHECK(MakeRateKey("offer", "1.2.3.4") != MakeRateKey("offer", "1.2.3.5"));
  CHECK(MakeRateKey("offer", "1.2.3.4") != MakeRateKey("offer2", "1.2.3.4"));
}

}  // namespace ricochet::attribution
