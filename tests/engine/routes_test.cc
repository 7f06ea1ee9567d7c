// The route table of both listeners (engine/routes.h): exact route, call, Allow and ids for
// real and odd targets. tests/integration/security_test.cc checks the same table over sockets.
#include "engine/routes.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "catch2/catch.hpp"

namespace ricochet::engine {
namespace http = boost::beast::http;
namespace {

constexpr Listener kPub = Listener::kPublic;
constexpr Listener kAdm = Listener::kAdmin;

struct Case {
  Listener listener;
  http::verb method;
  std::string_view target;
  Route route;
  AdminCall call;
  bool allowed;
  std::string_view allow;
  std::string_view id;
};

std::string Describe(const Case& c) {
  return std::string(ListenerName(c.listener)) + " " + std::string(http::to_string(c.method)) +
         " '" + std::string(c.target) + "'";
}

void Check(const Case& c) {
  INFO(Describe(c));
  RouteMatch m = MatchRoute(c.listener, c.method, c.target);
  CHECK(RouteName(m.route) == RouteName(c.route));
  CHECK(static_cast<int>(m.call) == static_cast<int>(c.call));
  CHECK(m.allowed == c.allowed);
  CHECK(m.allow == c.allow);
  CHECK(m.id == c.id);
}

// Every verb Beast knows, and unknown (any other method, lower-case ones included).
std::vector<http::verb> AllVerbs() {
  std::vector<http::verb> v;
  for (int i = static_cast<int>(http::verb::unknown); i <= static_cast<int>(http::verb::unlink);
       ++i) {
    v.push_back(static_cast<http::verb>(i));
  }
  return v;
}

}  // namespace

TEST_CASE("public listener: routes, methods, Allow and the offer id", "[routes]") {
  using V = http::verb;
  const Case cases[] = {
      {kPub, V::get, "/c/o", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "o"},
      {kPub, V::head, "/c/o?aff=a", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "o"},
      {kPub, V::post, "/c/o", Route::kClick, AdminCall::kNone, false, "GET, HEAD", "o"},
      {kPub, V::unknown, "/c/o", Route::kClick, AdminCall::kNone, false, "GET, HEAD", "o"},
      {kPub, V::get, "/postback?cid=x", Route::kPostback, AdminCall::kNone, true, "GET, POST", ""},
      {kPub, V::post, "/postback", Route::kPostback, AdminCall::kNone, true, "GET, POST", ""},
      {kPub, V::head, "/postback", Route::kPostback, AdminCall::kNone, false, "GET, POST", ""},
      {kPub, V::put, "/postback", Route::kPostback, AdminCall::kNone, false, "GET, POST", ""},
      {kPub, V::get, "/p.gif?offer_id=o", Route::kPixel, AdminCall::kNone, true, "GET", ""},
      {kPub, V::head, "/p.gif", Route::kPixel, AdminCall::kNone, false, "GET", ""},
      {kPub, V::post, "/p.gif", Route::kPixel, AdminCall::kNone, false, "GET", ""},
      {kPub, V::get, "/healthz", Route::kHealthz, AdminCall::kNone, true, "GET, HEAD", ""},
      {kPub, V::head, "/readyz", Route::kReadyz, AdminCall::kNone, true, "GET, HEAD", ""},
      {kPub, V::delete_, "/readyz", Route::kReadyz, AdminCall::kNone, false, "GET, HEAD", ""},
      // The admin routes do not exist here, whatever the method.
      {kPub, V::get, "/metrics", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/api/offers", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::put, "/api/offers/o", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/api", Route::kNotFound, AdminCall::kNone, false, "", ""},
  };
  for (const Case& c : cases) Check(c);
}

TEST_CASE("odd click targets: the id is everything after /c/, unvalidated", "[routes]") {
  using V = http::verb;
  const Case cases[] = {
      // An empty id is no click route.
      {kPub, V::get, "/c/", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/c", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/c/?aff=a", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/c/#x", Route::kNotFound, AdminCall::kNone, false, "", ""},
      // Slashes stay in the id; IsValidId turns them into 404 unknown_offer in the handler.
      {kPub, V::get, "/c//x", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "/x"},
      {kPub, V::get, "/c/x/y", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "x/y"},
      {kPub, V::post, "/c/x/y", Route::kClick, AdminCall::kNone, false, "GET, HEAD", "x/y"},
      {kPub, V::get, "/c/x/", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "x/"},
      {kPub, V::get, "//c/x", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/C/x", Route::kNotFound, AdminCall::kNone, false, "", ""},
      // No percent-decoding: an encoded slash is a byte of the id, an encoded path no route.
      {kPub, V::get, "/c/x%2Fy", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "x%2Fy"},
      {kPub, V::get, "/c%2Fx", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/%63/o", Route::kNotFound, AdminCall::kNone, false, "", ""},
      // The query and the fragment end the path, whichever comes first.
      {kPub, V::get, "/c/o?x=/y#z", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "o"},
      {kPub, V::get, "/c/o#frag?x", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "o"},
      {kPub, V::get, "/c/o?", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "o"},
      {kPub, V::get, "?/c/o", Route::kNotFound, AdminCall::kNone, false, "", ""},
      // Absolute-form routes by its path; asterisk-form and empty targets match nothing.
      {kPub, V::get, "http://host/c/x", Route::kClick, AdminCall::kNone, true, "GET, HEAD", "x"},
      {kPub, V::get, "HTTPS://h:1/c/x?aff=a", Route::kClick, AdminCall::kNone, true, "GET, HEAD",
       "x"},
      {kPub, V::get, "http://host", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "ftp://host/c/x", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::options, "*", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/", Route::kNotFound, AdminCall::kNone, false, "", ""},
      // Other paths match exactly: no trailing slash, no case folding, no dot segments.
      {kPub, V::get, "/postback/", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/p.gif/x", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/P.GIF", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/healthz/", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/./healthz", Route::kNotFound, AdminCall::kNone, false, "", ""},
      {kPub, V::get, "/..%2fapi/offers", Route::kNotFound, AdminCall::kNone, false, "", ""},
  };
  for (const Case& c : cases) Check(c);
}

TEST_CASE("admin listener: health, metrics and every API call", "[routes]") {
  using V = http::verb;
  using C = AdminCall;
  constexpr Route kApi = Route::kAdminApi;
  const Case cases[] = {
      {kAdm, V::get, "/healthz", Route::kHealthz, C::kNone, true, "GET, HEAD", ""},
      {kAdm, V::post, "/readyz", Route::kReadyz, C::kNone, false, "GET, HEAD", ""},
      {kAdm, V::get, "/metrics", Route::kMetrics, C::kNone, true, "GET", ""},
      {kAdm, V::head, "/metrics", Route::kMetrics, C::kNone, false, "GET", ""},
      {kAdm, V::get, "/metrics/", Route::kNotFound, C::kNone, false, "", ""},
      // The public routes do not exist here.
      {kAdm, V::get, "/c/o", Route::kNotFound, C::kNone, false, "", ""},
      {kAdm, V::get, "/postback", Route::kNotFound, C::kNone, false, "", ""},
      {kAdm, V::get, "/p.gif", Route::kNotFound, C::kNone, false, "", ""},
      {kAdm, V::get, "/", Route::kNotFound, C::kNone, false, "", ""},
      {kAdm, V::get, "/apix", Route::kNotFound, C::kNone, false, "", ""},
      {kAdm, V::get, "//api/offers", Route::kNotFound, C::kNone, false, "", ""},
      // Lists, with a trailing slash for offers and affiliates only.
      {kAdm, V::get, "/api/offers", kApi, C::kOffers, true, "GET", ""},
      {kAdm, V::get, "/api/offers/", kApi, C::kOffers, true, "GET", ""},
      {kAdm, V::put, "/api/offers/", kApi, C::kOffers, false, "GET", ""},
      {kAdm, V::get, "/api/affiliates", kApi, C::kAffiliates, true, "GET", ""},
      {kAdm, V::head, "/api/affiliates/", kApi, C::kAffiliates, false, "GET", ""},
      {kAdm, V::get, "/api/offers/o", kApi, C::kOffer, true, "GET, PUT", "o"},
      {kAdm, V::put, "/api/offers/o?x=1", kApi, C::kOffer, true, "GET, PUT", "o"},
      {kAdm, V::delete_, "/api/offers/o", kApi, C::kOffer, false, "GET, PUT", "o"},
      {kAdm, V::put, "/api/affiliates/a", kApi, C::kAffiliate, true, "GET, PUT", "a"},
      {kAdm, V::post, "/api/affiliates/a", kApi, C::kAffiliate, false, "GET, PUT", "a"},
      {kAdm, V::get, "/api/offers/o/x", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/offers//", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/clicks/AQx", kApi, C::kClick, true, "GET", "AQx"},
      {kAdm, V::get, "/api/clicks/", kApi, C::kClick, true, "GET", ""},
      {kAdm, V::get, "/api/clicks", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/conversions/k", kApi, C::kConversion, true, "GET", "k"},
      {kAdm, V::post, "/api/conversions/k/status", kApi, C::kConversionStatus, true, "POST", "k"},
      {kAdm, V::get, "/api/conversions/k/status", kApi, C::kConversionStatus, false, "POST", "k"},
      {kAdm, V::post, "/api/conversions//status", kApi, C::kConversionStatus, true, "POST", ""},
      {kAdm, V::post, "/api/conversions/k/other", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/ledger?affiliate=a", kApi, C::kLedger, true, "GET", ""},
      {kAdm, V::get, "/api/balances/a", kApi, C::kBalances, true, "GET", "a"},
      {kAdm, V::get, "/api/payouts", kApi, C::kPayouts, true, "GET, POST", ""},
      {kAdm, V::post, "/api/payouts", kApi, C::kPayouts, true, "GET, POST", ""},
      {kAdm, V::put, "/api/payouts", kApi, C::kPayouts, false, "GET, POST", ""},
      {kAdm, V::get, "/api/payouts/x.csv", kApi, C::kPayout, true, "GET", "x.csv"},
      {kAdm, V::get, "/api/payouts/", kApi, C::kPayout, true, "GET", ""},
      {kAdm, V::get, "/api/outbox?state=dead", kApi, C::kOutbox, true, "GET", ""},
      {kAdm, V::get, "/api/outbox/7", kApi, C::kOutboxEntry, true, "GET", "7"},
      {kAdm, V::post, "/api/outbox/7/retry", kApi, C::kOutboxRetry, true, "POST", "7"},
      {kAdm, V::post, "/api/backup", kApi, C::kBackup, true, "POST", ""},
      {kAdm, V::get, "/api/backup", kApi, C::kBackup, false, "POST", ""},
      {kAdm, V::get, "/api/stats", kApi, C::kStats, true, "GET", ""},
      {kAdm, V::get, "/api/verify", kApi, C::kVerify, true, "GET, POST", ""},
      {kAdm, V::post, "/api/verify", kApi, C::kVerify, true, "GET, POST", ""},
      {kAdm, V::get, "/api/report?group_by=offer", kApi, C::kReport, true, "GET", ""},
      {kAdm, V::get, "/api/audit", kApi, C::kAudit, true, "GET", ""},
      {kAdm, V::get, "/api/audit/", kApi, C::kNone, false, "", ""},
      // Anything else under /api is the API route without a call: 401, or 404 with the token.
      {kAdm, V::get, "/api", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/nope", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/../api/offers", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/Offers", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/offers%2Fo", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/a/b/c/d/e", kApi, C::kNone, false, "", ""},
      {kAdm, V::get, "/api/offers/o/x/y/z", kApi, C::kNone, false, "", ""},
      {kAdm, V::unknown, "/api/offers", kApi, C::kOffers, false, "GET", ""},
      {kAdm, V::get, "http://host/api/offers", Route::kAdminApi, C::kOffers, true, "GET", ""},
      {kAdm, V::get, "*", Route::kNotFound, C::kNone, false, "", ""},
      {kAdm, V::get, "", Route::kNotFound, C::kNone, false, "", ""},
  };
  for (const Case& c : cases) Check(c);
}

TEST_CASE("a route allows exactly the methods its Allow header names", "[routes]") {
  const std::pair<Listener, std::string_view> targets[] = {
      {kPub, "/c/o"},
      {kPub, "/postback"},
      {kPub, "/p.gif"},
      {kPub, "/healthz"},
      {kAdm, "/readyz"},
      {kAdm, "/metrics"},
      {kAdm, "/api/offers"},
      {kAdm, "/api/offers/o"},
      {kAdm, "/api/payouts"},
      {kAdm, "/api/backup"},
      {kAdm, "/api/outbox/1/retry"},
      {kAdm, "/api/verify"},
      {kAdm, "/api/nope"},
      {kPub, "/nope"},
  };
  for (const auto& [listener, target] : targets) {
    RouteMatch any = MatchRoute(listener, http::verb::get, target);
    std::vector<std::string> named;
    if (!any.allow.empty()) named = absl::StrSplit(std::string(any.allow), ", ");
    int allowed = 0;
    for (http::verb v : AllVerbs()) {
      INFO(std::string(target) << " " << http::to_string(v));
      RouteMatch m = MatchRoute(listener, v, target);
      CHECK(m.route == any.route);
      CHECK(m.call == any.call);
      CHECK(m.allow == any.allow);
      const bool in_allow =
          v != http::verb::unknown &&
          std::find(named.begin(), named.end(), http::to_string(v)) != named.end();
      CHECK(m.allowed == in_allow);
      allowed += m.allowed;
    }
    CHECK(allowed == static_cast<int>(named.size()));
  }
}

TEST_CASE("path and query are SplitTarget's, views into the target", "[routes]") {
  const std::string target = "/c/o?aff=a&sub1=x#frag";
  RouteMatch m = MatchRoute(kPub, http::verb::get, target);
  CHECK(m.path == "/c/o");
  CHECK(m.query == "aff=a&sub1=x");
  CHECK(m.id.data() == target.data() + 3);
  m = MatchRoute(kAdm, http::verb::get, "/api/ledger?affiliate=a&from=2026-01-01");
  CHECK(m.path == "/api/ledger");
  CHECK(m.query == "affiliate=a&from=2026-01-01");
}

}  // namespace ricochet::engine
