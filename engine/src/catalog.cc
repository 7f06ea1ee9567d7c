#include "engine/catalog.h"

#include "absl/strings/str_cat.h"
#include "attribution/money.h"
#include "attribution/sv.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "engine/url.h"

namespace ricochet::engine {
namespace json = boost::json;
namespace {

using attribution::Micros;

// Reads typed fields out of a JSON object, remembering the first error.
class Fields {
 public:
  Fields(const json::object& obj, FieldError* error) : obj_(obj), error_(error) {}

  bool ok() const { return ok_; }
  bool Fail(std::string reason, std::string field, std::string message) {
    if (ok_) *error_ = FieldError{std::move(reason), std::move(field), std::move(message)};
    ok_ = false;
    return false;
  }

  const json::value* Get(std::string_view name) const {
    const json::value* v = obj_.if_contains(name);
    return (v == nullptr || v->is_null()) ? nullptr : v;
  }

  void String(std::string_view name, std::string* out, size_t max_len = 256) {
    const json::value* v = Get(name);
    if (v == nullptr) return;
    if (!v->is_string()) {
      Fail("bad_field", std::string(name), absl::StrCat(ToAbsl(name), " must be a string"));
      return;
    }
    std::string_view s = v->get_string();
    if (s.size() > max_len || HasControlChars(s)) {
      Fail("bad_field", std::string(name),
           absl::StrCat(ToAbsl(name), " must be at most ", max_len,
                        " bytes without control characters"));
      return;
    }
    out->assign(s);
  }

  void Url(std::string_view name, UrlTemplate* out, bool required) {
    const json::value* v = Get(name);
    if (v == nullptr || (v->is_string() && v->get_string().empty() && !required)) {
      if (required) Fail("bad_url", std::string(name), absl::StrCat(ToAbsl(name), " is required"));
      return;
    }
    if (!v->is_string()) {
      Fail("bad_url", std::string(name), absl::StrCat(ToAbsl(name), " must be a string"));
      return;
    }
    std::string_view s = v->get_string();
    if (absl::Status st = ValidateConfiguredUrl(s); !st.ok()) {
      Fail("bad_url", std::string(name), absl::StrCat(ToAbsl(name), ": ", st.message()));
      return;
    }
    *out = UrlTemplate::Parse(s);
  }

  void Int(std::string_view name, int64_t* out, int64_t min, int64_t max) {
    const json::value* v = Get(name);
    if (v == nullptr) return;
    int64_t n;
    if (v->is_int64()) {
      n = v->get_int64();
    } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
      n = static_cast<int64_t>(v->get_uint64());
    } else {
      Fail("bad_number", std::string(name), absl::StrCat(ToAbsl(name), " must be a whole number"));
      return;
    }
    if (n < min || n > max) {
      Fail("bad_number", std::string(name),
           absl::StrCat(ToAbsl(name), " must be between ", min, " and ", max));
      return;
    }
    *out = n;
  }

  void Bool(std::string_view name, bool* out) {
    const json::value* v = Get(name);
    if (v == nullptr) return;
    if (!v->is_bool()) {
      Fail("bad_field", std::string(name), absl::StrCat(ToAbsl(name), " must be true or false"));
      return;
    }
    *out = v->get_bool();
  }

  void Status(std::string_view name, bool* active) {
    const json::value* v = Get(name);
    if (v == nullptr) return;
    if (v->is_string() && v->get_string() == "active") {
      *active = true;
    } else if (v->is_string() && v->get_string() == "paused") {
      *active = false;
    } else {
      Fail("bad_status", std::string(name),
           absl::StrCat(ToAbsl(name), " must be \"active\" or \"paused\""));
    }
  }

 private:
  const json::object& obj_;
  FieldError* error_;
  bool ok_ = true;
};

bool ParseObject(std::string_view text, json::object* out, FieldError* error) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    *error = {"bad_json", "", absl::StrCat("body is not valid JSON: ", ec.message())};
    return false;
  }
  if (!v.is_object()) {
    *error = {"bad_json", "", "body must be a JSON object"};
    return false;
  }
  *out = std::move(v.get_object());
  return true;
}

bool ParseDecimalField(const json::value* v, const std::string& field, int decimals,
                       std::optional<Micros>* out, FieldError* error) {
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) {
    *error = {"bad_number", field,
              absl::StrCat(field, " must be a decimal string such as \"2.50\"")};
    return false;
  }
  absl::StatusOr<Micros> m = attribution::ParseDecimal(v->get_string(), decimals);
  if (!m.ok()) {
    *error = {"bad_number", field,
              absl::StrCat(field, ": ", m.status().message(), " (at most ", decimals,
                           " decimals, non-negative)")};
    return false;
  }
  *out = *m;
  return true;
}

bool ParseRate(const json::value& v, const std::string& where, attribution::Rate* rate,
               FieldError* error) {
  if (!v.is_object()) {
    *error = {"bad_field", where, absl::StrCat(where, " must be an object")};
    return false;
  }
  const json::object& o = v.get_object();
  return ParseDecimalField(o.if_contains("cpa"), where + ".cpa", 6, &rate->cpa, error) &&
         ParseDecimalField(o.if_contains("cps_percent"), where + ".cps_percent",
                           attribution::kPercentDecimals, &rate->cps_percent, error);
}

bool ParsePlan(const json::value& v, attribution::Plan* plan, FieldError* error) {
  if (!v.is_object()) {
    *error = {"bad_field", "plan", "plan must be an object"};
    return false;
  }
  const json::object& o = v.get_object();
  if (const json::value* events = o.if_contains("events"); events && !events->is_null()) {
    if (!events->is_object()) {
      *error = {"bad_field", "plan.events", "plan.events must be an object"};
      return false;
    }
    for (const auto& [name, rate_v] : events->get_object()) {
      attribution::Rate rate;
      if (!ParseRate(rate_v, absl::StrCat("plan.events.", ToAbsl(std::string_view(name))), &rate,
                     error)) {
        return false;
      }
      plan->events[std::string(name)] = rate;
    }
  }
  if (const json::value* steps = o.if_contains("volume_steps"); steps && !steps->is_null()) {
    if (!steps->is_array()) {
      *error = {"bad_field", "plan.volume_steps", "plan.volume_steps must be an array"};
      return false;
    }
    plan->volume_steps.emplace();
    for (size_t i = 0; i < steps->get_array().size(); ++i) {
      const json::value& s = steps->get_array()[i];
      std::string where = absl::StrCat("plan.volume_steps[", i, "]");
      attribution::VolumeStep step;
      if (!ParseRate(s, where, &step.rate, error)) return false;
      const json::value* min = s.get_object().if_contains("min_conversions");
      if (min == nullptr || !min->is_int64() || min->get_int64() < 0) {
        *error = {"bad_number", where + ".min_conversions",
                  where + ".min_conversions must be a whole number >= 0"};
        return false;
      }
      step.min_conversions = min->get_int64();
      plan->volume_steps->push_back(step);
    }
  }
  if (const json::value* tiers = o.if_contains("tiers"); tiers && !tiers->is_null()) {
    if (!tiers->is_array()) {
      *error = {"bad_field", "plan.tiers", "plan.tiers must be an array"};
      return false;
    }
    plan->tiers.emplace();
    for (size_t i = 0; i < tiers->get_array().size(); ++i) {
      attribution::Rate rate;
      if (!ParseRate(tiers->get_array()[i], absl::StrCat("plan.tiers[", i, "]"), &rate, error)) {
        return false;
      }
      plan->tiers->push_back(rate);
    }
  }
  if (absl::Status s = attribution::ValidatePlan(*plan); !s.ok()) {
    *error = {"bad_field", "plan", std::string(s.message())};
    return false;
  }
  return true;
}

json::object RateToJson(const attribution::Rate& r, int money_decimals) {
  json::object o;
  if (r.cpa) o["cpa"] = attribution::FormatMicros(*r.cpa, money_decimals);
  if (r.cps_percent) o["cps_percent"] = attribution::FormatMicros(*r.cps_percent, 0);
  return o;
}

json::object PlanToJson(const attribution::Plan& plan, int money_decimals) {
  json::object o;
  json::object events;
  for (const auto& [name, rate] : plan.events) events[name] = RateToJson(rate, money_decimals);
  o["events"] = std::move(events);
  if (plan.volume_steps) {
    json::array steps;
    for (const attribution::VolumeStep& s : *plan.volume_steps) {
      json::object so = RateToJson(s.rate, money_decimals);
      so["min_conversions"] = s.min_conversions;
      steps.push_back(std::move(so));
    }
    o["volume_steps"] = std::move(steps);
  }
  if (plan.tiers) {
    json::array tiers;
    for (const attribution::Rate& r : *plan.tiers) tiers.push_back(RateToJson(r, money_decimals));
    o["tiers"] = std::move(tiers);
  }
  return o;
}

bool CheckId(std::string_view id, FieldError* error) {
  if (IsValidId(id)) return true;
  *error = {"bad_id", "id", "ids must match [A-Za-z0-9_-]{1,64}"};
  return false;
}

bool CheckBodyId(const json::object& obj, std::string_view id, FieldError* error) {
  const json::value* v = obj.if_contains("id");
  if (v == nullptr || v->is_null() || (v->is_string() && v->get_string() == id)) return true;
  *error = {"bad_id", "id", "the body's id differs from the id in the path"};
  return false;
}

}  // namespace

bool ParseOffer(std::string_view id, std::string_view text, Offer* out, FieldError* error,
                int64_t retention_days) {
  json::object obj;
  if (!CheckId(id, error) || !ParseObject(text, &obj, error) || !CheckBodyId(obj, id, error)) {
    return false;
  }
  Offer offer;
  offer.id.assign(id);
  Fields f(obj, error);
  f.String("name", &offer.name);
  f.Url("url", &offer.url, /*required=*/true);
  f.Url("fallback_url", &offer.fallback_url, /*required=*/false);
  f.Status("status", &offer.active);
  if (const json::value* c = f.Get("currency"); c != nullptr && f.ok()) {
    std::optional<std::string> code;
    if (c->is_string()) code = attribution::NormalizeCurrency(c->get_string());
    if (!code) {
      f.Fail("bad_currency", "currency", "currency must be a known ISO 4217 code such as \"USD\"");
    } else {
      offer.currency = *code;
    }
  }
  if (const json::value* a = f.Get("attribution"); a != nullptr && f.ok()) {
    if (a->is_string() && a->get_string() == "last_click") {
      offer.attribution = Attribution::kLastClick;
    } else if (a->is_string() && a->get_string() == "first_click") {
      offer.attribution = Attribution::kFirstClick;
    } else {
      f.Fail("bad_field", "attribution", "attribution must be \"last_click\" or \"first_click\"");
    }
  }
  f.Int("lookback_days", &offer.lookback_days, 1, 3650);
  f.Int("dedupe_window_s", &offer.dedupe_window_s, 0, 366 * 86400);
  f.Int("max_clicks_per_ip_per_minute", &offer.max_clicks_per_ip_per_minute, 0, 1'000'000);
  f.Int("daily_conversion_cap", &offer.daily_conversion_cap, 0, 1'000'000'000);
  f.Int("min_ctit_s", &offer.min_ctit_s, 0, 365 * 86400);
  if (const json::value* d = f.Get("default_status"); d != nullptr && f.ok()) {
    std::optional<ConversionStatus> status;
    if (d->is_string()) status = attribution::ParseRequestedStatus(d->get_string());
    if (status && *status != ConversionStatus::kReversed) {
      offer.default_status = *status;
    } else {
      f.Fail("bad_status", "default_status",
             "default_status must be \"approved\", \"pending\" or \"rejected\"");
    }
  }
  f.String("postback_token", &offer.postback_token, 128);
  f.Bool("allow_pixel", &offer.allow_pixel);
  if (!f.ok()) return false;
  if (offer.lookback_days > retention_days) {
    return f.Fail("bad_number", "lookback_days",
                  absl::StrCat("lookback_days must not exceed the server's --retention-days (",
                               retention_days, "): older clicks are deleted"));
  }
  if (offer.dedupe_window_s > retention_days * 86400) {
    return f.Fail("bad_number", "dedupe_window_s",
                  absl::StrCat("dedupe_window_s must not exceed the server's --retention-days (",
                               retention_days, " days): older dedupe keys are deleted"));
  }
  if (const json::value* p = f.Get("plan"); p != nullptr && !ParsePlan(*p, &offer.plan, error)) {
    return false;
  }
  *out = std::move(offer);
  return true;
}

bool ParseAffiliate(std::string_view id, std::string_view text, Affiliate* out, FieldError* error) {
  json::object obj;
  if (!CheckId(id, error) || !ParseObject(text, &obj, error) || !CheckBodyId(obj, id, error)) {
    return false;
  }
  Affiliate aff;
  aff.id.assign(id);
  Fields f(obj, error);
  f.String("name", &aff.name);
  f.Status("status", &aff.active);
  f.String("parent", &aff.parent, 64);
  f.Url("postback_url", &aff.postback_url, /*required=*/false);
  if (!f.ok()) return false;
  if (!aff.parent.empty() && !IsValidId(aff.parent)) {
    *error = {"bad_id", "parent", "parent must be an affiliate id ([A-Za-z0-9_-]{1,64})"};
    return false;
  }
  if (aff.parent == aff.id) {
    *error = {"bad_parent", "parent", "an affiliate cannot be its own parent"};
    return false;
  }
  if (const json::value* p = f.Get("plan"); p != nullptr) {
    aff.plan.emplace();
    if (!ParsePlan(*p, &*aff.plan, error)) return false;
  }
  *out = std::move(aff);
  return true;
}

json::object OfferToJson(const Offer& o) {
  int decimals = attribution::CurrencyExponent(o.currency).value_or(2);
  json::object j;
  j["id"] = o.id;
  j["name"] = o.name;
  j["url"] = o.url.text();
  j["fallback_url"] =
      o.fallback_url.empty() ? json::value(nullptr) : json::value(o.fallback_url.text());
  j["status"] = o.active ? "active" : "paused";
  j["currency"] = o.currency;
  j["attribution"] = o.attribution == Attribution::kLastClick ? "last_click" : "first_click";
  j["lookback_days"] = o.lookback_days;
  j["dedupe_window_s"] = o.dedupe_window_s;
  j["max_clicks_per_ip_per_minute"] = o.max_clicks_per_ip_per_minute;
  j["daily_conversion_cap"] = o.daily_conversion_cap;
  j["min_ctit_s"] = o.min_ctit_s;
  j["default_status"] = attribution::StatusName(o.default_status);
  j["postback_token"] =
      o.postback_token.empty() ? json::value(nullptr) : json::value(o.postback_token);
  j["allow_pixel"] = o.allow_pixel;
  j["plan"] = PlanToJson(o.plan, decimals);
  return j;
}

json::object AffiliateToJson(const Affiliate& a) {
  json::object j;
  j["id"] = a.id;
  j["name"] = a.name;
  j["status"] = a.active ? "active" : "paused";
  j["parent"] = a.parent.empty() ? json::value(nullptr) : json::value(a.parent);
  j["postback_url"] =
      a.postback_url.empty() ? json::value(nullptr) : json::value(a.postback_url.text());
  j["plan"] = a.plan ? json::value(PlanToJson(*a.plan, 2)) : json::value(nullptr);
  return j;
}

const Offer* Catalog::FindOffer(std::string_view id) const {
  auto it = offers.find(id);
  return it == offers.end() ? nullptr : it->second.get();
}

int64_t Catalog::DedupeHorizonSeconds() const {
  int64_t s = 0;
  for (const auto& [id, offer] : offers) s = std::max(s, offer->dedupe_window_s);
  return s;
}

int64_t Catalog::VisitorHorizonSeconds() const {
  int64_t s = 0;
  for (const auto& [id, offer] : offers) s = std::max(s, offer->lookback_days * 86400);
  return s;
}

const Affiliate* Catalog::FindAffiliate(std::string_view id) const {
  auto it = affiliates.find(id);
  return it == affiliates.end() ? nullptr : it->second.get();
}

CatalogHolder::CatalogHolder(std::shared_ptr<const Catalog> initial, size_t reader_slots)
    : current_(std::move(initial)), slots_(reader_slots) {}

const Catalog& CatalogHolder::Current(size_t slot) {
  Slot& s = slots_[slot];
  uint64_t v = version_.load(std::memory_order_acquire);
  if (s.version != v) {
    std::lock_guard<std::mutex> lock(mu_);
    s.catalog = current_;
    s.version = version_.load(std::memory_order_acquire);
  }
  return *s.catalog;
}

std::shared_ptr<const Catalog> CatalogHolder::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void CatalogHolder::Publish(std::shared_ptr<const Catalog> next) {
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(next);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace ricochet::engine
