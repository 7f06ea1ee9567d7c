#include "storage/store.h"

#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <span>
#include <tuple>

#include "catch2/catch.hpp"
#include "open_store.h"
#include "temp_dir.h"
#include "thread_policies.h"

namespace ricochet::storage {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ClickRecord MakeClick(std::string id, int64_t t, std::string offer, std::string aff,
                      attribution::ClickClass k, std::string sub1 = "") {
  ClickRecord c;
  c.click_id = std::move(id);
  c.time_ms = t;
  c.offer = std::move(offer);
  c.affiliate = std::move(aff);
  c.subs[0] = std::move(sub1);
  c.klass = k;
  c.client_ip = "10.0.0.1";
  c.user_agent = "UA";
  c.visitor_id = "v1";
  if (k == attribution::ClickClass::kUnique) {
    c.dedupe_key = attribution::MakeDedupeKey(c.offer, c.affiliate, c.client_ip, c.click_id);
  }
  return c;
}

}  // namespace

TEST_CASE("clicks round-trip and dedupe slots are written for unique clicks only", "[store]") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  int64_t t = NowMs();
  std::vector<ClickRecord> clicks = {
      MakeClick("id-1", t, "o", "a", attribution::ClickClass::kUnique, "s"),
      MakeClick("id-2", t + 1, "o", "a", attribution::ClickClass::kDuplicate, "s"),
      MakeClick("id-3", t + 2, "o", "b", attribution::ClickClass::kBot),
  };
  clicks[0].referer = "https://ref.example/";
  clicks[2].attributable = false;
  REQUIRE(store->WriteClicks(clicks).ok());
  REQUIRE(store->SyncWal().ok());

  for (const ClickRecord& c : clicks) {
    absl::StatusOr<std::optional<ClickRecord>> got = store->GetClick(c.time_ms, c.click_id);
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK(**got == c);
  }
  absl::StatusOr<std::optional<ClickRecord>> missing = store->GetClick(t, "nope");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
  // Wrong time: a different key.
  CHECK_FALSE(store->GetClick(t + 5, "id-1")->has_value());

  std::vector<attribution::DedupeKey> keys = {*clicks[0].dedupe_key,
                                              attribution::MakeDedupeKey("x", "y", "z", "w")};
  auto slots = store->GetDedupeSlots(keys);
  REQUIRE(slots.ok());
  CHECK((*slots)[0] == t);
  CHECK_FALSE((*slots)[1].has_value());

  // Visitor index: attributable clicks only, oldest first, within the window.
  auto visits = store->VisitorClicks("o", "v1", t - 1000, t + 1000);
  REQUIRE(visits.ok());
  REQUIRE(visits->size() == 2);
  CHECK((*visits)[0].second == "id-1");
  CHECK((*visits)[1].second == "id-2");
  CHECK(store->VisitorClicks("o", "v1", t + 1, t + 1000)->size() == 1);
  CHECK(store->VisitorClicks("o", "v", t - 1000, t + 1000)->empty());
}

TEST_CASE("dedupe slots come back in the order asked, from memtable and files alike", "[store]") {
  // GetDedupeSlots sorts the keys for MultiGet: each answer must still land at its own index.
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  const int64_t t = NowMs();
  std::vector<ClickRecord> on_disk, in_memory;
  for (int i = 0; i < 40; ++i) {
    std::vector<ClickRecord>& to = i < 20 ? on_disk : in_memory;
    to.push_back(
        MakeClick("id-" + std::to_string(i), t + i, "o", "a", attribution::ClickClass::kUnique));
  }
  REQUIRE(store->WriteClicks(on_disk).ok());
  REQUIRE(store->CompactAllForTest().ok());  // flushed into a table file
  REQUIRE(store->WriteClicks(in_memory).ok());

  // Every stored key, a key never stored after each, and one key twice, in creation order
  // (which the hashes scatter).
  std::vector<attribution::DedupeKey> keys;
  std::vector<std::optional<int64_t>> want;
  for (int i = 0; i < 40; ++i) {
    const ClickRecord& c = i < 20 ? on_disk[i] : in_memory[i - 20];
    keys.push_back(*c.dedupe_key);
    want.push_back(t + i);
    keys.push_back(attribution::MakeDedupeKey("o", "a", "10.0.0.1", "never-" + std::to_string(i)));
    want.push_back(std::nullopt);
  }
  keys.push_back(*on_disk[7].dedupe_key);
  want.push_back(t + 7);
  auto slots = store->GetDedupeSlots(keys);
  REQUIRE(slots.ok());
  REQUIRE(slots->size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("key " << i);
    CHECK((*slots)[i] == want[i]);
  }
}

TEST_CASE("a visitor's first click gets no visitor index entry", "[store]") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  int64_t t = NowMs();
  std::vector<ClickRecord> clicks = {
      MakeClick("first", t, "o", "a", attribution::ClickClass::kUnique, "s"),
      MakeClick("again", t + 1, "o", "a", attribution::ClickClass::kDuplicate, "s"),
  };
  clicks[0].visitor_first_click = true;  // its visitor id names it
  REQUIRE(store->WriteClicks(clicks).ok());
  auto visits = store->VisitorClicks("o", "v1", t - 1000, t + 1000);
  REQUIRE(visits.ok());
  REQUIRE(visits->size() == 1);
  CHECK((*visits)[0].second == "again");
  // The click itself is stored as any other (the flag is not: it only steers the index).
  auto got = store->GetClick(t, "first");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->visitor_id == "v1");
  CHECK_FALSE((*got)->visitor_first_click);
}

TEST_CASE("report counters add up across batches and restarts", "[store]") {
  testing::TempDir dir;
  int64_t t = NowMs();
  int32_t day = static_cast<int32_t>(t / 86'400'000);
  {
    auto store = OpenStore(dir.path());
    REQUIRE(store
                ->WriteClicks(std::vector<ClickRecord>{
                    MakeClick("1", t, "o", "a", attribution::ClickClass::kUnique, "x"),
                    MakeClick("2", t, "o", "a", attribution::ClickClass::kDuplicate, "x"),
                    MakeClick("3", t, "o", "a", attribution::ClickClass::kRateLimited, "x")})
                .ok());
    REQUIRE(store
                ->WriteClicks(std::vector<ClickRecord>{
                    MakeClick("4", t, "o", "a", attribution::ClickClass::kBot, "x"),
                    MakeClick("5", t, "o", "b", attribution::ClickClass::kUnique, "")})
                .ok());
    REQUIRE(store->Close().ok());
  }
  auto store = OpenStore(dir.path());
  REQUIRE(store
              ->WriteClicks(std::vector<ClickRecord>{
                  MakeClick("6", t, "o", "a", attribution::ClickClass::kUnique, "x")})
              .ok());
  std::vector<CounterRow> rows;
  REQUIRE(store->ScanCounters(day, day, [&](const CounterRow& r) { rows.push_back(r); }).ok());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].affiliate == "a");
  CHECK(rows[0].sub1 == "x");
  CHECK(rows[0].day == day);
  CHECK(rows[0].values[kClicks] == 5);
  CHECK(rows[0].values[kUniqueClicks] == 2);
  CHECK(rows[0].values[kDuplicateClicks] == 1);
  CHECK(rows[0].values[kRateLimitedClicks] == 1);
  CHECK(rows[0].values[kBotClicks] == 1);
  CHECK(rows[1].affiliate == "b");
  CHECK(rows[1].values[kClicks] == 1);
  rows.clear();
  REQUIRE(
      store->ScanCounters(day + 1, day + 10, [&](const CounterRow& r) { rows.push_back(r); }).ok());
  CHECK(rows.empty());
}

TEST_CASE("click counts wait in the counter journal, which reports read and a crash keeps",
          "[store]") {
  testing::TempDir dir;
  const int64_t t = NowMs();
  const int32_t day = static_cast<int32_t>(t / 86'400'000);
  auto open = [&](const std::string& path, int fold_ms) {
    StoreOptions o;
    o.path = path;
    o.counter_fold_ms = fold_ms;
    return OpenStore(o);
  };
  // (day, affiliate, sub1, clicks, unique) of every row, in the order ScanCounters gives them.
  using Row = std::tuple<int32_t, std::string, std::string, int64_t, int64_t>;
  auto scan = [&](Store& store) {
    std::vector<Row> rows;
    REQUIRE(store
                .ScanCounters(day - 1, day,
                              [&](const CounterRow& r) {
                                rows.emplace_back(r.day, r.affiliate, r.sub1, r.values[kClicks],
                                                  r.values[kUniqueClicks]);
                              })
                .ok());
    return rows;
  };
  const std::vector<ClickRecord> batch = {
      MakeClick("1", t, "o", "b", attribution::ClickClass::kUnique, ""),
      MakeClick("2", t, "o", "a", attribution::ClickClass::kUnique, "x"),
      MakeClick("3", t - 86'400'000, "o", "a", attribution::ClickClass::kDuplicate, "x"),
      MakeClick("4", t, "o", "a", attribution::ClickClass::kDuplicate, "x"),
      MakeClick("5", t - 2 * 86'400'000, "o", "a", attribution::ClickClass::kUnique, "x")};
  const std::vector<Row> once = {
      {day - 1, "a", "x", 1, 0}, {day, "a", "x", 2, 1}, {day, "b", "", 1, 1}};
  const std::string copy = dir.path() + "/copy";
  {
    auto store = open(dir.path() + "/db", /*fold_ms=*/3'600'000);
    REQUIRE(store->WriteClicks(batch).ok());
    // Nothing folded yet: the four rows (one outside the scan's days) are in the journal only.
    CHECK(store->Stats().counter_journal_rows == 4);
    CHECK(scan(*store) == once);
    // A copy taken now is what a crash would leave: counts in the journal, none in the counters.
    REQUIRE(store->Checkpoint(copy).ok());
    REQUIRE(store->Close().ok());  // folds
  }
  {
    auto store = open(dir.path() + "/db", 3'600'000);
    CHECK(store->Stats().counter_journal_rows == 0);
    CHECK(scan(*store) == once);
    // Rows both folded and in the journal add up.
    REQUIRE(store->WriteClicks(std::span(batch).first(2)).ok());
    CHECK(store->Stats().counter_journal_rows == 2);
    CHECK(scan(*store) ==
          std::vector<Row>{{day - 1, "a", "x", 1, 0}, {day, "a", "x", 3, 2}, {day, "b", "", 2, 2}});
  }
  {
    // The copy reads its journal back; with counter_fold_ms 0 the next batch folds it, its own
    // counts with it.
    auto store = open(copy, /*fold_ms=*/0);
    CHECK(store->Stats().counter_journal_rows == 4);
    CHECK(scan(*store) == once);
    REQUIRE(store->WriteClicks(std::span(batch).first(1)).ok());
    CHECK(store->Stats().counter_journal_rows == 0);
    CHECK(scan(*store) ==
          std::vector<Row>{{day - 1, "a", "x", 1, 0}, {day, "a", "x", 2, 1}, {day, "b", "", 2, 2}});
  }
}

TEST_CASE("retention drops clicks, dedupe slots and visitor entries past the window", "[store]") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), /*retention_days=*/30);
  int64_t now = NowMs();
  int64_t old = now - 31LL * 86'400'000;
  ClickRecord fresh = MakeClick("fresh", now, "o", "a", attribution::ClickClass::kUnique);
  ClickRecord stale = MakeClick("stale", old, "o", "a", attribution::ClickClass::kUnique);
  REQUIRE(store->WriteClicks(std::vector<ClickRecord>{fresh, stale}).ok());
  REQUIRE(store->CompactAllForTest().ok());
  CHECK(store->GetClick(now, "fresh")->has_value());
  CHECK_FALSE(store->GetClick(old, "stale")->has_value());
  auto slots = store->GetDedupeSlots(
      std::vector<attribution::DedupeKey>{*fresh.dedupe_key, *stale.dedupe_key});
  REQUIRE(slots.ok());
  CHECK((*slots)[0] == now);
  CHECK_FALSE((*slots)[1].has_value());
  CHECK(store->VisitorClicks("o", "v1", 0, now + 1)->size() == 1);
  // Report counters are not clicks: they stay.
  int rows = 0;
  REQUIRE(store
              ->ScanCounters(static_cast<int32_t>(old / 86'400'000),
                             static_cast<int32_t>(now / 86'400'000),
                             [&](const CounterRow&) { ++rows; })
              .ok());
  CHECK(rows == 2);
}

TEST_CASE("index horizons drop dedupe slots and visitor entries no offer can use", "[store]") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), /*retention_days=*/90);
  constexpr int64_t kDay = 86'400'000;
  constexpr int64_t kMarginMs = Store::kIndexHorizonMarginSeconds * 1000;
  int64_t now = NowMs();
  CHECK(store->Stats().dedupe_horizon_s == -1);  // the retention, until set
  // Longest dedupe window 1 day, longest lookback 7 days; each kept an hour longer.
  store->SetIndexHorizons(86'400, 7 * 86'400);
  CHECK(store->Stats().dedupe_horizon_s == 86'400 + Store::kIndexHorizonMarginSeconds);
  CHECK(store->Stats().visitors_horizon_s == 7 * 86'400 + Store::kIndexHorizonMarginSeconds);
  ClickRecord fresh = MakeClick("fresh", now, "o", "a", attribution::ClickClass::kUnique);
  // Past the window, inside the margin: kept.
  ClickRecord edge =
      MakeClick("edge", now - kDay - kMarginMs / 2, "o", "a", attribution::ClickClass::kUnique);
  ClickRecord two_days =
      MakeClick("two", now - 2 * kDay, "o", "a", attribution::ClickClass::kUnique);
  ClickRecord eight_days =
      MakeClick("eight", now - 8 * kDay, "o", "a", attribution::ClickClass::kUnique);
  REQUIRE(store->WriteClicks(std::vector<ClickRecord>{fresh, edge, two_days, eight_days}).ok());
  REQUIRE(store->CompactAllForTest().ok());
  // The clicks themselves stay for the retention.
  CHECK(store->GetClick(now - 2 * kDay, "two")->has_value());
  CHECK(store->GetClick(now - 8 * kDay, "eight")->has_value());
  auto slots = store->GetDedupeSlots(std::vector<attribution::DedupeKey>{
      *fresh.dedupe_key, *edge.dedupe_key, *two_days.dedupe_key, *eight_days.dedupe_key});
  REQUIRE(slots.ok());
  CHECK((*slots)[0] == now);
  CHECK((*slots)[1] == edge.time_ms);
  CHECK_FALSE((*slots)[2].has_value());
  CHECK_FALSE((*slots)[3].has_value());
  auto visits = store->VisitorClicks("o", "v1", 0, now + 1);
  REQUIRE(visits.ok());
  REQUIRE(visits->size() == 3);
  CHECK((*visits)[0].second == "two");
  CHECK((*visits)[1].second == "edge");
  CHECK((*visits)[2].second == "fresh");

  // Longer windows later keep what is still there from then on.
  store->SetIndexHorizons(30 * 86'400, 30 * 86'400);
  ClickRecord ten_days =
      MakeClick("ten", now - 10 * kDay, "o", "a", attribution::ClickClass::kUnique);
  REQUIRE(store->WriteClicks(std::vector<ClickRecord>{ten_days}).ok());
  REQUIRE(store->CompactAllForTest().ok());
  slots = store->GetDedupeSlots(std::vector<attribution::DedupeKey>{*ten_days.dedupe_key});
  REQUIRE(slots.ok());
  CHECK((*slots)[0] == now - 10 * kDay);
  visits = store->VisitorClicks("o", "v1", 0, now + 1);
  REQUIRE(visits.ok());
  REQUIRE(visits->size() == 4);
  CHECK((*visits)[0].second == "ten");
}

TEST_CASE("config and meta values persist", "[store]") {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path());
    REQUIRE(store->PutConfig("offer", "b", R"({"id":"b"})").ok());
    REQUIRE(store->PutConfig("offer", "a", R"({"id":"a"})").ok());
    REQUIRE(store->PutConfig("affiliate", "a", R"({"id":"aff"})").ok());
    auto meta = store->LoadOrCreateMeta("secret", "first");
    REQUIRE(meta.ok());
    CHECK(*meta == "first");
    REQUIRE(store->CheckWritable().ok());
  }
  auto store = OpenStore(dir.path());
  auto offers = store->ListConfig("offer");
  REQUIRE(offers.ok());
  REQUIRE(offers->size() == 2);
  CHECK((*offers)[0].first == "a");
  CHECK((*offers)[1].second == R"({"id":"b"})");
  CHECK(store->ListConfig("affiliate")->size() == 1);
  CHECK(*store->LoadOrCreateMeta("secret", "second") == "first");
  REQUIRE(store->Close().ok());
  REQUIRE(store->Close().ok());  // idempotent
}

TEST_CASE("RocksDB's threads take the asked policy, and the normal one at close",
          "[store][priority]") {
  RETURN_UNLESS_CAN_LEAVE_IDLE();
  testing::TempDir dir;
  std::unique_ptr<Store> store = OpenStore(dir.path());
  auto policies = [] { return testing::PoliciesOf(getpid(), "rocksdb:"); };
  REQUIRE(policies().size() >= 2);  // max_background_jobs 2: a flush and a compaction thread
  REQUIRE(store->SetBackgroundPolicy(ThreadPolicy::kIdle).ok());
  for (int p : policies()) CHECK(p == SCHED_IDLE);
  // A checkpoint runs its flush at normal priority (not observed here); after it, idle again.
  REQUIRE(store->Checkpoint(dir.path() + "/cp").ok());
  for (int p : policies()) CHECK(p == SCHED_IDLE);
  REQUIRE(store->SetBackgroundPolicy(ThreadPolicy::kNormal).ok());
  for (int p : policies()) CHECK(p == SCHED_OTHER);
  REQUIRE(store->SetBackgroundPolicy(ThreadPolicy::kIdle).ok());
  REQUIRE(store->Close().ok());
  for (int p : policies()) CHECK(p == SCHED_OTHER);
  CHECK(store->Stats().write_stalls == 0);
}

TEST_CASE("a write observer is told of every write, WAL syncs included", "[store]") {
  struct Counter final : WriteObserver {
    void WriteBegins() override { ++begins; }
    void WriteEnds() override {
      ++ends;
      CHECK(ends == begins);  // one write at a time here: each begins, then ends
    }
    void WritesStalled() override {}
    int begins = 0, ends = 0;
  };
  testing::TempDir dir;
  std::unique_ptr<Store> store = OpenStore(dir.path());
  Counter counter;
  store->SetWriteObserver(&counter);
  const int64_t t = NowMs();
  std::vector<ClickRecord> clicks = {
      MakeClick("k1", t, "o", "a", attribution::ClickClass::kUnique)};
  REQUIRE(store->WriteClicks(clicks).ok());
  REQUIRE(store->SyncWal().ok());
  CHECK(counter.begins == 2);
  CHECK(counter.ends == 2);
  store->SetWriteObserver(nullptr);
  REQUIRE(store->SyncWal().ok());
  CHECK(counter.begins == 2);
}

}  // namespace ricochet::storage
