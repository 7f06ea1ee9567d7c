// Conversions end to end over HTTP: results, errors, reasons, idempotency under concurrency, the
// daily cap race, status changes and balances, restarts, and SIGKILL while postbacks fly.
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "catch2/catch.hpp"
#include "engine/click_id.h"
#include "harness.h"

namespace ricochet::testing {
namespace json = boost::json;
namespace {

json::value J(const std::string& s) { return json::parse(s); }

json::object Balances(const Server& s, const std::string& aff) {
  HttpResult r = s.Api("GET", "/api/balances/" + aff);
  REQUIRE(r.status == 200);
  return J(r.body).as_object();
}

std::string Bal(const json::object& b, const char* cur, const char* field) {
  return std::string(b.at(cur).at(field).as_string());
}

json::object Report(const Server& s) {
  HttpResult r = s.Api("GET", "/api/report?from=2000-01-01&to=2100-01-01&group_by=offer");
  REQUIRE(r.status == 200);
  json::array rows = J(r.body).at("rows").as_array();
  REQUIRE(rows.size() == 1);
  return rows[0].as_object();
}

void CheckVerified(const Server& s) {
  HttpResult v = s.Api("GET", "/api/verify");
  INFO(v.body);
  CHECK(v.status == 200);
  CHECK(J(v.body).at("ok").as_bool());
}

const char kShop[] =
    R"({"url":"https://shop.example/?c={click_id}","postback_token":"sek",)"
    R"("plan":{"events":{"sale":{"cpa":"1.00","cps_percent":"12.5"},"lead":{"cpa":"0.50"}},)"
    R"("tiers":[{"cps_percent":"2"}]}})";

}  // namespace

TEST_CASE("postback results: created, duplicate, updated, conflict, bad_transition",
          "[conversion]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("shop", kShop);
  s.PutAffiliate("boss", "{}");
  s.PutAffiliate("a1", R"({"parent":"boss"})");
  std::string cid = Click(s, "shop", "a1");

  HttpResult r = Postback(
      s, "transaction_id=" + cid + "&sale_amount=0.20&security_token=sek&txid=A1&status=pending");
  REQUIRE(r.status == 200);
  json::object created = J(r.body).as_object();
  CHECK(created.at("result").as_string() == "created");
  CHECK(created.at("status").as_string() == "pending");
  std::string id(created.at("conversion_id").as_string());

  r = Postback(s, "cid=" + cid + "&amount=0.200&token=sek&order_id=A1");  // 0.20 == 0.200
  CHECK(r.status == 200);
  CHECK(J(r.body).at("result").as_string() == "duplicate");
  CHECK(J(r.body).at("conversion_id").as_string() == id);

  r = Postback(s, "cid=" + cid + "&amount=0.30&token=sek&txid=A1");
  CHECK(r.status == 409);
  CHECK(J(r.body).at("reason").as_string() == "conflict");
  CHECK(J(r.body).at("conversion_id").as_string() == id);

  // 12.5% of 0.20 = 0.025 -> 0.02 (half to even), + 1.00 cpa; the parent's 2% -> 0.00.
  CHECK(Bal(Balances(s, "a1"), "USD", "pending") == "1.02");
  r = Postback(s, "cid=" + cid + "&amount=0.20&token=sek&txid=A1&status=approved");
  CHECK(r.status == 200);
  CHECK(J(r.body).at("result").as_string() == "updated");
  CHECK(J(r.body).at("status").as_string() == "approved");
  json::object b = Balances(s, "a1");
  CHECK(Bal(b, "USD", "pending") == "0.00");
  CHECK(Bal(b, "USD", "approved") == "1.02");
  CHECK(Bal(b, "USD", "paid") == "0.00");

  r = Postback(s, "cid=" + cid + "&token=sek&txid=A1&status=pending");  // approved -> pending
  CHECK(r.status == 409);
  CHECK(J(r.body).at("reason").as_string() == "bad_transition");
  r = Postback(s, "cid=" + cid + "&token=sek&txid=NEW&status=reversed");  // reversed, unknown key
  CHECK(r.status == 409);
  CHECK(J(r.body).at("reason").as_string() == "bad_transition");

  r = Postback(s, "cid=" + cid + "&token=sek&txid=A1&status=reversed");
  CHECK(J(r.body).at("result").as_string() == "updated");
  CHECK(Bal(Balances(s, "a1"), "USD", "approved") == "0.00");

  // Without order_id the key is (click, event); plain OK answers on request.
  r = Postback(s, "clickid=" + cid + "&goal=lead&token=sek&return=OK");
  CHECK(r.status == 200);
  CHECK(r.body == "OK");
  r = Postback(s, "subid=" + cid + "&event=lead&token=sek");
  CHECK(J(r.body).at("result").as_string() == "duplicate");

  HttpResult conv = s.Api("GET", "/api/conversions/" + id);
  REQUIRE(conv.status == 200);
  json::object c = J(conv.body).as_object();
  CHECK(c.at("status").as_string() == "reversed");
  CHECK(c.at("amount").as_string() == "0.20");
  CHECK(c.at("commissions").as_array().size() == 2);
  CHECK(c.at("commissions").at(0).at("amount").as_string() == "1.02");
  CHECK(c.at("commissions").at(1).at("affiliate").as_string() == "boss");
  CHECK(s.Api("GET", "/api/conversions/cv_nope").status == 404);

  json::object row = Report(s);
  CHECK(row.at("conversions").as_int64() == 2);
  CHECK(row.at("approved").as_int64() == 1);  // the lead
  CHECK(row.at("reversed").as_int64() == 1);
  CHECK(row.at("revenue").at("USD").as_string() == "0.00");
  CHECK(row.at("payout").at("USD").as_string() == "0.50");
  CheckVerified(s);

  // Ledger: hash-chained, each entry naming the one before.
  json::array entries = J(s.Api("GET", "/api/ledger?affiliate=a1").body).at("entries").as_array();
  REQUIRE(entries.size() == 4);  // commission, adjustment, reversal, lead commission
  CHECK(entries[0].at("kind").as_string() == "commission");
  CHECK(entries[1].at("kind").as_string() == "adjustment");
  CHECK(entries[2].at("kind").as_string() == "reversal");
  CHECK(entries[2].at("amount").as_string() == "-1.02");
  json::array all = J(s.Api("GET", "/api/ledger").body).at("entries").as_array();
  for (size_t i = 1; i < all.size(); ++i) CHECK(all[i].at("prev_hash") == all[i - 1].at("hash"));
  // Day filters: the days of the first and last entry hold all four (a test that runs across
  // midnight UTC spans two days); days before hold none; bad ranges are 400s.
  const std::string first_day = entries[0].at("time").as_string().subview(0, 10);
  const std::string last_day = entries[3].at("time").as_string().subview(0, 10);
  CHECK(J(s.Api("GET", "/api/ledger?affiliate=a1&from=" + first_day + "&to=" + last_day).body)
            .at("entries")
            .as_array()
            .size() == 4);
  CHECK(J(s.Api("GET", "/api/ledger?to=2000-01-01").body).at("entries").as_array().empty());
  HttpResult bad = s.Api("GET", "/api/ledger?from=2026-02-02&to=2026-02-01");
  CHECK(bad.status == 400);
  CHECK(bad.body == R"({"reason":"bad_date","message":"from must not be after to"})");
  bad = s.Api("GET", "/api/ledger?from=2026-13-01");
  CHECK(bad.status == 400);
  CHECK(bad.body == R"({"reason":"bad_date","message":"from and to must be dates as YYYY-MM-DD"})");
}

TEST_CASE("postback errors in the contract's order, and nothing written", "[conversion]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("shop", kShop);
  s.PutAffiliate("a1", "{}");
  std::string cid = Click(s, "shop", "a1");
  std::string forged = cid;
  forged[5] = forged[5] == 'A' ? 'B' : 'A';
  struct Case {
    std::string query;
    int status;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"amount=1&token=sek", 400, "bad_click_id"},
      {"cid=" + forged + "&token=bad&event=nope&amount=x", 400, "bad_click_id"},
      {"cid=short", 400, "bad_click_id"},
      {"cid=AQGiBwkcMQAAZvggCihxfqmn4JBuqUEu&token=bad", 400, "bad_click_id"},  // another secret
      {"cid=" + cid + "&token=bad&event=nope&amount=x", 403, "bad_token"},
      {"cid=" + cid + "&event=sale", 403, "bad_token"},
      {"cid=" + cid + "&token=sek&event=nope&amount=x", 422, "unknown_event"},
      {"cid=" + cid + "&token=sek&amount=x&currency=XXX", 400, "bad_amount"},
      {"cid=" + cid + "&token=sek", 400, "bad_amount"},  // sale pays a percent: amount required
      {"cid=" + cid + "&token=sek&amount=%2B5", 400, "bad_amount"},
      {"cid=" + cid + "&token=sek&amount=.5", 400, "bad_amount"},
      {"cid=" + cid + "&token=sek&amount=5.", 400, "bad_amount"},
      {"cid=" + cid + "&token=sek&amount=1e5", 400, "bad_amount"},
      {"cid=" + cid + "&token=sek&amount=-1", 400, "bad_amount"},
      {"cid=" + cid + "&token=sek&amount=1.1234567", 400, "bad_amount"},
      {"cid=" + cid + "&token=sek&amount=1000000000000", 400, "bad_amount"},
      {"cid=" + cid + "&token=sek&amount=5&currency=EUR", 400, "bad_currency"},
      {"cid=" + cid + "&token=sek&amount=5&currency=usdx", 400, "bad_currency"},
      {"cid=" + cid + "&token=sek&amount=5&status=paid", 400, "bad_status"},
  };
  for (const Case& c : cases) {
    INFO(c.query);
    HttpResult r = Postback(s, c.query);
    CHECK(r.status == c.status);
    CHECK(J(r.body).at("reason").as_string() == c.reason);
  }
  // Correctly MACed (the harness's fixed secret) but never issued: 404, before the token.
  std::array<uint8_t, 16> secret;
  for (int i = 0; i < 16; ++i) secret[i] = static_cast<uint8_t>(i);
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string unknown = engine::ClickIdCodec(secret).Issue(now_ms - 3'600'000, 0, 424242);
  HttpResult nf = Postback(s, "cid=" + unknown + "&token=bad");
  CHECK(nf.status == 404);
  CHECK(J(nf.body).at("reason").as_string() == "unknown_click");
  CHECK(J(s.Api("GET", "/api/ledger").body).at("entries").as_array().empty());
  CHECK(Report(s).at("conversions").as_int64() == 0);
  // Currency is case-insensitive when it matches.
  CHECK(Postback(s, "cid=" + cid + "&token=sek&amount=5&currency=usd").status == 200);
}

TEST_CASE("postback bodies: form and JSON with exact amounts", "[conversion]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("shop", kShop);
  s.PutAffiliate("a1", "{}");
  std::string cid = Click(s, "shop", "a1");
  HttpResult form = Http(s.public_port(), "POST", "/postback",
                         {{"Content-Type", "application/x-www-form-urlencoded"}},
                         "click_id=" + cid + "&amount=19.99&token=sek&order_id=F1");
  CHECK(form.status == 200);
  CHECK(J(form.body).at("result").as_string() == "created");
  HttpResult js =
      Http(s.public_port(), "POST", "/postback", {{"Content-Type", "application/json"}},
           R"({"click_id":")" + cid + R"(","amount":19.99,"token":"sek","order_id":"J1"})");
  CHECK(js.status == 200);
  // 1.00 + 12.5% of 19.99 = 3.49875 -> 3.50, twice.
  CHECK(Bal(Balances(s, "a1"), "USD", "approved") == "7.00");
  HttpResult bad =
      Http(s.public_port(), "POST", "/postback", {{"Content-Type", "application/json"}}, "[1]");
  CHECK(bad.status == 400);
  CHECK(Http(s.public_port(), "PUT", "/postback", {}, "x").status == 405);
}

TEST_CASE("reasons: invalid_affiliate, fast_ctit, bot_click, cap_exceeded", "[conversion]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer(
      "o",
      R"({"url":"https://x.example/?c={click_id}","fallback_url":"https://x.example/fb?c={click_id}",
                      "min_ctit_s":3600,"plan":{"events":{"sale":{"cpa":"2"}}}})");
  s.PutOffer("capped", R"({"url":"https://x.example/?c={click_id}","daily_conversion_cap":2,
                           "plan":{"events":{"sale":{"cpa":"2"}}}})");
  s.PutAffiliate("a1", "{}");

  std::string fast = Click(s, "o", "a1");
  HttpResult r = Postback(s, "cid=" + fast);
  CHECK(J(r.body).at("result").as_string() == "created");
  CHECK(J(r.body).at("status").as_string() == "pending");
  CHECK(J(r.body).at("reason").as_string() == "fast_ctit");

  std::string fallback = Click(s, "o", "nobody");
  r = Postback(s, "cid=" + fallback);
  CHECK(r.status == 200);
  CHECK(J(r.body).at("result").as_string() == "rejected");
  CHECK(J(r.body).at("reason").as_string() == "invalid_affiliate");

  std::string bot = Click(s, "capped", "a1", "curl/8.0");
  r = Postback(s, "cid=" + bot);
  CHECK(J(r.body).at("status").as_string() == "pending");
  CHECK(J(r.body).at("reason").as_string() == "bot_click");

  std::string human = Click(s, "capped", "a1");
  CHECK(J(Postback(s, "cid=" + human + "&order_id=2").body).at("result").as_string() == "created");
  r = Postback(s, "cid=" + human + "&order_id=3");
  CHECK(J(r.body).at("result").as_string() == "rejected");
  CHECK(J(r.body).at("reason").as_string() == "cap_exceeded");
  CHECK(Bal(Balances(s, "a1"), "USD", "approved") == "2.00");
  CHECK(Bal(Balances(s, "a1"), "USD", "pending") == "4.00");
  CheckVerified(s);
}

TEST_CASE("status changes through the admin API move balances", "[conversion]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer(
      "o", R"({"url":"https://x.example/?c={click_id}","default_status":"pending","currency":"JPY",
                      "plan":{"events":{"sale":{"cps_percent":"12.5"}}}})");
  s.PutAffiliate("a1", "{}");
  std::string cid = Click(s, "o", "a1");
  std::string a = std::string(
      J(Postback(s, "cid=" + cid + "&amount=20&order_id=1").body).at("conversion_id").as_string());
  std::string b = std::string(
      J(Postback(s, "cid=" + cid + "&amount=60&order_id=2").body).at("conversion_id").as_string());
  json::object bal = Balances(s, "a1");
  CHECK(Bal(bal, "JPY", "pending") == "10");  // 2.5 -> 2 and 7.5 -> 8: half to even in yen
  HttpResult r = s.Api("POST", "/api/conversions/" + a + "/status",
                       R"({"status":"approved","reason":"checked"})");
  REQUIRE(r.status == 200);
  CHECK(J(r.body).at("status").as_string() == "approved");
  r = s.Api("POST", "/api/conversions/" + b + "/status", R"({"status":"rejected"})");
  REQUIRE(r.status == 200);
  bal = Balances(s, "a1");
  CHECK(Bal(bal, "JPY", "pending") == "0");
  CHECK(Bal(bal, "JPY", "approved") == "2");
  r = s.Api("POST", "/api/conversions/" + b + "/status", R"({"status":"approved"})");
  CHECK(r.status == 409);
  CHECK(J(r.body).at("reason").as_string() == "bad_transition");
  CHECK(s.Api("POST", "/api/conversions/cv_none/status", R"({"status":"approved"})").status == 404);
  CHECK(s.Api("POST", "/api/conversions/" + a + "/status", R"({"status":"bogus"})").status == 400);
  CHECK(s.Api("POST", "/api/conversions/" + a + "/status", "nope").status == 400);
  r = s.Api("POST", "/api/conversions/" + a + "/status", R"({"status":"reversed"})");
  CHECK(r.status == 200);
  CHECK(Bal(Balances(s, "a1"), "JPY", "approved") == "0");
  CHECK(s.Api("GET", "/api/balances/nobody").status == 404);
  CheckVerified(s);
}

TEST_CASE("pixel conversions by the visitor's cookies", "[conversion]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer(
      "o",
      R"({"url":"https://x.example/?c={click_id}&v={visitor_id}","plan":{"events":{"sale":{"cpa":"3"}}}})");
  s.PutOffer(
      "nopix",
      R"({"url":"https://x.example/?c={click_id}","allow_pixel":false,"plan":{"events":{"sale":{"cpa":"3"}}}})");
  s.PutAffiliate("a1", "{}");
  HttpResult click = s.Get("/c/o?aff=a1");
  std::string loc = click.header("location");
  std::string vid = loc.substr(loc.find("v=") + 2);
  HttpResult px =
      Http(s.public_port(), "GET", "/p.gif?offer_id=o&order_id=P1", {{"Cookie", "rc_vid=" + vid}});
  CHECK(px.status == 200);
  CHECK(px.header("content-type") == "image/gif");
  CHECK(px.header("cache-control") == "no-store");
  CHECK(px.header("x-ricochet-result") == "created");
  CHECK(px.body.size() == 43);
  CHECK(Http(s.public_port(), "GET", "/p.gif?offer_id=o&order_id=P1", {{"Cookie", "rc_vid=" + vid}})
            .header("x-ricochet-result") == "duplicate");
  CHECK(Http(s.public_port(), "GET", "/p.gif?offer_id=o").header("x-ricochet-result") ==
        "no_click");
  CHECK(Http(s.public_port(), "GET", "/p.gif?offer_id=o",
             {{"Cookie", "rc_vid=AAAAAAAAAAAAAAAAAAAAAA"}})
            .header("x-ricochet-result") == "no_click");
  std::string ncid = Click(s, "nopix", "a1");
  CHECK(Http(s.public_port(), "GET", "/p.gif?offer_id=nopix", {{"Cookie", "rc_cid=" + ncid}})
            .header("x-ricochet-result") == "pixel_disabled");
  CHECK(Bal(Balances(s, "a1"), "USD", "approved") == "3.00");
}

// A new visitor's id is minted from its first click, which is not in the visitor index; later
// clicks with the cookie are. Both kinds must count, on the right offer, under either model.
TEST_CASE("visitor attribution: the first click and returning clicks", "[conversion]") {
  TempDir dir;
  Server s(dir.path());
  const std::string plan = R"("plan":{"events":{"sale":{"cpa":"3"}}})";
  s.PutOffer("lc", R"({"url":"https://x.example/?c={click_id}&v={visitor_id}",)" + plan + "}");
  s.PutOffer(
      "fc",
      R"({"url":"https://x.example/?c={click_id}&v={visitor_id}","attribution":"first_click",)" +
          plan + "}");
  s.PutOffer(
      "fb",
      R"({"url":"https://x.example/?c={click_id}&v={visitor_id}","fallback_url":"https://x.example/fb?v={visitor_id}",)" +
          plan + "}");
  s.PutAffiliate("a1", "{}");
  auto param = [](const std::string& loc, const std::string& name) {
    size_t at = loc.find(name + "=");
    REQUIRE(at != std::string::npos);
    size_t end = loc.find('&', at);
    return loc.substr(at + name.size() + 1,
                      end == std::string::npos ? std::string::npos : end - at - name.size() - 1);
  };
  auto click = [&](const std::string& target, const std::string& vid) {
    // One visitor's clicks on one offer in the same millisecond share one visitor index key
    // (the last wins): keep them apart.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::map<std::string, std::string> headers;
    if (!vid.empty()) headers["Cookie"] = "rc_vid=" + vid;
    HttpResult r = Http(s.public_port(), "GET", target, headers);
    REQUIRE(r.status == 302);
    return r.header("location");
  };
  auto conversion_click = [&](const HttpResult& r) {
    REQUIRE(r.status == 200);
    HttpResult conv =
        s.Api("GET", "/api/conversions/" + std::string(J(r.body).at("conversion_id").as_string()));
    REQUIRE(conv.status == 200);
    return std::string(J(conv.body).at("click_id").as_string());
  };

  // A new visitor clicks lc (its first click: the id is minted from it), then lc again and fc
  // twice with the cookie (indexed).
  std::string loc = click("/c/lc?aff=a1", "");
  const std::string vid = param(loc, "v");
  const std::string lc1 = param(loc, "c");
  REQUIRE(vid.size() == 22);
  const std::string lc2 = param(click("/c/lc?aff=a1", vid), "c");
  const std::string fc1 = param(click("/c/fc?aff=a1", vid), "c");
  click("/c/fc?aff=a1", vid);
  CHECK(param(click("/c/fc?aff=a1", vid), "v") == vid);  // the cookie's id is kept

  // last_click on lc: the returning click; first_click on fc: fc1, not the visitor's first
  // click (on lc).
  CHECK(conversion_click(Postback(s, "visitor_id=" + vid + "&offer_id=lc&order_id=L")) == lc2);
  CHECK(conversion_click(Postback(s, "visitor_id=" + vid + "&offer_id=fc&order_id=F")) == fc1);

  // first_click on the first click's own offer: the first click (not indexed) beats the
  // returning clicks (indexed).
  std::string fc_loc = click("/c/fc?aff=a1", "");
  const std::string fc_vid = param(fc_loc, "v");
  click("/c/fc?aff=a1", fc_vid);
  click("/c/fc?aff=a1", fc_vid);
  CHECK(conversion_click(Postback(s, "visitor_id=" + fc_vid + "&offer_id=fc&order_id=G")) ==
        param(fc_loc, "c"));

  // A cookie from before ids were minted (random): every click with it is indexed.
  const std::string old_vid = "rcySpwheVYgRyRGDqChujg";
  const std::string old1 = param(click("/c/lc?aff=a1", old_vid), "c");
  CHECK(conversion_click(Postback(s, "visitor_id=" + old_vid + "&offer_id=lc&order_id=O")) == old1);

  // An id that names a click of another visitor (here: the id that click would have minted,
  // made with the harness's secret) finds nothing: the stored visitor id must match.
  std::array<uint8_t, 16> secret;
  for (int i = 0; i < 16; ++i) secret[i] = static_cast<uint8_t>(i);
  CHECK(engine::ClickIdCodec(secret).FirstClickOf(vid) == lc1);  // the cookie names lc1
  const std::string forged = engine::ClickIdCodec(secret).VisitorIdFor(old1);
  REQUIRE(engine::ClickIdCodec(secret).FirstClickOf(forged) == old1);
  HttpResult nf = Postback(s, "visitor_id=" + forged + "&offer_id=lc&order_id=X");
  CHECK(nf.status == 404);
  CHECK(J(nf.body).at("reason").as_string() == "unknown_click");

  // A visitor whose only lc click is its first one: found through its id alone.
  std::string loc2 = click("/c/lc?aff=a1", "");
  CHECK(conversion_click(Postback(
            s, "visitor_id=" + param(loc2, "v") + "&offer_id=lc&order_id=M")) == param(loc2, "c"));

  // A first click that was a fallback (unknown affiliate) never counts; the attributable click
  // after it does.
  std::string fb_loc = click("/c/fb?aff=nobody", "");
  const std::string fb_vid = param(fb_loc, "v");
  HttpResult none = Http(s.public_port(), "GET", "/p.gif?offer_id=fb&order_id=N0",
                         {{"Cookie", "rc_vid=" + fb_vid}});
  CHECK(none.header("x-ricochet-result") == "no_click");
  const std::string fb2 = param(click("/c/fb?aff=a1", fb_vid), "c");
  CHECK(conversion_click(Postback(s, "visitor_id=" + fb_vid + "&offer_id=fb&order_id=N1")) == fb2);

  // After a restart (the secret comes back from the data directory) a minted id still leads to
  // its first click.
  REQUIRE(s.Stop() == 0);
  Server again(dir.path());
  std::string loc3_vid = param(loc2, "v");
  HttpResult r = Http(again.public_port(), "GET",
                      "/postback?visitor_id=" + loc3_vid + "&offer_id=lc&order_id=M");
  REQUIRE(r.status == 200);
  CHECK(J(r.body).at("result").as_string() == "duplicate");  // order M, recorded above
  HttpResult px = Http(again.public_port(), "GET", "/p.gif?offer_id=lc&order_id=R2",
                       {{"Cookie", "rc_vid=" + loc3_vid}});
  CHECK(px.header("x-ricochet-result") == "created");
}

TEST_CASE("duplicate storm and cap race are exact under concurrency", "[conversion]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o",
             R"({"url":"https://x.example/?c={click_id}","plan":{"events":{"sale":{"cpa":"1"}}}})");
  s.PutOffer(
      "cap",
      R"({"url":"https://x.example/?c={click_id}","daily_conversion_cap":10,"plan":{"events":{"sale":{"cpa":"1"}}}})");
  s.PutAffiliate("a1", "{}");
  std::string cid = Click(s, "o", "a1");
  std::string capcid = Click(s, "cap", "a1");
  constexpr int kKeys = 100, kSenders = 5;
  std::mutex mu;
  std::map<std::string, std::set<std::string>> ids;  // order -> conversion ids seen
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kSenders; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < kKeys; ++k) {
        try {
          HttpResult r = Postback(s, "cid=" + cid + "&order_id=k" + std::to_string(k));
          json::value v = J(r.body);
          std::lock_guard<std::mutex> lock(mu);
          ids["k" + std::to_string(k)].insert(std::string(v.at("conversion_id").as_string()));
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  std::atomic<int> paid{0}, capped{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 10; ++k) {
        try {
          json::value v =
              J(Postback(s, "cid=" + capcid + "&order_id=c" + std::to_string(t * 10 + k)).body);
          if (v.at("result").as_string() == "created") ++paid;
          if (v.as_object().contains("reason") && v.at("reason").as_string() == "cap_exceeded")
            ++capped;
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  REQUIRE(ids.size() == kKeys);
  for (const auto& [order, set] : ids) CHECK(set.size() == 1);  // one conversion per key
  CHECK(paid.load() == 10);
  CHECK(capped.load() == 30);
  HttpResult r = s.Api("GET", "/api/report?from=2000-01-01&to=2100-01-01&group_by=offer");
  json::array rows = J(r.body).at("rows").as_array();
  for (const json::value& row : rows) {
    if (row.at("offer").as_string() == "o") CHECK(row.at("conversions").as_int64() == kKeys);
    if (row.at("offer").as_string() == "cap") {
      CHECK(row.at("conversions").as_int64() == 40);
      CHECK(row.at("approved").as_int64() == 10);
      CHECK(row.at("rejected").as_int64() == 30);
    }
  }
  CHECK(Bal(Balances(s, "a1"), "USD", "approved") == "110.00");
  CheckVerified(s);
}

TEST_CASE("conversions and the ledger persist across restart", "[conversion][persistence]") {
  TempDir dir;
  std::string id, cid;
  {
    Server s(dir.path());
    s.PutOffer(
        "o",
        R"({"url":"https://x.example/?c={click_id}","plan":{"events":{"sale":{"cpa":"1.5"}}}})");
    s.PutAffiliate("a1", "{}");
    cid = Click(s, "o", "a1");
    id = std::string(
        J(Postback(s, "cid=" + cid + "&order_id=R1").body).at("conversion_id").as_string());
    CHECK(s.Stop() == 0);
  }
  Server s(dir.path());
  HttpResult r = Postback(s, "cid=" + cid + "&order_id=R1");
  CHECK(J(r.body).at("result").as_string() == "duplicate");
  CHECK(J(r.body).at("conversion_id").as_string() == id);
  r = Postback(s, "cid=" + cid + "&order_id=R2");
  CHECK(J(r.body).at("result").as_string() == "created");
  CHECK(Bal(Balances(s, "a1"), "USD", "approved") == "3.00");
  // The chain continues across the restart.
  json::array all = J(s.Api("GET", "/api/ledger").body).at("entries").as_array();
  REQUIRE(all.size() == 2);
  CHECK(all[1].at("prev_hash") == all[0].at("hash"));
  CheckVerified(s);
}

TEST_CASE("SIGKILL under concurrent postbacks loses no acknowledged conversion",
          "[conversion][crash]") {
  TempDir dir;
  std::string cid;
  std::mutex mu;
  std::map<std::string, std::string> acked;  // order -> conversion id
  std::set<std::string> sent;
  {
    Server s(dir.path());
    s.PutOffer(
        "o", R"({"url":"https://x.example/?c={click_id}","plan":{"events":{"sale":{"cpa":"1"}}}})");
    s.PutAffiliate("a1", "{}");
    cid = Click(s, "o", "a1");
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int k = 0; !stop.load(); ++k) {
          std::string order = "t" + std::to_string(t) + "-" + std::to_string(k);
          {
            std::lock_guard<std::mutex> lock(mu);
            sent.insert(order);
          }
          try {
            HttpResult r = Postback(s, "cid=" + cid + "&order_id=" + order);
            if (r.status != 200) continue;
            json::value v = J(r.body);
            std::lock_guard<std::mutex> lock(mu);
            acked[order] = std::string(v.at("conversion_id").as_string());
          } catch (...) {
            break;  // the server is gone: this answer never arrived (indeterminate)
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    s.Kill();
    stop = true;
    for (auto& th : threads) th.join();
  }
  REQUIRE(acked.size() > 20);
  Server s(dir.path());
  for (const auto& [order, id] : acked) {
    HttpResult r = Postback(s, "cid=" + cid + "&order_id=" + order);
    INFO(order);
    CHECK(J(r.body).at("result").as_string() == "duplicate");
    CHECK(J(r.body).at("conversion_id").as_string() == id);
  }
  // Counted once each: no more conversions than were sent, at least every acknowledged one.
  int64_t conversions = Report(s).at("conversions").as_int64();
  CHECK(conversions >= static_cast<int64_t>(acked.size()));
  CHECK(conversions <= static_cast<int64_t>(sent.size()));
  json::object b = Balances(s, "a1");
  CHECK(Bal(b, "USD", "approved") == std::to_string(conversions) + ".00");
  CheckVerified(s);
}

}  // namespace ricochet::testing

namespace ricochet::testing {

TEST_CASE("payout runs pay approved balances and net off reversals after payment",
          "[conversion][payout]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o",
             R"({"url":"https://x.example/?c={click_id}","plan":{"events":{"sale":{"cpa":"3"}}}})");
  s.PutAffiliate("a1", "{}");
  s.PutAffiliate("a2", R"({"plan":{"events":{"sale":{"cpa":"0.50"}}}})");
  std::string c1 = Click(s, "o", "a1");
  std::string c2 = Click(s, "o", "a2");
  std::string first =
      std::string(J(Postback(s, "cid=" + c1 + "&order_id=1").body).at("conversion_id").as_string());
  CHECK(Postback(s, "cid=" + c1 + "&order_id=2").status == 200);
  CHECK(Postback(s, "cid=" + c2 + "&order_id=3").status == 200);

  HttpResult r = s.Api("POST", "/api/payouts", R"({"currency":"usd","min_amount":"1.00"})");
  REQUIRE(r.status == 200);
  json::object p = J(r.body).as_object();
  std::string id(p.at("id").as_string());
  CHECK(p.at("currency").as_string() == "USD");
  REQUIRE(p.at("items").as_array().size() == 1);
  CHECK(p.at("items").at(0).at("affiliate").as_string() == "a1");
  CHECK(p.at("items").at(0).at("amount").as_string() == "6.00");
  json::object b1 = Balances(s, "a1");
  CHECK(Bal(b1, "USD", "approved") == "0.00");
  CHECK(Bal(b1, "USD", "paid") == "6.00");
  CHECK(Bal(Balances(s, "a2"), "USD", "approved") == "0.50");  // below the minimum: kept

  HttpResult csv = s.Api("GET", "/api/payouts/" + id + ".csv");
  REQUIRE(csv.status == 200);
  CHECK(csv.header("content-type").rfind("text/csv", 0) == 0);
  CHECK(csv.body == "affiliate,amount,currency,entries\na1,6.00,USD,2\n");

  // A reversal after payment leaves approved negative; the next payout nets it off.
  REQUIRE(
      s.Api("POST", "/api/conversions/" + first + "/status", R"({"status":"reversed"})").status ==
      200);
  b1 = Balances(s, "a1");
  CHECK(Bal(b1, "USD", "approved") == "-3.00");
  CHECK(Bal(b1, "USD", "paid") == "6.00");
  CHECK(Postback(s, "cid=" + c1 + "&order_id=4").status == 200);  // approved back to 0.00
  r = s.Api("POST", "/api/payouts", R"({"currency":"USD","min_amount":"0"})");
  REQUIRE(r.status == 200);
  json::array items = J(r.body).at("items").as_array();
  REQUIRE(items.size() == 1);  // a1 has nothing to pay; a2's 0.50 now qualifies
  CHECK(items[0].at("affiliate").as_string() == "a2");
  CHECK(Postback(s, "cid=" + c1 + "&order_id=5").status == 200);
  r = s.Api("POST", "/api/payouts", R"({"currency":"USD"})");
  items = J(r.body).at("items").as_array();
  REQUIRE(items.size() == 1);
  CHECK(items[0].at("amount").as_string() == "3.00");  // 3 + 3 - 3 since the last payout
  CHECK(Bal(Balances(s, "a1"), "USD", "paid") == "9.00");
  std::string third(J(r.body).at("id").as_string());
  CHECK(s.Api("GET", "/api/payouts/" + third + ".csv").body ==
        "affiliate,amount,currency,entries\na1,3.00,USD,3\n");
  HttpResult empty = s.Api("POST", "/api/payouts", R"({"currency":"EUR","min_amount":"10"})");
  REQUIRE(empty.status == 200);
  CHECK(J(empty.body).at("items").as_array().empty());
  CHECK(s.Api("GET", "/api/payouts/" + std::string(J(empty.body).at("id").as_string()) + ".csv")
            .body == "affiliate,amount,currency,entries\n");

  CHECK(J(s.Api("POST", "/api/payouts", R"({"currency":"XYZ"})").body).at("reason").as_string() ==
        "bad_currency");
  CHECK(J(s.Api("POST", "/api/payouts", R"({"currency":"USD","min_amount":"-1"})").body)
            .at("reason")
            .as_string() == "bad_amount");
  CHECK(J(s.Api("POST", "/api/payouts", R"({"currency":"USD","min_amount":5})").body)
            .at("reason")
            .as_string() == "bad_amount");
  CHECK(s.Api("POST", "/api/payouts", "nope").status == 400);
  CHECK(s.Api("GET", "/api/payouts/po_nope.csv").status == 404);
  CHECK(s.Api("DELETE", "/api/payouts").status == 405);
  json::array entries = J(s.Api("GET", "/api/ledger?affiliate=a1").body).at("entries").as_array();
  CHECK(entries.back().at("kind").as_string() == "payout");
  CHECK(entries.back().at("status").as_string() == "paid");
  CheckVerified(s);
}

}  // namespace ricochet::testing

namespace ricochet::testing {

TEST_CASE("outbox entries are written in the conversion's batch, one per receiver",
          "[conversion][outbox]") {
  TempDir dir;
  std::vector<std::string> urls;
  {
    Server s(dir.path());
    s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}","daily_conversion_cap":1,
                        "plan":{"events":{"sale":{"cps_percent":"10"}},"tiers":[{"cps_percent":"1"}]}})");
    s.PutAffiliate("boss", R"({"postback_url":"https://boss.example/pb?p={payout}&st={status}"})");
    s.PutAffiliate(
        "a1",
        R"({"parent":"boss","postback_url":"https://aff.example/pb?c={click_id}&s={sub1}&p={payout}&amt={amount}&cur={currency}&st={status}&o={order_id}&ev={event}&id={event_id}"})");
    HttpResult click = s.Get("/c/o?aff=a1&sub1=a%20b");
    std::string loc = click.header("location");
    std::string cid = loc.substr(loc.find("c=") + 2, 32);
    json::value created =
        J(Postback(s, "cid=" + cid + "&amount=100&order_id=O1&status=pending").body);
    std::string id(created.at("conversion_id").as_string());
    CHECK(J(Postback(s, "cid=" + cid + "&amount=100&order_id=O2").body).at("reason").as_string() ==
          "cap_exceeded");
    REQUIRE(
        s.Api("POST", "/api/conversions/" + id + "/status", R"({"status":"approved"})").status ==
        200);
    json::array entries =
        J(s.Api("GET", "/api/outbox?state=pending").body).at("entries").as_array();
    REQUIRE(entries.size() ==
            4);  // (a1, boss) on create, again on approval; none for the capped one
    for (const json::value& e : entries) {
      urls.push_back(std::string(e.at("url").as_string()));
      CHECK(e.at("conversion_id").as_string() == id);
      CHECK(e.at("state").as_string() == "pending");  // aff.example does not resolve here
    }
    std::string first_id(entries[0].at("id").as_string());
    CHECK(urls[0] ==
          "https://aff.example/pb?c=" + cid +
              "&s=a%20b&p=10.00&amt=100.00&cur=USD&st=pending&o=O1&ev=sale&id=" + first_id);
    CHECK(urls[1] == "https://boss.example/pb?p=1.00&st=pending");
    CHECK(urls[2].find("&st=approved&") != std::string::npos);
    CHECK(urls[3] == "https://boss.example/pb?p=1.00&st=approved");
    CHECK(J(s.Api("GET", "/api/outbox?state=dead").body).at("entries").as_array().empty());
    CHECK(s.Api("GET", "/api/outbox?state=bogus").status == 400);
    CHECK(s.Stop() == 0);
  }
  Server s(dir.path());  // durable: the same entries after a restart
  json::array entries = J(s.Api("GET", "/api/outbox").body).at("entries").as_array();
  REQUIRE(entries.size() == 4);
  for (size_t i = 0; i < entries.size(); ++i) CHECK(entries[i].at("url").as_string() == urls[i]);
}

}  // namespace ricochet::testing
