#include "engine/routes.h"

#include "engine/url.h"

namespace ricochet::engine {
namespace http = boost::beast::http;
namespace {

// The methods of a route, and their Allow header.
struct Methods {
  std::string_view allow;
  bool get, head, post, put;

  bool Allows(http::verb m) const {
    return (m == http::verb::get && get) || (m == http::verb::head && head) ||
           (m == http::verb::post && post) || (m == http::verb::put && put);
  }
};
constexpr Methods kGet{"GET", true, false, false, false};
constexpr Methods kGetHead{"GET, HEAD", true, true, false, false};
constexpr Methods kGetPost{"GET, POST", true, false, true, false};
constexpr Methods kGetPut{"GET, PUT", true, false, false, true};
constexpr Methods kPost{"POST", false, false, true, false};

// Exact paths (the click route is a prefix, and the admin API a tree: both below).
struct FixedRoute {
  std::string_view path;
  bool on_public, on_admin;
  Route route;
  Methods methods;
};
constexpr FixedRoute kFixedRoutes[] = {
    {"/postback", true, false, Route::kPostback, kGetPost},
    {"/p.gif", true, false, Route::kPixel, kGet},
    {"/healthz", true, true, Route::kHealthz, kGetHead},
    {"/readyz", true, true, Route::kReadyz, kGetHead},
    {"/metrics", false, true, Route::kMetrics, kGet},
};

// Admin API calls by the segments of the path ("api", name, {id}, tail): `segments` counts
// them all, so /api/offers has 2 and /api/outbox/{id}/retry 4.
struct ApiRoute {
  size_t segments;
  std::string_view name;
  std::string_view tail;  // the fourth segment, when there is one
  AdminCall call;
  Methods methods;
  bool trailing_slash = false;  // also matches with an empty third segment (/api/offers/)
};
constexpr ApiRoute kApiRoutes[] = {
    {2, "offers", "", AdminCall::kOffers, kGet, true},
    {3, "offers", "", AdminCall::kOffer, kGetPut},
    {2, "affiliates", "", AdminCall::kAffiliates, kGet, true},
    {3, "affiliates", "", AdminCall::kAffiliate, kGetPut},
    {3, "clicks", "", AdminCall::kClick, kGet},
    {3, "conversions", "", AdminCall::kConversion, kGet},
    {4, "conversions", "status", AdminCall::kConversionStatus, kPost},
    {2, "ledger", "", AdminCall::kLedger, kGet},
    {3, "balances", "", AdminCall::kBalances, kGet},
    {2, "payouts", "", AdminCall::kPayouts, kGetPost},
    {3, "payouts", "", AdminCall::kPayout, kGet},
    {2, "outbox", "", AdminCall::kOutbox, kGet},
    {3, "outbox", "", AdminCall::kOutboxEntry, kGet},
    {4, "outbox", "retry", AdminCall::kOutboxRetry, kPost},
    {2, "backup", "", AdminCall::kBackup, kPost},
    {2, "stats", "", AdminCall::kStats, kGet},
    {2, "verify", "", AdminCall::kVerify, kGetPost},
    {2, "report", "", AdminCall::kReport, kGet},
    {2, "audit", "", AdminCall::kAudit, kGet},
};

void Accept(RouteMatch* m, Route route, const Methods& methods, http::verb method) {
  m->route = route;
  m->allow = methods.allow;
  m->allowed = methods.Allows(method);
}

// `path` is /api or under /api/.
void MatchApi(RouteMatch* m, http::verb method) {
  m->route = Route::kAdminApi;
  // The segments after "api"; more than four never match, so they are only counted.
  std::string_view part[4];
  size_t segments = 1;
  std::string_view rest = m->path.substr(4);  // "" or "/..."
  while (!rest.empty()) {
    rest.remove_prefix(1);
    size_t slash = rest.find('/');
    if (segments < 4) part[segments] = rest.substr(0, slash);
    ++segments;
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  for (const ApiRoute& r : kApiRoutes) {
    if (part[1] != r.name || part[3] != r.tail) continue;
    bool list_with_slash = r.trailing_slash && segments == 3 && part[2].empty();
    if (segments != r.segments && !list_with_slash) continue;
    Accept(m, Route::kAdminApi, r.methods, method);
    m->call = r.call;
    if (r.segments >= 3) m->id = part[2];
    return;
  }
}

}  // namespace

RouteMatch MatchRoute(Listener listener, http::verb method, std::string_view target) {
  RouteMatch m;
  SplitTarget(target, &m.path, &m.query);
  const bool is_public = listener == Listener::kPublic;
  if (is_public && m.path.size() > 3 && m.path.substr(0, 3) == "/c/") {
    Accept(&m, Route::kClick, kGetHead, method);
    m.id = m.path.substr(3);
    return m;
  }
  for (const FixedRoute& r : kFixedRoutes) {
    if (m.path == r.path && (is_public ? r.on_public : r.on_admin)) {
      Accept(&m, r.route, r.methods, method);
      return m;
    }
  }
  if (!is_public && (m.path == "/api" || m.path.substr(0, 5) == "/api/")) MatchApi(&m, method);
  return m;
}

}  // namespace ricochet::engine
