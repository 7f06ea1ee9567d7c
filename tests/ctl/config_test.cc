// offers and affiliates through ricochetctl against a real server: create, update and put from
// flags and files, get and list in table, JSON and CSV, and the errors (exit 4 and 5).
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "boost/json/parse.hpp"
#include "catch2/catch.hpp"
#include "ctl_runner.h"

namespace ricochet::testing {
namespace json = boost::json;

TEST_CASE("offers: create, get, list, update, put", "[ctl][offers]") {
  TempDir dir;
  Server s(dir.path());

  CtlResult r = Ctl(s, {"offers",
                        "create",
                        "spring",
                        "--name",
                        "Spring sale",
                        "--url",
                        "https://shop.example/?c={click_id}&s={sub1}",
                        "--currency",
                        "eur",
                        "--cpa",
                        "sale=2.5",
                        "--cps",
                        "sale=10",
                        "--cpa",
                        "lead=1",
                        "--lookback-days",
                        "7",
                        "--allow-pixel",
                        "false",
                        "--fallback-url",
                        ""});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::map<std::string, std::string> kv = ParseKeyValue(r.out);
  CHECK(kv.at("id") == "spring");
  CHECK(kv.at("name") == "Spring sale");
  CHECK(kv.at("url") == "https://shop.example/?c={click_id}&s={sub1}");
  CHECK(kv.at("currency") == "EUR");
  CHECK(kv.at("lookback_days") == "7");
  CHECK(kv.at("allow_pixel") == "false");
  CHECK(kv.at("fallback_url") == "");
  CHECK(kv.at("plan.events.sale.cpa") == "2.50");  // the server's normalised spelling
  CHECK(kv.at("plan.events.sale.cps_percent") == "10");
  CHECK(kv.at("plan.events.lead.cpa") == "1.00");

  // Creating it again is refused without touching it.
  r = Ctl(s, {"offers", "create", "spring", "--url", "https://other.example/"});
  CHECK(r.code == 5);
  CHECK(r.err ==
        "ricochetctl: offer spring already exists; change it with ricochetctl offers update "
        "spring ..., or replace it whole with ricochetctl offers put spring ...\n");

  // From a file, with a flag on top.
  std::string file = dir.path() + ".offer.json";
  std::ofstream(file) << R"({"name":"From file","url":"https://f.example/?c={click_id}",)"
                         R"("status":"paused","plan":{"events":{"sale":{"cpa":"3"}}}})";
  r = Ctl(s, {"offers", "create", "autumn", "--file", file, "--name", "Flag wins"});
  REQUIRE(r.code == 0);
  kv = ParseKeyValue(r.out);
  CHECK(kv.at("name") == "Flag wins");
  CHECK(kv.at("status") == "paused");
  CHECK(kv.at("plan.events.sale.cpa") == "3.00");

  // update keeps what it is not told to change, including other events' rates.
  r = Ctl(s, {"offers", "update", "spring", "--status", "paused", "--cpa", "sale=4"});
  REQUIRE(r.code == 0);
  kv = ParseKeyValue(r.out);
  CHECK(kv.at("status") == "paused");
  CHECK(kv.at("name") == "Spring sale");
  CHECK(kv.at("currency") == "EUR");
  CHECK(kv.at("lookback_days") == "7");
  CHECK(kv.at("plan.events.sale.cpa") == "4.00");
  CHECK(kv.at("plan.events.sale.cps_percent") == "10");
  CHECK(kv.at("plan.events.lead.cpa") == "1.00");
  // EVENT= removes a rate; an event with no rate left goes.
  r = Ctl(s, {"offers", "update", "spring", "--cpa", "lead="});
  REQUIRE(r.code == 0);
  CHECK(ParseKeyValue(r.out).count("plan.events.lead.cpa") == 0);

  // put replaces the whole object: fields left out fall back to their defaults.
  r = Ctl(s, {"offers", "put", "spring", "--url", "https://p.example/?c={click_id}"});
  REQUIRE(r.code == 0);
  kv = ParseKeyValue(r.out);
  CHECK(kv.at("name") == "");
  CHECK(kv.at("currency") == "USD");
  CHECK(kv.at("status") == "active");
  CHECK(kv.at("plan.events") == "{}");
  // put --file sends the file as it is (stdin here).
  r = RunCtl({"offers", "put", "winter", "--file", "-", "--server", AdminAddress(s), "--token",
              kToken, "--json"},
             {}, R"({"url":"https://w.example/","daily_conversion_cap":5})");
  REQUIRE(r.code == 0);
  CHECK(json::parse(r.out).at("daily_conversion_cap").as_int64() == 5);

  // get: table, JSON, CSV.
  r = Ctl(s, {"offers", "get", "autumn", "--json"});
  REQUIRE(r.code == 0);
  json::value got = json::parse(r.out);
  CHECK(got.at("id").as_string() == "autumn");
  CHECK(got.at("plan").at("events").at("sale").at("cpa").as_string() == "3.00");
  r = Ctl(s, {"offers", "get", "autumn", "--csv"});
  REQUIRE(r.code == 0);
  std::vector<std::vector<std::string>> csv = ParseCsv(r.out);
  CHECK(csv[0] == std::vector<std::string>{"key", "value"});
  CHECK(std::find(csv.begin(), csv.end(),
                  std::vector<std::string>{"plan.events.sale.cpa", "3.00"}) != csv.end());

  // list: sorted by id, in all three formats.
  r = Ctl(s, {"offers", "list"});
  REQUIRE(r.code == 0);
  auto rows = ParseTable(r.out);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].at("ID") == "autumn");
  CHECK(rows[0].at("NAME") == "Flag wins");
  CHECK(rows[0].at("STATUS") == "paused");
  CHECK(rows[0].at("URL") == "https://f.example/?c={click_id}");
  CHECK(rows[1].at("ID") == "spring");
  CHECK(rows[1].at("CURRENCY") == "USD");
  CHECK(rows[2].at("ID") == "winter");
  CHECK(rows[2].at("DEFAULT_STATUS") == "approved");
  r = Ctl(s, {"offers", "list", "--csv"});
  REQUIRE(r.code == 0);
  auto records = ParseCsvRecords(r.out);
  REQUIRE(records.size() == 3);
  CHECK(records[0].at("id") == "autumn");
  CHECK(records[0].at("lookback_days") == "30");
  CHECK(records[0].at("plan") == R"({"events":{"sale":{"cpa":"3.00"}}})");
  CHECK(records[2].at("daily_conversion_cap") == "5");
  r = Ctl(s, {"offers", "list", "--json"});
  REQUIRE(r.code == 0);
  CHECK(json::parse(r.out).at("offers").as_array().size() == 3);
  std::remove(file.c_str());
}

TEST_CASE("offers: errors name the problem and the fix", "[ctl][offers]") {
  TempDir dir;
  Server s(dir.path());

  CtlResult r = Ctl(s, {"offers", "get", "nope"});
  CHECK(r.code == 4);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "ricochetctl: offer nope not found (404 unknown_offer); list them with "
        "ricochetctl offers list\n");

  r = Ctl(s, {"offers", "update", "nope", "--status", "paused"});
  CHECK(r.code == 4);
  CHECK(r.err.find("offer nope does not exist; create it with ricochetctl offers create nope "
                   "--url URL") != std::string::npos);

  r = Ctl(s, {"offers", "create", "x", "--url", "ftp://x"});
  CHECK(r.code == 5);
  CHECK(r.err.find("the server rejected offer x (400 bad_url in url: ") != std::string::npos);
  CHECK(r.err.find("; URLs must be absolute http:// or https:// URLs") != std::string::npos);

  r = Ctl(s, {"offers", "create", "x"});  // no url
  CHECK(r.code == 5);
  CHECK(r.err.find("400 bad_url in url") != std::string::npos);

  r = Ctl(s, {"offers", "create", "x", "--url", "https://x.example/", "--cpa", "sale=1e3"});
  CHECK(r.code == 5);
  CHECK(r.err.find("bad_number in plan.events.sale.cpa") != std::string::npos);

  r = Ctl(s, {"offers", "create", "bad id!", "--url", "https://x.example/"});
  CHECK(r.code == 5);
  CHECK(r.err.find("bad_id") != std::string::npos);

  // Client-side checks: exit 2 before any request.
  r = Ctl(s, {"offers", "create", "x", "--url", "https://x.example/", "--lookback-days", "7d"});
  CHECK(r.code == 2);
  CHECK(r.err == "ricochetctl: --lookback-days takes a whole number such as 30; got \"7d\"\n");
  r = Ctl(s, {"offers", "create", "x", "--url", "https://x.example/", "--cpa", "2.50"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--cpa takes EVENT=VALUE, such as --cpa sale=2.50") != std::string::npos);
  r = Ctl(s, {"offers", "create", "x", "--allow-pixel", "maybe", "--url", "https://x.example/"});
  CHECK(r.code == 2);
  r = Ctl(s, {"offers", "update", "x"});
  CHECK(r.code == 2);
  CHECK(r.err.find("nothing to update") != std::string::npos);
  r = Ctl(s, {"offers", "put", "x"});
  CHECK(r.code == 2);
  r = Ctl(s, {"offers", "create", "x", "--file", dir.path() + "/missing.json"});
  CHECK(r.code == 2);
  CHECK(r.err.find("cannot read --file") != std::string::npos);
  std::string bad = dir.path() + ".bad.json";
  std::ofstream(bad) << "{\"url\": ";
  r = Ctl(s, {"offers", "create", "x", "--file", bad});
  CHECK(r.code == 2);
  CHECK(r.err.find("is not valid JSON") != std::string::npos);
  std::ofstream(bad) << "[1]";
  r = Ctl(s, {"offers", "put", "x", "--file", bad});
  CHECK(r.code == 2);
  CHECK(r.err.find("must hold one JSON object") != std::string::npos);
  std::remove(bad.c_str());

  // Nothing was stored by any of the above.
  r = Ctl(s, {"offers", "list", "--json"});
  CHECK(r.out == "{\"offers\":[]}\n");
}

TEST_CASE("affiliates: create, update, list, get, and a parent loop", "[ctl][affiliates]") {
  TempDir dir;
  Server s(dir.path());

  CtlResult r = Ctl(s, {"affiliates", "create", "boss", "--name", "Network"});
  REQUIRE(r.code == 0);
  r = Ctl(s, {"affiliates", "create", "a1", "--name", "Blog", "--parent", "boss", "--postback-url",
              "https://partner.example/pb?cid={click_id}&p={payout}", "--cpa", "sale=1.5"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::map<std::string, std::string> kv = ParseKeyValue(r.out);
  CHECK(kv.at("parent") == "boss");
  CHECK(kv.at("postback_url") == "https://partner.example/pb?cid={click_id}&p={payout}");
  CHECK(kv.at("plan.events.sale.cpa") == "1.50");
  CHECK(kv.at("status") == "active");

  r = Ctl(s, {"affiliates", "update", "a1", "--status", "paused", "--parent", ""});
  REQUIRE(r.code == 0);
  kv = ParseKeyValue(r.out);
  CHECK(kv.at("status") == "paused");
  CHECK(kv.at("parent") == "");
  CHECK(kv.at("name") == "Blog");
  CHECK(kv.at("plan.events.sale.cpa") == "1.50");

  r = Ctl(s, {"affiliates", "update", "boss", "--parent", "a1"});
  REQUIRE(r.code == 0);
  r = Ctl(s, {"affiliates", "update", "a1", "--parent", "boss"});
  CHECK(r.code == 5);
  CHECK(r.err.find("400 bad_parent in parent") != std::string::npos);
  CHECK(r.err.find("choose another --parent") != std::string::npos);

  r = Ctl(s, {"affiliates", "list"});
  REQUIRE(r.code == 0);
  auto rows = ParseTable(r.out);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at("ID") == "a1");
  CHECK(rows[0].at("STATUS") == "paused");
  CHECK(rows[0].at("PARENT") == "");
  CHECK(rows[1].at("ID") == "boss");
  CHECK(rows[1].at("NAME") == "Network");
  CHECK(rows[1].at("PARENT") == "a1");
  r = Ctl(s, {"affiliates", "list", "--csv"});
  auto records = ParseCsvRecords(r.out);
  REQUIRE(records.size() == 2);
  CHECK(records[0].at("plan") == R"({"events":{"sale":{"cpa":"1.50"}}})");
  CHECK(records[1].at("plan") == "");  // null

  r = Ctl(s, {"affiliates", "get", "ghost"});
  CHECK(r.code == 4);
  CHECK(r.err.find("affiliate ghost not found (404 unknown_affiliate)") != std::string::npos);
  r = Ctl(s, {"affiliates", "get", "boss", "--json"});
  CHECK(json::parse(r.out).at("parent").as_string() == "a1");
  // An offer-only flag is a usage error for affiliates.
  r = Ctl(s, {"affiliates", "update", "boss", "--url", "https://x.example/"});
  CHECK(r.code == 2);
}

}  // namespace ricochet::testing
