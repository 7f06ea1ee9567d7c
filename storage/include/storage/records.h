// Domain records as the store keeps them. Plain values; encoding lives in src/codec.
#ifndef RICOCHET_STORAGE_RECORDS_H_
#define RICOCHET_STORAGE_RECORDS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "attribution/click.h"

namespace ricochet::storage {

// One recorded click. `click_id` is the opaque public id; `time_ms` is the issue time it
// carries (the store keys clicks by time so retention drops whole ranges).
struct ClickRecord {
  std::string click_id;
  int64_t time_ms = 0;
  std::string offer;
  std::string affiliate;            // as given; empty when the link named none
  std::array<std::string, 5> subs;  // sub1..sub5
  std::string source;
  std::string client_ip;
  std::string user_agent;
  std::string visitor_id;
  std::string referer;
  attribution::ClickClass klass = attribution::ClickClass::kUnique;
  bool attributable = true;  // false for fallback redirects (paused offer/affiliate)
  // The visitor id was minted from this click (the visitor's first), so the id itself leads
  // to the click and the visitors index gets no entry for it. Not stored with the click.
  bool visitor_first_click = false;
  // Set for unique clicks: the dedupe slot this click takes.
  std::optional<attribution::DedupeKey> dedupe_key;
  bool operator==(const ClickRecord&) const = default;
};

// Counter slots of one report row. Stored as a packed little-endian int64 array; new fields
// are appended at the end so old rows stay readable. Never renumber.
enum CounterField : int {
  kClicks = 0,
  kUniqueClicks = 1,
  kDuplicateClicks = 2,
  kBotClicks = 3,
  kRateLimitedClicks = 4,
  kConversions = 5,  // every recorded conversion, by creation day
  kApproved = 6,     // by current status (paid counts as approved)
  kPending = 7,
  kRejected = 8,
  kReversed = 9,
  kCounterFieldCount = 10,
};

struct CounterRow {
  int32_t day = 0;  // days since 1970-01-01 (UTC)
  std::string offer;
  std::string affiliate;
  std::string sub1;
  std::array<int64_t, kCounterFieldCount> values{};
};

// One admin call that may have changed something (any method but GET and HEAD under /api),
// answered or refused. Written once, never changed (Store::AppendAudit).
struct AuditRecord {
  uint64_t seq = 0;           // 1, 2, 3, ... in write order; assigned by the store
  int64_t time_ms = 0;        // when answered; never earlier than the previous record's
  std::string method;         // as sent ("PUT", "DELETE", also unknown methods)
  std::string target;         // path and query, secrets redacted, printable ASCII only
  int32_t status = 0;         // the HTTP status answered
  std::string reason;         // the answer's "reason" when status >= 400, else empty
  std::string actor;          // "admin" (valid token) or "unauthenticated"
  std::string operator_name;  // X-Ricochet-Operator as sent: claimed, not verified
  std::string client_ip;
  std::string user_agent;
  uint64_t body_bytes = 0;
  std::string body_sha256;  // 32 raw bytes; empty when the body is empty
  bool operator==(const AuditRecord&) const = default;
};

}  // namespace ricochet::storage

#endif  // RICOCHET_STORAGE_RECORDS_H_
