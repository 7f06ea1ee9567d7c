#include "engine/audit.h"

#include <openssl/sha.h>

#include "absl/strings/str_replace.h"
#include "attribution/sv.h"
#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "engine/url.h"

namespace ricochet::engine {
namespace http = boost::beast::http;
namespace {

constexpr size_t kMaxUserAgentBytes = 256;
constexpr size_t kMinRedactedTokenBytes = 8;

// `s` cut to `n` bytes, the token redacted, as valid UTF-8 (stored text is served as JSON).
std::string RecordedText(std::string_view s, size_t n, std::string_view admin_token) {
  std::string out(s.substr(0, n));
  if (admin_token.size() >= kMinRedactedTokenBytes) {
    out = absl::StrReplaceAll(out, {{ToAbsl(admin_token), "REDACTED"}});
  }
  return ToValidUtf8(out);
}

}  // namespace

bool IsAuditedCall(http::verb method, const RouteMatch& match) {
  return match.route == Route::kAdminApi && method != http::verb::get && method != http::verb::head;
}

std::string AuditTarget(std::string_view target, std::string_view admin_token) {
  std::string redacted = RedactTarget(target);
  if (admin_token.size() >= kMinRedactedTokenBytes) {
    redacted = absl::StrReplaceAll(redacted, {{ToAbsl(admin_token), "REDACTED"}});
  }
  return PercentEncodeUnprintable(redacted);
}

storage::AuditRecord NewAuditRecord(const Request& request, std::string client_ip,
                                    bool authenticated, std::string_view admin_token) {
  storage::AuditRecord r;
  r.method = RecordedText(request.method_string(), 32, admin_token);
  r.target = AuditTarget(request.target(), admin_token);
  r.actor = authenticated ? "admin" : "unauthenticated";
  if (auto it = request.find(kOperatorHeader); it != request.end()) {
    r.operator_name = RecordedText(it->value(), kMaxOperatorBytes, admin_token);
  }
  r.client_ip = std::move(client_ip);
  if (auto it = request.find(http::field::user_agent); it != request.end()) {
    r.user_agent = RecordedText(it->value(), kMaxUserAgentBytes, admin_token);
  }
  const std::string& body = request.body();
  r.body_bytes = body.size();
  if (!body.empty()) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
    r.body_sha256.assign(reinterpret_cast<const char*>(digest), sizeof(digest));
  }
  return r;
}

void SetAuditOutcome(const Response& response, storage::AuditRecord* record) {
  record->status = static_cast<int32_t>(response.result_int());
  record->reason.clear();
  if (record->status < 400) return;
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(response.body(), ec);
  if (ec || !body.is_object()) return;
  if (const boost::json::value* reason = body.get_object().if_contains("reason");
      reason != nullptr && reason->is_string()) {
    record->reason = RecordedText(reason->get_string(), 64, "");
  }
}

}  // namespace ricochet::engine
