// Outgoing affiliate postbacks end to end: a real server delivers to a scripted receiver on
// 127.0.0.1. Macros, retries, dead letters, replay, restarts (clean and SIGKILL mid-attempt),
// redirects not followed, and the SSRF guard at PUT and at delivery.
#include <chrono>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "catch2/catch.hpp"
#include "harness.h"
#include "receiver.h"

namespace ricochet::testing {
namespace json = boost::json;
namespace {

json::value J(const std::string& s) { return json::parse(s); }

json::array Outbox(const Server& s, const std::string& state) {
  HttpResult r = s.Api("GET", "/api/outbox?state=" + state);
  REQUIRE(r.status == 200);
  return J(r.body).at("entries").as_array();
}

// Sets up offer "o" (10% of the amount, USD) and affiliate a1 whose postback goes to `url`, then
// converts once (order O1, amount 100); returns the click id.
std::string Convert(const Server& s, const std::string& url) {
  s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}",
                      "plan":{"events":{"sale":{"cps_percent":"10"}}}})");
  json::object aff{{"postback_url", url}};
  s.PutAffiliate("a1", json::serialize(aff));
  std::string cid = Click(s, "o", "a1");
  HttpResult r = Postback(s, "cid=" + cid + "&amount=100&order_id=O1");
  REQUIRE(r.status == 200);
  return cid;
}

const std::vector<std::string> kFast = {"--allow-private-postbacks", "--postback-retry-ms", "50"};

}  // namespace

TEST_CASE("postbacks are delivered with their macros and retried after a 500",
          "[outbox][delivery]") {
  TempDir dir;
  Receiver rx;
  rx.Script({"500", "204"});
  Server s(dir.path(), kFast);
  const std::string base = "http://127.0.0.1:" + std::to_string(rx.port());
  std::string cid =
      Convert(s, base + "/pb?c={click_id}&p={payout}&st={status}&id={event_id}&r={random}");
  REQUIRE(Eventually([&] { return Outbox(s, "delivered").size() == 1; }));
  json::object e = Outbox(s, "delivered")[0].as_object();
  CHECK(e.at("attempts").as_int64() == 2);
  CHECK(e.at("last_status").as_int64() == 204);
  CHECK(e.at("last_error").as_string() == "");
  CHECK(Outbox(s, "pending").empty());
  std::vector<std::string> got = rx.Requests();
  REQUIRE(got.size() == 2);
  const std::string url = std::string(e.at("url").as_string());
  const std::string random = url.substr(url.find("&r=") + 3);
  CHECK(!random.empty());
  CHECK(random.find_first_not_of("0123456789") == std::string::npos);
  const std::string line = "GET /pb?c=" + cid +
                           "&p=10.00&st=approved&id=" + std::string(e.at("id").as_string()) +
                           "&r=" + random + " HTTP/1.1";
  CHECK(got[0].substr(0, got[0].find("\r\n")) == line);
  CHECK(got[1].substr(0, got[1].find("\r\n")) == line);  // the same event id on the retry
  CHECK(got[0].find("\r\nHost: 127.0.0.1:" + std::to_string(rx.port()) + "\r\n") !=
        std::string::npos);
  CHECK(MetricValue(s, R"(ricochet_outbox_deliveries_total{result="retry"})") == 1);
  CHECK(MetricValue(s, R"(ricochet_outbox_deliveries_total{result="delivered"})") == 1);
  CHECK(MetricValue(s, "ricochet_outbox_pending") == 0);

  // A status change fires again, with the new status.
  std::string id(J(s.Api("GET", "/api/outbox/" + std::string(e.at("id").as_string())).body)
                     .at("conversion_id")
                     .as_string());
  HttpResult changed = s.Api("POST", "/api/conversions/" + id + "/status",
                             R"({"status":"reversed","reason":"chargeback"})");
  REQUIRE(changed.status == 200);
  CHECK(J(changed.body).at("reason").as_string() == "chargeback");  // the operator's reason
  CHECK(J(s.Api("GET", "/api/conversions/" + id).body).at("reason").as_string() == "chargeback");
  CHECK(s.Api("POST", "/api/conversions/" + id + "/status",
              R"({"status":"reversed","reason":"bad\u0001"})")
            .status == 400);
  REQUIRE(Eventually([&] { return Outbox(s, "delivered").size() == 2; }));
  CHECK(rx.Requests().back().find("&p=10.00&st=reversed&id=") != std::string::npos);
  CHECK(s.Api("GET", "/api/outbox/ob_nope").status == 404);
}

TEST_CASE("after max attempts a postback is a dead letter; retry replays it",
          "[outbox][delivery]") {
  TempDir dir;
  Receiver rx;
  rx.Script({"500"});
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--postback-max-attempts", "3"});
  Server s(dir.path(), args);
  Convert(s, "http://127.0.0.1:" + std::to_string(rx.port()) + "/pb?id={event_id}");
  REQUIRE(Eventually([&] { return Outbox(s, "dead").size() == 1; }));
  json::object e = Outbox(s, "dead")[0].as_object();
  CHECK(e.at("attempts").as_int64() == 3);
  CHECK(e.at("last_status").as_int64() == 500);
  CHECK(e.at("reason").as_string() == "http_status");
  CHECK(rx.count() == 3);
  CHECK(Outbox(s, "pending").empty());
  CHECK(MetricValue(s, R"(ricochet_outbox_deliveries_total{result="dead"})") == 1);

  rx.Script({"200"});
  const std::string id(e.at("id").as_string());
  HttpResult r = s.Api("POST", "/api/outbox/" + id + "/retry");
  REQUIRE(r.status == 200);
  CHECK(J(r.body).at("state").as_string() == "pending");
  CHECK(J(r.body).at("attempts").as_int64() == 0);
  REQUIRE(Eventually([&] { return Outbox(s, "delivered").size() == 1; }));
  CHECK(Outbox(s, "dead").empty());
  CHECK(rx.count() == 4);
  CHECK(J(s.Api("GET", "/api/outbox/" + id).body).at("attempts").as_int64() == 1);

  CHECK(s.Api("POST", "/api/outbox/ob_nope/retry").status == 404);
  CHECK(J(s.Api("POST", "/api/outbox/ob_nope/retry").body).at("reason").as_string() ==
        "unknown_outbox_entry");
  CHECK(s.Api("GET", "/api/outbox/" + id + "/retry").status == 405);
}

TEST_CASE("redirects are never followed", "[outbox][delivery]") {
  TempDir dir;
  Receiver rx, elsewhere;
  rx.Script({"302"});
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--postback-max-attempts", "2"});
  Server s(dir.path(), args);
  Convert(s, "http://127.0.0.1:" + std::to_string(rx.port()) + "/pb");
  REQUIRE(Eventually([&] { return Outbox(s, "dead").size() == 1; }));
  CHECK(Outbox(s, "dead")[0].at("last_status").as_int64() == 302);
  CHECK(rx.count() == 2);
  CHECK(elsewhere.count() == 0);
}

TEST_CASE("an attempt ends at its deadline; TLS is verified", "[outbox][delivery]") {
  TempDir dir;
  Receiver hangs, plain;
  hangs.Script({"hang"});
  Server s(dir.path(), {"--allow-private-postbacks", "--postback-max-attempts", "1",
                        "--postback-timeout-ms", "300"});
  Convert(s, "http://127.0.0.1:" + std::to_string(hangs.port()) + "/pb");
  REQUIRE(Eventually([&] { return Outbox(s, "dead").size() == 1; }));
  CHECK(Outbox(s, "dead")[0].at("reason").as_string() == "timeout");
  CHECK(hangs.count() == 1);

  CHECK(s.Stop() == 0);

  // https:// to a server that speaks plain HTTP: the handshake fails, nothing is sent in clear.
  // (The receiver waits 2 s for a request head that never comes, then answers in plain text.)
  Server t(dir.path(), {"--allow-private-postbacks", "--postback-max-attempts", "1"});
  std::string cid = Click(t, "o", "a1");
  json::object aff{{"postback_url", "https://127.0.0.1:" + std::to_string(plain.port()) + "/pb"}};
  t.PutAffiliate("a1", json::serialize(aff));
  REQUIRE(Postback(t, "cid=" + cid + "&amount=100&order_id=T2").status == 200);
  REQUIRE(Eventually([&] { return Outbox(t, "dead").size() == 2; }));
  json::object e = Outbox(t, "dead")[1].as_object();
  CHECK(e.at("reason").as_string() == "tls_error");
  REQUIRE(plain.count() == 1);
  CHECK(plain.Requests()[0].find("GET /pb") == std::string::npos);  // only a TLS ClientHello
}

TEST_CASE("--pause-postbacks queues postbacks and sends none", "[outbox][delivery]") {
  TempDir dir;
  Receiver rx;
  {
    Server s(dir.path(), {"--allow-private-postbacks", "--pause-postbacks"});
    Convert(s, "http://127.0.0.1:" + std::to_string(rx.port()) + "/pb");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    json::array pending = Outbox(s, "pending");
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].at("attempts").as_int64() == 0);
    CHECK(MetricValue(s, "ricochet_outbox_pending") == 1);
    CHECK(s.Stop() == 0);
  }
  CHECK(rx.count() == 0);
  Server s(dir.path(), kFast);  // unpaused: the queue drains
  REQUIRE(Eventually([&] { return Outbox(s, "delivered").size() == 1; }));
  CHECK(rx.count() == 1);
}

TEST_CASE("pending postbacks survive a restart; an attempt cut off by SIGKILL counts once",
          "[outbox][delivery][restart]") {
  TempDir dir;
  Receiver rx;
  rx.Script({"hang"});  // the first attempt never gets an answer
  std::string id;
  {
    Server s(dir.path(), {"--allow-private-postbacks", "--postback-timeout-ms", "60000"});
    Convert(s, "http://127.0.0.1:" + std::to_string(rx.port()) + "/pb?id={event_id}");
    REQUIRE(Eventually([&] { return rx.count() == 1; }));
    json::array pending = Outbox(s, "pending");
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].at("attempts").as_int64() == 1);
    CHECK(pending[0].at("last_error").as_string() == "in_flight");
    id = std::string(pending[0].at("id").as_string());
    s.Kill();
  }
  rx.Script({"200"});
  Server s(dir.path(), kFast);
  REQUIRE(Eventually([&] { return Outbox(s, "delivered").size() == 1; }));
  json::object e = Outbox(s, "delivered")[0].as_object();
  CHECK(e.at("id").as_string() == id);
  CHECK(e.at("attempts").as_int64() == 2);  // the cut-off attempt, then the successful one
  REQUIRE(rx.count() == 2);
  CHECK(rx.Requests()[0].substr(0, rx.Requests()[0].find("\r\n")) ==
        rx.Requests()[1].substr(0, rx.Requests()[1].find("\r\n")));

  CHECK(s.Stop() == 0);

  // A clean stop with a failure on record: the retry happens after the restart, once.
  rx.Script({"500", "200"});
  {
    Server slow(dir.path(), {"--allow-private-postbacks", "--postback-retry-ms", "3000"});
    std::string cid = Click(slow, "o", "a1");
    REQUIRE(Postback(slow, "cid=" + cid + "&amount=100&order_id=O2").status == 200);
    REQUIRE(Eventually([&] {
      json::array p = Outbox(slow, "pending");
      return p.size() == 1 && p[0].at("reason").as_string() == "http_status";
    }));
    CHECK(rx.count() == 3);
    CHECK(slow.Stop() == 0);  // well before the retry is due (2.4 s at the earliest)
  }
  Server again(dir.path(), kFast);
  REQUIRE(Eventually([&] { return Outbox(again, "delivered").size() == 2; }));
  CHECK(rx.count() == 4);
  CHECK(Outbox(again, "delivered")[1].at("attempts").as_int64() == 2);
}

TEST_CASE("private postback targets are refused at PUT and at delivery", "[outbox][ssrf]") {
  TempDir dir;
  Receiver rx;
  Server s(dir.path());  // --allow-private-postbacks is off
  for (const char* host :
       {"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "[::1]", "[fe80::1]", "[fd00::1]", "[::ffff:127.0.0.1]", "[::ffff:a00:1]"}) {
    INFO(host);
    json::object aff{{"postback_url", std::string("http://") + host + "/pb?c={click_id}"}};
    HttpResult r = s.Api("PUT", "/api/affiliates/a1", json::serialize(aff));
    CHECK(r.status == 400);
    CHECK(J(r.body).at("reason").as_string() == "ssrf_blocked");
    CHECK(J(r.body).at("field").as_string() == "postback_url");
  }
  for (const char* url :
       {"http://user@aff.example/pb", "http://aff.example:99999/pb", "http://u@10.0.0.5/pb"}) {
    INFO(url);
    json::object aff{{"postback_url", url}};
    HttpResult r = s.Api("PUT", "/api/affiliates/a1", json::serialize(aff));
    CHECK(r.status == 400);
    CHECK(J(r.body).at("reason").as_string() == "bad_url");
  }
  CHECK(s.Api("GET", "/api/affiliates/a1").status == 404);  // nothing stored

  // A name that resolves to loopback passes PUT and is refused when resolved: dead at once.
  Convert(s, "http://localhost:" + std::to_string(rx.port()) + "/pb?c={click_id}");
  REQUIRE(Eventually([&] { return Outbox(s, "dead").size() == 1; }));
  json::object e = Outbox(s, "dead")[0].as_object();
  CHECK(e.at("reason").as_string() == "ssrf_blocked");
  CHECK(e.at("attempts").as_int64() == 1);
  CHECK(std::string(e.at("last_error").as_string()).find("(loopback)") != std::string::npos);
  CHECK(rx.count() == 0);
  CHECK(MetricValue(s, R"(ricochet_outbox_deliveries_total{result="ssrf_blocked"})") == 1);
}

TEST_CASE("backup writes a checkpoint that a server opens with the same data", "[backup]") {
  TempDir dir;
  const std::string backup = dir.path() + "-backup";
  std::string conversion;
  {
    Server s(dir.path());
    s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}",
                        "plan":{"events":{"sale":{"cpa":"2.50"}}}})");
    s.PutAffiliate("a1", "{}");
    std::string cid = Click(s, "o", "a1");
    HttpResult pb = Postback(s, "cid=" + cid + "&order_id=B1");
    REQUIRE(pb.status == 200);
    conversion = std::string(J(pb.body).at("conversion_id").as_string());
    CHECK(s.Api("POST", "/api/backup", "{}").status == 400);
    CHECK(s.Api("POST", "/api/backup", R"({"path":"relative/dir"})").status == 400);
    CHECK(s.Api("POST", "/api/backup",
                json::serialize(json::object{{"path", backup + "/no/such/parent"}}))
              .status == 400);
    HttpResult r = s.Api("POST", "/api/backup", json::serialize(json::object{{"path", backup}}));
    REQUIRE(r.status == 200);
    CHECK(J(r.body).at("path").as_string() == backup);
    CHECK(J(r.body).at("files").as_int64() > 3);
    CHECK(s.Api("POST", "/api/backup", json::serialize(json::object{{"path", backup}})).status ==
          409);
    // Written after the backup: must not be in it.
    REQUIRE(Postback(s, "cid=" + cid + "&order_id=B2").status == 200);
    CHECK(s.Stop() == 0);
  }
  {
    Server restored(backup);  // offline restore: start a server on the checkpoint directory
    HttpResult c = restored.Api("GET", "/api/conversions/" + conversion);
    REQUIRE(c.status == 200);
    CHECK(J(c.body).at("order_id").as_string() == "B1");
    CHECK(J(restored.Api("GET", "/api/balances/a1").body).at("USD").at("approved").as_string() ==
          "2.50");
    HttpResult v = restored.Api("GET", "/api/verify");
    CHECK(v.status == 200);
    CHECK(J(v.body).at("entries").as_int64() == 1);
    CHECK(restored.Stop() == 0);
  }
  std::filesystem::remove_all(backup);
}

TEST_CASE("stats and payouts list answer the admin API", "[admin]") {
  TempDir dir;
  Server s(dir.path());
  HttpResult st = s.Api("GET", "/api/stats");
  REQUIRE(st.status == 200);
  CHECK(J(st.body).at("offers").as_int64() == 0);
  CHECK(J(st.body).at("outbox").at("pending").as_int64() == 0);
  s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}",
                      "plan":{"events":{"sale":{"cpa":"2.50"}}}})");
  s.PutAffiliate("a1", "{}");
  const int64_t syncs = MetricValue(s, "ricochet_rocksdb_wal_syncs_total");
  REQUIRE(Postback(s, "cid=" + Click(s, "o", "a1") + "&order_id=P1").status == 200);
  REQUIRE(Postback(s, "cid=" + Click(s, "o", "a1") + "&order_id=P1").status == 200);
  CHECK(Postback(s, "cid=" + Click(s, "o", "a1") + "&order_id=P2&amount=x").status == 400);
  CHECK(MetricValue(s, R"(ricochet_conversions_total{result="created",reason=""})") == 1);
  CHECK(MetricValue(s, R"(ricochet_conversions_total{result="duplicate",reason=""})") == 1);
  CHECK(MetricValue(s, R"(ricochet_conversions_total{result="refused",reason="bad_amount"})") == 1);
  CHECK(MetricValue(s, "ricochet_rocksdb_wal_syncs_total") > syncs);
  HttpResult p = s.Api("POST", "/api/payouts", R"({"currency":"USD"})");
  REQUIRE(p.status == 200);
  json::array list = J(s.Api("GET", "/api/payouts").body).at("payouts").as_array();
  REQUIRE(list.size() == 1);
  CHECK(list[0].at("id") == J(p.body).at("id"));
  CHECK(list[0].at("total").as_string() == "2.50");
  CHECK(list[0].at("affiliates").as_int64() == 1);
  CHECK(J(s.Api("GET", "/api/stats").body).at("offers").as_int64() == 1);
  CHECK(s.Api("DELETE", "/api/stats").status == 405);
}

TEST_CASE("the access log has one line per request, secrets redacted", "[admin][log]") {
  TempDir dir;
  Server s(dir.path(), {"--access-log"});
  s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}","postback_token":"s3cr3t",
                      "plan":{"events":{"sale":{"cpa":"1"}}}})");
  s.PutAffiliate("a1", "{}");
  REQUIRE(Postback(s, "cid=" + Click(s, "o", "a1") + "&token=s3cr3t&order_id=L1").status == 200);
  CHECK(s.Stop() == 0);
  const std::string log = s.Log();
  CHECK(log.find("s3cr3t") == std::string::npos);
  CHECK(log.find("token=REDACTED&order_id=L1") != std::string::npos);
  CHECK(log.find(R"("request":"GET /c/o?aff=a1","status":"302")") != std::string::npos);
  size_t lines = 0;  // not counting the harness's /healthz polls at start-up
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(R"("msg":"access")") != std::string::npos &&
        line.find("/healthz") == std::string::npos) {
      ++lines;
    }
  }
  CHECK(lines == 4);  // two PUTs, the click, the postback
}

}  // namespace ricochet::testing
