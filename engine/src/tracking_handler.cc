#include <chrono>
#include <random>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "engine/click_id.h"
#include "engine/handlers.h"
#include "engine/net.h"
#include "engine/postback_params.h"
#include "engine/routes.h"
#include "engine/url.h"

namespace ricochet::engine {
namespace http = boost::beast::http;
namespace {

constexpr size_t kMaxParamBytes = 256;
constexpr size_t kMaxUserAgentBytes = 512;
constexpr int64_t kVisitorCookieMaxAge = 365 * 86400;

// Click query parameters and their aliases; a lower rank wins when several are given.
enum Param { kAff, kSub1, kSub2, kSub3, kSub4, kSub5, kSource, kParamCount };
struct ParamName {
  std::string_view name;
  Param param;
  int rank;
};
constexpr ParamName kParams[] = {
    {"aff", kAff, 0},   {"aff_id", kAff, 1},    {"affid", kAff, 2},     {"a_aid", kAff, 3},
    {"sub1", kSub1, 0}, {"aff_sub", kSub1, 1},  {"sub2", kSub2, 0},     {"aff_sub2", kSub2, 1},
    {"sub3", kSub3, 0}, {"aff_sub3", kSub3, 1}, {"sub4", kSub4, 0},     {"aff_sub4", kSub4, 1},
    {"sub5", kSub5, 0}, {"aff_sub5", kSub5, 1}, {"source", kSource, 0},
};

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view Truncate(std::string_view s, size_t n) {
  return s.size() > n ? s.substr(0, n) : s;
}

// Value of cookie `name` in a Cookie header, or empty.
std::string_view FindCookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view item = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > name.size() && item.substr(0, name.size()) == name &&
        item[name.size()] == '=') {
      return item.substr(name.size() + 1);
    }
  }
  return {};
}

bool IsVisitorId(std::string_view v) {
  if (v.size() != kVisitorIdLength) return false;
  for (char c : v) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Response NotFound(unsigned version, std::string_view reason) {
  return JsonError(version, http::status::not_found, reason);
}

}  // namespace

uint64_t TrackingHandler::Rng::Next() {
  // xoshiro256**: fast, per worker, never shared between threads.
  auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

TrackingHandler::TrackingHandler(const Services& services)
    : s_(services), rngs_(static_cast<size_t>(services.config->threads) + 1) {
  std::random_device rd;
  for (Rng& r : rngs_) {
    for (uint64_t& w : r.s) w = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
}

std::string ClientIp(const Request& req, const RequestContext& ctx,
                     const std::vector<Cidr>& trusted) {
  std::string forwarded;  // several X-Forwarded-For headers read as one list, in order
  if (!trusted.empty()) {
    auto range = req.equal_range("X-Forwarded-For");
    for (auto it = range.first; it != range.second; ++it) {
      if (!forwarded.empty()) forwarded += ',';
      forwarded.append(it->value());
    }
  }
  return ResolveClientIp(ctx.peer, forwarded, trusted);
}

void HandleHealth(const Services& s, const Request& req, Route route, Responder& respond) {
  if (route == Route::kHealthz) {
    respond.Send(route, JsonResponse(req.version(), http::status::ok, R"({"status":"ok"})"));
    return;
  }
  auto steady_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  if (!s.store->writable()) {
    // Writes are refused (disk full): not ready at once, without waiting out the cache.
    s.readiness->last_ok_ms.store(INT64_MIN / 2, std::memory_order_relaxed);
    respond.Send(
        route, JsonError(req.version(), http::status::service_unavailable, "storage_unavailable"));
    return;
  }
  if (steady_ms() - s.readiness->last_ok_ms.load(std::memory_order_relaxed) < Readiness::kCacheMs) {
    respond.Send(route, JsonResponse(req.version(), http::status::ok, R"({"status":"ready"})"));
    return;
  }
  boost::asio::post(*s.blocking_pool, [store = s.store, readiness = s.readiness, steady_ms,
                                       version = req.version(), r = std::move(respond)]() mutable {
    absl::Status st = store->CheckWritable();
    if (st.ok()) {
      readiness->last_ok_ms.store(steady_ms(), std::memory_order_relaxed);
      r.Send(Route::kReadyz, JsonResponse(version, http::status::ok, R"({"status":"ready"})"));
    } else {
      r.Send(Route::kReadyz,
             JsonError(version, http::status::service_unavailable, "storage_unavailable"));
    }
  });
}

void TrackingHandler::Handle(Request&& req, const RequestContext& ctx, Responder respond) {
  const RouteMatch match = MatchRoute(Listener::kPublic, req.method(), req.target());
  if (match.route != Route::kNotFound && !match.allowed) {
    respond.Send(match.route, MethodNotAllowed(req.version(), match.allow));
    return;
  }
  switch (match.route) {
    case Route::kClick:
      respond.Send(Route::kClick, HandleClick(req, ctx, match.id, match.query));
      return;
    case Route::kPostback:
      HandlePostback(std::move(req), match.query, std::move(respond));
      return;
    case Route::kPixel:
      HandlePixel(std::move(req), match.query, std::move(respond));
      return;
    case Route::kHealthz:
    case Route::kReadyz:
      HandleHealth(s_, req, match.route, respond);
      return;
    default:  // kNotFound: MatchRoute gives the public listener no other route
      respond.Send(Route::kNotFound, NotFound(req.version(), "not_found"));
      return;
  }
}

void TrackingHandler::HandlePostback(Request&& req, std::string_view query, Responder respond) {
  BodyKind kind = BodyKind::kNone;
  if (req.method() == http::verb::post) {
    std::string_view ct;
    if (auto it = req.find(http::field::content_type); it != req.end()) ct = it->value();
    kind = BodyKindOf(ct, req.body());
  }
  absl::StatusOr<PostbackParams> params = ParsePostbackParams(query, kind, req.body());
  if (!params.ok()) {
    respond.Send(Route::kPostback, JsonError(req.version(), http::status::bad_request, "bad_body"));
    return;
  }
  // The answer waits for the fsync on the conversion writer; this thread moves on.
  auto r = std::make_shared<Responder>(std::move(respond));
  s_.conversions->SubmitPostback(
      std::move(*params), [r, version = req.version()](ServiceReply reply) {
        Response res(static_cast<http::status>(reply.status), version);
        res.set(http::field::content_type, reply.plain_text ? "text/plain" : "application/json");
        res.set(http::field::cache_control, "no-store");
        res.body() = std::move(reply.body);
        res.prepare_payload();
        r->Send(Route::kPostback, std::move(res));
      });
}

void TrackingHandler::HandlePixel(Request&& req, std::string_view query, Responder respond) {
  absl::StatusOr<PostbackParams> parsed = ParsePostbackParams(query, BodyKind::kNone, "");
  PostbackParams p = parsed.ok() ? *std::move(parsed) : PostbackParams{};
  // Only what a page may say: offer, event, amount, currency, order. The click comes from the
  // visitor's cookies, never from the query.
  p.click_id.reset();
  p.visitor_id.reset();
  p.token.reset();
  p.status.reset();
  p.return_format.reset();
  p.from_pixel = true;
  std::string_view cookies;
  if (auto it = req.find(http::field::cookie); it != req.end()) cookies = it->value();
  std::string_view vid = FindCookie(cookies, "rc_vid");
  std::string_view cid = FindCookie(cookies, "rc_cid");
  if (IsVisitorId(vid)) p.visitor_id = std::string(vid);
  if (!cid.empty()) p.click_id = std::string(cid);
  auto r = std::make_shared<Responder>(std::move(respond));
  auto answer = [r, version = req.version()](std::string_view result) {
    static constexpr unsigned char kGif[] = {
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xFF, 0xFF, 0xFF, 0x21, 0xF9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B};
    Response res(http::status::ok, version);
    res.set(http::field::content_type, "image/gif");
    res.set(http::field::cache_control, "no-store");
    res.set("X-Ricochet-Result", result);
    res.body().assign(reinterpret_cast<const char*>(kGif), sizeof(kGif));
    res.prepare_payload();
    r->Send(Route::kPixel, std::move(res));
  };
  if (!p.click_id && !(p.visitor_id && p.offer_id)) {
    answer("no_click");
    return;
  }
  s_.conversions->SubmitPostback(std::move(p), [answer](ServiceReply reply) {
    std::string result;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(reply.body, ec);
    if (!ec && v.is_object()) {
      const boost::json::object& o = v.get_object();
      if (const auto* res = o.if_contains("result"); res && res->is_string()) {
        result = std::string(res->get_string());
      } else if (const auto* reason = o.if_contains("reason"); reason && reason->is_string()) {
        result = std::string(reason->get_string());
      }
    }
    if (result == "unknown_click" || result == "bad_click_id") result = "no_click";
    answer(result.empty() ? "error" : result);
  });
}

WireResponse TrackingHandler::HandleClick(const Request& req, const RequestContext& ctx,
                                          std::string_view offer_id, std::string_view query) {
  const unsigned version = req.version();
  if (!IsValidId(offer_id)) return ToWire(NotFound(version, "unknown_offer"));
  const Catalog& catalog = s_.catalog->Current(ctx.worker);
  const Offer* offer = catalog.FindOffer(offer_id);
  if (offer == nullptr) return ToWire(NotFound(version, "unknown_offer"));

  std::array<std::string, kParamCount> params;
  std::array<int, kParamCount> ranks;
  ranks.fill(INT32_MAX);
  ForEachQueryParam(query, [&](std::string_view name, std::string_view value) {
    if (value.empty()) return;
    for (const ParamName& p : kParams) {
      if (p.name == name && p.rank < ranks[p.param]) {
        ranks[p.param] = p.rank;
        params[p.param].assign(Truncate(value, kMaxParamBytes));
      }
    }
  });

  // An `aff` outside the id syntax is an unknown affiliate, and is stored as none.
  const bool aff_valid = IsValidId(params[kAff]);
  const Affiliate* affiliate = aff_valid ? catalog.FindAffiliate(params[kAff]) : nullptr;
  const bool attributable = offer->active && affiliate != nullptr && affiliate->active;
  if (!attributable && offer->fallback_url.empty()) {
    std::string_view reason = !offer->active         ? "offer_paused"
                              : affiliate == nullptr ? "unknown_affiliate"
                                                     : "affiliate_paused";
    return ToWire(NotFound(version, reason));
  }

  Rng& rng = rngs_[ctx.worker];
  const int64_t now_ms = NowMillis();
  std::string_view cookie_header;
  if (auto it = req.find(http::field::cookie); it != req.end()) cookie_header = it->value();
  std::string visitor(FindCookie(cookie_header, "rc_vid"));
  // A new visitor's id is minted from this click (ClickIdCodec::Issue): the visitor index then
  // needs no entry for it.
  const bool new_visitor = !IsVisitorId(visitor);
  std::string click_id = s_.click_ids->Issue(now_ms, s_.config->partition, rng.Next(),
                                             new_visitor ? &visitor : nullptr);

  std::string timestamp = std::to_string(now_ms / 1000);
  std::string random = std::to_string(rng.Next() >> 11);
  MacroValues values{};
  values[size_t(Macro::kClickId)] = click_id;
  values[size_t(Macro::kOfferId)] = offer->id;
  values[size_t(Macro::kAffId)] = params[kAff];
  values[size_t(Macro::kSub1)] = params[kSub1];
  values[size_t(Macro::kSub2)] = params[kSub2];
  values[size_t(Macro::kSub3)] = params[kSub3];
  values[size_t(Macro::kSub4)] = params[kSub4];
  values[size_t(Macro::kSub5)] = params[kSub5];
  values[size_t(Macro::kSource)] = params[kSource];
  values[size_t(Macro::kTimestamp)] = timestamp;
  values[size_t(Macro::kRandom)] = random;
  values[size_t(Macro::kVisitorId)] = visitor;
  // The answer's bytes, written here in one string: the 302 is most of what the server sends.
  WireResponse res;
  res.version = version == 10 ? 10 : 11;
  res.status = 302;
  std::string& head = res.head;
  head.reserve(384);
  head.append(res.version == 10 ? "HTTP/1.0 302 Found\r\nLocation: "
                                : "HTTP/1.1 302 Found\r\nLocation: ");
  const size_t location_at = head.size();
  (attributable ? offer->url : offer->fallback_url).AppendTo(values, &head);
  if (HasControlChars(std::string_view(head).substr(location_at), /*reject_space=*/true)) {
    // Unreachable with percent-encoded values and validated templates; checked regardless.
    return ToWire(JsonError(version, http::status::internal_server_error, "bad_location"));
  }
  head.append("\r\nCache-Control: no-store\r\n");
  if (attributable) {
    absl::StrAppend(&head, "Set-Cookie: rc_cid=", click_id,
                    "; Path=/; Max-Age=", offer->lookback_days * 86400,
                    "; HttpOnly; SameSite=Lax\r\n");
  }
  if (new_visitor) {
    absl::StrAppend(&head, "Set-Cookie: rc_vid=", visitor,
                    "; Path=/; Max-Age=", kVisitorCookieMaxAge, "; HttpOnly; SameSite=Lax\r\n");
  }
  head.append("Content-Length: 0\r\n");

  // Hand the click to the writer; the visitor does not wait for it.
  // Assigned into the (reused) click's strings, not moved in: their buffers stay this thread's.
  std::unique_ptr<PendingClick> pending = s_.clicks->Acquire(ctx.worker);
  storage::ClickRecord& r = pending->record;
  r.click_id.assign(click_id);
  r.time_ms = now_ms;
  r.offer.assign(offer->id);
  if (aff_valid) r.affiliate.assign(params[kAff]);
  // Stored text is served back as JSON: keep it valid UTF-8 (the redirect above kept the bytes).
  for (int i = 0; i < 5; ++i) AssignValidUtf8(params[kSub1 + i], &r.subs[i]);
  AssignValidUtf8(params[kSource], &r.source);
  r.client_ip.assign(ClientIp(req, ctx, s_.config->trusted_proxies));
  if (auto it = req.find(http::field::user_agent); it != req.end()) {
    AssignValidUtf8(Truncate(it->value(), kMaxUserAgentBytes), &r.user_agent);
  }
  if (auto it = req.find(http::field::referer); it != req.end()) {
    AssignValidUtf8(Truncate(it->value(), kMaxParamBytes * 2), &r.referer);
  }
  r.visitor_id.assign(visitor);
  r.visitor_first_click = new_visitor;
  r.attributable = attributable;
  pending->is_head = req.method() == http::verb::head;
  pending->bot_user_agent = s_.bots->Matches(r.user_agent);
  pending->max_clicks_per_ip_per_minute = offer->max_clicks_per_ip_per_minute;
  pending->dedupe_window_s = offer->dedupe_window_s;
  pending->dedupe_key = attribution::MakeDedupeKey(r.offer, r.affiliate, r.client_ip, r.user_agent);
  (void)s_.clicks->Submit(std::move(pending));  // a full queue drops and counts; never blocks
  return res;
}

}  // namespace ricochet::engine
