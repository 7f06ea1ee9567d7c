// The route table (engine/routes.h) on arbitrary request lines: the input is a method, a space,
// and a target, both any bytes (a method Beast does not know is verb::unknown, as its parser
// makes it). Each input is routed on both listeners, then again with the path alone, with
// another query and with another method, and the answers must agree with each other and with
// what the handlers rely on: a known route or kNotFound, admin routes only on the admin
// listener, an Allow header that names the method exactly when it is allowed, an offer id that
// is the rest of the path after /c/, admin ids that are one whole path segment, and a route
// that depends on the listener, the method and the path only.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "boost/beast/http/verb.hpp"
#include "engine/routes.h"
#include "engine/url.h"
#include "fuzz_check.h"

namespace {

namespace engine = ricochet::engine;
namespace http = boost::beast::http;
using engine::AdminCall;
using engine::Listener;
using engine::Route;
using engine::RouteMatch;

// True when `inner` lies within `outer` (both views of the same buffer).
bool Within(std::string_view inner, std::string_view outer) {
  return inner.empty() || (inner.data() >= outer.data() &&
                           inner.data() + inner.size() <= outer.data() + outer.size());
}

// True when `method` is one of the ", "-separated names of `allow`. Checks the list's shape on
// the way: known upper-case methods, each at most once.
bool AllowNames(std::string_view allow, std::string_view method) {
  bool found = false;
  int seen = 0;
  while (!allow.empty()) {
    size_t comma = allow.find(", ");
    std::string_view name = allow.substr(0, comma);
    int bit = name == "GET" ? 1 : name == "HEAD" ? 2 : name == "POST" ? 4 : name == "PUT" ? 8 : 0;
    FUZZ_CHECK(bit != 0);
    FUZZ_CHECK((seen & bit) == 0);
    seen |= bit;
    found = found || name == method;
    allow = comma == std::string_view::npos ? std::string_view() : allow.substr(comma + 2);
    FUZZ_CHECK(comma == std::string_view::npos || !allow.empty());
  }
  return found;
}

// Everything but `allowed` (which depends on the method) and the views of the target.
bool SameRoute(const RouteMatch& a, const RouteMatch& b) {
  return a.route == b.route && a.call == b.call && a.allow == b.allow && a.id == b.id &&
         a.path == b.path;
}

// The admin calls whose path carries an {id}: /api/{name}/{id}{tail}.
struct IdCall {
  AdminCall call;
  std::string_view name, tail;
};
constexpr IdCall kIdCalls[] = {
    {AdminCall::kOffer, "offers", ""},
    {AdminCall::kAffiliate, "affiliates", ""},
    {AdminCall::kClick, "clicks", ""},
    {AdminCall::kConversion, "conversions", ""},
    {AdminCall::kConversionStatus, "conversions", "/status"},
    {AdminCall::kBalances, "balances", ""},
    {AdminCall::kPayout, "payouts", ""},
    {AdminCall::kOutboxEntry, "outbox", ""},
    {AdminCall::kOutboxRetry, "outbox", "/retry"},
};

const IdCall* FindIdCall(AdminCall call) {
  for (const IdCall& c : kIdCalls) {
    if (c.call == call) return &c;
  }
  return nullptr;
}

RouteMatch Check(Listener listener, http::verb verb, std::string_view method,
                 std::string_view target) {
  RouteMatch m = engine::MatchRoute(listener, verb, target);
  const bool is_public = listener == Listener::kPublic;

  // The path and query are SplitTarget's, inside the target; so are the ids.
  std::string_view path, query;
  engine::SplitTarget(target, &path, &query);
  FUZZ_CHECK(m.path == path && m.path.data() == path.data());
  FUZZ_CHECK(m.query == query && m.query.data() == query.data());
  FUZZ_CHECK(Within(m.id, m.path));

  // A known route, and on its own listener only.
  switch (m.route) {
    case Route::kClick:
    case Route::kPostback:
    case Route::kPixel:
      FUZZ_CHECK(is_public);
      break;
    case Route::kMetrics:
    case Route::kAdminApi:
      FUZZ_CHECK(!is_public);
      break;
    case Route::kHealthz:
    case Route::kReadyz:
    case Route::kNotFound:
      break;
    default:
      FUZZ_CHECK(false);  // kBadRequest is the session's, never routing's
  }
  FUZZ_CHECK((m.call != AdminCall::kNone) == (m.route == Route::kAdminApi && !m.allow.empty()));

  // The method is allowed exactly when the Allow header names it; no route, no Allow.
  FUZZ_CHECK(AllowNames(m.allow, method) == m.allowed);
  if (m.allowed) FUZZ_CHECK(verb != http::verb::unknown && http::to_string(verb) == method);
  if (m.route == Route::kNotFound || (m.route == Route::kAdminApi && m.call == AdminCall::kNone)) {
    FUZZ_CHECK(m.allow.empty() && !m.allowed && m.id.empty());
  } else {
    FUZZ_CHECK(!m.allow.empty());
  }

  // Ids: the offer id is the rest of the path after /c/; an admin id is one whole segment.
  if (m.route == Route::kClick) {
    FUZZ_CHECK(path.size() > 3 && path.substr(0, 3) == "/c/");
    FUZZ_CHECK(m.id == path.substr(3) && m.id.data() == path.data() + 3);
    // What the click handler then accepts: one plain segment.
    if (engine::IsValidId(m.id)) FUZZ_CHECK(m.id.find_first_of("/?#%. ") == std::string_view::npos);
  }
  const bool api_path = path == "/api" || path.substr(0, 5) == "/api/";
  FUZZ_CHECK((m.route == Route::kAdminApi) == (!is_public && api_path));
  const IdCall* id_call = m.route == Route::kAdminApi ? FindIdCall(m.call) : nullptr;
  if (id_call != nullptr) {
    FUZZ_CHECK(m.id.find('/') == std::string_view::npos);
    std::string expected =
        "/api/" + std::string(id_call->name) + "/" + std::string(m.id) + std::string(id_call->tail);
    FUZZ_CHECK(path == expected);
  } else if (m.route != Route::kClick) {
    FUZZ_CHECK(m.id.empty());
  }
  if (m.route != Route::kNotFound && m.route != Route::kClick && m.route != Route::kAdminApi) {
    FUZZ_CHECK(!path.empty() && path.find('/', 1) == std::string_view::npos);  // one segment
  }

  // A function of (listener, method, path): the path alone, or another query or fragment,
  // routes the same; another method changes `allowed` only.
  RouteMatch alone = engine::MatchRoute(listener, verb, path);
  FUZZ_CHECK(SameRoute(alone, m) && alone.allowed == m.allowed && alone.query.empty());
  std::string other(path);
  other += "?";
  other.append(query.rbegin(), query.rend());
  other += "#/c/x?/api";
  RouteMatch requeried = engine::MatchRoute(listener, verb, other);
  FUZZ_CHECK(SameRoute(requeried, m) && requeried.allowed == m.allowed);
  for (http::verb v : {http::verb::get, http::verb::head, http::verb::post, http::verb::put,
                       http::verb::delete_, http::verb::unknown}) {
    RouteMatch by = engine::MatchRoute(listener, v, target);
    FUZZ_CHECK(SameRoute(by, m));
    if (v == verb) FUZZ_CHECK(by.allowed == m.allowed);
  }
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t space = in.find(' ');
  std::string_view method = in.substr(0, space);
  std::string_view target =
      space == std::string_view::npos ? std::string_view() : in.substr(space + 1);
  const http::verb verb = http::string_to_verb(method);

  RouteMatch pub = Check(Listener::kPublic, verb, method, target);
  RouteMatch adm = Check(Listener::kAdmin, verb, method, target);
  // The health routes are the same on both listeners; every other route exists on one only.
  if (pub.route == Route::kHealthz || pub.route == Route::kReadyz || adm.route == Route::kHealthz ||
      adm.route == Route::kReadyz) {
    FUZZ_CHECK(SameRoute(pub, adm) && pub.allowed == adm.allowed);
  } else {
    FUZZ_CHECK(pub.route == Route::kNotFound || adm.route == Route::kNotFound);
  }
  return 0;
}
