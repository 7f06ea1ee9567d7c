// The route table of both listeners, as one pure function: which route a request target names,
// whether its method is allowed there (and the Allow header of the 405 if not), and the ids the
// path carries. The handlers dispatch on it and nothing else; it reads no headers and no state,
// so it can be tested and fuzzed on its own (tests/engine/routes_test.cc, fuzz/route_fuzzer.cc).
#ifndef RICOCHET_ENGINE_ROUTES_H_
#define RICOCHET_ENGINE_ROUTES_H_

#include <cstdint>
#include <string_view>

#include "boost/beast/http/verb.hpp"
#include "engine/metrics.h"

namespace ricochet::engine {

// A call of the admin API (Route::kAdminApi), named by its path: /api/offers is kOffers,
// /api/offers/{id} is kOffer, /api/conversions/{id}/status is kConversionStatus.
enum class AdminCall : uint8_t {
  kNone,  // not an admin API call, or no such call under /api (404 once the token is checked)
  kOffers,
  kOffer,
  kAffiliates,
  kAffiliate,
  kClick,
  kConversion,
  kConversionStatus,
  kLedger,
  kBalances,
  kPayouts,
  kPayout,
  kOutbox,
  kOutboxEntry,
  kOutboxRetry,
  kBackup,
  kStats,
  kVerify,
  kReport,
  kAudit,
};

struct RouteMatch {
  // kNotFound when nothing matched; never kBadRequest. kAdminApi for any path that is /api or
  // under /api/ on the admin listener, known call or not: the token is checked before the call.
  Route route = Route::kNotFound;
  AdminCall call = AdminCall::kNone;  // route kAdminApi only
  // The method is one of `allow`. False when there is no route (kNotFound, or kAdminApi with
  // call kNone), and then `allow` is empty.
  bool allowed = false;
  std::string_view allow;  // the Allow header of a 405: "GET, HEAD", "GET, POST", "GET", ...
  // /c/{id}: the offer id, everything after "/c/", not empty and not yet validated (IsValidId
  // is the click handler's check; "x/y" is a click on an unknown offer). The admin calls with
  // an {id}: that path segment, which may be empty (/api/clicks/). Otherwise empty.
  std::string_view id;
  // The target split by SplitTarget: the path matched above, and the query (without '?').
  std::string_view path;
  std::string_view query;
};

// Routes `target` (as the request line has it) on `listener`. `method` is Beast's verb;
// verb::unknown (any method Beast does not know, and lower-case ones) is never allowed. Paths
// are matched byte for byte: no percent-decoding, no dot segments, no case folding; an
// absolute-form target routes by its path (SplitTarget). The query and fragment never change
// the route (absolute-form targets with no host or with userinfo never get here: CheckFraming
// refuses them, bad_target). The string_views point into `target` (but see SplitTarget for
// "http://host"). Allocates nothing.
[[nodiscard]] RouteMatch MatchRoute(Listener listener, boost::beast::http::verb method,
                                    std::string_view target);

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_ROUTES_H_
