// End-to-end tests of the real ricochet binary over HTTP on 127.0.0.1.
#include <linux/capability.h>
#include <sched.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "catch2/catch.hpp"
#include "engine/click_id.h"
#include "harness.h"
#include "thread_policies.h"

namespace ricochet::testing {
namespace json = boost::json;
namespace {

json::value ParseJson(const std::string& s) { return json::parse(s); }

const char kOffer[] =
    R"({"name":"Shoes","url":"https://shop.example/lp?cid={click_id}&tid={transaction_id}&o={offer_id}&a={aff_id}&s1={sub1}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}&src={source}&t={timestamp}&r={random}&v={visitor_id}&x={unknown}","lookback_days":7})";

// Query a parameter out of a URL (no decoding: the test compares encoded forms).
std::string Param(const std::string& url, const std::string& name) {
  size_t q = url.find('?');
  std::string query = url.substr(q + 1);
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string pair = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string::npos ? "" : pair.substr(eq + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return "<absent>";
}

json::object ReportRow(const Server& s, const std::string& query) {
  HttpResult r = s.Api("GET", "/api/report?from=2000-01-01&to=2100-01-01&" + query);
  REQUIRE(r.status == 200);
  json::array rows = ParseJson(r.body).at("rows").as_array();
  REQUIRE(rows.size() == 1);
  return rows[0].as_object();
}

engine::ClickIdCodec TestCodec() {
  std::array<uint8_t, 16> secret;
  for (int i = 0; i < 16; ++i) secret[i] = static_cast<uint8_t>(i);
  return engine::ClickIdCodec(secret);
}

// Avoid a rate-limit test straddling a minute boundary.
void AvoidMinuteEdge() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count() % 60000;
  if (ms > 50000) std::this_thread::sleep_for(std::chrono::milliseconds(60500 - ms));
}

// Whether `cap` is in the effective set of process `pid` (/proc/PID/status, CapEff).
bool HasCapability(pid_t pid, int cap) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("CapEff:")) return (std::stoull(line.substr(7), nullptr, 16) >> cap) & 1;
  }
  return false;
}

}  // namespace

TEST_CASE("click redirects with macros, headers and cookies", "[click]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("shoes", kOffer);
  s.PutAffiliate("a1", R"({"name":"Alice"})");

  HttpResult r = s.Get(
      "/c/"
      "shoes?aff=a1&sub1=x%20y&sub2=%C3%A9&sub3=a%2Fb&sub4=1%2B1&sub5=~._-&source=fb&zzz=ignored");
  REQUIRE(r.status == 302);
  CHECK(r.header("cache-control") == "no-store");
  const std::string loc = r.header("location");
  INFO(loc);
  const std::string cid = Param(loc, "cid");
  REQUIRE(cid.size() == 32);
  CHECK(TestCodec().Verify(cid).has_value());
  CHECK(Param(loc, "tid") == cid);
  CHECK(Param(loc, "o") == "shoes");
  CHECK(Param(loc, "a") == "a1");
  CHECK(Param(loc, "s1") == "x%20y");
  CHECK(Param(loc, "s2") == "%C3%A9");
  CHECK(Param(loc, "s3") == "a%2Fb");
  CHECK(Param(loc, "s4") == "1%2B1");
  CHECK(Param(loc, "s5") == "~._-");
  CHECK(Param(loc, "src") == "fb");
  CHECK(Param(loc, "x") == "{unknown}");
  CHECK_FALSE(Param(loc, "r").empty());
  int64_t t = std::stoll(Param(loc, "t"));
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  CHECK(std::llabs(now - t) <= 5);

  REQUIRE(r.count("set-cookie") == 2);
  std::string cookies;
  for (auto [it, end] = r.headers.equal_range("set-cookie"); it != end; ++it)
    cookies += it->second + "\n";
  CHECK(cookies.find("rc_cid=" + cid + "; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax") !=
        std::string::npos);
  CHECK(cookies.find("rc_vid=" + Param(loc, "v") +
                     "; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax") != std::string::npos);

  SECTION("a returning visitor keeps its rc_vid") {
    HttpResult again = s.Get("/c/shoes?aff=a1", {{"Cookie", "other=1; rc_vid=" + Param(loc, "v")}});
    REQUIRE(again.status == 302);
    CHECK(again.count("set-cookie") == 1);
    CHECK(Param(again.header("location"), "v") == Param(loc, "v"));
  }
  SECTION("every click gets its own id") {
    HttpResult again = s.Get("/c/shoes?aff=a1");
    CHECK(Param(again.header("location"), "cid") != cid);
  }
  SECTION("HEAD answers the same redirect") {
    HttpResult head = s.Head("/c/shoes?aff=a1");
    CHECK(head.status == 302);
    CHECK(head.header("location").rfind("https://shop.example/lp?cid=", 0) == 0);
  }
  SECTION("the click is stored with its fields") {
    HttpResult c = s.Api("GET", "/api/clicks/" + cid);
    REQUIRE(c.status == 200);
    json::object o = ParseJson(c.body).as_object();
    CHECK(o.at("offer").as_string() == "shoes");
    CHECK(o.at("affiliate").as_string() == "a1");
    CHECK(o.at("sub1").as_string() == "x y");
    CHECK(o.at("sub2").as_string() == "\xC3\xA9");
    CHECK(o.at("source").as_string() == "fb");
    CHECK(o.at("class").as_string() == "unique");
    CHECK(o.at("attributable").as_bool() == true);
    CHECK(o.at("client_ip").as_string() == "127.0.0.1");
    CHECK(o.at("partition").as_int64() == 0);
  }
}

TEST_CASE("click parameter aliases", "[click]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer(
      "o",
      R"({"url":"https://x.example/?a={aff_id}&s1={sub1}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}"})");
  s.PutAffiliate("p1", "{}");
  for (const char* alias : {"aff_id", "affid", "a_aid"}) {
    HttpResult r = s.Get(std::string("/c/o?") + alias +
                         "=p1&aff_sub=1&aff_sub2=2&aff_sub3=3&aff_sub4=4&aff_sub5=5");
    REQUIRE(r.status == 302);
    CHECK(r.header("location") == "https://x.example/?a=p1&s1=1&s2=2&s3=3&s4=4&s5=5");
    CHECK(r.count("set-cookie") >= 1);
  }
  // The canonical name wins over an alias, whatever the order.
  HttpResult r = s.Get("/c/o?aff_sub=alias&sub1=canon&aff=p1");
  CHECK(Param(r.header("location"), "s1") == "canon");
}

TEST_CASE("a fragment in the click target is not part of the query", "[click]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o", R"({"url":"https://x.example/?a={aff_id}&s1={sub1}"})");
  s.PutAffiliate("p1", "{}");
  s.PutAffiliate("p2", "{}");
  // Browsers never send one; a client that does must not smuggle parameters through it.
  HttpResult r = s.Get("/c/o?aff=p1&sub1=x#frag?aff=p2&sub1=y");
  REQUIRE(r.status == 302);
  CHECK(r.header("location") == "https://x.example/?a=p1&s1=x");
  r = s.Get("/c/o#frag?aff=p2");
  CHECK(r.status == 404);
  CHECK(r.body == R"({"reason":"unknown_affiliate"})");
}

TEST_CASE("unknown and paused offers and affiliates", "[click]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer(
      "withfb",
      R"({"url":"https://x.example/lp?c={click_id}","fallback_url":"https://x.example/fb?a={aff_id}&s={sub1}&c={click_id}"})");
  s.PutOffer("nofb", R"({"url":"https://x.example/lp"})");
  s.PutOffer(
      "paused",
      R"({"url":"https://x.example/lp","status":"paused","fallback_url":"https://x.example/paused"})");
  s.PutOffer("paused-nofb", R"({"url":"https://x.example/lp","status":"paused"})");
  s.PutAffiliate("ok", "{}");
  s.PutAffiliate("off", R"({"status":"paused"})");

  HttpResult r = s.Get("/c/missing?aff=ok");
  CHECK(r.status == 404);
  CHECK(ParseJson(r.body).at("reason").as_string() == "unknown_offer");
  CHECK(s.Get("/c/bad%20id?aff=ok").status == 404);

  r = s.Get("/c/withfb?aff=nobody&sub1=z");
  REQUIRE(r.status == 302);
  CHECK(r.header("location").rfind("https://x.example/fb?a=nobody&s=z&c=", 0) == 0);
  // A fallback sets no rc_cid (only the visitor cookie).
  CHECK(r.count("set-cookie") == 1);
  CHECK(r.header("set-cookie").rfind("rc_vid=", 0) == 0);
  std::string fallback_cid = Param(r.header("location"), "c");
  HttpResult click = s.Api("GET", "/api/clicks/" + fallback_cid);
  REQUIRE(click.status == 200);
  CHECK(ParseJson(click.body).at("attributable").as_bool() == false);

  r = s.Get("/c/withfb?aff=off");
  CHECK(r.status == 302);
  CHECK(r.header("location").rfind("https://x.example/fb", 0) == 0);
  r = s.Get("/c/withfb");  // no aff at all: an unknown affiliate
  CHECK(r.status == 302);
  CHECK(r.header("location").rfind("https://x.example/fb", 0) == 0);

  r = s.Get("/c/nofb?aff=nobody");
  CHECK(r.status == 404);
  CHECK(ParseJson(r.body).at("reason").as_string() == "unknown_affiliate");
  r = s.Get("/c/nofb?aff=off");
  CHECK(r.status == 404);
  CHECK(ParseJson(r.body).at("reason").as_string() == "affiliate_paused");
  r = s.Get("/c/paused?aff=ok");
  CHECK(r.status == 302);
  CHECK(r.header("location") == "https://x.example/paused");
  r = s.Get("/c/paused-nofb?aff=ok");
  CHECK(r.status == 404);
  CHECK(ParseJson(r.body).at("reason").as_string() == "offer_paused");

  // Wrong methods on the click route.
  HttpResult post = Http(s.public_port(), "POST", "/c/withfb?aff=ok", {}, "x=1");
  CHECK(post.status == 405);
  CHECK(post.header("allow") == "GET, HEAD");
}

TEST_CASE("report counts a known mix of click classes", "[click][report]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("mix", R"({"url":"https://x.example/"})");
  s.PutAffiliate("a1", "{}");
  s.PutAffiliate("a2", "{}");
  AvoidMinuteEdge();
  CHECK(s.Get("/c/mix?aff=a1&sub1=x", {{"User-Agent", "Mozilla/5.0 A"}}).status == 302);  // unique
  CHECK(s.Get("/c/mix?aff=a1&sub1=x", {{"User-Agent", "Mozilla/5.0 A"}}).status ==
        302);  // duplicate
  CHECK(s.Get("/c/mix?aff=a1&sub1=x", {{"User-Agent", "Mozilla/5.0 A"}}).status ==
        302);  // duplicate
  CHECK(s.Get("/c/mix?aff=a1&sub1=y", {{"User-Agent", "Mozilla/5.0 B"}}).status == 302);  // unique
  CHECK(s.Head("/c/mix?aff=a1&sub1=y", {{"User-Agent", "Mozilla/5.0 C"}}).status ==
        302);                                                                          // bot (HEAD)
  CHECK(s.Get("/c/mix?aff=a1&sub1=y", {{"User-Agent", "curl/8.4.0"}}).status == 302);  // bot
  CHECK(s.Get("/c/mix?aff=a1&sub1=y", {{"User-Agent", "FacebookExternalHit/1.1"}}).status ==
        302);  // bot
  CHECK(s.Get("/c/mix?aff=a2&sub1=x", {{"User-Agent", "Mozilla/5.0 A"}}).status ==
        302);  // unique: other aff
  // A missing User-Agent counts as empty: a bot.
  std::string raw = RawExchange(
      s.public_port(), "GET /c/mix?aff=a2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.1 302", 0) == 0);

  json::object all = ReportRow(s, "group_by=offer");
  CHECK(all.at("offer").as_string() == "mix");
  CHECK(all.at("clicks").as_int64() == 9);
  CHECK(all.at("unique_clicks").as_int64() == 3);
  CHECK(all.at("duplicate_clicks").as_int64() == 2);
  CHECK(all.at("bot_clicks").as_int64() == 4);
  CHECK(all.at("rate_limited_clicks").as_int64() == 0);
  CHECK(all.at("conversions").as_int64() == 0);

  json::object a1x = ReportRow(s, "group_by=affiliate,sub1&affiliate=a1&offer=mix&sub1=x");
  CHECK(a1x.at("clicks").as_int64() == 3);
  CHECK(a1x.at("unique_clicks").as_int64() == 1);
  CHECK(a1x.at("duplicate_clicks").as_int64() == 2);
  CHECK(a1x.at("sub1").as_string() == "x");
  CHECK_FALSE(a1x.contains("day"));
  HttpResult grouped =
      s.Api("GET", "/api/report?from=2000-01-01&to=2100-01-01&group_by=day,offer,affiliate,sub1");
  REQUIRE(grouped.status == 200);
  json::array rows = ParseJson(grouped.body).at("rows").as_array();
  REQUIRE(rows.size() == 4);  // (a1,x) (a1,y) (a2,"") (a2,x), sorted
  CHECK(rows[1].at("sub1").as_string() == "y");
  CHECK(rows[1].at("clicks").as_int64() == 4);
  CHECK(rows[1].at("bot_clicks").as_int64() == 3);
  CHECK(rows[2].at("affiliate").as_string() == "a2");
  CHECK(rows[2].at("sub1").as_string() == "");
  CHECK(rows[2].at("bot_clicks").as_int64() == 1);
}

TEST_CASE("rate limit per offer and client IP per minute", "[click]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer(
      "rl", R"({"url":"https://x.example/","max_clicks_per_ip_per_minute":2,"dedupe_window_s":0})");
  s.PutAffiliate("a", "{}");
  AvoidMinuteEdge();
  for (int i = 0; i < 5; ++i) {
    CHECK(s.Get("/c/rl?aff=a", {{"User-Agent", "Mozilla/5.0 n" + std::to_string(i)}}).status ==
          302);
  }
  json::object row = ReportRow(s, "group_by=offer");
  CHECK(row.at("clicks").as_int64() == 5);
  CHECK(row.at("unique_clicks").as_int64() == 2);
  CHECK(row.at("rate_limited_clicks").as_int64() == 3);
  CHECK(row.at("duplicate_clicks").as_int64() == 0);
}

TEST_CASE("invalid UTF-8 in click fields is stored as U+FFFD, so JSON answers stay valid",
          "[click][security]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("u", R"({"url":"https://x.example/?s={sub1}&c={click_id}"})");
  s.PutAffiliate("a", "{}");
  HttpResult r =
      s.Get("/c/u?aff=a&sub1=%FF%FEok%C3%A9&source=%C0%AF", {{"User-Agent", "Mozilla \xff"}});
  REQUIRE(r.status == 302);
  CHECK(Param(r.header("location"), "s") == "%FF%FEok%C3%A9");  // the landing page gets the bytes
  HttpResult report = s.Api("GET", "/api/report?from=2000-01-01&to=2100-01-01&group_by=sub1");
  REQUIRE(report.status == 200);
  json::value v = ParseJson(report.body);  // Boost.JSON rejects invalid UTF-8
  CHECK(v.at("rows").at(0).at("sub1").as_string() == "\xEF\xBF\xBD\xEF\xBF\xBDok\xC3\xA9");
  HttpResult click = s.Api("GET", "/api/clicks/" + Param(r.header("location"), "c"));
  REQUIRE(click.status == 200);
  json::object o = ParseJson(click.body).as_object();
  CHECK(o.at("source").as_string() == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/' is invalid
  CHECK(o.at("user_agent").as_string() == "Mozilla \xEF\xBF\xBD");
}

TEST_CASE("a click never carries fields over from the click before it", "[click]") {
  // The writer hands written clicks back to the I/O thread for reuse; one thread, so every
  // click below reuses the one before. A field the next click does not set must come back
  // empty, not as the previous click's value.
  TempDir dir;
  Server s(dir.path(), {"--threads", "1"});
  s.PutOffer("o",
             R"({"url":"https://x.example/?c={click_id}","fallback_url":"https://x.example/fb"})");
  s.PutAffiliate("a", "{}");
  auto click = [&](const std::string& query, const std::string& headers) {
    std::string raw =
        RawExchange(s.public_port(), "GET /c/o?" + query + " HTTP/1.1\r\nHost: x\r\n" + headers +
                                         "Connection: close\r\n\r\n");
    REQUIRE(raw.rfind("HTTP/1.1 302", 0) == 0);
    size_t at = raw.find("Location: ");
    REQUIRE(at != std::string::npos);
    std::string location = raw.substr(at + 10, raw.find("\r\n", at) - at - 10);
    return location;
  };
  auto stored = [&](const std::string& cid) {
    HttpResult r = s.Api("GET", "/api/clicks/" + cid);
    REQUIRE(r.status == 200);
    return ParseJson(r.body).as_object();
  };
  std::string first = Param(
      click(
          "aff=a&sub1=one&sub2=two&sub3=three&sub4=four&sub5=five&source=src",
          "User-Agent: Agent/1\r\nReferer: https://ref.example/\r\nX-Forwarded-For: 192.0.2.7\r\n"),
      "c");
  json::object o = stored(first);
  CHECK(o.at("sub5").as_string() == "five");
  CHECK(o.at("user_agent").as_string() == "Agent/1");
  CHECK(o.at("referer").as_string() == "https://ref.example/");
  // No subs, no source, no User-Agent, no Referer.
  std::string second = Param(click("aff=a", ""), "c");
  REQUIRE(second != first);
  o = stored(second);
  for (const char* field :
       {"sub1", "sub2", "sub3", "sub4", "sub5", "source", "user_agent", "referer"}) {
    INFO(field);
    CHECK(o.at(field).as_string() == "");
  }
  CHECK(o.at("affiliate").as_string() == "a");
  CHECK(o.at("class").as_string() == "bot");  // no User-Agent at all: a bot, not "Agent/1"
  CHECK(o.at("attributable").as_bool());
  // An affiliate id outside the id syntax is stored as none: the fallback click, no click id
  // in its URL, is found through the report instead.
  CHECK(click("aff=not%20valid&sub1=fb", "User-Agent: Agent/2\r\n") == "https://x.example/fb");
  HttpResult report =
      s.Api("GET", "/api/report?from=2000-01-01&to=2100-01-01&group_by=affiliate&offer=o");
  REQUIRE(report.status == 200);
  json::array rows = ParseJson(report.body).at("rows").as_array();
  REQUIRE(rows.size() == 2);
  int64_t none = -1, a = -1;
  for (const json::value& row : rows) {
    (row.at("affiliate").as_string() == "" ? none : a) = row.at("clicks").as_int64();
  }
  CHECK(a == 2);
  CHECK(none == 1);
}

TEST_CASE("CR and LF in sub ids never reach a header", "[click][security]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer(
      "o",
      R"({"url":"https://x.example/?s={sub1}&c={click_id}","fallback_url":"https://x.example/fb?s={sub1}"})");
  s.PutAffiliate("a", "{}");
  for (const char* aff : {"a", "nobody"}) {
    std::string raw = RawExchange(
        s.public_port(), std::string("GET /c/o?aff=") + aff +
                             "&sub1=%0D%0ASet-Cookie:%20evil=1%0AX-Injected:%201%00 "
                             "HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\nConnection: close\r\n\r\n");
    INFO(raw);
    REQUIRE(raw.rfind("HTTP/1.1 302", 0) == 0);
    CHECK(raw.find("\r\nSet-Cookie: evil") == std::string::npos);
    CHECK(raw.find("\nX-Injected") == std::string::npos);
    CHECK(raw.find("s=%0D%0ASet-Cookie%3A%20evil%3D1%0AX-Injected%3A%201%00") != std::string::npos);
    // Every header line is a Name: value pair; no stray line.
    size_t end = raw.find("\r\n\r\n");
    std::string head = raw.substr(0, end);
    CHECK(head.find('\n') == head.find("\r\n") + 1);
    for (size_t i = 0; i < head.size(); ++i) {
      if (head[i] == '\n') CHECK(head[i - 1] == '\r');
      if (head[i] == '\r') CHECK(head[i + 1] == '\n');
    }
  }
}

TEST_CASE("configuration, clicks and counters persist across restart", "[persistence]") {
  TempDir dir;
  std::string cid;
  {
    Server s(dir.path());
    s.PutOffer(
        "keep",
        R"({"url":"https://x.example/?c={click_id}","currency":"eur","plan":{"events":{"sale":{"cpa":"1.5","cps_percent":"12.5"}}}})");
    s.PutAffiliate("aff", R"({"name":"Kept","parent":"boss"})");
    HttpResult r = s.Get("/c/keep?aff=aff&sub1=s");
    REQUIRE(r.status == 302);
    cid = Param(r.header("location"), "c");
    CHECK(s.Stop() == 0);
  }
  Server s(dir.path());
  HttpResult offer = s.Api("GET", "/api/offers/keep");
  REQUIRE(offer.status == 200);
  json::object o = ParseJson(offer.body).as_object();
  CHECK(o.at("currency").as_string() == "EUR");
  CHECK(o.at("plan").at("events").at("sale").at("cpa").as_string() == "1.50");
  CHECK(o.at("plan").at("events").at("sale").at("cps_percent").as_string() == "12.5");
  HttpResult aff = s.Api("GET", "/api/affiliates/aff");
  REQUIRE(aff.status == 200);
  CHECK(ParseJson(aff.body).at("parent").as_string() == "boss");
  HttpResult click = s.Api("GET", "/api/clicks/" + cid);
  REQUIRE(click.status == 200);
  CHECK(ParseJson(click.body).at("sub1").as_string() == "s");
  CHECK(ReportRow(s, "group_by=offer").at("clicks").as_int64() == 1);
  // A second click from the same visitor is a duplicate: dedupe keys persisted too.
  CHECK(s.Get("/c/keep?aff=aff").status == 302);
  CHECK(ReportRow(s, "group_by=offer").at("duplicate_clicks").as_int64() == 1);
}

TEST_CASE(
    "recorded clicks and their report counts survive SIGKILL once the WAL sync interval "
    "has passed",
    "[persistence]") {
  TempDir dir;
  std::vector<std::string> ids;
  {
    Server s(dir.path(), {"--counter-fold-ms", "60000"});
    s.PutOffer("k", R"({"url":"https://x.example/?c={click_id}"})");
    s.PutAffiliate("a", "{}");
    for (int i = 0; i < 50; ++i) {
      HttpResult r = s.Get("/c/k?aff=a", {{"User-Agent", "Mozilla/5.0 k" + std::to_string(i)}});
      REQUIRE(r.status == 302);
      ids.push_back(Param(r.header("location"), "c"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // > 100 ms sync interval
    // The counts are in the counter journal, not folded into the report's counters: the kill
    // leaves them there.
    CHECK(ReportRow(s, "group_by=offer").at("clicks").as_int64() == 50);
    CHECK(MetricValue(s, "ricochet_counter_journal_rows") == 1);
    s.Kill();
  }
  Server s(dir.path(), {"--counter-fold-ms", "0"});
  for (const std::string& id : ids) CHECK(s.Api("GET", "/api/clicks/" + id).status == 200);
  CHECK(MetricValue(s, "ricochet_counter_journal_rows") == 1);  // read back, still unfolded
  CHECK(ReportRow(s, "group_by=offer").at("clicks").as_int64() == 50);
  // The next click's batch folds them: counted once.
  REQUIRE(s.Get("/c/k?aff=a", {{"User-Agent", "Mozilla/5.0 k-after"}}).status == 302);
  CHECK(ReportRow(s, "group_by=offer").at("clicks").as_int64() == 51);
  CHECK(MetricValue(s, "ricochet_counter_journal_rows") == 0);
}

TEST_CASE("admin API requires the bearer token on every route", "[admin][security]") {
  TempDir dir;
  Server s(dir.path());
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/api/offers"},       {"GET", "/api/offers/x"},
      {"PUT", "/api/offers/x"},     {"GET", "/api/affiliates"},
      {"GET", "/api/affiliates/x"}, {"PUT", "/api/affiliates/x"},
      {"GET", "/api/clicks/x"},     {"GET", "/api/report"},
      {"GET", "/api/nope"},         {"POST", "/api/conversions/x/status"},
      {"DELETE", "/api/offers/x"}};
  for (const auto& [method, target] : routes) {
    INFO(method << " " << target);
    const bool has_body = method == "PUT" || method == "POST";
    const std::string body = has_body ? R"({"url":"https://x.example/"})" : "";
    HttpResult none = Http(s.admin_port(), method, target, {}, body);
    CHECK(none.status == 401);
    CHECK(ParseJson(none.body).at("reason").as_string() == "unauthorized");
    HttpResult wrong = Http(s.admin_port(), method, target,
                            {{"Authorization", "Bearer wrong-token-0123456789xx"}}, body);
    CHECK(wrong.status == 401);
    HttpResult basic = Http(s.admin_port(), method, target,
                            {{"Authorization", std::string("Basic ") + kToken}}, body);
    CHECK(basic.status == 401);
  }
  // Nothing was created by the refused PUTs.
  CHECK(ParseJson(s.Api("GET", "/api/offers").body).at("offers").as_array().empty());
  // The admin API does not exist on the public listener.
  HttpResult pub = Http(s.public_port(), "GET", "/api/offers",
                        {{"Authorization", std::string("Bearer ") + kToken}});
  CHECK(pub.status == 404);
}

TEST_CASE("bad admin input answers 400 with a reason and changes nothing", "[admin]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o", R"({"url":"https://x.example/ok"})");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "bad_json"},
      {"[1,2]", "bad_json"},
      {R"({"name":"no url"})", "bad_url"},
      {R"j({"url":"javascript:alert(1)"})j", "bad_url"},
      {R"({"url":"/relative"})", "bad_url"},
      {R"({"url":"https://x.example/a b"})", "bad_url"},
      {R"({"url":"https://x.example/\r\nX: y"})", "bad_url"},
      {R"({"url":"ftp://x.example/"})", "bad_url"},
      {R"({"url":"https://"})", "bad_url"},
      {R"({"url":"https://x.example/","fallback_url":"nope"})", "bad_url"},
      {R"({"url":"https://x.example/","status":"archived"})", "bad_status"},
      {R"({"url":"https://x.example/","default_status":"maybe"})", "bad_status"},
      {R"({"url":"https://x.example/","lookback_days":-1})", "bad_number"},
      {R"({"url":"https://x.example/","lookback_days":"30"})", "bad_number"},
      {R"({"url":"https://x.example/","lookback_days":1.5})", "bad_number"},
      {R"({"url":"https://x.example/","dedupe_window_s":99999999999})", "bad_number"},
      {R"({"url":"https://x.example/","max_clicks_per_ip_per_minute":-5})", "bad_number"},
      {R"({"url":"https://x.example/","currency":"XYZ"})", "bad_currency"},
      {R"({"url":"https://x.example/","currency":"US"})", "bad_currency"},
      {R"({"url":"https://x.example/","plan":{"events":{"sale":{"cpa":2.5}}}})", "bad_number"},
      {R"({"url":"https://x.example/","plan":{"events":{"sale":{"cpa":"-1"}}}})", "bad_number"},
      {R"({"url":"https://x.example/","plan":{"events":{"sale":{"cps_percent":"12.34567"}}}})",
       "bad_number"},
      {R"({"url":"https://x.example/","plan":{"events":{"sale":{"cps_percent":"101"}}}})",
       "bad_field"},
      {R"({"url":"https://x.example/","plan":{"events":{"sale":{}}}})", "bad_field"},
      {R"({"url":"https://x.example/","plan":{"tiers":[{"cpa":"1"},{"cpa":"1"},{"cpa":"1"},{"cpa":"1"},{"cpa":"1"}]}})",
       "bad_field"},
      {R"({"url":"https://x.example/","plan":{"volume_steps":[{"min_conversions":5,"cpa":"1"},{"min_conversions":5,"cpa":"2"}]}})",
       "bad_field"},
      {R"({"url":"https://x.example/","id":"other"})", "bad_id"},
      // Macros in the host would let the visitor pick the destination (open redirect).
      {R"({"url":"https://{sub1}/land"})", "bad_url"},
      {R"({"url":"https://shop{sub1}/"})", "bad_url"},
      {R"({"url":"https://x.example:{sub2}/"})", "bad_url"},
      {R"({"url":"https://{aff_id}@x.example/"})", "bad_url"},
      {R"({"url":"https://x.example/","fallback_url":"https://{source}/"})", "bad_url"},
      // Windows longer than --retention-days (90) could not be honoured.
      {R"({"url":"https://x.example/","lookback_days":91})", "bad_number"},
      {R"({"url":"https://x.example/","dedupe_window_s":7776001})", "bad_number"},
  };
  for (const auto& [body, reason] : cases) {
    INFO(body);
    HttpResult r = s.Api("PUT", "/api/offers/o", body);
    CHECK(r.status == 400);
    CHECK(ParseJson(r.body).at("reason").as_string() == reason);
    CHECK_FALSE(ParseJson(r.body).at("message").as_string().empty());
  }
  HttpResult badid = s.Api("PUT", "/api/offers/bad.id", R"({"url":"https://x.example/"})");
  CHECK(badid.status == 400);
  CHECK(ParseJson(badid.body).at("reason").as_string() == "bad_id");
  // The stored offer is untouched.
  HttpResult got = s.Api("GET", "/api/offers/o");
  CHECK(ParseJson(got.body).at("url").as_string() == "https://x.example/ok");
  CHECK(ParseJson(s.Api("GET", "/api/offers").body).at("offers").as_array().size() == 1);
  CHECK(s.Api("GET", "/api/offers/missing").status == 404);
  CHECK(s.Api("GET", "/api/affiliates/missing").status == 404);

  // Affiliates.
  CHECK(s.Api("PUT", "/api/affiliates/x", R"({"status":"gone"})").status == 400);
  CHECK(s.Api("PUT", "/api/affiliates/x", R"({"postback_url":"not a url"})").status == 400);
  CHECK(ParseJson(s.Api("PUT", "/api/affiliates/x", R"({"parent":"x"})").body)
            .at("reason")
            .as_string() == "bad_parent");
  s.PutAffiliate("p", R"({"parent":"q"})");
  HttpResult cycle = s.Api("PUT", "/api/affiliates/q", R"({"parent":"p"})");
  CHECK(cycle.status == 400);
  CHECK(ParseJson(cycle.body).at("reason").as_string() == "bad_parent");
  CHECK(s.Api("GET", "/api/affiliates/q").status == 404);

  // Report and click input.
  CHECK(ParseJson(s.Api("GET", "/api/report?from=2024-13-01").body).at("reason").as_string() ==
        "bad_date");
  CHECK(ParseJson(s.Api("GET", "/api/report?from=2024-02-02&to=2024-02-01").body)
            .at("reason")
            .as_string() == "bad_date");
  CHECK(ParseJson(s.Api("GET", "/api/report?group_by=week").body).at("reason").as_string() ==
        "bad_group_by");
  CHECK(s.Api("DELETE", "/api/offers/o").status == 405);
}

TEST_CASE("click lookups reject forged ids without a database hit", "[admin]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}"})");
  s.PutAffiliate("a", "{}");
  std::string cid = Param(s.Get("/c/o?aff=a").header("location"), "c");
  REQUIRE(s.Api("GET", "/api/clicks/" + cid).status == 200);
  std::string forged = cid;
  forged[10] = forged[10] == 'A' ? 'B' : 'A';
  HttpResult bad = s.Api("GET", "/api/clicks/" + forged);
  CHECK(bad.status == 400);
  CHECK(ParseJson(bad.body).at("reason").as_string() == "bad_click_id");
  CHECK(s.Api("GET", "/api/clicks/short").status == 400);
  // Correctly MACed but never issued: 404.
  std::string unknown = TestCodec().Issue(1'700'000'000'000, 7, 12345);
  HttpResult nf = s.Api("GET", "/api/clicks/" + unknown);
  CHECK(nf.status == 404);
  CHECK(ParseJson(nf.body).at("reason").as_string() == "unknown_click");
}

TEST_CASE("X-Forwarded-For is believed only from trusted proxies", "[click][security]") {
  TempDir dir;
  SECTION("untrusted peer: header ignored") {
    Server s(dir.path());
    s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}"})");
    s.PutAffiliate("a", "{}");
    std::string cid =
        Param(s.Get("/c/o?aff=a", {{"X-Forwarded-For", "203.0.113.9"}}).header("location"), "c");
    CHECK(ParseJson(s.Api("GET", "/api/clicks/" + cid).body).at("client_ip").as_string() ==
          "127.0.0.1");
  }
  SECTION("trusted peer: rightmost untrusted address") {
    Server s(dir.path(), {"--trusted-proxy", "127.0.0.0/8,10.0.0.0/8"});
    s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}"})");
    s.PutAffiliate("a", "{}");
    std::string cid =
        Param(s.Get("/c/o?aff=a", {{"X-Forwarded-For", "198.51.100.7, 203.0.113.9, 10.1.2.3"}})
                  .header("location"),
              "c");
    CHECK(ParseJson(s.Api("GET", "/api/clicks/" + cid).body).at("client_ip").as_string() ==
          "203.0.113.9");
  }
}

TEST_CASE("health, readiness and metrics", "[ops]") {
  TempDir dir;
  Server s(dir.path());
  for (int port : {s.public_port(), s.admin_port()}) {
    CHECK(Http(port, "GET", "/healthz").status == 200);
    HttpResult ready = Http(port, "GET", "/readyz");
    CHECK(ready.status == 200);
    CHECK(ParseJson(ready.body).at("status").as_string() == "ready");
  }
  s.PutOffer("m", R"({"url":"https://x.example/"})");
  s.PutAffiliate("a", "{}");
  CHECK(s.Get("/c/m?aff=a").status == 302);
  CHECK(s.Get("/c/m?aff=a").status == 302);
  CHECK(s.Get("/c/nope").status == 404);
  REQUIRE(s.Api("GET", "/api/report").status == 200);      // flushes the click writer
  HttpResult m = Http(s.admin_port(), "GET", "/metrics");  // no token needed
  REQUIRE(m.status == 200);
  CHECK(m.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(m.body.find(
            "ricochet_http_requests_total{listener=\"public\",route=\"click\",code=\"302\"} 2\n") !=
        std::string::npos);
  CHECK(m.body.find(
            "ricochet_http_requests_total{listener=\"public\",route=\"click\",code=\"404\"} 1\n") !=
        std::string::npos);
  CHECK(m.body.find("ricochet_clicks_total{class=\"unique\"} 1\n") != std::string::npos);
  CHECK(m.body.find("ricochet_clicks_total{class=\"duplicate\"} 1\n") != std::string::npos);
  // Latency histograms by route and code.
  CHECK(m.body.find(
            "ricochet_http_request_duration_seconds_count{route=\"click\",code=\"302\"} 2\n") !=
        std::string::npos);
  CHECK(m.body.find(
            "ricochet_http_request_duration_seconds_count{route=\"click\",code=\"404\"} 1\n") !=
        std::string::npos);
  CHECK(m.body.find("ricochet_http_request_duration_seconds_bucket{route=\"click\",code=\"302\","
                    "le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(Http(s.public_port(), "GET", "/metrics").status == 404);  // not on the public listener
  CHECK(Http(s.public_port(), "GET", "/nowhere").status == 404);
}

TEST_CASE("recording runs at idle priority unless --record-priority normal", "[ops][priority]") {
  RETURN_UNLESS_CAN_LEAVE_IDLE();
  for (const char* mode : {"adaptive", "normal"}) {
    INFO(mode);
    TempDir dir;
    Server s(dir.path(), {"--record-priority", mode});
    const int want = std::string(mode) == "adaptive" ? SCHED_IDLE : SCHED_OTHER;
    s.PutOffer("m", R"({"url":"https://x.example/"})");
    s.PutAffiliate("a", "{}");
    REQUIRE(s.Get("/c/m?aff=a").status == 302);
    REQUIRE(s.Api("GET", "/api/report").status == 200);  // flushes the writer (a boost)
    CHECK(MetricValue(s, "ricochet_click_batches_total") == 1);
    // Back to idle priority once the writer has caught up (ClickPipeline::kMinBoost). The
    // metric turns 1 before the threads are lowered (ClickPipeline::Relax), so wait for both.
    for (int i = 0;
         i < 500 && (MetricValue(s, "ricochet_recording_idle") != (want == SCHED_IDLE) ||
                     testing::PoliciesOf(s.pid(), "click-writer") != std::vector<int>{want});
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(MetricValue(s, "ricochet_recording_idle") == (want == SCHED_IDLE ? 1 : 0));
    CHECK(testing::PoliciesOf(s.pid(), "click-writer") == std::vector<int>{want});
    std::vector<int> rocks = testing::PoliciesOf(s.pid(), "rocksdb:");
    CHECK(rocks.size() >= 2);
    for (int p : rocks) CHECK(p == want);
    // The threads that answer are never lowered.
    std::vector<int> io = testing::PoliciesOf(s.pid(), "http-");
    CHECK_FALSE(io.empty());
    for (int p : io) CHECK(p == SCHED_OTHER);
  }
}

TEST_CASE("without CAP_SYS_NICE or RLIMIT_NICE, adaptive priority warns and records at normal",
          "[ops][priority]") {
  // Linux lets a thread enter SCHED_IDLE but not leave it without the privilege, so the server
  // must not lower anything it could not raise again.
  TempDir dir;
  Server s(dir.path(), {"--record-priority", "adaptive"}, SpawnOptions{.without_sys_nice = true});
  if (HasCapability(s.pid(), CAP_SYS_NICE)) {
    WARN("skipped: the server kept CAP_SYS_NICE (this process could not drop it)");
    return;
  }
  CHECK(s.Log().find("--record-priority adaptive needs CAP_SYS_NICE or RLIMIT_NICE 20") !=
        std::string::npos);
  s.PutOffer("m", R"({"url":"https://x.example/"})");
  s.PutAffiliate("a", "{}");
  for (int i = 0; i < 3; ++i) {
    REQUIRE(s.Get("/c/m?aff=a&sub1=s" + std::to_string(i)).status == 302);
  }
  CHECK(ReportRow(s, "group_by=offer").at("clicks").as_int64() == 3);
  CHECK(MetricValue(s, "ricochet_recording_idle") == 0);
  CHECK(MetricValue(s, "ricochet_recording_boosts_total") == 0);
  CHECK(testing::PoliciesOf(s.pid(), "click-writer") == std::vector<int>{SCHED_OTHER});
  std::vector<int> rocks = testing::PoliciesOf(s.pid(), "rocksdb:");
  CHECK(rocks.size() >= 2);
  for (int p : rocks) CHECK(p == SCHED_OTHER);
}

TEST_CASE("index horizons follow the longest offer windows, across a restart", "[ops]") {
  TempDir dir;
  const std::string dedupe = "ricochet_index_horizon_seconds{index=\"click_dedupe\"}";
  const std::string visitors = "ricochet_index_horizon_seconds{index=\"visitors\"}";
  constexpr int64_t kMargin = 3600;
  {
    Server s(dir.path());
    CHECK(MetricValue(s, dedupe) == kMargin);  // no offers yet: nothing takes a slot
    CHECK(MetricValue(s, visitors) == kMargin);
    s.PutOffer("long", R"({"url":"https://x.example/","dedupe_window_s":7200,"lookback_days":10})");
    CHECK(MetricValue(s, dedupe) == 7200 + kMargin);
    CHECK(MetricValue(s, visitors) == 10 * 86400 + kMargin);
    s.PutOffer("short", R"({"url":"https://x.example/","dedupe_window_s":60,"lookback_days":1})");
    CHECK(MetricValue(s, dedupe) == 7200 + kMargin);  // the longest window counts
    CHECK(MetricValue(s, visitors) == 10 * 86400 + kMargin);
    s.PutOffer("long", R"({"url":"https://x.example/","dedupe_window_s":0,"lookback_days":2})");
    CHECK(MetricValue(s, dedupe) == 60 + kMargin);  // shortened: the next longest
    CHECK(MetricValue(s, visitors) == 2 * 86400 + kMargin);
    REQUIRE(s.Stop() == 0);
  }
  Server s(dir.path());  // set again from the stored offers at start
  CHECK(MetricValue(s, dedupe) == 60 + kMargin);
  CHECK(MetricValue(s, visitors) == 2 * 86400 + kMargin);
}

TEST_CASE("start-up fails clearly on bad flags and busy ports", "[ops]") {
  std::string err;
  CHECK(RunBinary({"--bogus", "1"}, &err) == 2);
  CHECK(err.find("unknown flag --bogus") != std::string::npos);
  CHECK(RunBinary({"--threads", "0", "--admin-token", "t"}, &err) == 2);
  CHECK(err.find("--threads") != std::string::npos);
  CHECK(RunBinary({"--listen", "nohost", "--admin-token", "t"}, &err) == 2);
  CHECK(RunBinary({"--data", "/tmp/x"}, &err) == 2);
  CHECK(err.find("admin token is required") != std::string::npos);
  CHECK(RunBinary({"--help"}, &err) == 0);

  TempDir dir, dir2;
  Server s(dir.path());
  CHECK(RunBinary({"--data", dir2.path(), "--admin-token", "t", "--listen",
                   "127.0.0.1:" + std::to_string(s.public_port()), "--admin-listen", "127.0.0.1:0"},
                  &err) == 1);
  CHECK(err.find("--listen") != std::string::npos);
  // A second server on the same data directory is refused (RocksDB lock), the first unharmed.
  CHECK(RunBinary({"--data", dir.path(), "--admin-token", "t", "--listen", "127.0.0.1:0",
                   "--admin-listen", "127.0.0.1:0"},
                  &err) == 1);
  CHECK(Http(s.admin_port(), "GET", "/healthz").status == 200);
}

TEST_CASE("graceful shutdown answers in-flight keep-alive clients and exits 0", "[ops]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o", R"({"url":"https://x.example/"})");
  s.PutAffiliate("a", "{}");
  CHECK(s.Get("/c/o?aff=a").status == 302);
  CHECK(s.Stop() == 0);
}

}  // namespace ricochet::testing
