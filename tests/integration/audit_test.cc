// The audit trail against the real server on 127.0.0.1: every admin call that may change
// something leaves exactly one record, written before the answer, refused calls included; GETs
// leave none; secrets never reach it; it survives restarts and backups.
#include <openssl/sha.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "catch2/catch.hpp"
#include "harness.h"

namespace ricochet::testing {
namespace json = boost::json;
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Sha256Hex(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(d), sizeof(d)));
}

// GET /api/audit?query; requires 200 and returns the answer.
json::object Audit(const Server& s, const std::string& query = "") {
  HttpResult r = s.Api("GET", "/api/audit" + (query.empty() ? "" : "?" + query));
  INFO(r.body);
  REQUIRE(r.status == 200);
  return json::parse(r.body).as_object();
}

const json::array& Records(const json::object& answer) { return answer.at("records").as_array(); }

// "METHOD path status reason actor" of each record, for exact comparisons of a whole trail.
std::vector<std::string> Lines(const json::object& answer) {
  std::vector<std::string> out;
  for (const json::value& v : Records(answer)) {
    const json::object& r = v.as_object();
    out.push_back(std::string(r.at("method").as_string()) + " " +
                  std::string(r.at("path").as_string()) + " " +
                  std::to_string(r.at("status").as_int64()) + " " +
                  (r.at("reason").is_null() ? "-" : std::string(r.at("reason").as_string())) + " " +
                  std::string(r.at("actor").as_string()));
  }
  return out;
}

std::vector<int64_t> SeqsOf(const json::object& answer) {
  std::vector<int64_t> out;
  for (const json::value& v : Records(answer)) out.push_back(v.at("seq").as_int64());
  return out;
}

HttpResult Admin(const Server& s, const std::string& method, const std::string& target,
                 const std::string& body, std::map<std::string, std::string> headers) {
  headers["Content-Type"] = "application/json";
  return Http(s.admin_port(), method, target, headers, body);
}

const std::string kBearer = std::string("Bearer ") + kToken;
constexpr char kOffer[] = R"({"url":"https://shop.example/?c={click_id}","name":"Spring"})";

}  // namespace

TEST_CASE("every mutating admin call leaves one exact record, in order, before its answer",
          "[audit]") {
  TempDir dir;
  Server s(dir.path());
  const int64_t before = NowMs();
  const std::string paused = R"({"url":"https://shop.example/?c={click_id}","status":"paused"})";
  // create, update, pause: 200s by the operator alice (ricochetctl sends the header).
  std::map<std::string, std::string> alice = {{"Authorization", kBearer},
                                              {"X-Ricochet-Operator", "alice"},
                                              {"User-Agent", "ricochetctl/0.1.0"}};
  REQUIRE(Admin(s, "PUT", "/api/offers/spring", kOffer, alice).status == 200);
  REQUIRE(
      Admin(s, "PUT", "/api/offers/spring", R"({"url":"https://shop.example/v2"})", alice).status ==
      200);
  REQUIRE(Admin(s, "PUT", "/api/offers/spring", paused, alice).status == 200);
  // Refusals: a bad body, a wrong token, a method the route lacks, an unknown route and an
  // unknown id, and no token at all.
  HttpResult bad = Admin(s, "PUT", "/api/offers/spring", R"({"url":"ftp://x"})", alice);
  REQUIRE(bad.status == 400);
  std::string wrong = kToken;
  wrong[0] = wrong[0] == 'x' ? 'y' : 'x';
  REQUIRE(Admin(s, "PUT", "/api/offers/spring", kOffer, {{"Authorization", "Bearer " + wrong}})
              .status == 401);
  REQUIRE(Admin(s, "DELETE", "/api/offers/spring", "", {{"Authorization", kBearer}}).status == 405);
  REQUIRE(Admin(s, "POST", "/api/nope", "{}", {{"Authorization", kBearer}}).status == 404);
  REQUIRE(s.Api("POST", "/api/outbox/ob_unknown/retry").status == 404);
  REQUIRE(Admin(s, "POST", "/api/backup", R"({"path":"/x"})", {}).status == 401);
  // Reads leave nothing: GETs and HEADs with and without the token, /metrics, health.
  REQUIRE(s.Api("GET", "/api/offers/spring").status == 200);
  REQUIRE(s.Api("GET", "/api/offers").status == 200);
  REQUIRE(s.Api("HEAD", "/api/offers").status == 405);  // refused, but a HEAD
  REQUIRE(Admin(s, "GET", "/api/offers", "", {}).status == 401);
  REQUIRE(Admin(s, "GET", "/api/audit", "", {{"Authorization", "Bearer " + wrong}}).status == 401);
  REQUIRE(Http(s.admin_port(), "GET", "/metrics").status == 200);
  REQUIRE(Http(s.admin_port(), "POST", "/metrics").status == 405);  // not under /api
  REQUIRE(Http(s.admin_port(), "GET", "/healthz").status == 200);
  REQUIRE(s.Get("/c/spring?aff=a").status == 404);  // paused, no fallback: public, not audited
  const int64_t after = NowMs();

  json::object all = Audit(s);
  CHECK(Lines(all) == std::vector<std::string>{
                          "PUT /api/offers/spring 200 - admin",
                          "PUT /api/offers/spring 200 - admin",
                          "PUT /api/offers/spring 200 - admin",
                          "PUT /api/offers/spring 400 bad_url admin",
                          "PUT /api/offers/spring 401 unauthorized unauthenticated",
                          "DELETE /api/offers/spring 405 method_not_allowed admin",
                          "POST /api/nope 404 not_found admin",
                          "POST /api/outbox/ob_unknown/retry 404 unknown_outbox_entry admin",
                          "POST /api/backup 401 unauthorized unauthenticated",
                      });
  REQUIRE(SeqsOf(all) == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(all.at("more").as_bool() == false);
  const json::array& r = Records(all);
  // The first record in full.
  const json::object& first = r[0].as_object();
  CHECK(first.size() == 12);
  CHECK(first.at("operator").as_string() == "alice");
  CHECK(first.at("client_ip").as_string() == "127.0.0.1");
  CHECK(first.at("user_agent").as_string() == "ricochetctl/0.1.0");
  CHECK(first.at("body_bytes").as_int64() == static_cast<int64_t>(std::string(kOffer).size()));
  CHECK(first.at("body_sha256").as_string() == Sha256Hex(kOffer));
  CHECK(r[2].at("body_sha256").as_string() == Sha256Hex(paused));
  // Times are RFC 3339 UTC with milliseconds, within the test's run, never decreasing.
  int64_t previous = before;
  for (const json::value& v : r) {
    std::string text(v.at("time").as_string());
    absl::Time t;
    std::string error;
    REQUIRE(absl::ParseTime("%Y-%m-%dT%H:%M:%E3SZ", text, &t, &error));
    CHECK(text.size() == 24);
    CHECK(absl::ToUnixMillis(t) >= previous);
    CHECK(absl::ToUnixMillis(t) <= after);
    previous = absl::ToUnixMillis(t);
  }
  // No operator, no User-Agent, no body: null.
  const json::object& anon = r[8].as_object();
  CHECK(anon.at("operator").is_null());
  CHECK(anon.at("user_agent").is_null());
  CHECK(anon.at("body_bytes").as_int64() == 13);  // {"path":"/x"}
  const json::object& del = r[5].as_object();
  CHECK(del.at("body_bytes").as_int64() == 0);
  CHECK(del.at("body_sha256").is_null());
  // The token itself is nowhere in the trail, not even the wrong one.
  const std::string raw = json::serialize(all);
  CHECK(raw.find(kToken) == std::string::npos);
  CHECK(raw.find(wrong) == std::string::npos);

  // Filters and pages.
  CHECK(Lines(Audit(s, "actor=unauthenticated")) ==
        std::vector<std::string>{"PUT /api/offers/spring 401 unauthorized unauthenticated",
                                 "POST /api/backup 401 unauthorized unauthenticated"});
  CHECK(SeqsOf(Audit(s, "status=4xx")) == std::vector<int64_t>{4, 5, 6, 7, 8, 9});
  CHECK(SeqsOf(Audit(s, "status=200")) == std::vector<int64_t>{1, 2, 3});
  CHECK(SeqsOf(Audit(s, "method=POST")) == std::vector<int64_t>{7, 8, 9});
  CHECK(SeqsOf(Audit(s, "path=/api/offers/spring")) == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(SeqsOf(Audit(s, "path=/api/offers/spr")).empty());  // an object, not a prefix of its id
  CHECK(SeqsOf(Audit(s, "path=/api/outbox")) == std::vector<int64_t>{8});
  json::object page = Audit(s, "limit=4");
  CHECK(SeqsOf(page) == std::vector<int64_t>{1, 2, 3, 4});
  CHECK(page.at("more").as_bool());
  page = Audit(s, "limit=4&after=4");
  CHECK(SeqsOf(page) == std::vector<int64_t>{5, 6, 7, 8});
  CHECK(page.at("more").as_bool());
  page = Audit(s, "limit=4&after=8");
  CHECK(SeqsOf(page) == std::vector<int64_t>{9});
  CHECK_FALSE(page.at("more").as_bool());
  page = Audit(s, "order=desc&limit=3");
  CHECK(SeqsOf(page) == std::vector<int64_t>{9, 8, 7});
  CHECK(page.at("more").as_bool());
  CHECK(SeqsOf(Audit(s, "order=desc&limit=3&before=7")) == std::vector<int64_t>{6, 5, 4});
  CHECK(SeqsOf(Audit(s, "status=4xx&limit=2&after=5")) == std::vector<int64_t>{6, 7});
  const std::string first_day = std::string(r[0].at("time").as_string()).substr(0, 10);
  const std::string last_day = std::string(r[8].at("time").as_string()).substr(0, 10);
  CHECK(SeqsOf(Audit(s, "from=" + first_day + "&to=" + last_day)).size() == 9);
  CHECK(SeqsOf(Audit(s, "from=" + last_day)).back() == 9);
  CHECK(SeqsOf(Audit(s, "to=2000-01-01")).empty());
  CHECK(SeqsOf(Audit(s, "from=2100-01-01")).empty());

  // Bad queries: 400 with a reason (and, being GETs, no record).
  struct Bad {
    std::string query, body;
  };
  for (
      const Bad& b : std::vector<Bad>{
          {"limit=0",
           R"({"reason":"bad_number","field":"limit","message":"limit must be a whole number from 1 to 10000"})"},
          {"limit=10001",
           R"({"reason":"bad_number","field":"limit","message":"limit must be a whole number from 1 to 10000"})"},
          {"after=-1",
           R"({"reason":"bad_number","field":"after","message":"after must be a seq number"})"},
          {"before=x",
           R"({"reason":"bad_number","field":"before","message":"before must be a seq number"})"},
          {"order=up",
           R"({"reason":"bad_field","field":"order","message":"order is asc or desc"})"},
          {"actor=root",
           R"({"reason":"bad_field","field":"actor","message":"actor is admin or unauthenticated"})"},
          {"status=4x",
           R"({"reason":"bad_field","field":"status","message":"status is a code such as 401 or a class such as 4xx"})"},
          {"from=2026-13-01",
           R"({"reason":"bad_date","message":"from and to must be dates as YYYY-MM-DD"})"},
          {"from=2026-02-02&to=2026-02-01",
           R"({"reason":"bad_date","message":"from must not be after to"})"},
      }) {
    INFO(b.query);
    HttpResult res = s.Api("GET", "/api/audit?" + b.query);
    CHECK(res.status == 400);
    CHECK(res.body == b.body);
  }
  CHECK(Records(Audit(s)).size() == 9);

  // The counters.
  HttpResult m = Http(s.admin_port(), "GET", "/metrics");
  CHECK(m.body.find("\nricochet_audit_records_total{actor=\"admin\"} 7\n") != std::string::npos);
  CHECK(m.body.find("\nricochet_audit_records_total{actor=\"unauthenticated\"} 2\n") !=
        std::string::npos);
  CHECK(m.body.find("\nricochet_audit_write_errors_total 0\n") != std::string::npos);
}

TEST_CASE("secrets in the query are redacted before the record is stored", "[audit]") {
  TempDir dir;
  Server s(dir.path());
  const std::string t = kToken;
  REQUIRE(
      s.Api("PUT", "/api/offers/o?token=abc&access_token=" + t + "&x=1&security_token=s", kOffer)
          .status == 200);
  REQUIRE(Admin(s, "POST", "/api/backup?api_key=k&q=" + t, "{}", {}).status == 401);
  REQUIRE(Admin(s, "PUT", "/api/" + t, "", {{"Authorization", kBearer}}).status == 404);
  CHECK(Lines(Audit(s)) ==
        std::vector<std::string>{
            "PUT /api/offers/o?token=REDACTED&access_token=REDACTED&x=1&security_token=REDACTED "
            "200 - admin",
            "POST /api/backup?api_key=REDACTED&q=REDACTED 401 unauthorized unauthenticated",
            "PUT /api/REDACTED 404 not_found admin"});
}

TEST_CASE("the trail survives restarts and is in backups; seq goes on", "[audit]") {
  TempDir dir;
  const std::string backup = dir.path() + "-backup";
  std::filesystem::remove_all(backup);
  {
    Server s(dir.path());
    s.PutOffer("o", kOffer);
    s.PutAffiliate("a", "{}");
    REQUIRE(s.Api("POST", "/api/backup", json::serialize(json::object{{"path", backup}})).status ==
            200);
    CHECK(s.Stop() == 0);
  }
  {
    Server s(dir.path());
    CHECK(Lines(Audit(s)) == std::vector<std::string>{"PUT /api/offers/o 200 - admin",
                                                      "PUT /api/affiliates/a 200 - admin",
                                                      "POST /api/backup 200 - admin"});
    REQUIRE(s.Api("PUT", "/api/offers/o", "not json").status == 400);
    s.Kill();  // no clean shutdown: the record was synced before its answer
  }
  {
    Server s(dir.path());
    json::object all = Audit(s);
    CHECK(SeqsOf(all) == std::vector<int64_t>{1, 2, 3, 4});
    CHECK(Lines(all).back() == "PUT /api/offers/o 400 bad_json admin");
  }
  // The checkpoint has what was recorded before it was taken (the backup's own record comes
  // after its answer is known).
  {
    Server s(backup);
    CHECK(Lines(Audit(s)) == std::vector<std::string>{"PUT /api/offers/o 200 - admin",
                                                      "PUT /api/affiliates/a 200 - admin"});
    REQUIRE(s.Api("POST", "/api/verify").status == 200);
    CHECK(SeqsOf(Audit(s)) == std::vector<int64_t>{1, 2, 3});
  }
  std::filesystem::remove_all(backup);
}

}  // namespace ricochet::testing
