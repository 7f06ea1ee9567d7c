#include "engine/conversion_service.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "attribution/calendar.h"
#include "attribution/commission.h"
#include "attribution/ledger.h"
#include "attribution/sv.h"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"

namespace ricochet::engine {
namespace json = boost::json;
using attribution::ConversionStatus;
using attribution::Micros;

namespace {

constexpr size_t kMaxBatch = 512;
constexpr auto kClickFlushTimeout = std::chrono::seconds(2);

ServiceReply Error(int status, std::string_view reason, json::object extra = {}) {
  extra["reason"] = reason;
  return {status, json::serialize(extra), false, status >= 500 ? "unavailable" : "refused",
          std::string(reason)};
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Counted(ConversionStatus s) {
  return s == ConversionStatus::kPending || s == ConversionStatus::kApproved ||
         s == ConversionStatus::kPaid;
}

int64_t* StatusField(storage::ConversionStats& st, ConversionStatus s) {
  switch (s) {
    case ConversionStatus::kPending:
      return &st.pending;
    case ConversionStatus::kApproved:
    case ConversionStatus::kPaid:
      return &st.approved;
    case ConversionStatus::kRejected:
      return &st.rejected;
    case ConversionStatus::kReversed:
      return &st.reversed;
  }
  return &st.rejected;
}

}  // namespace

struct ConversionService::Batch {
  std::shared_ptr<const Catalog> catalog;
  int64_t now_ms = 0;
  storage::ConversionBatch out;
  std::map<std::string, storage::ConversionRecord> by_key;  // touched in this batch
  std::map<std::string, std::string> key_of_id;
  std::set<std::string> dirty;                               // keys to write
  std::map<std::pair<std::string, int32_t>, int64_t> today;  // (offer, day) pending deltas
  std::map<std::tuple<std::string, std::string, int32_t>, int64_t> month;
  uint64_t seq = 0;
  std::string hash;
};

ConversionService::ConversionService(storage::Store* store, CatalogHolder* catalog,
                                     const ClickIdCodec* click_ids, ClickPipeline* clicks,
                                     Metrics* metrics, const Logger* log, uint16_t partition)
    : store_(store),
      catalog_(catalog),
      click_ids_(click_ids),
      clicks_(clicks),
      metrics_(metrics),
      log_(log),
      partition_(partition) {}

ConversionService::~ConversionService() { Stop(); }

absl::Status ConversionService::Start() {
  absl::StatusOr<std::pair<uint64_t, std::string>> head = store_->LedgerHead();
  if (!head.ok()) return head.status();
  ledger_seq_ = head->first;
  ledger_hash_ = head->second;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void ConversionService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void ConversionService::Submit(Request r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    r.done(Error(503, "shutting_down"));
    return;
  }
  queue_.push_back(std::move(r));
  cv_.notify_one();
}

void ConversionService::SubmitPostback(PostbackParams params, Done done) {
  Request r;
  r.params = std::move(params);
  r.done = std::move(done);
  Submit(std::move(r));
}

void ConversionService::SubmitStatusChange(std::string conversion_id, std::string status,
                                           std::string note, Done done) {
  Request r;
  r.kind = Request::kStatusChange;
  r.conversion_id = std::move(conversion_id);
  r.status = std::move(status);
  r.note = std::move(note);
  r.done = std::move(done);
  Submit(std::move(r));
}

void ConversionService::SubmitPayout(std::string currency, attribution::Micros min_amount,
                                     Done done) {
  Request r;
  r.kind = Request::kPayout;
  r.status = std::move(currency);
  r.min_amount = min_amount;
  r.done = std::move(done);
  Submit(std::move(r));
}

void ConversionService::Run() {
  for (;;) {
    std::deque<Request> work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, all answered
      while (!queue_.empty() && work.size() < kMaxBatch) {
        work.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    ProcessBatch(work);
  }
}

void ConversionService::ProcessBatch(std::deque<Request>& requests) {
  // Consecutive postbacks and status changes share one batch (one fsync); a payout reads
  // committed balances, so it runs in a batch of its own.
  size_t i = 0;
  while (i < requests.size()) {
    Batch b;
    b.catalog = catalog_->Snapshot();
    b.now_ms = NowMillis();
    b.seq = ledger_seq_;
    b.hash = ledger_hash_;
    const size_t first = i;
    std::vector<ServiceReply> replies;
    if (requests[i].kind == Request::kPayout) {
      replies.push_back(HandlePayout(requests[i], b));
      ++i;
    } else {
      for (; i < requests.size() && requests[i].kind != Request::kPayout; ++i) {
        const Request& r = requests[i];
        replies.push_back(r.kind == Request::kPostback ? HandlePostback(r, b)
                                                       : HandleStatusChange(r, b));
      }
    }
    Commit(b, replies);
    for (size_t k = 0; k < replies.size(); ++k) {
      if (requests[first + k].kind != Request::kPayout)
        metrics_->CountConversion(replies[k].result, replies[k].reason);
      requests[first + k].done(std::move(replies[k]));
    }
  }
}

void ConversionService::Commit(Batch& b, std::vector<ServiceReply>& replies) {
  for (const std::string& key : b.dirty) b.out.conversions.push_back(b.by_key[key]);
  if (b.out.empty()) return;
  absl::Status st = store_->CommitConversions(b.out);
  if (st.ok()) {
    unavailable_.Succeeded(*log_, "conversion writes resumed", "answered_503");
    ledger_seq_ = b.seq;
    ledger_hash_ = b.hash;
    for (const auto& [k, delta] : b.today) {
      if (k.second == cached_day_) {
        if (auto it = today_counts_.find(k.first); it != today_counts_.end()) it->second += delta;
      }
    }
    for (const auto& [k, delta] : b.month) {
      if (std::get<2>(k) == cached_month_) {
        auto it = month_counts_.find({std::get<0>(k), std::get<1>(k)});
        if (it != month_counts_.end()) it->second += delta;
      }
    }
    // Durable now: the sender may deliver them.
    if (outbox_listener_ && !b.out.outbox.empty()) outbox_listener_(b.out.outbox);
    return;
  }
  // Nothing of this batch exists (one atomic write, and the chain head, id caches and counts
  // above move only on success): every answer that was not a refusal becomes 503.
  uint64_t answered_503 = 0;
  for (ServiceReply& reply : replies) {
    if (reply.status < 400) {
      reply = Error(503, "storage_unavailable");
      ++answered_503;
    }
  }
  // One line when commits start failing (disk full), one when they resume; not one per batch.
  if (unavailable_.Failed(answered_503)) {
    log_->Error("conversion batch not durable; answering 503 until storage recovers",
                {{"error", st.ToString()}, {"requests", std::to_string(replies.size())}});
  }
}

absl::StatusOr<std::optional<storage::ConversionRecord>> ConversionService::Lookup(
    Batch& b, const std::string& key) {
  if (auto it = b.by_key.find(key); it != b.by_key.end()) return std::optional(it->second);
  absl::StatusOr<std::optional<std::string>> id = store_->FindConversionByKey(key);
  if (!id.ok()) return id.status();
  if (!id->has_value()) return std::optional<storage::ConversionRecord>();
  return store_->GetConversion(**id);
}

std::string ConversionService::NewId(std::string_view prefix, int64_t now_ms) {
  // partition (2) | time ms (6) | counter (4): unique per node, time-ordered.
  uint8_t raw[12];
  raw[0] = static_cast<uint8_t>(partition_ >> 8);
  raw[1] = static_cast<uint8_t>(partition_);
  for (int i = 0; i < 6; ++i)
    raw[2 + i] = static_cast<uint8_t>(static_cast<uint64_t>(now_ms) >> (8 * (5 - i)));
  uint32_t n = ++id_counter_;
  for (int i = 0; i < 4; ++i) raw[8 + i] = static_cast<uint8_t>(n >> (8 * (3 - i)));
  return std::string(prefix) + SortableIdEncode(raw, sizeof(raw));
}

void ConversionService::ApplyTransition(Batch& b, storage::ConversionRecord& c,
                                        ConversionStatus to) {
  const ConversionStatus from = c.status;
  for (const storage::Beneficiary& ben : c.commissions) {
    std::optional<attribution::EntrySpec> spec = attribution::TransitionEntry(from, to, ben.amount);
    if (!spec) continue;
    storage::LedgerEntry e;
    e.seq = ++b.seq;
    e.conversion_id = c.id;
    e.affiliate = ben.affiliate;
    e.tier = ben.tier;
    e.kind = spec->kind;
    e.amount = spec->amount;
    e.currency = c.currency;
    e.status = to;
    e.time_ms = b.now_ms;
    b.hash = storage::ChainLedgerEntry(&e, b.hash);
    if (auto d = attribution::BalanceEffect(e.kind, e.status, e.amount)) {
      b.out.balances.push_back({e.affiliate, e.currency, *d});
    }
    b.out.entries.push_back(std::move(e));
  }
  storage::ConversionStats st;
  st.day = attribution::UtcDay(c.time_ms);
  st.month = attribution::UtcMonth(c.time_ms);
  st.offer = c.offer;
  st.affiliate = c.affiliate;
  st.sub1 = c.sub1;
  st.currency = c.currency;
  *StatusField(st, from) -= 1;
  *StatusField(st, to) += 1;
  if (Counted(from) && !Counted(to)) {
    Micros payout = 0;
    for (const storage::Beneficiary& ben : c.commissions) payout += ben.amount;
    st.revenue = -c.amount;
    st.payout = -payout;
    st.counted_today = -1;
    st.counted_month = -1;
    b.today[{c.offer, st.day}] -= 1;
    b.month[{c.offer, c.affiliate, st.month}] -= 1;
  }
  b.out.stats.push_back(std::move(st));
  c.status = to;
  c.updated_ms = b.now_ms;
  std::optional<storage::ClickRecord> click;
  if (std::optional<ClickIdInfo> info = click_ids_->Verify(c.click_id)) {
    if (auto got = store_->GetClick(info->time_ms, c.click_id); got.ok()) click = std::move(*got);
  }
  QueueOutbox(b, c, click ? &*click : nullptr);  // {status} is the new status
  b.by_key[c.idempotency_key] = c;
  b.key_of_id[c.id] = c.idempotency_key;
  b.dirty.insert(c.idempotency_key);
}

namespace {

json::object Outcome(std::string_view result, const storage::ConversionRecord& c) {
  json::object o;
  o["result"] = result;
  o["conversion_id"] = c.id;
  o["status"] = attribution::StatusName(c.status);
  if (c.reason != attribution::Reason::kNone) o["reason"] = attribution::ReasonName(c.reason);
  return o;
}

ServiceReply Ok(json::object o, bool plain) {
  ServiceReply reply{200, plain ? "OK" : json::serialize(o), plain, "", ""};
  if (const json::value* v = o.if_contains("result")) reply.result = v->as_string();
  if (const json::value* v = o.if_contains("reason")) reply.reason = v->as_string();
  return reply;
}

}  // namespace

ServiceReply ConversionService::HandlePostback(const Request& r, Batch& b) {
  const PostbackParams& p = r.params;
  const bool plain = p.return_format && absl::EqualsIgnoreCase(ToAbsl(*p.return_format), "OK");
  const Catalog& catalog = *b.catalog;

  // 1. The click: by id (MAC-checked), or by visitor on an offer. A postback's click id wins;
  // the pixel tries the visitor first, then its rc_cid cookie.
  std::string click_id;
  bool tried_visitor = false;
  if (p.visitor_id && !p.visitor_id->empty() && p.offer_id && (p.from_pixel || !p.click_id)) {
    tried_visitor = true;
    const Offer* offer = catalog.FindOffer(*p.offer_id);
    if (offer != nullptr) {
      (void)clicks_->Flush(kClickFlushTimeout);
      auto visits = store_->VisitorClicks(offer->id, *p.visitor_id,
                                          b.now_ms - offer->lookback_days * 86'400'000, b.now_ms);
      if (!visits.ok()) return Error(503, "storage_unavailable");
      // The visitor's first click is not in the index: its visitor id names it.
      // (FirstClickOf makes a valid click id out of any id: it never leaves this function.)
      ClickIdInfo first_info;
      if (std::optional<std::string> first = click_ids_->FirstClickOf(*p.visitor_id, &first_info)) {
        auto first_click = store_->GetClick(first_info.time_ms, *first);
        if (!first_click.ok()) return Error(503, "storage_unavailable");
        if (first_click->has_value() && (*first_click)->visitor_id == *p.visitor_id &&
            (*first_click)->offer == offer->id && (*first_click)->attributable) {
          // In time order, ahead of indexed clicks of the same millisecond (it came first).
          auto at = std::lower_bound(
              visits->begin(), visits->end(), first_info.time_ms,
              [](const std::pair<int64_t, std::string>& v, int64_t t) { return v.first < t; });
          visits->insert(at, {first_info.time_ms, std::move(*first)});
        }
      }
      std::vector<std::pair<int64_t, std::string_view>> candidates;
      for (const auto& [t, id] : *visits) candidates.emplace_back(t, id);
      std::optional<size_t> pick =
          attribution::SelectClick(candidates, offer->attribution, b.now_ms, offer->lookback_days);
      if (pick) click_id = (*visits)[*pick].second;
    }
  }
  if (click_id.empty() && p.click_id && !p.click_id->empty()) click_id = *p.click_id;
  if (click_id.empty())
    return tried_visitor ? Error(404, "unknown_click") : Error(400, "bad_click_id");
  std::optional<ClickIdInfo> info = click_ids_->Verify(click_id);
  if (!info) return Error(400, "bad_click_id");
  auto click = store_->GetClick(info->time_ms, click_id);
  if (click.ok() && !click->has_value() && b.now_ms - info->time_ms < 60'000) {
    // A click from moments ago may still be in the click writer's queue.
    (void)clicks_->Flush(kClickFlushTimeout);
    click = store_->GetClick(info->time_ms, click_id);
  }
  if (!click.ok()) return Error(503, "storage_unavailable");
  if (!click->has_value()) return Error(404, "unknown_click");
  const storage::ClickRecord& ck = **click;
  const Offer* offer = catalog.FindOffer(ck.offer);
  if (offer == nullptr) return Error(404, "unknown_click");
  if (p.from_pixel && p.offer_id && *p.offer_id != ck.offer) return Error(404, "unknown_click");

  // 2. Token, event, amount, currency, status: in the contract's order.
  if (p.from_pixel && !offer->allow_pixel) return Error(403, "pixel_disabled");
  if (!p.from_pixel && !offer->postback_token.empty()) {
    const std::string& given = p.token ? *p.token : std::string();
    if (given.size() != offer->postback_token.size() ||
        CRYPTO_memcmp(given.data(), offer->postback_token.data(), given.size()) != 0) {
      return Error(403, "bad_token");
    }
  }
  const std::string event = p.event && !p.event->empty() ? *p.event : "sale";
  const Affiliate* affiliate = catalog.FindAffiliate(ck.affiliate);
  const attribution::Plan* aff_plan = affiliate && affiliate->plan ? &*affiliate->plan : nullptr;
  if (!offer->plan.events.count(event) && !(aff_plan && aff_plan->events.count(event))) {
    return Error(422, "unknown_event");
  }
  Micros amount = 0;
  const bool has_amount = p.amount && !p.amount->empty();
  if (p.amount) {
    absl::StatusOr<Micros> parsed = attribution::ParseDecimal(*p.amount);
    if (!parsed.ok()) return Error(400, "bad_amount");
    amount = *parsed;
  }
  if (p.currency) {
    std::optional<std::string> cur = attribution::NormalizeCurrency(*p.currency);
    if (!cur || *cur != offer->currency) return Error(400, "bad_currency");
  }
  std::optional<ConversionStatus> requested;
  if (p.status && !p.status->empty()) {
    requested = attribution::ParseRequestedStatus(*p.status);
    if (!requested) return Error(400, "bad_status");
  }

  // 3. Idempotency: (offer, order_id), else (click, event).
  const bool by_order = p.order_id && !p.order_id->empty();
  const std::string key = by_order
                              ? absl::StrCat("o", absl::string_view("\0", 1), ToAbsl(offer->id),
                                             absl::string_view("\0", 1), ToAbsl(*p.order_id))
                              : absl::StrCat("c", absl::string_view("\0", 1), ToAbsl(click_id),
                                             absl::string_view("\0", 1), ToAbsl(event));
  absl::StatusOr<std::optional<storage::ConversionRecord>> existing = Lookup(b, key);
  if (!existing.ok()) return Error(503, "storage_unavailable");
  if (existing->has_value()) {
    storage::ConversionRecord c = **existing;
    if (has_amount && (!c.has_amount || c.amount != amount)) {
      return Error(409, "conflict", {{"conversion_id", c.id}});
    }
    if (!requested || *requested == c.status ||
        (*requested == ConversionStatus::kApproved && c.status == ConversionStatus::kPaid)) {
      return Ok(Outcome("duplicate", c), plain);
    }
    if (!attribution::IsAllowedTransition(c.status, *requested) ||
        *requested == ConversionStatus::kPaid) {
      return Error(409, "bad_transition",
                   {{"conversion_id", c.id}, {"status", attribution::StatusName(c.status)}});
    }
    ApplyTransition(b, c, *requested);
    return Ok(Outcome("updated", c), plain);
  }
  if (requested == ConversionStatus::kReversed) return Error(409, "bad_transition");

  // 4. A new conversion: commissions first (a missing amount is a 400, nothing written).
  const int exponent = attribution::CurrencyExponent(offer->currency).value_or(2);
  const int32_t day = attribution::UtcDay(b.now_ms);
  const int32_t month = attribution::UtcMonth(b.now_ms);
  std::vector<attribution::Commission> commissions;
  if (affiliate != nullptr) {
    absl::StatusOr<int64_t> prior = CountedMonth(offer->id, ck.affiliate, month);
    if (!prior.ok()) return Error(503, "storage_unavailable");
    attribution::CommissionRequest cr;
    cr.event = event;
    cr.sale_amount = amount;
    cr.has_amount = has_amount;
    cr.currency_exponent = exponent;
    cr.prior_conversions_in_month = *prior + b.month[{offer->id, ck.affiliate, month}];
    cr.offer_plan = &offer->plan;
    cr.affiliate_plan = aff_plan;
    cr.affiliate = ck.affiliate;
    std::string_view up = affiliate->parent;
    for (int i = 0; i < attribution::kMaxTiers - 1 && !up.empty(); ++i) {
      const Affiliate* a = catalog.FindAffiliate(up);
      if (a == nullptr) break;
      cr.ancestors.push_back({a->id, a->active});
      up = a->parent;
    }
    absl::StatusOr<std::vector<attribution::Commission>> computed =
        attribution::ComputeCommissions(cr);
    if (absl::IsNotFound(computed.status())) return Error(422, "unknown_event");
    if (!computed.ok()) return Error(400, "bad_amount");
    commissions = std::move(*computed);
  }
  absl::StatusOr<int64_t> today = CountedToday(offer->id, day);
  if (!today.ok()) return Error(503, "storage_unavailable");
  attribution::NewConversionFacts f;
  f.now_ms = b.now_ms;
  f.click_ms = ck.time_ms;
  f.click_attributable = ck.attributable;
  f.affiliate_active = affiliate != nullptr && affiliate->active;
  f.click_is_bot = ck.klass == attribution::ClickClass::kBot;
  f.lookback_days = offer->lookback_days;
  f.min_ctit_s = offer->min_ctit_s;
  f.daily_conversion_cap = offer->daily_conversion_cap;
  f.counted_conversions_today = *today + b.today[{offer->id, day}];
  f.requested = requested;
  f.default_status = offer->default_status;
  attribution::Outcome outcome = attribution::DecideNewConversion(f);

  storage::ConversionRecord c;
  c.id = NewId("cv_", b.now_ms);
  c.idempotency_key = key;
  c.offer = offer->id;
  c.affiliate = ck.affiliate;
  c.click_id = click_id;
  c.sub1 = ck.subs[0];
  c.event = event;
  c.order_id = by_order ? *p.order_id : "";
  c.currency = offer->currency;
  c.amount = amount;
  c.has_amount = has_amount;
  c.status = outcome.status;
  c.reason = outcome.reason;
  c.time_ms = b.now_ms;
  c.click_time_ms = ck.time_ms;
  c.updated_ms = b.now_ms;
  storage::ConversionStats st;
  st.day = day;
  st.month = month;
  st.offer = c.offer;
  st.affiliate = c.affiliate;
  st.sub1 = c.sub1;
  st.currency = c.currency;
  st.conversions = 1;
  *StatusField(st, c.status) += 1;
  if (Counted(c.status)) {
    for (const attribution::Commission& cm : commissions) {
      c.commissions.push_back({cm.affiliate, cm.tier, cm.amount});
      storage::LedgerEntry e;
      e.seq = ++b.seq;
      e.conversion_id = c.id;
      e.affiliate = cm.affiliate;
      e.tier = cm.tier;
      e.kind = attribution::LedgerKind::kCommission;
      e.amount = cm.amount;
      e.currency = c.currency;
      e.status = c.status;
      e.time_ms = b.now_ms;
      b.hash = storage::ChainLedgerEntry(&e, b.hash);
      if (auto d = attribution::BalanceEffect(e.kind, e.status, e.amount)) {
        b.out.balances.push_back({e.affiliate, e.currency, *d});
      }
      b.out.entries.push_back(std::move(e));
      st.payout += cm.amount;
    }
    st.revenue = amount;
    st.counted_today = 1;
    st.counted_month = 1;
    b.today[{c.offer, day}] += 1;
    b.month[{c.offer, c.affiliate, month}] += 1;
  }
  b.out.stats.push_back(std::move(st));
  QueueOutbox(b, c, &ck);
  b.by_key[key] = c;
  b.key_of_id[c.id] = key;
  b.dirty.insert(key);
  return Ok(Outcome(c.status == ConversionStatus::kRejected ? "rejected" : "created", c), plain);
}

ServiceReply ConversionService::HandleStatusChange(const Request& r, Batch& b) {
  std::optional<ConversionStatus> to = attribution::ParseRequestedStatus(r.status);
  if (!to) return Error(400, "bad_status");
  std::optional<storage::ConversionRecord> c;
  if (auto it = b.key_of_id.find(r.conversion_id); it != b.key_of_id.end()) {
    c = b.by_key[it->second];
  } else {
    auto got = store_->GetConversion(r.conversion_id);
    if (!got.ok()) return Error(503, "storage_unavailable");
    c = std::move(*got);
  }
  if (!c) return Error(404, "unknown_conversion");
  if (c->status == *to) return Ok(Outcome("duplicate", *c), false);
  if (!attribution::IsAllowedTransition(c->status, *to) || *to == ConversionStatus::kPaid) {
    return Error(409, "bad_transition",
                 {{"conversion_id", c->id}, {"status", attribution::StatusName(c->status)}});
  }
  c->note = r.note;
  ApplyTransition(b, *c, *to);
  return Ok(Outcome("updated", *c), false);
}

void ConversionService::QueueOutbox(Batch& b, const storage::ConversionRecord& c,
                                    const storage::ClickRecord* click) {
  const int decimals = attribution::CurrencyExponent(c.currency).value_or(2);
  const std::string amount = c.has_amount ? attribution::FormatMicros(c.amount, decimals) : "";
  const std::string timestamp = std::to_string(b.now_ms / 1000);
  for (const storage::Beneficiary& ben : c.commissions) {
    const Affiliate* receiver = b.catalog->FindAffiliate(ben.affiliate);
    if (receiver == nullptr || receiver->postback_url.empty()) continue;
    storage::OutboxEntry o;
    o.id = NewId("ob_", b.now_ms);
    o.conversion_id = c.id;
    o.affiliate = ben.affiliate;
    o.created_ms = b.now_ms;
    o.next_attempt_ms = b.now_ms;
    const std::string payout = attribution::FormatMicros(ben.amount, decimals);
    MacroValues v{};
    v[size_t(Macro::kClickId)] = c.click_id;
    v[size_t(Macro::kOfferId)] = c.offer;
    v[size_t(Macro::kAffId)] = c.affiliate;
    if (click != nullptr) {
      for (int i = 0; i < 5; ++i) v[size_t(Macro::kSub1) + i] = click->subs[i];
      v[size_t(Macro::kSource)] = click->source;
      v[size_t(Macro::kVisitorId)] = click->visitor_id;
    }
    v[size_t(Macro::kTimestamp)] = timestamp;
    const std::string random = std::to_string(rng_() >> 11);  // cache buster, as on clicks
    v[size_t(Macro::kRandom)] = random;                       // (MacroValues are views)
    v[size_t(Macro::kEvent)] = c.event;
    v[size_t(Macro::kAmount)] = amount;
    v[size_t(Macro::kPayout)] = payout;  // the receiver's own commission
    v[size_t(Macro::kCurrency)] = c.currency;
    v[size_t(Macro::kStatus)] = attribution::StatusName(c.status);
    v[size_t(Macro::kConversionId)] = c.id;
    v[size_t(Macro::kOrderId)] = c.order_id;
    v[size_t(Macro::kEventId)] = o.id;
    o.url = receiver->postback_url.Render(v);
    b.out.outbox.push_back(std::move(o));
  }
}

absl::StatusOr<int64_t> ConversionService::CountedToday(const std::string& offer, int32_t day) {
  if (day != cached_day_) {  // a new UTC day: older counts can no longer be asked for
    today_counts_.clear();
    cached_day_ = day;
  }
  if (auto it = today_counts_.find(offer); it != today_counts_.end()) return it->second;
  absl::StatusOr<int64_t> n = store_->CountedToday(offer, day);
  if (n.ok()) today_counts_[offer] = *n;
  return n;
}

absl::StatusOr<int64_t> ConversionService::CountedMonth(const std::string& offer,
                                                        const std::string& affiliate,
                                                        int32_t month) {
  if (month != cached_month_) {
    month_counts_.clear();
    cached_month_ = month;
  }
  if (auto it = month_counts_.find({offer, affiliate}); it != month_counts_.end())
    return it->second;
  absl::StatusOr<int64_t> n = store_->CountedMonth(offer, affiliate, month);
  if (n.ok()) month_counts_[{offer, affiliate}] = *n;
  return n;
}

ServiceReply ConversionService::HandlePayout(const Request& r, Batch& b) {
  const std::string& currency = r.status;
  // Entries that moved each affiliate's approved balance since its last payout (for the CSV).
  std::map<std::string, int64_t> entries;
  absl::Status st = store_->ScanLedger([&](const storage::LedgerEntry& e) {
    if (e.currency != currency) return true;
    if (e.kind == attribution::LedgerKind::kPayout) {
      entries[e.affiliate] = 0;
    } else if (auto d = attribution::BalanceEffect(e.kind, e.status, e.amount);
               d && d->approved != 0) {
      ++entries[e.affiliate];
    }
    return true;
  });
  if (!st.ok()) return Error(503, "storage_unavailable");
  storage::PayoutRecord payout;
  payout.id = NewId("po_", b.now_ms);
  payout.currency = currency;
  payout.min_amount = r.min_amount;
  payout.time_ms = b.now_ms;
  st = store_->ScanBalances(currency,
                            [&](const std::string& affiliate, const storage::BalanceRow& row) {
                              // A reversal after an earlier payout leaves approved negative: it
                              // nets off here.
                              if (row.approved <= 0 || row.approved < r.min_amount) return;
                              payout.items.push_back({affiliate, row.approved, entries[affiliate]});
                            });
  if (!st.ok()) return Error(503, "storage_unavailable");
  for (const storage::PayoutItem& item : payout.items) {
    storage::LedgerEntry e;
    e.seq = ++b.seq;
    e.conversion_id = payout.id;
    e.affiliate = item.affiliate;
    e.tier = 0;
    e.kind = attribution::LedgerKind::kPayout;
    e.amount = item.amount;
    e.currency = currency;
    e.status = ConversionStatus::kPaid;
    e.time_ms = b.now_ms;
    b.hash = storage::ChainLedgerEntry(&e, b.hash);
    b.out.balances.push_back(
        {e.affiliate, currency, *attribution::BalanceEffect(e.kind, e.status, e.amount)});
    b.out.entries.push_back(std::move(e));
  }
  b.out.payouts.push_back(payout);
  // The caller renders the stored record (GET /api/payouts/{id}), so there is one rendering.
  json::object o;
  o["id"] = payout.id;
  return {200, json::serialize(o), false, "paid", ""};
}

}  // namespace ricochet::engine
