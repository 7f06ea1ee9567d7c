// conversions, report, ledger, balances and payouts through ricochetctl against a real server,
// with conversions made by real clicks and postbacks. Amounts are compared as exact strings.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "boost/json/parse.hpp"
#include "catch2/catch.hpp"
#include "ctl_runner.h"

namespace ricochet::testing {
namespace json = boost::json;
namespace {

constexpr char kWide[] = "2000-01-01";
constexpr char kWideTo[] = "2100-01-01";

// A payout run in table form: the summary block, a blank line, the items table.
struct PayoutText {
  std::map<std::string, std::string> summary;
  std::vector<std::map<std::string, std::string>> items;
};

PayoutText ParsePayout(const std::string& out) {
  size_t gap = out.find("\n\n");
  REQUIRE(gap != std::string::npos);
  PayoutText p;
  std::istringstream summary(out.substr(0, gap + 1));
  for (std::string line; std::getline(summary, line);) {
    size_t space = line.find(' ');
    REQUIRE(space != std::string::npos);
    std::string value = line.substr(line.find_first_not_of(' ', space));
    p.summary[line.substr(0, space)] = value == "-" ? "" : value;
  }
  p.items = ParseTable(out.substr(gap + 2));
  return p;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("conversions, balances, ledger, report and payouts", "[ctl][money]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("shop", R"({"url":"https://shop.example/?c={click_id}","default_status":"pending",)"
                     R"("plan":{"events":{"sale":{"cpa":"10.00"}}}})");
  s.PutAffiliate("a1", "{}");
  s.PutAffiliate("a2", "{}");
  // Two clicks by a1 (the second a duplicate) and one by a2.
  std::string cv1 = MakeConversion(s, MakeClick(s, "shop", "a1"), "amount=25.00&order_id=O1");
  std::string cv2 = MakeConversion(s, MakeClick(s, "shop", "a1"), "amount=40&order_id=O2");
  std::string cv3 = MakeConversion(s, MakeClick(s, "shop", "a2"), "amount=5.5&order_id=O3");

  SECTION("conversions get, approve, reject, reverse") {
    CtlResult r = Ctl(s, {"conversions", "get", cv1});
    REQUIRE(r.code == 0);
    std::map<std::string, std::string> kv = ParseKeyValue(r.out);
    CHECK(kv.at("id") == cv1);
    CHECK(kv.at("status") == "pending");
    CHECK(kv.at("amount") == "25.00");
    CHECK(kv.at("currency") == "USD");
    CHECK(kv.at("order_id") == "O1");
    CHECK(kv.at("commissions.0.affiliate") == "a1");
    CHECK(kv.at("commissions.0.amount") == "10.00");
    CHECK(kv.at("commissions.0.tier") == "1");

    r = Ctl(s, {"conversions", "approve", cv1});
    REQUIRE(r.code == 0);
    CHECK(ParseKeyValue(r.out).at("status") == "approved");
    r = Ctl(s, {"conversions", "approve", cv2, "--json"});
    REQUIRE(r.code == 0);
    CHECK(json::parse(r.out).at("status").as_string() == "approved");
    r = Ctl(s, {"conversions", "reject", cv3, "--reason", "fraud"});
    REQUIRE(r.code == 0);
    CHECK(ParseKeyValue(r.out).at("status") == "rejected");
    CHECK(ParseKeyValue(r.out).at("reason") == "fraud");
    r = Ctl(s, {"conversions", "reverse", cv2, "--reason", "refund"});
    REQUIRE(r.code == 0);
    CHECK(ParseKeyValue(r.out).at("status") == "reversed");

    r = Ctl(s, {"conversions", "reject", cv1});
    CHECK(r.code == 5);
    CHECK(r.err == "ricochetctl: the server rejected conversion " + cv1 +
                       " (409 bad_transition, conversion_id " + cv1 +
                       ", status approved); allowed changes are pending -> approved or "
                       "rejected, and approved -> reversed\n");
    r = Ctl(s, {"conversions", "get", "cv_nope"});
    CHECK(r.code == 4);
    CHECK(r.err.find("conversion cv_nope not found (404 unknown_conversion)") != std::string::npos);
    r = Ctl(s, {"conversions", "approve", "cv_nope"});
    CHECK(r.code == 4);

    // Balances: a1 has cv1 approved (cv2 was reversed), a2 nothing left.
    r = Ctl(s, {"balances", "a1"});
    REQUIRE(r.code == 0);
    auto rows = ParseTable(r.out);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0] ==
          std::map<std::string, std::string>{
              {"CURRENCY", "USD"}, {"PENDING", "0.00"}, {"APPROVED", "10.00"}, {"PAID", "0.00"}});
    r = Ctl(s, {"balances", "a2", "--csv"});
    CHECK(r.out == "currency,pending,approved,paid\nUSD,0.00,0.00,0.00\n");
    r = Ctl(s, {"balances", "a2", "--json"});
    CHECK(json::parse(r.out) ==
          json::parse(R"({"USD":{"pending":"0.00","approved":"0.00","paid":"0.00"}})"));
    r = Ctl(s, {"balances", "ghost"});
    CHECK(r.code == 4);
    CHECK(r.err.find("affiliate ghost not found (404 unknown_affiliate)") != std::string::npos);

    // Ledger: 3 commissions, 3 adjustments, 1 reversal.
    r = Ctl(s, {"ledger"});
    REQUIRE(r.code == 0);
    rows = ParseTable(r.out);
    REQUIRE(rows.size() == 7);
    std::map<std::string, int> kinds;
    for (const auto& row : rows) ++kinds[row.at("KIND") + " " + row.at("AMOUNT")];
    CHECK(kinds == std::map<std::string, int>{{"commission 10.00", 3},
                                              {"adjustment 10.00", 2},
                                              {"adjustment -10.00", 1},
                                              {"reversal -10.00", 1}});
    CHECK(rows[0].at("ID") == "1");
    CHECK(rows[6].at("ID") == "7");
    CHECK(rows[6].at("CONVERSION_ID") == cv2);
    CHECK(rows[6].at("STATUS") == "reversed");
    CHECK(rows[0].count("HASH") == 0);
    r = Ctl(s, {"ledger", "--affiliate", "a2", "--csv"});
    REQUIRE(r.code == 0);
    auto records = ParseCsvRecords(r.out);
    REQUIRE(records.size() == 2);
    CHECK(records[0].at("kind") == "commission");
    CHECK(records[0].at("amount") == "10.00");
    CHECK(records[1].at("amount") == "-10.00");  // a negative amount is not formula-escaped
    CHECK(records[0].at("hash").size() == 64);
    r = Ctl(s, {"ledger", "--csv"});
    auto all = ParseCsvRecords(r.out);
    REQUIRE(all.size() == 7);
    for (size_t i = 1; i < all.size(); ++i) CHECK(all[i].at("prev_hash") == all[i - 1].at("hash"));
    CHECK(all[0].at("prev_hash") == std::string(64, '0'));
    r = Ctl(s, {"ledger", "--from", kWide, "--to", "2000-01-02", "--json"});
    CHECK(r.out == "{\"entries\":[]}\n");
    r = Ctl(s, {"ledger", "--from", "yesterday"});
    CHECK(r.code == 5);
    CHECK(r.err.find("400 bad_date: from and to must be dates as YYYY-MM-DD") != std::string::npos);

    // Report by affiliate: exact counts and money per currency.
    r = Ctl(s, {"report", "--from", kWide, "--to", kWideTo, "--group-by", "affiliate"});
    REQUIRE(r.code == 0);
    rows = ParseTable(r.out);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].at("AFFILIATE") == "a1");
    CHECK(rows[0].at("CLICKS") == "2");
    CHECK(rows[0].at("UNIQUE_CLICKS") == "1");
    CHECK(rows[0].at("DUPLICATE_CLICKS") == "1");
    CHECK(rows[0].at("BOT_CLICKS") == "0");
    CHECK(rows[0].at("CONVERSIONS") == "2");
    CHECK(rows[0].at("APPROVED") == "1");
    CHECK(rows[0].at("PENDING") == "0");
    CHECK(rows[0].at("REVERSED") == "1");
    CHECK(rows[0].at("REVENUE_USD") == "25.00");
    CHECK(rows[0].at("PAYOUT_USD") == "10.00");
    CHECK(rows[1].at("AFFILIATE") == "a2");
    CHECK(rows[1].at("CLICKS") == "1");
    CHECK(rows[1].at("REJECTED") == "1");
    CHECK(rows[0].count("DAY") == 0);
    // The same numbers in CSV and JSON.
    r = Ctl(s, {"report", "--from", kWide, "--to", kWideTo, "--group-by", "affiliate", "--csv"});
    records = ParseCsvRecords(r.out);
    REQUIRE(records.size() == 2);
    CHECK(records[0].at("revenue_USD") == "25.00");
    CHECK(records[0].at("payout_USD") == "10.00");
    CHECK(records[1].at("payout_USD") == rows[1].at("PAYOUT_USD"));
    r = Ctl(s, {"report", "--from", kWide, "--to", kWideTo, "--group-by", "affiliate", "--json"});
    json::value rep = json::parse(r.out);
    CHECK(rep.at("rows").at(0).at("revenue").at("USD").as_string() == "25.00");
    CHECK(rep.at("rows").at(1).at("clicks").as_int64() == 1);
    // Filters and several keys; default group (day) and range (today).
    r = Ctl(s, {"report", "--from", kWide, "--to", kWideTo, "--group-by", "offer, affiliate",
                "--affiliate", "a2"});
    rows = ParseTable(r.out);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].at("OFFER") == "shop");
    CHECK(rows[0].at("AFFILIATE") == "a2");
    r = Ctl(s, {"report"});
    rows = ParseTable(r.out);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].at("CLICKS") == "3");
    CHECK(rows[0].at("DAY").size() == 10);
    // An empty report keeps the columns asked for.
    r = Ctl(s, {"report", "--offer", "none", "--group-by", "offer,sub1"});
    REQUIRE(r.code == 0);
    CHECK(r.out.rfind("OFFER  SUB1  CLICKS  UNIQUE_CLICKS", 0) == 0);
    CHECK(ParseTable(r.out).empty());
    r = Ctl(s, {"report", "--group-by", "week"});
    CHECK(r.code == 5);
    CHECK(r.err.find("bad_group_by") != std::string::npos);

    // Payouts: a1's 10.00 is at least the minimum; a2 has nothing approved.
    r = Ctl(s, {"payouts", "create", "--currency", "usd", "--min-amount", "5"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    PayoutText p = ParsePayout(r.out);
    const std::string po = p.summary.at("id");
    CHECK(po.rfind("po_", 0) == 0);
    CHECK(p.summary.at("currency") == "USD");
    CHECK(p.summary.at("min_amount") == "5.00");
    CHECK(p.summary.at("affiliates") == "1");
    CHECK(p.summary.at("total") == "10.00");
    REQUIRE(p.items.size() == 1);
    CHECK(p.items[0].at("AFFILIATE") == "a1");
    CHECK(p.items[0].at("AMOUNT") == "10.00");
    CHECK(p.items[0].at("CURRENCY") == "USD");
    CHECK(p.items[0].at("ENTRIES") == "3");
    CHECK(p.summary.at("time").size() == 24);
    CHECK(ParseTable(Ctl(s, {"balances", "a1"}).out)[0].at("PAID") == "10.00");
    // Ids may start with "-": they go after "--".
    r = RunCtl({"--server", AdminAddress(s), "--token", kToken, "balances", "--", "-a1"});
    CHECK(r.code == 4);
    CHECK(r.err.find("affiliate -a1 not found") != std::string::npos);
    CHECK(ParseTable(Ctl(s, {"balances", "a1"}).out)[0].at("APPROVED") == "0.00");

    r = Ctl(s, {"payouts", "get", po});
    REQUIRE(r.code == 0);
    p = ParsePayout(r.out);
    CHECK(p.summary.at("total") == "10.00");
    CHECK(p.items[0].at("ENTRIES") == "3");  // two approvals and the reversal
    r = Ctl(s, {"payouts", "get", po, "--csv"});
    CHECK(r.out == "affiliate,amount,currency,entries\na1,10.00,USD,3\n");
    r = Ctl(s, {"payouts", "csv", po});
    REQUIRE(r.code == 0);
    CHECK(r.out == "affiliate,amount,currency,entries\na1,10.00,USD,3\n");
    std::string out_file = dir.path() + ".payout.csv";
    r = Ctl(s, {"payouts", "csv", po, "--output", out_file});
    REQUIRE(r.code == 0);
    CHECK(r.out.empty());
    CHECK(ReadFile(out_file) == "affiliate,amount,currency,entries\na1,10.00,USD,3\n");
    std::remove(out_file.c_str());

    // A second run finds nothing to pay and is still recorded.
    r = Ctl(s, {"payouts", "create", "--currency", "USD", "--json"});
    REQUIRE(r.code == 0);
    json::value second = json::parse(r.out);
    CHECK(second.at("items").as_array().empty());
    r = Ctl(s, {"payouts", "list"});
    REQUIRE(r.code == 0);
    rows = ParseTable(r.out);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].at("ID") == po);
    CHECK(rows[0].at("AFFILIATES") == "1");
    CHECK(rows[0].at("TOTAL") == "10.00");
    CHECK(rows[0].at("MIN_AMOUNT") == "5.00");
    CHECK(rows[1].at("ID") == std::string(second.at("id").as_string()));
    CHECK(rows[1].at("AFFILIATES") == "0");
    CHECK(rows[1].at("TOTAL") == "0.00");
    r = Ctl(s, {"payouts", "list", "--csv"});
    records = ParseCsvRecords(r.out);
    REQUIRE(records.size() == 2);
    CHECK(records[0].at("total") == "10.00");

    // Errors.
    r = Ctl(s, {"payouts", "create"});
    CHECK(r.code == 2);
    CHECK(r.err.find("payouts create needs --currency CODE") != std::string::npos);
    r = Ctl(s, {"payouts", "create", "--currency", "XYZ"});
    CHECK(r.code == 5);
    CHECK(r.err.find("400 bad_currency") != std::string::npos);
    r = Ctl(s, {"payouts", "create", "--currency", "USD", "--min-amount", "1e3"});
    CHECK(r.code == 5);
    CHECK(r.err.find("400 bad_amount") != std::string::npos);
    r = Ctl(s, {"payouts", "get", "po_nope"});
    CHECK(r.code == 4);
    CHECK(r.err.find("payout po_nope not found (404 unknown_payout); list payout runs with "
                     "ricochetctl payouts list") != std::string::npos);
    r = Ctl(s, {"payouts", "csv", "po_nope"});
    CHECK(r.code == 4);
    r = Ctl(s, {"payouts", "csv", po, "--json"});
    CHECK(r.code == 2);
  }
}

}  // namespace ricochet::testing
