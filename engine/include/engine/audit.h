// The audit trail of the admin API: one record for every call that may change something (any
// method but GET and HEAD under /api), answered or refused, saying who (actor, operator, client
// address, User-Agent), what (method, redacted path and query, body size and SHA-256), when, and
// with what result (status, reason). The admin handler writes it, synced, before the answer goes
// out (docs/operations.md#audit-trail). Pure functions; no I/O.
#ifndef RICOCHET_ENGINE_AUDIT_H_
#define RICOCHET_ENGINE_AUDIT_H_

#include <string>
#include <string_view>

#include "engine/http_server.h"
#include "engine/routes.h"
#include "storage/records.h"

namespace ricochet::engine {

// The header a client may set to name the person behind the shared token ("alice"). Recorded
// as sent (printable, at most kMaxOperatorBytes), never verified.
inline constexpr std::string_view kOperatorHeader = "X-Ricochet-Operator";
inline constexpr size_t kMaxOperatorBytes = 64;

// True when a request routed to `match` on the admin listener must leave an audit record: it
// is under the admin API (/api or below, known call or not), and its method is anything but GET
// and HEAD.
[[nodiscard]] bool IsAuditedCall(boost::beast::http::verb method, const RouteMatch& match);

// The target as recorded: secret-bearing query values redacted (RedactTarget), the admin token
// redacted wherever it appears literally (when it is at least 8 bytes; a shorter one would
// redact ordinary text), and every byte outside printable ASCII percent-encoded.
[[nodiscard]] std::string AuditTarget(std::string_view target, std::string_view admin_token);

// The record of `request` before it is answered: method, target, actor, operator, client
// address, User-Agent and body digest. Seq, time and the outcome come later.
[[nodiscard]] storage::AuditRecord NewAuditRecord(const Request& request, std::string client_ip,
                                                  bool authenticated, std::string_view admin_token);

// Copies the answer's status, and its JSON "reason" when the status is 400 or more.
void SetAuditOutcome(const Response& response, storage::AuditRecord* record);

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_AUDIT_H_
