// ricochetctl audit against a real server: the trail of ricochetctl's own calls, the operator
// name it sends, table, CSV and JSON, filters, pages and errors.
#include "boost/json/parse.hpp"
#include "catch2/catch.hpp"
#include "ctl_runner.h"

namespace ricochet::testing {
namespace json = boost::json;

TEST_CASE("audit: every change made through ricochetctl, who made it, and the refusals",
          "[ctl][audit]") {
  TempDir dir;
  Server s(dir.path());
  const std::string server = AdminAddress(s);
  CtlResult r = Ctl(s, {"offers", "create", "spring", "--url", "https://shop.example/?c={click_id}",
                        "--operator", "alice"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  // RICOCHET_OPERATOR beats USER; USER is the fallback; a wrong token is recorded too.
  r = RunCtl(
      {"offers", "update", "spring", "--status", "paused", "--server", server, "--token", kToken},
      {{"RICOCHET_OPERATOR", "bob"}, {"USER", "carol"}});
  REQUIRE(r.code == 0);
  r = RunCtl(
      {"offers", "update", "spring", "--url", "ftp://x", "--server", server, "--token", kToken},
      {{"USER", "carol"}});
  REQUIRE(r.code == 5);
  r = RunCtl({"backup", "/tmp/nowhere", "--server", server, "--token", "wrong-token"});
  REQUIRE(r.code == 3);

  r = Ctl(s, {"audit"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  std::vector<std::map<std::string, std::string>> rows = ParseTable(r.out);
  REQUIRE(rows.size() == 4);
  auto row = [&](size_t i) {
    const auto& m = rows[i];
    return m.at("SEQ") + " " + m.at("ACTOR") + " " + m.at("OPERATOR") + " " + m.at("CLIENT_IP") +
           " " + m.at("METHOD") + " " + m.at("PATH") + " " + m.at("STATUS") + " " + m.at("REASON");
  };
  CHECK(row(0) == "1 admin alice 127.0.0.1 PUT /api/offers/spring 200 ");
  CHECK(row(1) == "2 admin bob 127.0.0.1 PUT /api/offers/spring 200 ");
  CHECK(row(2) == "3 admin carol 127.0.0.1 PUT /api/offers/spring 400 bad_url");
  CHECK(row(3) == "4 unauthenticated  127.0.0.1 POST /api/backup 401 unauthorized");
  CHECK(rows[0].at("TIME").size() == 24);
  CHECK(rows[0].count("USER_AGENT") == 0);  // the table leaves it out

  // CSV and JSON carry every field.
  r = Ctl(s, {"audit", "--csv"});
  REQUIRE(r.code == 0);
  std::vector<std::map<std::string, std::string>> records = ParseCsvRecords(r.out);
  REQUIRE(records.size() == 4);
  CHECK(records[0].at("user_agent").substr(0, 12) == "ricochetctl/");
  CHECK(records[0].at("body_sha256").size() == 64);
  CHECK(records[3].at("operator").empty());
  CHECK(records[3].at("body_bytes") ==
        std::to_string(std::string(R"({"path":"/tmp/nowhere"})").size()));
  r = Ctl(s, {"audit", "--json"});
  REQUIRE(r.code == 0);
  json::value v = json::parse(r.out);
  CHECK(v.at("records").as_array().size() == 4);
  CHECK(v.at("more").as_bool() == false);

  // Filters and pages; stderr says how to go on.
  r = Ctl(s, {"audit", "--actor", "unauthenticated"});
  REQUIRE(r.code == 0);
  rows = ParseTable(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(row(0) == "4 unauthenticated  127.0.0.1 POST /api/backup 401 unauthorized");
  r = Ctl(s, {"audit", "--status", "2xx", "--method", "PUT", "--path", "/api/offers/spring"});
  REQUIRE(r.code == 0);
  CHECK(ParseTable(r.out).size() == 2);
  r = Ctl(s, {"audit", "--limit", "2"});
  REQUIRE(r.code == 0);
  CHECK(ParseTable(r.out).size() == 2);
  CHECK(r.err == "audit: more records match; continue with --after 2\n");
  r = Ctl(s, {"audit", "--limit", "2", "--after", "2"});
  REQUIRE(r.code == 0);
  rows = ParseTable(r.out);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at("SEQ") == "3");
  CHECK(r.err.empty());
  r = Ctl(s, {"audit", "--order", "desc", "--limit", "1"});
  REQUIRE(r.code == 0);
  rows = ParseTable(r.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("SEQ") == "4");
  CHECK(r.err == "audit: more records match; continue with --before 4\n");

  // Reading the trail leaves no record.
  r = Ctl(s, {"audit", "--json"});
  CHECK(json::parse(r.out).at("records").as_array().size() == 4);

  // Errors.
  r = Ctl(s, {"audit", "--limit", "0"});
  CHECK(r.code == 5);
  CHECK(r.err.find("(400 bad_number in limit: limit must be a whole number from 1 to 10000)") !=
        std::string::npos);
  r = Ctl(s, {"audit", "--operator", "tab\there"});
  CHECK(r.code == 2);
  CHECK(r.err ==
        "ricochetctl: --operator takes 1 to 64 printable ASCII characters, such as a login name "
        "or an e-mail address\n");
  r = RunCtl({"audit", "--server", server});
  CHECK(r.code == 3);
  r = Ctl(s, {"audit", "--help"});
  CHECK(r.code == 0);
  CHECK(r.out.find("Usage: ricochetctl audit [--from DATE]") == 0);
}

}  // namespace ricochet::testing
