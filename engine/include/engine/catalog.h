// Offers and affiliates: validated configuration, held as immutable snapshots that the hot
// path reads without locks and the admin API replaces whole.
#ifndef RICOCHET_ENGINE_CATALOG_H_
#define RICOCHET_ENGINE_CATALOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "attribution/conversion.h"
#include "attribution/plan.h"
#include "boost/json/object.hpp"
#include "engine/url_template.h"

namespace ricochet::engine {

using attribution::ConversionStatus;
using Attribution = attribution::AttributionModel;

struct Offer {
  std::string id;
  std::string name;
  UrlTemplate url;
  UrlTemplate fallback_url;  // empty: none
  bool active = true;
  std::string currency = "USD";
  Attribution attribution = Attribution::kLastClick;
  int64_t lookback_days = 30;
  int64_t dedupe_window_s = 86400;
  int64_t max_clicks_per_ip_per_minute = 0;  // 0 = off
  int64_t daily_conversion_cap = 0;          // 0 = off
  int64_t min_ctit_s = 0;                    // 0 = off
  ConversionStatus default_status = ConversionStatus::kApproved;
  std::string postback_token;  // empty: none required
  bool allow_pixel = true;
  attribution::Plan plan;
};

struct Affiliate {
  std::string id;
  std::string name;
  bool active = true;
  std::string parent;  // empty: none
  UrlTemplate postback_url;
  std::optional<attribution::Plan> plan;
};

// What is wrong with a submitted object: a machine-readable reason, the field, and a sentence.
struct FieldError {
  std::string reason;  // bad_json, bad_url, bad_status, bad_number, bad_currency, bad_field, ...
  std::string field;
  std::string message;
};

// Parses and validates a submitted (or stored) JSON object. `id` comes from the URL path.
// `retention_days` (the server's --retention-days) bounds lookback_days and dedupe_window_s:
// clicks and dedupe slots older than it are deleted, so a longer window could not be honoured.
bool ParseOffer(std::string_view id, std::string_view json, Offer* out, FieldError* error,
                int64_t retention_days = 36500);
bool ParseAffiliate(std::string_view id, std::string_view json, Affiliate* out, FieldError* error);
// The canonical stored form, with every default spelled out.
boost::json::object OfferToJson(const Offer& offer);
boost::json::object AffiliateToJson(const Affiliate& affiliate);

// Transparent std::string_view hashing, so lookups by a request's string_view never copy.
// (Debian's Abseil has its own absl::string_view, which std::string_view does not convert to.)
struct IdHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
struct IdEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};
template <typename V>
using IdMap = absl::flat_hash_map<std::string, V, IdHash, IdEq>;

// One immutable version of the configuration.
struct Catalog {
  IdMap<std::shared_ptr<const Offer>> offers;
  IdMap<std::shared_ptr<const Affiliate>> affiliates;

  const Offer* FindOffer(std::string_view id) const;
  const Affiliate* FindAffiliate(std::string_view id) const;
  // How far back, in seconds, a dedupe slot and a visitor index entry can still decide
  // anything for these offers: the longest dedupe_window_s and the longest lookback_days.
  // 0 without offers (no click is attributable then, so none takes a slot or an entry).
  // For storage::Store::SetIndexHorizons.
  int64_t DedupeHorizonSeconds() const;
  int64_t VisitorHorizonSeconds() const;
};

// Publishes catalog versions to a fixed set of reader slots (one per I/O worker). A reader
// touches only its own slot and an atomic version number, so the hot path takes no lock;
// the mutex is taken by writers and by a reader only when a new version appeared.
class CatalogHolder {
 public:
  CatalogHolder(std::shared_ptr<const Catalog> initial, size_t reader_slots);

  // The current catalog as seen by reader `slot`; the reference stays valid until the same
  // slot calls Current() again. Each slot must be used by one thread at a time.
  const Catalog& Current(size_t slot);
  // A counted reference to the current catalog (any thread).
  std::shared_ptr<const Catalog> Snapshot() const;
  void Publish(std::shared_ptr<const Catalog> next);

 private:
  struct alignas(64) Slot {
    uint64_t version = 0;
    std::shared_ptr<const Catalog> catalog;
  };
  mutable std::mutex mu_;
  std::shared_ptr<const Catalog> current_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> version_{1};
  std::vector<Slot> slots_;
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_CATALOG_H_
