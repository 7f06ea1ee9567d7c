// Conversion, ledger and balance records as the store keeps them.
#ifndef RICOCHET_STORAGE_CONVERSIONS_H_
#define RICOCHET_STORAGE_CONVERSIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "attribution/conversion.h"
#include "attribution/ledger.h"
#include "attribution/money.h"

namespace ricochet::storage {

struct Beneficiary {
  std::string affiliate;
  int tier = 1;
  attribution::Micros amount = 0;
  bool operator==(const Beneficiary&) const = default;
};

struct ConversionRecord {
  std::string id;
  std::string idempotency_key;
  std::string offer;
  std::string affiliate;
  std::string click_id;
  std::string sub1;
  std::string event;
  std::string order_id;
  std::string currency;
  attribution::Micros amount = 0;
  bool has_amount = false;
  attribution::ConversionStatus status = attribution::ConversionStatus::kApproved;
  attribution::Reason reason = attribution::Reason::kNone;
  int64_t time_ms = 0;  // created
  int64_t click_time_ms = 0;
  int64_t updated_ms = 0;  // last status change
  std::string note;  // the operator's reason for the latest manual status change ("chargeback")
  std::vector<Beneficiary> commissions;  // empty for conversions rejected at creation
  bool operator==(const ConversionRecord&) const = default;
};

struct LedgerEntry {
  uint64_t seq = 0;  // 1, 2, ...: the chain order
  std::string conversion_id;
  std::string affiliate;
  int tier = 1;
  attribution::LedgerKind kind = attribution::LedgerKind::kCommission;
  attribution::Micros amount = 0;  // signed
  std::string currency;
  attribution::ConversionStatus status = attribution::ConversionStatus::kApproved;
  int64_t time_ms = 0;
  std::string prev_hash;  // 32 bytes; zeros before the first entry
  std::string hash;       // SHA-256(prev_hash || the entry's canonical encoding)
  bool operator==(const LedgerEntry&) const = default;
};

// Sets entry->prev_hash and entry->hash; returns the new chain head hash.
std::string ChainLedgerEntry(LedgerEntry* entry, const std::string& prev_hash);
inline const std::string kGenesisHash(32, '\0');

struct BalanceRow {
  std::string currency;
  attribution::Micros pending = 0, approved = 0, paid = 0;
};

// Report and rule counters moved by one conversion change (creation or status change).
struct ConversionStats {
  int32_t day = 0;  // UTC day of the conversion's creation
  std::string offer, affiliate, sub1, currency;
  int64_t conversions = 0, approved = 0, pending = 0, rejected = 0, reversed = 0;
  attribution::Micros revenue = 0, payout = 0;
  int64_t counted_today = 0;  // toward the offer's daily cap (non-rejected)
  int32_t month = 0;          // months since 1970-01 of the creation
  int64_t counted_month = 0;  // toward the affiliate's volume steps on the offer
};

struct PayoutItem {
  std::string affiliate;
  attribution::Micros amount = 0;
  int64_t entries =
      0;  // ledger entries moving this affiliate's approved balance since its last payout
  bool operator==(const PayoutItem&) const = default;
};

struct PayoutRecord {
  std::string id;
  std::string currency;
  attribution::Micros min_amount = 0;
  int64_t time_ms = 0;
  std::vector<PayoutItem> items;
  bool operator==(const PayoutRecord&) const = default;
};

// One outgoing affiliate postback, written in the same batch as the conversion change that
// caused it, so none is lost and none exists for a change that did not happen. Delivery
// (HTTP, retries, dead letters) updates `state`, `attempts` and `next_attempt_ms`.
enum class OutboxState : uint8_t { kPending = 0, kDelivered = 1, kDead = 2 };
struct OutboxEntry {
  std::string id;  // also the idempotent {event_id} macro of the delivery
  std::string conversion_id;
  std::string affiliate;  // the receiver
  std::string url;        // fully rendered, macros percent-encoded
  OutboxState state = OutboxState::kPending;
  int64_t attempts = 0;
  int64_t created_ms = 0;
  int64_t next_attempt_ms = 0;
  int64_t last_attempt_ms = 0;  // when the latest attempt started (0: none yet)
  int32_t last_status = 0;      // HTTP status of the latest answer (0: none)
  // Why the latest attempt failed ("" after success). "in_flight" while an attempt runs: an
  // entry found so at start-up was cut off by a crash or restart; its attempt already counts.
  std::string last_error;
  bool operator==(const OutboxEntry&) const = default;
};

// Everything one group commit writes, atomically and fsynced.
struct ConversionBatch {
  std::vector<OutboxEntry> outbox;
  std::vector<PayoutRecord> payouts;
  std::vector<ConversionRecord> conversions;  // new or updated
  std::vector<LedgerEntry> entries;           // chained, in seq order
  struct BalanceChange {
    std::string affiliate, currency;
    attribution::BalanceDelta delta;
  };
  std::vector<BalanceChange> balances;
  std::vector<ConversionStats> stats;
  bool empty() const {
    return conversions.empty() && entries.empty() && payouts.empty() && outbox.empty();
  }
};

struct MoneyRow {
  int32_t day = 0;
  std::string offer, affiliate, sub1, currency;
  attribution::Micros revenue = 0, payout = 0;
};

struct VerifyReport {
  uint64_t entries = 0;
  uint64_t balances_checked = 0;
  std::vector<std::string> problems;  // empty when the chain and every balance agree
  bool ok() const { return problems.empty(); }
};

}  // namespace ricochet::storage

#endif  // RICOCHET_STORAGE_CONVERSIONS_H_
