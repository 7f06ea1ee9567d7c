// Ledger rules: what each kind of entry does to an affiliate's balances, and which entry a status
// change writes. Pure. Entries are append-only; a correction is a new entry.
//
//   kind        status after   amount   pending   approved   paid
//   commission  pending        +c       +c
//   commission  approved       +c                 +c
//   adjustment  approved       +c       -c        +c           (pending -> approved)
//   adjustment  rejected       -c       -c                     (pending -> out)
//   reversal    reversed       -c                 -c           (approved or paid -> out)
//   payout      paid           +p                 -p         +p
#ifndef RICOCHET_ATTRIBUTION_LEDGER_H_
#define RICOCHET_ATTRIBUTION_LEDGER_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "attribution/conversion.h"
#include "attribution/money.h"

namespace ricochet::attribution {

// Stored as one byte: never renumber.
enum class LedgerKind : uint8_t { kCommission = 0, kReversal = 1, kAdjustment = 2, kPayout = 3 };
[[nodiscard]] std::string_view LedgerKindName(LedgerKind k);

struct BalanceDelta {
  Micros pending = 0;
  Micros approved = 0;
  Micros paid = 0;
  bool operator==(const BalanceDelta&) const = default;
};

// The movement one entry makes; nullopt for a (kind, status) pair the ledger never writes.
[[nodiscard]] std::optional<BalanceDelta> BalanceEffect(LedgerKind kind, ConversionStatus status,
                                                        Micros amount);

struct EntrySpec {
  LedgerKind kind;
  Micros amount;  // signed
  bool operator==(const EntrySpec&) const = default;
};

// The entry a beneficiary's commission `c` gets when its conversion moves `from` -> `to`;
// nullopt when the transition is not allowed or moves no money (approved -> paid is written by
// payout runs, per affiliate, not per conversion).
[[nodiscard]] std::optional<EntrySpec> TransitionEntry(ConversionStatus from, ConversionStatus to,
                                                       Micros c);

}  // namespace ricochet::attribution

#endif  // RICOCHET_ATTRIBUTION_LEDGER_H_
