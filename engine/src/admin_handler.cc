#include <openssl/crypto.h>

#include <filesystem>
#include <future>
#include <map>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "attribution/money.h"
#include "attribution/sv.h"
#include "boost/asio/post.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "engine/audit.h"
#include "engine/handlers.h"
#include "engine/net.h"
#include "engine/routes.h"
#include "engine/url.h"
#include "storage/conversions.h"

namespace ricochet::engine {
namespace http = boost::beast::http;
namespace json = boost::json;
namespace {

constexpr auto kFlushTimeout = std::chrono::seconds(5);

Response Json(unsigned version, const json::value& v, http::status status = http::status::ok) {
  return JsonResponse(version, status, json::serialize(v));
}

Response FieldErrorResponse(unsigned version, const FieldError& e) {
  json::object o;
  o["reason"] = e.reason;
  if (!e.field.empty()) o["field"] = e.field;
  o["message"] = e.message;
  return Json(version, o, http::status::bad_request);
}

Response StorageError(unsigned version, const Services& s, const absl::Status& st,
                      std::string_view what) {
  s.log->Error("storage error", {{"op", what}, {"error", st.ToString()}});
  return JsonError(version, http::status::service_unavailable, "storage_unavailable");
}

Response Unauthorized(unsigned version) {
  Response res = JsonError(version, http::status::unauthorized, "unauthorized");
  res.set(http::field::www_authenticate, "Bearer");
  return res;
}

bool TokenMatches(const Request& req, const std::string& token) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view v = it->value();
  constexpr std::string_view kBearer = "Bearer ";
  if (v.size() < kBearer.size() ||
      !absl::EqualsIgnoreCase(ToAbsl(v.substr(0, kBearer.size())), ToAbsl(kBearer))) {
    return false;
  }
  v.remove_prefix(kBearer.size());
  if (v.size() != token.size()) return false;
  return CRYPTO_memcmp(v.data(), token.data(), token.size()) == 0;
}

std::string FormatDay(int32_t day) {
  return absl::FormatCivilTime(absl::CivilDay(1970, 1, 1) + day);
}

std::optional<int32_t> ParseDay(std::string_view text) {
  absl::CivilDay d;
  if (text.size() != 10 || !absl::ParseCivilTime(ToAbsl(text), &d)) return std::nullopt;
  return static_cast<int32_t>(d - absl::CivilDay(1970, 1, 1));
}

// Reads `from` and `to` (inclusive days, YYYY-MM-DD) into *from and *to, which hold the
// defaults for empty ones. Returns the 400 answer for a bad date or a from after to.
std::optional<Response> ParseDayRange(unsigned version, std::string_view from_s,
                                      std::string_view to_s, int32_t* from, int32_t* to) {
  std::optional<int32_t> f = from_s.empty() ? *from : ParseDay(from_s);
  std::optional<int32_t> t = to_s.empty() ? *to : ParseDay(to_s);
  if (!f || !t) {
    return JsonError(version, http::status::bad_request, "bad_date",
                     R"("message":"from and to must be dates as YYYY-MM-DD")");
  }
  if (*f > *t) {
    return JsonError(version, http::status::bad_request, "bad_date",
                     R"("message":"from must not be after to")");
  }
  *from = *f;
  *to = *t;
  return std::nullopt;
}

std::string Rfc3339(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

std::string_view OutboxStateName(storage::OutboxState s) {
  switch (s) {
    case storage::OutboxState::kPending:
      return "pending";
    case storage::OutboxState::kDelivered:
      return "delivered";
    case storage::OutboxState::kDead:
      return "dead";
  }
  return "pending";
}

json::object OutboxToJson(const storage::OutboxEntry& o) {
  json::object j{{"id", o.id},
                 {"conversion_id", o.conversion_id},
                 {"affiliate", o.affiliate},
                 {"url", o.url},
                 {"state", OutboxStateName(o.state)},
                 {"attempts", o.attempts},
                 {"created", Rfc3339(o.created_ms)}};
  if (o.state == storage::OutboxState::kPending) j["next_attempt"] = Rfc3339(o.next_attempt_ms);
  if (o.last_attempt_ms > 0) j["last_attempt"] = Rfc3339(o.last_attempt_ms);
  if (o.last_status > 0) j["last_status"] = o.last_status;
  // last_error is "code" or "code: detail"; the code alone is the machine-readable reason.
  if (!o.last_error.empty()) j["reason"] = o.last_error.substr(0, o.last_error.find(':'));
  j["last_error"] = o.last_error;
  return j;
}

}  // namespace

AdminHandler::AdminHandler(const Services& services) : s_(services) {}

void AdminHandler::Handle(Request&& req, const RequestContext& ctx, Responder respond) {
  const RouteMatch match = MatchRoute(Listener::kAdmin, req.method(), req.target());
  if (match.route == Route::kNotFound) {
    respond.Send(Route::kNotFound, JsonError(req.version(), http::status::not_found, "not_found"));
    return;
  }
  if (match.route != Route::kAdminApi) {  // /metrics, /healthz, /readyz: no token
    if (!match.allowed) {
      respond.Send(match.route, MethodNotAllowed(req.version(), match.allow));
    } else if (match.route == Route::kMetrics) {
      respond.Send(Route::kMetrics, RenderMetrics(req.version()));
    } else {
      HandleHealth(s_, req, match.route, respond);
    }
    return;
  }
  // The token is checked before the call is: without it, an unknown call or a wrong method is
  // a 401 too, and says nothing about which calls exist.
  const bool authenticated = TokenMatches(req, s_.config->admin_token);
  const bool audited = IsAuditedCall(req.method(), match);
  if (!authenticated && !audited) {
    respond.Send(Route::kAdminApi, Unauthorized(req.version()));
    return;
  }
  // Everything behind the token may scan or fsync, and so does an audit record (refused calls
  // included): off the I/O thread. The record is written before the answer is sent.
  std::string client_ip = audited ? ClientIp(req, ctx, s_.config->trusted_proxies) : "";
  boost::asio::post(*s_.blocking_pool, [this, req = std::move(req), r = std::move(respond),
                                        authenticated, audited,
                                        client_ip = std::move(client_ip)]() mutable {
    // Routed again: the views of `match` pointed into the request before it moved.
    Response res = authenticated
                       ? HandleApi(req, MatchRoute(Listener::kAdmin, req.method(), req.target()))
                       : Unauthorized(req.version());
    if (audited) {
      WriteAudit(NewAuditRecord(req, std::move(client_ip), authenticated, s_.config->admin_token),
                 res);
    }
    r.Send(Route::kAdminApi, std::move(res));
  });
}

Response AdminHandler::RenderMetrics(unsigned version) {
  Gauges g;
  g.click_queue_depth = s_.clicks->depth();
  g.recording_idle = s_.clicks->idle();
  g.recording_boosts = s_.clicks->boosts();
  g.recording_raises = s_.clicks->raises();
  g.click_batches = s_.clicks->batches();
  g.store = s_.store->Stats();
  g.outbox_pending = s_.postbacks->pending();
  g.outbox_in_flight = s_.postbacks->in_flight();
  g.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s_.started).count();
  Response res(http::status::ok, version);
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.body() = s_.metrics->Render(g);
  res.prepare_payload();
  return res;
}

void AdminHandler::WriteAudit(storage::AuditRecord&& record, const Response& response) {
  SetAuditOutcome(response, &record);
  record.time_ms = absl::ToUnixMillis(absl::Now());
  absl::Status st = s_.store->AppendAudit(&record);
  if (st.ok()) {
    s_.metrics->CountAuditRecord(true, record.actor == "admin");
    return;
  }
  // The change (if any) is made and the answer says so; what the trail lost is in this line.
  s_.metrics->CountAuditRecord(false, record.actor == "admin");
  s_.log->Error("audit record not written", {{"seq", std::to_string(record.seq)},
                                             {"method", record.method},
                                             {"path", record.target},
                                             {"status", std::to_string(record.status)},
                                             {"reason", record.reason},
                                             {"actor", record.actor},
                                             {"operator", record.operator_name},
                                             {"client_ip", record.client_ip},
                                             {"body_bytes", std::to_string(record.body_bytes)},
                                             {"error", st.ToString()}});
}

Response AdminHandler::HandleApi(const Request& req, const RouteMatch& match) {
  const unsigned version = req.version();
  if (match.call == AdminCall::kNone)
    return JsonError(version, http::status::not_found, "not_found");
  if (!match.allowed) return MethodNotAllowed(version, match.allow);
  const http::verb method = req.method();
  switch (match.call) {
    case AdminCall::kOffers:
    case AdminCall::kAffiliates: {
      const bool offers = match.call == AdminCall::kOffers;
      std::shared_ptr<const Catalog> cat = s_.catalog->Snapshot();
      std::map<std::string_view, json::object> sorted;
      json::array items;
      if (offers) {
        for (const auto& [id, o] : cat->offers) sorted[id] = OfferToJson(*o);
      } else {
        for (const auto& [id, a] : cat->affiliates) sorted[id] = AffiliateToJson(*a);
      }
      for (auto& [id, obj] : sorted) items.push_back(std::move(obj));
      json::object out;
      out[offers ? "offers" : "affiliates"] = std::move(items);
      return Json(version, out);
    }
    case AdminCall::kOffer: {
      if (method == http::verb::put) return PutOffer(req, match.id);
      std::shared_ptr<const Catalog> cat = s_.catalog->Snapshot();
      const Offer* o = cat->FindOffer(match.id);
      if (o == nullptr) return JsonError(version, http::status::not_found, "unknown_offer");
      return Json(version, OfferToJson(*o));
    }
    case AdminCall::kAffiliate: {
      if (method == http::verb::put) return PutAffiliate(req, match.id);
      std::shared_ptr<const Catalog> cat = s_.catalog->Snapshot();
      const Affiliate* a = cat->FindAffiliate(match.id);
      if (a == nullptr) return JsonError(version, http::status::not_found, "unknown_affiliate");
      return Json(version, AffiliateToJson(*a));
    }
    case AdminCall::kClick:
      return GetClick(req, match.id);
    case AdminCall::kConversion:
      return GetConversion(req, match.id);
    case AdminCall::kConversionStatus:
      return ChangeStatus(req, match.id);
    case AdminCall::kLedger:
      return GetLedger(req, match.query);
    case AdminCall::kBalances:
      return GetBalances(req, match.id);
    case AdminCall::kPayouts:
      return method == http::verb::get ? ListPayouts(req) : CreatePayout(req);
    case AdminCall::kPayout:
      return GetPayout(req, match.id);
    case AdminCall::kOutbox:
      return ListOutbox(req, match.query);
    case AdminCall::kOutboxEntry:
      return GetOutboxEntry(req, match.id);
    case AdminCall::kOutboxRetry:
      return RetryOutbox(req, match.id);
    case AdminCall::kBackup:
      return Backup(req);
    case AdminCall::kStats:
      return Stats(req);
    case AdminCall::kVerify:
      return Verify(req);
    case AdminCall::kReport:
      return GetReport(req, match.query);
    case AdminCall::kAudit:
      return GetAudit(req, match.query);
    case AdminCall::kNone:
      break;
  }
  return JsonError(version, http::status::not_found, "not_found");
}

Response AdminHandler::PutOffer(const Request& req, std::string_view id) {
  Offer offer;
  FieldError error;
  if (!ParseOffer(id, req.body(), &offer, &error, s_.config->retention_days)) {
    return FieldErrorResponse(req.version(), error);
  }
  json::object stored = OfferToJson(offer);
  std::lock_guard<std::mutex> lock(*s_.config_mu);
  if (absl::Status st = s_.store->PutConfig("offer", offer.id, json::serialize(stored)); !st.ok()) {
    return StorageError(req.version(), s_, st, "put offer");
  }
  auto next = std::make_shared<Catalog>(*s_.catalog->Snapshot());
  std::string key = offer.id;  // the right side of = is evaluated first and moves offer.id
  next->offers[key] = std::make_shared<const Offer>(std::move(offer));
  s_.store->SetIndexHorizons(next->DedupeHorizonSeconds(), next->VisitorHorizonSeconds());
  s_.catalog->Publish(std::move(next));
  return Json(req.version(), stored);
}

Response AdminHandler::PutAffiliate(const Request& req, std::string_view id) {
  Affiliate aff;
  FieldError error;
  if (!ParseAffiliate(id, req.body(), &aff, &error))
    return FieldErrorResponse(req.version(), error);
  if (!aff.postback_url.empty()) {
    // Refuse now what delivery could never use (userinfo, a bad port), and a non-public
    // address in any spelling the resolver reads; names are checked when resolved at delivery.
    absl::StatusOr<HttpTarget> t = ParseHttpTarget(aff.postback_url.text());
    if (!t.ok()) {
      return FieldErrorResponse(
          req.version(),
          {"bad_url", "postback_url", absl::StrCat("postback_url: ", t.status().message())});
    }
    std::optional<boost::asio::ip::address> a = ParseHostAddress(t->host);
    std::optional<std::string_view> c;
    if (a && !s_.config->allow_private_postbacks) c = BlockedTargetClass(*a);
    if (c) {
      return FieldErrorResponse(
          req.version(),
          {"ssrf_blocked", "postback_url",
           absl::StrCat("postback_url names a non-public address (", ToAbsl(*c),
                        "); start the server with --allow-private-postbacks to allow it")});
    }
  }
  json::object stored = AffiliateToJson(aff);
  std::lock_guard<std::mutex> lock(*s_.config_mu);
  auto next = std::make_shared<Catalog>(*s_.catalog->Snapshot());
  // The parent chain must not lead back here (it may name affiliates not created yet).
  std::string_view cursor = aff.parent;
  for (int depth = 0; !cursor.empty() && depth < 64; ++depth) {
    if (cursor == aff.id) {
      return FieldErrorResponse(req.version(),
                                {"bad_parent", "parent", "the parent chain would form a cycle"});
    }
    const Affiliate* up = next->FindAffiliate(cursor);
    cursor = up == nullptr ? std::string_view() : std::string_view(up->parent);
  }
  if (absl::Status st = s_.store->PutConfig("affiliate", aff.id, json::serialize(stored));
      !st.ok()) {
    return StorageError(req.version(), s_, st, "put affiliate");
  }
  std::string key = aff.id;
  next->affiliates[key] = std::make_shared<const Affiliate>(std::move(aff));
  s_.catalog->Publish(std::move(next));
  return Json(req.version(), stored);
}

Response AdminHandler::GetClick(const Request& req, std::string_view id) {
  std::optional<ClickIdInfo> info = s_.click_ids->Verify(id);
  if (!info) return JsonError(req.version(), http::status::bad_request, "bad_click_id");
  (void)s_.clicks->Flush(kFlushTimeout);  // see the caller's own recent clicks
  absl::StatusOr<std::optional<storage::ClickRecord>> click = s_.store->GetClick(info->time_ms, id);
  if (!click.ok()) return StorageError(req.version(), s_, click.status(), "get click");
  if (!click->has_value())
    return JsonError(req.version(), http::status::not_found, "unknown_click");
  const storage::ClickRecord& c = **click;
  json::object o;
  o["click_id"] = c.click_id;
  o["time"] = Rfc3339(c.time_ms);
  o["partition"] = info->partition;
  o["offer"] = c.offer;
  o["affiliate"] = c.affiliate;
  for (int i = 0; i < 5; ++i) o[absl::StrCat("sub", i + 1)] = c.subs[i];
  o["source"] = c.source;
  o["class"] = attribution::ClickClassName(c.klass);
  o["attributable"] = c.attributable;
  o["client_ip"] = c.client_ip;
  o["user_agent"] = c.user_agent;
  o["referer"] = c.referer;
  o["visitor_id"] = c.visitor_id;
  return Json(req.version(), o);
}

Response AdminHandler::GetReport(const Request& req, std::string_view query) {
  const unsigned version = req.version();
  std::string from_s, to_s, group_s, offer_filter, affiliate_filter, sub1_filter;
  bool has_sub1_filter = false;
  ForEachQueryParam(query, [&](std::string_view name, std::string_view value) {
    if (name == "from") from_s.assign(value);
    if (name == "to") to_s.assign(value);
    if (name == "group_by") group_s.assign(value);
    if (name == "offer" || name == "offer_id") offer_filter.assign(value);
    if (name == "affiliate" || name == "aff") affiliate_filter.assign(value);
    if (name == "sub1") {
      sub1_filter.assign(value);
      has_sub1_filter = true;
    }
  });
  int32_t today = static_cast<int32_t>(absl::ToUnixSeconds(absl::Now()) / 86400);
  int32_t from = today, to = today;
  if (std::optional<Response> bad = ParseDayRange(version, from_s, to_s, &from, &to)) {
    return std::move(*bad);
  }
  bool by_day = false, by_offer = false, by_affiliate = false, by_sub1 = false;
  if (group_s.empty()) group_s = "day";
  for (absl::string_view raw : absl::StrSplit(group_s, ',', absl::SkipWhitespace())) {
    absl::string_view g = absl::StripAsciiWhitespace(raw);
    if (g == "day") {
      by_day = true;
    } else if (g == "offer") {
      by_offer = true;
    } else if (g == "affiliate") {
      by_affiliate = true;
    } else if (g == "sub1") {
      by_sub1 = true;
    } else {
      return JsonError(version, http::status::bad_request, "bad_group_by",
                       R"("message":"group_by takes day, offer, affiliate and sub1")");
    }
  }
  (void)s_.clicks->Flush(kFlushTimeout);
  using Key = std::tuple<int32_t, std::string, std::string, std::string>;
  std::map<Key, std::array<int64_t, storage::kCounterFieldCount>> groups;
  absl::Status st = s_.store->ScanCounters(from, to, [&](const storage::CounterRow& row) {
    if (!offer_filter.empty() && row.offer != offer_filter) return;
    if (!affiliate_filter.empty() && row.affiliate != affiliate_filter) return;
    if (has_sub1_filter && row.sub1 != sub1_filter) return;
    Key key{by_day ? row.day : 0, by_offer ? row.offer : "", by_affiliate ? row.affiliate : "",
            by_sub1 ? row.sub1 : ""};
    auto& acc = groups[key];
    for (size_t i = 0; i < acc.size(); ++i) acc[i] += row.values[i];
  });
  if (!st.ok()) return StorageError(version, s_, st, "scan counters");
  std::map<Key, std::map<std::string, std::pair<attribution::Micros, attribution::Micros>>> money;
  st = s_.store->ScanMoney(from, to, [&](const storage::MoneyRow& row) {
    if (!offer_filter.empty() && row.offer != offer_filter) return;
    if (!affiliate_filter.empty() && row.affiliate != affiliate_filter) return;
    if (has_sub1_filter && row.sub1 != sub1_filter) return;
    Key key{by_day ? row.day : 0, by_offer ? row.offer : "", by_affiliate ? row.affiliate : "",
            by_sub1 ? row.sub1 : ""};
    auto& m = money[key][row.currency];
    m.first += row.revenue;
    m.second += row.payout;
    groups[key];  // a group with money but no counter row still shows
  });
  if (!st.ok()) return StorageError(version, s_, st, "scan money");
  json::array rows;
  for (const auto& [key, v] : groups) {
    json::object o;
    if (by_day) o["day"] = FormatDay(std::get<0>(key));
    if (by_offer) o["offer"] = std::get<1>(key);
    if (by_affiliate) o["affiliate"] = std::get<2>(key);
    if (by_sub1) o["sub1"] = std::get<3>(key);
    o["clicks"] = v[storage::kClicks];
    o["unique_clicks"] = v[storage::kUniqueClicks];
    o["duplicate_clicks"] = v[storage::kDuplicateClicks];
    o["bot_clicks"] = v[storage::kBotClicks];
    o["rate_limited_clicks"] = v[storage::kRateLimitedClicks];
    o["conversions"] = v[storage::kConversions];
    o["approved"] = v[storage::kApproved];
    o["pending"] = v[storage::kPending];
    o["rejected"] = v[storage::kRejected];
    o["reversed"] = v[storage::kReversed];
    json::object revenue, payout;
    if (auto it = money.find(key); it != money.end()) {
      for (const auto& [currency, m] : it->second) {
        int decimals = attribution::CurrencyExponent(currency).value_or(2);
        revenue[currency] = attribution::FormatMicros(m.first, decimals);
        payout[currency] = attribution::FormatMicros(m.second, decimals);
      }
    }
    o["revenue"] = std::move(revenue);
    o["payout"] = std::move(payout);
    rows.push_back(std::move(o));
  }
  json::object out;
  out["from"] = FormatDay(from);
  out["to"] = FormatDay(to);
  out["rows"] = std::move(rows);
  return Json(version, out);
}

namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

int Decimals(std::string_view currency) {
  return attribution::CurrencyExponent(currency).value_or(2);
}

json::object ConversionToJson(const storage::ConversionRecord& c) {
  json::object o;
  o["id"] = c.id;
  o["offer"] = c.offer;
  o["affiliate"] = c.affiliate;
  o["click_id"] = c.click_id;
  o["event"] = c.event;
  o["order_id"] = c.order_id.empty() ? json::value(nullptr) : json::value(c.order_id);
  o["amount"] = c.has_amount
                    ? json::value(attribution::FormatMicros(c.amount, Decimals(c.currency)))
                    : json::value(nullptr);
  o["currency"] = c.currency;
  o["status"] = attribution::StatusName(c.status);
  // The operator's reason for a manual status change, else the reason recorded by the engine.
  o["reason"] = !c.note.empty() ? json::value(c.note)
                : c.reason == attribution::Reason::kNone
                    ? json::value(nullptr)
                    : json::value(attribution::ReasonName(c.reason));
  o["time"] = Rfc3339(c.time_ms);
  o["updated"] = Rfc3339(c.updated_ms);
  o["click_time"] = Rfc3339(c.click_time_ms);
  json::array commissions;
  for (const storage::Beneficiary& b : c.commissions) {
    commissions.push_back({{"affiliate", b.affiliate},
                           {"tier", b.tier},
                           {"amount", attribution::FormatMicros(b.amount, Decimals(c.currency))}});
  }
  o["commissions"] = std::move(commissions);
  return o;
}

}  // namespace

Response AdminHandler::GetConversion(const Request& req, std::string_view id) {
  auto c = s_.store->GetConversion(id);
  if (!c.ok()) return StorageError(req.version(), s_, c.status(), "get conversion");
  if (!c->has_value())
    return JsonError(req.version(), http::status::not_found, "unknown_conversion");
  return Json(req.version(), ConversionToJson(**c));
}

Response AdminHandler::ChangeStatus(const Request& req, std::string_view id) {
  boost::system::error_code ec;
  json::value body = json::parse(req.body(), ec);
  if (ec || !body.is_object() || !body.get_object().if_contains("status") ||
      !body.get_object().at("status").is_string()) {
    return JsonError(
        req.version(), http::status::bad_request, "bad_json",
        R"("message":"body must be {\"status\": \"approved|rejected|reversed\", \"reason\": \"...\"}")");
  }
  std::string status(body.get_object().at("status").get_string());
  std::string note;
  if (const json::value* r = body.get_object().if_contains("reason");
      r != nullptr && !r->is_null()) {
    if (!r->is_string() || r->get_string().size() > 256 ||
        HasControlChars(std::string_view(r->get_string()))) {
      return JsonError(
          req.version(), http::status::bad_request, "bad_reason",
          R"("message":"reason must be a string of at most 256 bytes without control characters")");
    }
    note = r->get_string();
  }
  // This pool thread waits for the conversion writer's fsync; the I/O threads do not.
  std::promise<ServiceReply> promise;
  std::future<ServiceReply> future = promise.get_future();
  s_.conversions->SubmitStatusChange(
      std::string(id), status, std::move(note),
      [&promise](ServiceReply r) { promise.set_value(std::move(r)); });
  ServiceReply reply = future.get();
  if (reply.status != 200) {
    return JsonResponse(req.version(), static_cast<http::status>(reply.status),
                        std::move(reply.body));
  }
  return GetConversion(req, id);
}

Response AdminHandler::GetLedger(const Request& req, std::string_view query) {
  std::string affiliate, from_s, to_s;
  ForEachQueryParam(query, [&](std::string_view name, std::string_view value) {
    if (name == "affiliate" || name == "aff") affiliate.assign(value);
    if (name == "from") from_s.assign(value);
    if (name == "to") to_s.assign(value);
  });
  int32_t from = INT32_MIN, to = INT32_MAX;
  if (std::optional<Response> bad = ParseDayRange(req.version(), from_s, to_s, &from, &to)) {
    return std::move(*bad);
  }
  json::array entries;
  absl::Status st = s_.store->ScanLedger([&](const storage::LedgerEntry& e) {
    int32_t day = static_cast<int32_t>(e.time_ms / 86'400'000);
    if ((!affiliate.empty() && e.affiliate != affiliate) || day < from || day > to) return true;
    entries.push_back({{"id", std::to_string(e.seq)},
                       {"conversion_id", e.conversion_id},
                       {"affiliate", e.affiliate},
                       {"tier", e.tier},
                       {"kind", attribution::LedgerKindName(e.kind)},
                       {"amount", attribution::FormatMicros(e.amount, Decimals(e.currency))},
                       {"currency", e.currency},
                       {"status", attribution::StatusName(e.status)},
                       {"time", Rfc3339(e.time_ms)},
                       {"hash", Hex(e.hash)},
                       {"prev_hash", Hex(e.prev_hash)}});
    return true;
  });
  if (!st.ok()) return StorageError(req.version(), s_, st, "scan ledger");
  json::object out;
  out["entries"] = std::move(entries);
  return Json(req.version(), out);
}

Response AdminHandler::GetBalances(const Request& req, std::string_view affiliate) {
  auto rows = s_.store->GetBalances(affiliate);
  if (!rows.ok()) return StorageError(req.version(), s_, rows.status(), "get balances");
  if (rows->empty() && s_.catalog->Snapshot()->FindAffiliate(affiliate) == nullptr) {
    return JsonError(req.version(), http::status::not_found, "unknown_affiliate");
  }
  json::object out;
  for (const storage::BalanceRow& r : *rows) {
    int d = Decimals(r.currency);
    out[r.currency] = {{"pending", attribution::FormatMicros(r.pending, d)},
                       {"approved", attribution::FormatMicros(r.approved, d)},
                       {"paid", attribution::FormatMicros(r.paid, d)}};
  }
  return Json(req.version(), out);
}

Response AdminHandler::Verify(const Request& req) {
  auto report = s_.store->VerifyLedger();
  if (!report.ok()) return StorageError(req.version(), s_, report.status(), "verify");
  json::array problems;
  for (const std::string& p : report->problems) problems.push_back(json::value(p));
  json::object out;
  out["ok"] = report->ok();
  out["entries"] = report->entries;
  out["balances"] = report->balances_checked;
  out["problems"] = std::move(problems);
  return Json(req.version(), out, report->ok() ? http::status::ok : http::status::conflict);
}

Response AdminHandler::CreatePayout(const Request& req) {
  boost::system::error_code ec;
  json::value body = json::parse(req.body(), ec);
  if (ec || !body.is_object()) {
    return JsonError(
        req.version(), http::status::bad_request, "bad_json",
        R"("message":"body must be {\"currency\": \"USD\", \"min_amount\": \"50.00\"}")");
  }
  const json::object& o = body.get_object();
  const json::value* cur = o.if_contains("currency");
  std::optional<std::string> currency;
  if (cur != nullptr && cur->is_string())
    currency = attribution::NormalizeCurrency(cur->get_string());
  if (!currency) return JsonError(req.version(), http::status::bad_request, "bad_currency");
  attribution::Micros min_amount = 0;
  if (const json::value* m = o.if_contains("min_amount"); m != nullptr && !m->is_null()) {
    absl::StatusOr<attribution::Micros> parsed =
        m->is_string()
            ? attribution::ParseDecimal(m->get_string())
            : absl::StatusOr<attribution::Micros>(absl::InvalidArgumentError("not a string"));
    if (!parsed.ok()) {
      return JsonError(req.version(), http::status::bad_request, "bad_amount",
                       R"("message":"min_amount must be a decimal string such as \"50.00\"")");
    }
    min_amount = *parsed;
  }
  std::promise<ServiceReply> promise;
  std::future<ServiceReply> future = promise.get_future();
  s_.conversions->SubmitPayout(*currency, min_amount,
                               [&promise](ServiceReply r) { promise.set_value(std::move(r)); });
  ServiceReply reply = future.get();
  if (reply.status != 200) {
    return JsonResponse(req.version(), static_cast<http::status>(reply.status),
                        std::move(reply.body));
  }
  // Committed and fsynced: answer with the stored record, as GET /api/payouts/{id} does.
  return GetPayout(req, json::parse(reply.body).at("id").as_string());
}

Response AdminHandler::ListOutbox(const Request& req, std::string_view query) {
  std::string state = "pending";
  ForEachQueryParam(query, [&](std::string_view name, std::string_view value) {
    if (name == "state") state.assign(value);
  });
  std::optional<storage::OutboxState> want;
  for (storage::OutboxState s : {storage::OutboxState::kPending, storage::OutboxState::kDead,
                                 storage::OutboxState::kDelivered}) {
    if (state == OutboxStateName(s)) want = s;
  }
  if (!want) {
    return JsonError(req.version(), http::status::bad_request, "bad_state",
                     R"("message":"state is pending, dead or delivered")");
  }
  json::array entries;
  absl::Status st = s_.store->ScanOutbox(*want, [&](const storage::OutboxEntry& o) {
    entries.push_back(OutboxToJson(o));
    return entries.size() < 10000;
  });
  if (!st.ok()) return StorageError(req.version(), s_, st, "scan outbox");
  json::object out;
  out["entries"] = std::move(entries);
  return Json(req.version(), out);
}

Response AdminHandler::GetPayout(const Request& req, std::string_view name) {
  const bool csv = name.size() > 4 && name.substr(name.size() - 4) == ".csv";
  std::string_view id = csv ? name.substr(0, name.size() - 4) : name;
  auto payout = s_.store->GetPayout(id);
  if (!payout.ok()) return StorageError(req.version(), s_, payout.status(), "get payout");
  if (!payout->has_value())
    return JsonError(req.version(), http::status::not_found, "unknown_payout");
  const storage::PayoutRecord& p = **payout;
  const int d = Decimals(p.currency);
  if (csv) {
    std::string body = "affiliate,amount,currency,entries\n";
    for (const storage::PayoutItem& i : p.items) {
      // Affiliate ids are [A-Za-z0-9_-]: nothing to quote.
      absl::StrAppend(&body, ToAbsl(i.affiliate), ",", attribution::FormatMicros(i.amount, d), ",",
                      p.currency, ",", i.entries, "\n");
    }
    Response res(http::status::ok, req.version());
    res.set(http::field::content_type, "text/csv; charset=utf-8");
    res.set(http::field::content_disposition,
            absl::StrCat("attachment; filename=\"", ToAbsl(id), ".csv\""));
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }
  json::array items;
  for (const storage::PayoutItem& i : p.items) {
    items.push_back({{"affiliate", i.affiliate},
                     {"amount", attribution::FormatMicros(i.amount, d)},
                     {"entries", i.entries}});
  }
  json::object o;
  o["id"] = p.id;
  o["currency"] = p.currency;
  o["min_amount"] = attribution::FormatMicros(p.min_amount, d);
  o["time"] = Rfc3339(p.time_ms);
  o["items"] = std::move(items);
  return Json(req.version(), o);
}

Response AdminHandler::ListPayouts(const Request& req) {
  json::array payouts;
  absl::Status st = s_.store->ScanPayouts([&](const storage::PayoutRecord& p) {
    const int d = Decimals(p.currency);
    attribution::Micros total = 0;
    for (const storage::PayoutItem& i : p.items) total += i.amount;
    payouts.push_back({{"id", p.id},
                       {"currency", p.currency},
                       {"min_amount", attribution::FormatMicros(p.min_amount, d)},
                       {"time", Rfc3339(p.time_ms)},
                       {"affiliates", p.items.size()},
                       {"total", attribution::FormatMicros(total, d)}});
    return true;
  });
  if (!st.ok()) return StorageError(req.version(), s_, st, "scan payouts");
  json::object out;
  out["payouts"] = std::move(payouts);
  return Json(req.version(), out);
}

Response AdminHandler::GetOutboxEntry(const Request& req, std::string_view id) {
  auto entry = s_.store->GetOutbox(id);
  if (!entry.ok()) return StorageError(req.version(), s_, entry.status(), "get outbox entry");
  if (!entry->has_value())
    return JsonError(req.version(), http::status::not_found, "unknown_outbox_entry");
  return Json(req.version(), OutboxToJson(**entry));
}

Response AdminHandler::RetryOutbox(const Request& req, std::string_view id) {
  // Shared: the sender may answer after this wait gave up.
  auto promise = std::make_shared<std::promise<PostbackSender::RetryResult>>();
  std::future<PostbackSender::RetryResult> future = promise->get_future();
  s_.postbacks->Retry(std::string(id), [promise](PostbackSender::RetryResult r) {
    promise->set_value(std::move(r));
  });
  if (future.wait_for(kFlushTimeout) != std::future_status::ready) {
    // The sender's worker is busy or stopping: the retry may still happen; GET the entry.
    return JsonError(
        req.version(), http::status::service_unavailable, "retry_pending",
        R"("message":"the sender has not answered yet; GET the entry to see its state")");
  }
  PostbackSender::RetryResult r = future.get();
  if (r.status != 200) {
    std::string extra;
    if (!r.entry.id.empty()) extra = absl::StrCat(R"("id":")", r.entry.id, R"(")");
    return JsonError(req.version(), static_cast<http::status>(r.status), r.reason, extra);
  }
  return Json(req.version(), OutboxToJson(r.entry));
}

Response AdminHandler::Backup(const Request& req) {
  boost::system::error_code ec;
  json::value body = json::parse(req.body(), ec);
  const json::value* path =
      !ec && body.is_object() ? body.get_object().if_contains("path") : nullptr;
  if (path == nullptr || !path->is_string() || path->get_string().empty()) {
    return JsonError(req.version(), http::status::bad_request, "bad_path",
                     R"("message":"body must be {\"path\": \"/absolute/new/directory\"}")");
  }
  std::string target(path->get_string());
  if (target[0] != '/' || HasControlChars(target)) {
    return JsonError(req.version(), http::status::bad_request, "bad_path",
                     R"("message":"path must be an absolute path on the server")");
  }
  std::error_code fec;
  if (!std::filesystem::is_directory(std::filesystem::path(target).parent_path(), fec)) {
    return JsonError(req.version(), http::status::bad_request, "bad_path",
                     R"("message":"the parent directory of path must exist on the server")");
  }
  if (std::filesystem::exists(target, fec)) {
    return JsonError(req.version(), http::status::conflict, "path_exists",
                     R"("message":"the checkpoint directory must not exist yet")");
  }
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<storage::CheckpointInfo> info = s_.store->Checkpoint(target);
  if (!info.ok()) {
    s_.log->Error("backup failed", {{"path", target}, {"error", info.status().ToString()}});
    json::object o{{"reason", "backup_failed"}, {"message", std::string(info.status().message())}};
    return Json(req.version(), o, http::status::internal_server_error);
  }
  const int64_t elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
  s_.log->Info("backup written", {{"path", target},
                                  {"files", std::to_string(info->files)},
                                  {"bytes", std::to_string(info->bytes)}});
  json::object o{{"path", info->path},
                 {"files", info->files},
                 {"bytes", info->bytes},
                 {"elapsed_ms", elapsed}};
  return Json(req.version(), o);
}

Response AdminHandler::Stats(const Request& req) {
  storage::StoreStats st = s_.store->Stats();
  json::object o;
  o["version"] = RICOCHET_VERSION;
  o["uptime_s"] = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - s_.started)
                      .count();
  o["data_dir"] = s_.config->data_dir;
  o["threads"] = s_.config->threads;
  std::shared_ptr<const Catalog> cat = s_.catalog->Snapshot();
  o["offers"] = cat->offers.size();
  o["affiliates"] = cat->affiliates.size();
  o["clicks"] =
      json::object{{"estimated_stored", st.estimated_clicks}, {"queue_depth", s_.clicks->depth()}};
  o["outbox"] =
      json::object{{"pending", s_.postbacks->pending()}, {"in_flight", s_.postbacks->in_flight()}};
  o["rocksdb"] = json::object{{"wal_syncs", st.wal_syncs},
                              {"memtable_bytes", st.memtable_bytes},
                              {"pending_compaction_bytes", st.pending_compaction_bytes}};
  return Json(req.version(), o);
}

namespace {

json::value NullIfEmpty(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

json::object AuditToJson(const storage::AuditRecord& a) {
  json::object o;
  o["seq"] = a.seq;
  o["time"] = Rfc3339(a.time_ms);
  o["method"] = a.method;
  o["path"] = a.target;
  o["status"] = a.status;
  o["reason"] = NullIfEmpty(a.reason);
  o["actor"] = a.actor;
  o["operator"] = NullIfEmpty(a.operator_name);
  o["client_ip"] = a.client_ip;
  o["user_agent"] = NullIfEmpty(a.user_agent);
  o["body_bytes"] = a.body_bytes;
  o["body_sha256"] = a.body_sha256.empty() ? json::value(nullptr) : json::value(Hex(a.body_sha256));
  return o;
}

// The filters of GET /api/audit that are not bounds of the scan.
struct AuditFilter {
  std::string actor, method, path;
  int status = 0;        // exact status, or
  int status_class = 0;  // 1..5 for "1xx".."5xx"
  bool Matches(const storage::AuditRecord& a) const {
    if (!actor.empty() && a.actor != actor) return false;
    if (!method.empty() && a.method != method) return false;
    if (status != 0 && a.status != status) return false;
    if (status_class != 0 && a.status / 100 != status_class) return false;
    if (!path.empty()) {
      std::string_view p, q;
      SplitTarget(a.target, &p, &q);
      // The object and what is under it: /api/offers/spring and /api/offers/spring/...,
      // not /api/offers/spring2.
      if (p != path && !(p.size() > path.size() && p.substr(0, path.size()) == path &&
                         (path.back() == '/' || p[path.size()] == '/'))) {
        return false;
      }
    }
    return true;
  }
};

constexpr uint64_t kAuditDefaultLimit = 1000;
constexpr uint64_t kAuditMaxLimit = 10000;

// Digits only (no sign, no spaces), within uint64_t.
bool ParseWhole(std::string_view text, uint64_t* out) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos &&
         absl::SimpleAtoi(ToAbsl(text), out);
}

}  // namespace

Response AdminHandler::GetAudit(const Request& req, std::string_view query) {
  const unsigned version = req.version();
  std::string from_s, to_s, after_s, before_s, limit_s, order = "asc", status_s;
  AuditFilter filter;
  ForEachQueryParam(query, [&](std::string_view name, std::string_view value) {
    if (name == "from") from_s.assign(value);
    if (name == "to") to_s.assign(value);
    if (name == "after") after_s.assign(value);
    if (name == "before") before_s.assign(value);
    if (name == "limit") limit_s.assign(value);
    if (name == "order") order.assign(value);
    if (name == "actor") filter.actor.assign(value);
    if (name == "method") filter.method.assign(value);
    if (name == "status") status_s.assign(value);
    if (name == "path") filter.path.assign(value);
  });
  storage::AuditRange range;
  int32_t from = 0, to = INT32_MAX / 2;
  if (std::optional<Response> bad = ParseDayRange(version, from_s, to_s, &from, &to)) {
    return std::move(*bad);
  }
  range.from_ms = std::max<int64_t>(0, int64_t{from} * 86'400'000);  // records are after 1970
  range.to_ms = (int64_t{to} + 1) * 86'400'000 - 1;
  if (!after_s.empty() && !ParseWhole(after_s, &range.after_seq)) {
    return FieldErrorResponse(version, {"bad_number", "after", "after must be a seq number"});
  }
  if (!before_s.empty() && !ParseWhole(before_s, &range.before_seq)) {
    return FieldErrorResponse(version, {"bad_number", "before", "before must be a seq number"});
  }
  uint64_t limit = kAuditDefaultLimit;
  if (!limit_s.empty() && (!ParseWhole(limit_s, &limit) || limit < 1 || limit > kAuditMaxLimit)) {
    return FieldErrorResponse(
        version, {"bad_number", "limit", "limit must be a whole number from 1 to 10000"});
  }
  if (order != "asc" && order != "desc") {
    return FieldErrorResponse(version, {"bad_field", "order", "order is asc or desc"});
  }
  range.newest_first = order == "desc";
  if (!filter.actor.empty() && filter.actor != "admin" && filter.actor != "unauthenticated") {
    return FieldErrorResponse(version, {"bad_field", "actor", "actor is admin or unauthenticated"});
  }
  uint64_t code = 0;
  if (status_s.size() == 3 && status_s[0] >= '1' && status_s[0] <= '5' &&
      absl::EqualsIgnoreCase(status_s.substr(1), "xx")) {
    filter.status_class = status_s[0] - '0';
  } else if (status_s.size() == 3 && ParseWhole(status_s, &code) && code >= 100) {
    filter.status = static_cast<int>(code);
  } else if (!status_s.empty()) {
    return FieldErrorResponse(
        version, {"bad_field", "status", "status is a code such as 401 or a class such as 4xx"});
  }
  json::array records;
  bool more = false;
  absl::Status st = s_.store->ScanAudit(range, [&](const storage::AuditRecord& a) {
    if (!filter.Matches(a)) return true;
    if (records.size() == limit) {
      more = true;
      return false;
    }
    records.push_back(AuditToJson(a));
    return true;
  });
  if (!st.ok()) return StorageError(version, s_, st, "scan audit");
  json::object out;
  out["records"] = std::move(records);
  out["more"] = more;
  return Json(version, out);
}

}  // namespace ricochet::engine
