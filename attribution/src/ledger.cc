#include "attribution/ledger.h"

namespace ricochet::attribution {

std::string_view LedgerKindName(LedgerKind k) {
  switch (k) {
    case LedgerKind::kCommission:
      return "commission";
    case LedgerKind::kReversal:
      return "reversal";
    case LedgerKind::kAdjustment:
      return "adjustment";
    case LedgerKind::kPayout:
      return "payout";
  }
  return "commission";
}

std::optional<BalanceDelta> BalanceEffect(LedgerKind kind, ConversionStatus status, Micros a) {
  using S = ConversionStatus;
  switch (kind) {
    case LedgerKind::kCommission:
      if (status == S::kPending) return BalanceDelta{.pending = a};
      if (status == S::kApproved) return BalanceDelta{.approved = a};
      return std::nullopt;
    case LedgerKind::kAdjustment:
      if (status == S::kApproved) return BalanceDelta{.pending = -a, .approved = a};
      if (status == S::kRejected) return BalanceDelta{.pending = a};
      return std::nullopt;
    case LedgerKind::kReversal:
      if (status == S::kReversed) return BalanceDelta{.approved = a};
      return std::nullopt;
    case LedgerKind::kPayout:
      if (status == S::kPaid) return BalanceDelta{.approved = -a, .paid = a};
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<EntrySpec> TransitionEntry(ConversionStatus from, ConversionStatus to, Micros c) {
  using S = ConversionStatus;
  if (!IsAllowedTransition(from, to)) return std::nullopt;
  if (from == S::kPending && to == S::kApproved) return EntrySpec{LedgerKind::kAdjustment, c};
  if (from == S::kPending && to == S::kRejected) return EntrySpec{LedgerKind::kAdjustment, -c};
  if (to == S::kReversed) return EntrySpec{LedgerKind::kReversal, -c};
  return std::nullopt;
}

}  // namespace ricochet::attribution
