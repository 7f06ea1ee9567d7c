// Request handlers of the two listeners. They dispatch on MatchRoute (engine/routes.h) and
// validate; they do no socket I/O (the session does) and no RocksDB calls on the I/O thread (the
// blocking pool does).
#ifndef RICOCHET_ENGINE_HANDLERS_H_
#define RICOCHET_ENGINE_HANDLERS_H_

#include <cstdint>
#include <vector>

#include "engine/http_server.h"
#include "engine/net.h"
#include "engine/routes.h"
#include "engine/services.h"
#include "storage/records.h"

namespace ricochet::engine {

// Public listener: GET|HEAD /c/{offer_id}, GET|POST /postback, GET /p.gif, /healthz, /readyz.
class TrackingHandler final : public Handler {
 public:
  explicit TrackingHandler(const Services& services);
  void Handle(Request&& request, const RequestContext& context, Responder respond) override;

  // The click route, synchronous; exposed for tests and benchmarks. `offer_id` and `query` are
  // the route's (MatchRoute): a fragment, and any '?' inside it, is not part of the query.
  WireResponse HandleClick(const Request& request, const RequestContext& context,
                           std::string_view offer_id, std::string_view query);
  // `query` is the route's (MatchRoute), a view into the request's target.
  void HandlePostback(Request&& request, std::string_view query, Responder respond);
  void HandlePixel(Request&& request, std::string_view query, Responder respond);

 private:
  struct alignas(64) Rng {
    uint64_t s[4];
    uint64_t Next();
  };
  Services s_;
  std::vector<Rng> rngs_;  // one per worker
};

// Admin listener: /api/... (bearer token), /metrics, /healthz, /readyz.
class AdminHandler final : public Handler {
 public:
  explicit AdminHandler(const Services& services);
  void Handle(Request&& request, const RequestContext& context, Responder respond) override;

 private:
  // /metrics, on the I/O thread: atomic counters and RocksDB properties only.
  Response RenderMetrics(unsigned version);
  // Runs on the blocking pool.
  // `match` is MatchRoute's answer for `request` (route kAdminApi), the token already checked.
  Response HandleApi(const Request& request, const RouteMatch& match);
  Response PutOffer(const Request& request, std::string_view id);
  Response PutAffiliate(const Request& request, std::string_view id);
  Response GetClick(const Request& request, std::string_view id);
  Response GetReport(const Request& request, std::string_view query);
  Response GetConversion(const Request& request, std::string_view id);
  Response ChangeStatus(const Request& request, std::string_view id);
  Response GetLedger(const Request& request, std::string_view query);
  Response GetBalances(const Request& request, std::string_view affiliate);
  Response Verify(const Request& request);
  Response CreatePayout(const Request& request);
  Response ListOutbox(const Request& request, std::string_view query);
  Response GetPayout(const Request& request, std::string_view id);
  Response ListPayouts(const Request& request);
  Response GetOutboxEntry(const Request& request, std::string_view id);
  Response RetryOutbox(const Request& request, std::string_view id);
  Response Backup(const Request& request);
  Response Stats(const Request& request);
  Response GetAudit(const Request& request, std::string_view query);
  // Completes `record` with the answer and appends it to the audit trail (synced). A failed
  // write is logged and counted (ricochet_audit_write_errors_total); the answer still goes out.
  void WriteAudit(storage::AuditRecord&& record, const Response& response);
  Services s_;
};

// The client address of a request: the socket peer, or what X-Forwarded-For says when the peer
// is one of `trusted` proxies (ResolveClientIp).
std::string ClientIp(const Request& request, const RequestContext& context,
                     const std::vector<Cidr>& trusted);

// /healthz and /readyz (`route` kHealthz or kReadyz, the method already allowed by
// MatchRoute), shared by both listeners. Readiness does a synced probe write on the blocking
// pool.
void HandleHealth(const Services& s, const Request& request, Route route, Responder& respond);

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_HANDLERS_H_
