#include "attribution/ledger.h"

#include "catch2/catch.hpp"

namespace ricochet::attribution {
namespace {
using S = ConversionStatus;
}

TEST_CASE("every status change moves exactly the commission between balances", "[ledger]") {
  const Micros c = 2'500'000;
  // Walk each allowed path and sum the effects; the end state must match the final status.
  auto apply = [&](std::initializer_list<S> path) {
    BalanceDelta total;
    S first = *path.begin();
    auto add = [&](const BalanceDelta& d) {
      total.pending += d.pending;
      total.approved += d.approved;
      total.paid += d.paid;
    };
    add(*BalanceEffect(LedgerKind::kCommission, first, c));
    S from = first;
    for (auto it = path.begin() + 1; it != path.end(); ++it) {
      auto e = TransitionEntry(from, *it, c);
      REQUIRE(e.has_value());
      add(*BalanceEffect(e->kind, *it, e->amount));
      from = *it;
    }
    return total;
  };
  CHECK(apply({S::kPending}) == BalanceDelta{.pending = c});
  CHECK(apply({S::kApproved}) == BalanceDelta{.approved = c});
  CHECK(apply({S::kPending, S::kApproved}) == BalanceDelta{.approved = c});
  CHECK(apply({S::kPending, S::kRejected}) == BalanceDelta{});
  CHECK(apply({S::kApproved, S::kReversed}) == BalanceDelta{});
  CHECK(apply({S::kPending, S::kApproved, S::kReversed}) == BalanceDelta{});
}

TEST_CASE("a reversal after payout leaves approved negative until the next payout", "[ledger]") {
  const Micros c = 1'000'000;
  BalanceDelta b = *BalanceEffect(LedgerKind::kCommission, S::kApproved, c);
  BalanceDelta pay = *BalanceEffect(LedgerKind::kPayout, S::kPaid, c);
  BalanceDelta rev = *BalanceEffect(LedgerKind::kReversal, S::kReversed,
                                    TransitionEntry(S::kPaid, S::kReversed, c)->amount);
  Micros approved = b.approved + pay.approved + rev.approved;
  Micros paid = pay.paid;
  CHECK(approved == -c);
  CHECK(paid == c);
}

TEST_CASE("entries the ledger never writes", "[ledger]") {
  CHECK_FALSE(BalanceEffect(LedgerKind::kCommission, S::kRejected, 1).has_value());
  CHECK_FALSE(BalanceEffect(LedgerKind::kReversal, S::kApproved, 1).has_value());
  CHECK_FALSE(TransitionEntry(S::kApproved, S::kPending, 1).has_value());
  CHECK_FALSE(TransitionEntry(S::kRejected, S::kApproved, 1).has_value());
  CHECK_FALSE(TransitionEntry(S::kApproved, S::kPaid, 1).has_value());
  CHECK(LedgerKindName(LedgerKind::kReversal) == "reversal");
}

}  // namespace ricochet::attribution
