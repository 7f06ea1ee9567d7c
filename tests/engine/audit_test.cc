// What an audit record says about a request: which calls are audited, redaction, the body
// digest, the outcome.
#include "engine/audit.h"

#include "absl/strings/escaping.h"
#include "catch2/catch.hpp"

namespace ricochet::engine {
namespace http = boost::beast::http;
namespace {

constexpr char kToken[] = "s3cret-admin-token";

Request Make(http::verb method, std::string target, std::string body = "") {
  Request r(method, target, 11);
  r.body() = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("every method but GET and HEAD under /api is audited", "[audit]") {
  auto audited = [](http::verb method, std::string_view path) {
    return IsAuditedCall(method, MatchRoute(Listener::kAdmin, method, path));
  };
  CHECK(audited(http::verb::put, "/api/offers/o"));
  CHECK(audited(http::verb::post, "/api/backup"));
  CHECK(audited(http::verb::delete_, "/api/offers/o"));
  CHECK(audited(http::verb::patch, "/api"));
  CHECK(audited(http::verb::options, "/api/nope"));
  CHECK(audited(http::verb::unknown, "/api/x"));  // a method Beast does not know ("FOO")
  CHECK_FALSE(audited(http::verb::get, "/api/offers"));
  CHECK_FALSE(audited(http::verb::head, "/api/offers"));
  CHECK_FALSE(audited(http::verb::post, "/metrics"));
  CHECK_FALSE(audited(http::verb::post, "/apix"));
  CHECK_FALSE(audited(http::verb::post, "/healthz"));
}

TEST_CASE("recorded targets lose secrets and anything but printable ASCII", "[audit]") {
  CHECK(AuditTarget("/api/offers/o?token=abc&access_token=def&x=1", kToken) ==
        "/api/offers/o?token=REDACTED&access_token=REDACTED&x=1");
  // The real token wherever it appears, under any name.
  CHECK(AuditTarget(std::string("/api/") + kToken + "?q=" + kToken, kToken) ==
        "/api/REDACTED?q=REDACTED");
  // A short token would redact ordinary text: only names redact then.
  CHECK(AuditTarget("/api/offers/spring?t=abc", "abc") == "/api/offers/spring?t=abc");
  CHECK(AuditTarget("/api/x y\x01\xC3\xA9", kToken) == "/api/x%20y%01%C3%A9");
  CHECK(AuditTarget("/api/offers/o", kToken) == "/api/offers/o");
}

TEST_CASE("a record names the caller and digests the body, never the token", "[audit]") {
  Request req = Make(http::verb::put, "/api/offers/spring?admin_token=x", R"({"url":"u"})");
  req.set(http::field::authorization, std::string("Bearer ") + kToken);
  req.set(http::field::user_agent, std::string("curl/8 ") + kToken);
  req.set("X-Ricochet-Operator", "alice@example.com");
  storage::AuditRecord r = NewAuditRecord(req, "10.0.0.7", true, kToken);
  CHECK(r.method == "PUT");
  CHECK(r.target == "/api/offers/spring?admin_token=REDACTED");
  CHECK(r.actor == "admin");
  CHECK(r.operator_name == "alice@example.com");
  CHECK(r.client_ip == "10.0.0.7");
  CHECK(r.user_agent == "curl/8 REDACTED");
  CHECK(r.body_bytes == 11);
  CHECK(absl::BytesToHexString(r.body_sha256) ==
        "b135661e99cd61a206805c8501653be4102e51991a37434d4fe3f7c10a90f5de");

  Request anon = Make(http::verb::post, "/api/backup");
  anon.set("X-Ricochet-Operator", std::string(100, 'b') + "\xff");
  storage::AuditRecord u = NewAuditRecord(anon, "127.0.0.1", false, kToken);
  CHECK(u.actor == "unauthenticated");
  CHECK(u.operator_name == std::string(kMaxOperatorBytes, 'b'));
  CHECK(u.user_agent.empty());
  CHECK(u.body_bytes == 0);
  CHECK(u.body_sha256.empty());
}

TEST_CASE("the outcome is the status, and the reason of a refusal", "[audit]") {
  storage::AuditRecord r;
  SetAuditOutcome(JsonError(11, http::status::bad_request, "bad_url", R"("field":"url")"), &r);
  CHECK(r.status == 400);
  CHECK(r.reason == "bad_url");
  SetAuditOutcome(JsonResponse(11, http::status::ok, R"({"reason":"not a refusal"})"), &r);
  CHECK(r.status == 200);
  CHECK(r.reason.empty());
  SetAuditOutcome(JsonResponse(11, http::status::conflict, R"({"ok":false})"), &r);
  CHECK(r.status == 409);
  CHECK(r.reason.empty());
  Response text(http::status::service_unavailable, 11);
  text.body() = "not json";
  SetAuditOutcome(text, &r);
  CHECK(r.status == 503);
  CHECK(r.reason.empty());
}

}  // namespace ricochet::engine
