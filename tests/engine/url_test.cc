#include "engine/url.h"

#include <map>
#include <random>

#include "catch2/catch.hpp"

namespace ricochet::engine {

TEST_CASE("percent-encoding follows RFC 3986", "[url]") {
  CHECK(PercentEncode("AZaz09-._~") == "AZaz09-._~");
  CHECK(PercentEncode("a b") == "a%20b");
  CHECK(PercentEncode("a/b?c=d&e#f") == "a%2Fb%3Fc%3Dd%26e%23f");
  CHECK(PercentEncode("\r\n\t") == "%0D%0A%09");
  CHECK(PercentEncode(std::string("\0\xff", 2)) == "%00%FF");
  CHECK(PercentEncode("é") == "%C3%A9");
  CHECK(PercentEncode("+%") == "%2B%25");
}

TEST_CASE("query parsing decodes names and values", "[url]") {
  std::multimap<std::string, std::string> got;
  ForEachQueryParam("a=1&b=x+y&c=%41%2b&&d&e=&%61=z&bad=%zz&trail=%4",
                    [&](std::string_view n, std::string_view v) { got.emplace(n, v); });
  std::multimap<std::string, std::string> want = {{"a", "1"},     {"b", "x y"},   {"c", "A+"},
                                                  {"d", ""},      {"e", ""},      {"a", "z"},
                                                  {"bad", "%zz"}, {"trail", "%4"}};
  CHECK(got == want);
  CHECK(PercentDecode("%41%42", false) == "AB");
  CHECK(PercentDecode("a+b", false) == "a+b");
}

TEST_CASE("targets split into path and query", "[url]") {
  struct Case {
    std::string_view target, path, query;
  };
  const Case cases[] = {
      {"/c/o?aff=1#frag", "/c/o", "aff=1"},
      {"/healthz", "/healthz", ""},
      // Absolute-form: split after the authority; "/" when nothing but a query or fragment
      // follows it.
      {"http://127.0.0.1:8080/c/o?aff=1#frag", "/c/o", "aff=1"},
      {"HTTPS://Host.Example/api/offers", "/api/offers", ""},
      {"http://host", "/", ""},
      {"http://host?x=1", "/", "x=1"},
      {"http://host#/c/o", "/", ""},
      // Not absolute-form: another scheme, a single slash, no scheme. Left as they are.
      {"ftp://host/c/o", "ftp://host/c/o", ""},
      {"http:/c/o", "http:/c/o", ""},
      {"://host/c/o", "://host/c/o", ""},
  };
  for (const Case& c : cases) {
    INFO(c.target);
    std::string_view p, q;
    SplitTarget(c.target, &p, &q);
    CHECK(p == c.path);
    CHECK(q == c.query);
  }
}

TEST_CASE("absolute-form targets name their authority", "[url]") {
  std::optional<AbsoluteForm> a = SplitAbsoluteForm("http://u:p@h:81/c/o?x#f");
  REQUIRE(a.has_value());
  CHECK(a->authority == "u:p@h:81");
  CHECK(a->rest == "/c/o?x#f");
  a = SplitAbsoluteForm("HTTPS://h?x");
  REQUIRE(a.has_value());
  CHECK(a->authority == "h");
  CHECK(a->rest == "?x");
  a = SplitAbsoluteForm("http://");
  REQUIRE(a.has_value());
  CHECK(a->authority.empty());
  CHECK(a->rest.empty());
  for (std::string_view other : {"/c/o", "*", "", "ftp://h/", "http:/h", "h/http://x"}) {
    INFO(other);
    CHECK_FALSE(SplitAbsoluteForm(other).has_value());
  }
}

TEST_CASE("configured URLs must be absolute http(s) without control characters", "[url]") {
  for (const char* ok : {"https://shop.example/lp?x={click_id}", "http://1.2.3.4:8080/",
                         "HTTPS://X.EXAMPLE", "https://user@x.example/"}) {
    INFO(ok);
    CHECK(ValidateConfiguredUrl(ok).ok());
  }
  for (const char* bad :
       {"", "javascript:alert(1)", "//evil.example/", "/relative", "ftp://x.example/", "https://",
        "https:///path", "https://x.example/a b", "https://x.example/\t", "https://x.example/\r\n",
        "https://x.example\\evil", "https://:80/", "https://x.example/\xc3\xa9",
        "data:text/html,hi", "https://{sub1}/", "https://a{sub1}.example/",
        "https://x.example:{sub1}/"}) {
    INFO(bad);
    CHECK_FALSE(ValidateConfiguredUrl(bad).ok());
  }
  CHECK_FALSE(ValidateConfiguredUrl("https://x.example/" + std::string(5000, 'a')).ok());
}

TEST_CASE("text is made valid UTF-8", "[url]") {
  CHECK(ToValidUtf8("plain ascii") == "plain ascii");
  CHECK(ToValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") ==
        "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  CHECK(ToValidUtf8("\xFF") == "\xEF\xBF\xBD");
  CHECK(ToValidUtf8("a\xC3") == "a\xEF\xBF\xBD");                // truncated sequence
  CHECK(ToValidUtf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  CHECK(ToValidUtf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(ToValidUtf8("\xF4\x90\x80\x80").find("\xF4") == std::string::npos);      // > U+10FFFF
  CHECK(ToValidUtf8(std::string("a\0b", 3)) == std::string("a\0b", 3));
  // Into a used string: replaced whole, valid runs around bad bytes kept as they were.
  std::string out = "previous value, longer than the next";
  AssignValidUtf8(
      "ab\xFF"
      "cd\xC3\xA9"
      "e\xC3",
      &out);
  CHECK(out ==
        "ab\xEF\xBF\xBD"
        "cd\xC3\xA9"
        "e\xEF\xBF\xBD");
  AssignValidUtf8("", &out);
  CHECK(out.empty());
}

// The byte-at-a-time form AssignValidUtf8 had before it skipped ASCII eight bytes at a time.
std::string ValidUtf8ByteByByte(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80           ? 1
                       : (c >> 5) == 0x6  ? 2
                       : (c >> 4) == 0xE  ? 3
                       : (c >> 3) == 0x1E ? 4
                                          : 0;
    bool ok = len > 0 && i + len <= s.size();
    uint32_t cp = len > 1 ? c & (0x7F >> len) : c;
    for (size_t k = 1; ok && k < len; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      ok = (d & 0xC0) == 0x80;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

TEST_CASE("text is made valid UTF-8 wherever the bad bytes fall in ASCII runs", "[url]") {
  // Mostly ASCII, so that runs of eight and more take the fast path, with lead and
  // continuation bytes, good and bad, at every offset.
  const std::string_view pieces[] = {
      "a",    "abcdefgh", "\xC3\xA9",     "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
      "\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xC3",         "\x80"};
  std::mt19937 rng(11);
  std::string out;
  for (int n = 0; n < 20000; ++n) {
    std::string s;
    const size_t parts = rng() % 12;
    for (size_t k = 0; k < parts; ++k) s.append(pieces[rng() % 3 == 0 ? rng() % 10 : rng() % 2]);
    AssignValidUtf8(s, &out);
    INFO(s);
    REQUIRE(out == ValidUtf8ByteByByte(s));
  }
}

TEST_CASE("ids", "[url]") {
  CHECK(IsValidId("abc_DEF-123"));
  CHECK(IsValidId(std::string(64, 'a')));
  CHECK_FALSE(IsValidId(std::string(65, 'a')));
  CHECK_FALSE(IsValidId(""));
  CHECK_FALSE(IsValidId("a.b"));
  CHECK_FALSE(IsValidId("a b"));
  CHECK(HasControlChars("a\x7f"));
  CHECK_FALSE(HasControlChars("a b"));
  CHECK(HasControlChars("a b", true));
}

}  // namespace ricochet::engine

namespace ricochet::engine {

TEST_CASE("outgoing URLs split into host, port and target", "[url]") {
  absl::StatusOr<HttpTarget> t = ParseHttpTarget("https://Aff.Example/pb?c=1&s=a%20b#frag");
  REQUIRE(t.ok());
  CHECK(t->tls);
  CHECK(t->host == "aff.example");
  CHECK(t->port == 443);
  CHECK(t->target == "/pb?c=1&s=a%20b");
  t = ParseHttpTarget("http://127.0.0.1:8088?x=1");
  REQUIRE(t.ok());
  CHECK_FALSE(t->tls);
  CHECK(t->host == "127.0.0.1");
  CHECK(t->port == 8088);
  CHECK(t->target == "/?x=1");
  t = ParseHttpTarget("http://[::1]:9/p");
  REQUIRE(t.ok());
  CHECK(t->host == "::1");
  CHECK(t->port == 9);
  CHECK(ParseHttpTarget("http://x.example")->target == "/");
  CHECK(ParseHttpTarget("http://x.example")->port == 80);
  for (const char* bad : {"http://u:p@x.example/", "http://x.example:0/", "http://x.example:65536/",
                          "http://x.example:8a/", "http://[::1/", "http://[::1]x/", "ftp://x/",
                          "http:///p", "http://:80/"}) {
    INFO(bad);
    CHECK_FALSE(ParseHttpTarget(bad).ok());
  }
}

}  // namespace ricochet::engine

namespace ricochet::engine {

TEST_CASE("secrets are redacted from logged targets", "[url]") {
  CHECK(RedactTarget("/postback?cid=abc&token=s3cr3t&amount=5") ==
        "/postback?cid=abc&token=REDACTED&amount=5");
  CHECK(RedactTarget("/x?Postback_Token=a&API_KEY=b&keep=c&password") ==
        "/x?Postback_Token=REDACTED&API_KEY=REDACTED&keep=c&password");
  CHECK(RedactTarget("/x?%74oken=a") == "/x?%74oken=REDACTED");  // encoded names too
  CHECK(RedactTarget("/postback?cid=a&security_token=s&amount=5") ==
        "/postback?cid=a&security_token=REDACTED&amount=5");
  CHECK(RedactTarget("/api/x?access_token=a&Admin_Token=b&apikey=c&client_secret=d&passwd=e&"
                     "auth=f&signature=g&sub1=h") ==
        "/api/x?access_token=REDACTED&Admin_Token=REDACTED&apikey=REDACTED&client_secret=REDACTED&"
        "passwd=REDACTED&auth=REDACTED&signature=REDACTED&sub1=h");
  CHECK(RedactTarget("/c/o?aff=1") == "/c/o?aff=1");
  CHECK(PercentEncodeUnprintable("/a b\x7f~%\xff\x01") == "/a%20b%7F~%%FF%01");
  CHECK(RedactTarget("/c/o") == "/c/o");
  CHECK(RedactTarget("/c/o?") == "/c/o?");
}

}  // namespace ricochet::engine
