#include <filesystem>

#include "catch2/catch.hpp"
#include "codec.h"
#include "open_store.h"
#include "storage/store.h"
#include "temp_dir.h"

namespace ricochet::storage {
namespace {

struct TempStore {
  testing::TempDir dir;  // declared first: outlives the store
  std::unique_ptr<Store> store = OpenStore(dir.path());
};

ConversionRecord Conversion() {
  ConversionRecord c;
  c.id = "cv_1";
  c.idempotency_key = std::string("o\0offer\0order-1", 15);
  c.offer = "offer";
  c.affiliate = "a1";
  c.click_id = "click";
  c.sub1 = "s";
  c.event = "sale";
  c.order_id = "order-1";
  c.currency = "USD";
  c.amount = 19'990'000;
  c.has_amount = true;
  c.status = attribution::ConversionStatus::kPending;
  c.reason = attribution::Reason::kFastCtit;
  c.time_ms = 1'763'000'000'000;
  c.click_time_ms = c.time_ms - 5000;
  c.updated_ms = c.time_ms;
  c.note = "chargeback";
  c.commissions = {{"a1", 1, 3'500'000}, {"boss", 2, 400'000}};
  return c;
}

LedgerEntry Entry(uint64_t seq, const std::string& aff, attribution::Micros amount) {
  LedgerEntry e;
  e.seq = seq;
  e.conversion_id = "cv_1";
  e.affiliate = aff;
  e.kind = attribution::LedgerKind::kCommission;
  e.amount = amount;
  e.currency = "USD";
  e.status = attribution::ConversionStatus::kApproved;
  e.time_ms = 1'763'000'000'000;
  return e;
}

}  // namespace

TEST_CASE("conversion, ledger and payout records round-trip and reject truncation",
          "[conversions]") {
  ConversionRecord c = Conversion();
  std::string v = codec::EncodeConversion(c);
  ConversionRecord back;
  REQUIRE(codec::DecodeConversion(v, &back));
  CHECK(back == c);
  for (size_t n = 0; n < v.size(); ++n) CHECK_FALSE(codec::DecodeConversion(v.substr(0, n), &back));

  LedgerEntry e = Entry(7, "a1", -1'020'000);
  ChainLedgerEntry(&e, kGenesisHash);
  CHECK(e.hash.size() == 32);
  std::string key = codec::LedgerKey(7);
  std::string ev = codec::EncodeLedgerEntry(e);
  LedgerEntry eback;
  REQUIRE(codec::DecodeLedgerEntry(key, ev, &eback));
  CHECK(eback == e);
  CHECK_FALSE(codec::DecodeLedgerEntry(codec::LedgerKey(8), ev, &eback));  // key and seq disagree

  OutboxEntry o{
      "ob_1", "cv_1", "a1",         "https://aff.example/pb?p=1.00", OutboxState::kDead, 10, 5, 6,
      7,      500,    "http_status"};
  std::string ov = codec::EncodeOutbox(o);
  OutboxEntry oback;
  REQUIRE(codec::DecodeOutbox(ov, &oback));
  CHECK(oback == o);
  for (size_t n = 0; n < ov.size(); ++n) CHECK_FALSE(codec::DecodeOutbox(ov.substr(0, n), &oback));

  PayoutRecord p{"po_1", "USD", 1'000'000, 5, {{"a1", 6'000'000, 2}, {"a2", 500'000, 1}}};
  PayoutRecord pback;
  REQUIRE(codec::DecodePayout(codec::EncodePayout(p), &pback));
  CHECK(pback == p);
}

TEST_CASE("commit, read back, and verify the ledger", "[conversions]") {
  TempStore t;
  ConversionBatch b;
  b.conversions.push_back(Conversion());
  std::string head = kGenesisHash;
  for (uint64_t i = 1; i <= 3; ++i) {
    LedgerEntry e = Entry(i, i == 3 ? "boss" : "a1", 1'000'000);
    head = ChainLedgerEntry(&e, head);
    b.entries.push_back(e);
    b.balances.push_back({e.affiliate, "USD", {.approved = 1'000'000}});
  }
  REQUIRE(t.store->CommitConversions(b).ok());
  CHECK(*t.store->GetConversion("cv_1") == Conversion());
  CHECK(*t.store->FindConversionByKey(Conversion().idempotency_key) ==
        std::optional<std::string>("cv_1"));
  CHECK_FALSE(t.store->FindConversionByKey("nope")->has_value());
  auto h = t.store->LedgerHead();
  REQUIRE(h.ok());
  CHECK(h->first == 3);
  CHECK(h->second == head);
  auto bal = t.store->GetBalances("a1");
  REQUIRE(bal->size() == 1);
  CHECK((*bal)[0].approved == 2'000'000);
  auto report = t.store->VerifyLedger();
  REQUIRE(report.ok());
  CHECK(report->ok());
  CHECK(report->entries == 3);
  CHECK(report->balances_checked == 2);

  SECTION("a balance that disagrees with its entries is found") {
    ConversionBatch bad;
    bad.balances.push_back({"a1", "USD", {.approved = 1}});
    bad.conversions.push_back(Conversion());  // makes the batch non-empty
    REQUIRE(t.store->CommitConversions(bad).ok());
    auto r = t.store->VerifyLedger();
    REQUIRE(r.ok());
    CHECK_FALSE(r->ok());
  }
  SECTION("a broken chain is found") {
    ConversionBatch bad;
    LedgerEntry e = Entry(4, "a1", 0);
    ChainLedgerEntry(&e, kGenesisHash);  // should have chained to entry 3
    bad.entries.push_back(e);
    REQUIRE(t.store->CommitConversions(bad).ok());
    auto r = t.store->VerifyLedger();
    REQUIRE(r.ok());
    CHECK_FALSE(r->ok());
  }
  SECTION("an altered entry is found") {
    ConversionBatch bad;
    LedgerEntry e = Entry(4, "a1", 0);
    ChainLedgerEntry(&e, head);
    e.amount = 5;  // changed after hashing
    bad.entries.push_back(e);
    bad.balances.push_back({"a1", "USD", {.approved = 5}});
    REQUIRE(t.store->CommitConversions(bad).ok());
    auto r = t.store->VerifyLedger();
    REQUIRE(r.ok());
    CHECK_FALSE(r->ok());
  }
}

}  // namespace ricochet::storage

namespace ricochet::storage {

TEST_CASE("cap and volume counts are kept per UTC day and per UTC month", "[conversions]") {
  TempStore t;
  ConversionBatch b;
  ConversionStats st;
  st.day = 20'000;
  st.month = 657;
  st.offer = "o";
  st.affiliate = "a1";
  st.currency = "USD";
  st.conversions = 1;
  st.approved = 1;
  st.counted_today = 1;
  st.counted_month = 1;
  b.stats = {st, st};
  b.conversions.push_back(Conversion());
  REQUIRE(t.store->CommitConversions(b).ok());
  CHECK(*t.store->CountedToday("o", 20'000) == 2);
  CHECK(*t.store->CountedToday("o", 20'001) == 0);  // a new day starts from zero
  CHECK(*t.store->CountedMonth("o", "a1", 657) == 2);
  CHECK(*t.store->CountedMonth("o", "a1", 658) == 0);  // a new month starts from zero
  CHECK(*t.store->CountedMonth("o", "a2", 657) == 0);
  // A rejection takes the conversion back out of both counts.
  ConversionBatch undo;
  st.counted_today = -1;
  st.counted_month = -1;
  undo.stats = {st};
  undo.conversions.push_back(Conversion());
  REQUIRE(t.store->CommitConversions(undo).ok());
  CHECK(*t.store->CountedToday("o", 20'000) == 1);
  CHECK(*t.store->CountedMonth("o", "a1", 657) == 1);
}

}  // namespace ricochet::storage

namespace ricochet::storage {

TEST_CASE("outbox entries move between states, one key each", "[conversions][outbox]") {
  TempStore t;
  ConversionBatch b;
  for (const char* id : {"ob_1", "ob_2", "ob_3"}) {
    OutboxEntry o;
    o.id = id;
    o.conversion_id = "cv_1";
    o.affiliate = "a1";
    o.url = std::string("https://aff.example/pb?id=") + id;
    b.outbox.push_back(o);
  }
  REQUIRE(t.store->CommitConversions(b).ok());
  auto ids = [&](OutboxState s) {
    std::vector<std::string> out;
    REQUIRE(t.store
                ->ScanOutbox(s,
                             [&](const OutboxEntry& o) {
                               out.push_back(o.id);
                               return true;
                             })
                .ok());
    return out;
  };
  CHECK(ids(OutboxState::kPending) == std::vector<std::string>{"ob_1", "ob_2", "ob_3"});

  OutboxEntry e = b.outbox[1];
  e.state = OutboxState::kDead;
  e.attempts = 10;
  e.last_status = 500;
  e.last_error = "http_status";
  REQUIRE(t.store->UpdateOutbox(OutboxState::kPending, e).ok());
  CHECK(ids(OutboxState::kPending) == std::vector<std::string>{"ob_1", "ob_3"});
  CHECK(ids(OutboxState::kDead) == std::vector<std::string>{"ob_2"});
  CHECK(ids(OutboxState::kDelivered).empty());
  CHECK(**t.store->GetOutbox("ob_2") == e);
  CHECK_FALSE(t.store->GetOutbox("ob_9")->has_value());

  e.state = OutboxState::kDelivered;  // a replay that succeeded
  REQUIRE(t.store->UpdateOutbox(OutboxState::kDead, e).ok());
  CHECK(ids(OutboxState::kDead).empty());
  CHECK(ids(OutboxState::kDelivered) == std::vector<std::string>{"ob_2"});
  CHECK((*t.store->GetOutbox("ob_2"))->state == OutboxState::kDelivered);
}

TEST_CASE("a checkpoint opens as a copy of the database", "[conversions][backup]") {
  TempStore t;
  ConversionBatch b;
  b.conversions.push_back(Conversion());
  const uint64_t syncs = t.store->Stats().wal_syncs;
  REQUIRE(t.store->CommitConversions(b).ok());
  CHECK(t.store->Stats().wal_syncs == syncs + 1);  // a synced commit counts as a WAL sync
  const std::string path = t.dir.path() + "-checkpoint";
  absl::StatusOr<CheckpointInfo> info = t.store->Checkpoint(path);
  REQUIRE(info.ok());
  CHECK(info->path == path);
  CHECK(info->files > 3);
  CHECK(info->bytes > 0);
  CHECK_FALSE(t.store->Checkpoint(path).ok());  // exists already
  {
    StoreOptions o;
    o.path = path;
    absl::StatusOr<std::unique_ptr<Store>> copy = Store::Open(o);
    REQUIRE(copy.ok());
    absl::StatusOr<std::optional<ConversionRecord>> c = (*copy)->GetConversion("cv_1");
    REQUIRE(c.ok());
    REQUIRE(c->has_value());
    CHECK(**c == Conversion());
  }
  std::filesystem::remove_all(path);
}

}  // namespace ricochet::storage
