// The store on a full disk (a small tmpfs filled by a filler file): writes are refused, reads go
// on, nothing acknowledged is lost, and writes resume by themselves once space is freed, also in
// the case RocksDB 7.8's Resume() cannot handle (a WAL append failing with every memtable
// empty), where the store reopens the database. Needs root to mount; skipped with a warning
// where mounting is refused.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "catch2/catch.hpp"
#include "storage/store.h"
#include "tmpfs_mount.h"

namespace ricochet::storage {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 200 unique clicks with ids "<prefix>-<n>", each row about 400 bytes with its index entries.
std::vector<ClickRecord> Clicks(const std::string& prefix, int64_t t) {
  std::vector<ClickRecord> out;
  for (int i = 0; i < 200; ++i) {
    ClickRecord c;
    c.click_id = prefix + "-" + std::to_string(i);
    c.time_ms = t;
    c.offer = "o";
    c.affiliate = "a";
    c.klass = attribution::ClickClass::kUnique;
    c.client_ip = "10.0.0." + std::to_string(i % 250);
    c.user_agent = "Mozilla/5.0 " + std::string(200, 'u') + c.click_id;
    c.visitor_id = "v-" + c.click_id;
    c.dedupe_key = attribution::MakeDedupeKey(c.offer, c.affiliate, c.client_ip, c.user_agent);
    out.push_back(std::move(c));
  }
  return out;
}

struct Changes {
  std::mutex mu;
  std::vector<StoreHealthChange> seen;
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  }
  StoreHealthChange at(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return seen.at(i);
  }
};

std::unique_ptr<Store> Open(const std::string& path, Changes* changes, int counter_fold_ms = 1000) {
  StoreOptions o;
  o.path = path;
  o.counter_fold_ms = counter_fold_ms;
  o.write_buffer_bytes = 1u << 20;  // small memtables: flushes, and WAL preallocation, stay small
  if (changes != nullptr) {
    o.on_health_change = [changes](const StoreHealthChange& h) {
      std::lock_guard<std::mutex> lock(changes->mu);
      changes->seen.push_back(h);
    };
  }
  absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

bool WaitWritable(Store& store, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (store.writable()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return store.writable();
}

// Writes batches until one is refused; returns the ids of the acknowledged ones (and in
// `refused`, if given, those of the refused batch). Fails the test if the disk never fills.
std::vector<std::string> WriteUntilRefused(Store& store, const std::string& prefix, int64_t t,
                                           absl::Status* refusal,
                                           std::vector<std::string>* refused = nullptr) {
  std::vector<std::string> acked;
  for (int b = 0; b < 400; ++b) {
    std::vector<ClickRecord> clicks = Clicks(prefix + std::to_string(b), t);
    absl::Status s = store.WriteClicks(clicks);
    if (s.ok()) s = store.SyncWal();
    if (!s.ok()) {
      *refusal = s;
      for (const ClickRecord& c : clicks) {
        if (refused != nullptr) refused->push_back(c.click_id);
      }
      return acked;
    }
    for (const ClickRecord& c : clicks) acked.push_back(c.click_id);
  }
  FAIL("the full disk never refused a write");
  return acked;
}

void CheckPresent(Store& store, const std::vector<std::string>& ids, int64_t t, bool present) {
  size_t wrong = 0;
  for (const std::string& id : ids) {
    absl::StatusOr<std::optional<ClickRecord>> got = store.GetClick(t, id);
    REQUIRE(got.ok());
    if (got->has_value() != present) ++wrong;
  }
  INFO((present ? "missing: " : "present: ") << wrong << " of " << ids.size());
  CHECK(wrong == 0);
}

size_t CountPresent(Store& store, const std::vector<std::string>& ids, int64_t t) {
  size_t n = 0;
  for (const std::string& id : ids) {
    absl::StatusOr<std::optional<ClickRecord>> got = store.GetClick(t, id);
    REQUIRE(got.ok());
    if (got->has_value()) ++n;
  }
  return n;
}

// The clicks the report counts on the day of `t`.
int64_t Counted(Store& store, int64_t t) {
  const int32_t day = static_cast<int32_t>(t / 86'400'000);
  int64_t n = 0;
  REQUIRE(store.ScanCounters(day, day, [&](const CounterRow& r) { n += r.values[kClicks]; }).ok());
  return n;
}

}  // namespace

TEST_CASE("a full disk refuses writes, keeps reads, and resumes writes once space is freed",
          "[store][diskfull]") {
  testing::TmpfsMount mnt(32);
  if (!testing::MountedOrSkip(mnt)) return;
  const int64_t t = NowMs();
  Changes changes;
  std::vector<std::string> acked;
  {
    auto store = Open(mnt.path() + "/db", &changes);
    for (const ClickRecord& c : Clicks("before", t)) acked.push_back(c.click_id);
    REQUIRE(store->WriteClicks(Clicks("before", t)).ok());
    REQUIRE(store->SyncWal().ok());

    REQUIRE(mnt.Fill() > 0);
    absl::Status refusal;
    std::vector<std::string> more = WriteUntilRefused(*store, "full", t, &refusal);
    acked.insert(acked.end(), more.begin(), more.end());
    INFO(refusal.ToString());
    CHECK(absl::IsResourceExhausted(refusal));
    CHECK_FALSE(store->writable());
    REQUIRE(changes.size() == 1);
    CHECK_FALSE(changes.at(0).writable);
    CHECK(changes.at(0).disk_full);

    // Refused without touching RocksDB, every kind of write; reads go on.
    std::vector<ClickRecord> refused = Clicks("refused", t);
    CHECK(absl::IsResourceExhausted(store->WriteClicks(refused)));
    CHECK_FALSE(store->SyncWal().ok());
    CHECK_FALSE(store->CheckWritable().ok());
    CHECK_FALSE(store->PutConfig("offer", "x", "{}").ok());
    ConversionBatch batch;
    ConversionRecord conversion;
    conversion.id = "cv_refused";
    conversion.idempotency_key = "o-refused";
    batch.conversions.push_back(conversion);
    CHECK(absl::IsResourceExhausted(store->CommitConversions(batch)));
    CheckPresent(*store, acked, t, true);

    // Still full: the recovery thread's attempts (every second) fail and change nothing.
    mnt.KeepFull(std::chrono::milliseconds(2500));
    CHECK_FALSE(store->writable());
    CHECK(changes.size() == 1);
    CHECK(store->Stats().write_stops == 1);

    const auto freed = Clock::now();
    mnt.Unfill();
    REQUIRE(WaitWritable(*store, std::chrono::milliseconds(5000)));
    const auto resumed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - freed).count();
    WARN("writes resumed " << resumed_ms << " ms after the filler was deleted");
    CHECK(resumed_ms < 2500);
    REQUIRE(changes.size() == 2);
    CHECK(changes.at(1).writable);
    CHECK(changes.at(1).attempts >= 2);
    StoreStats stats = store->Stats();
    CHECK(stats.recoveries == 1);
    CHECK(stats.writable);

    std::vector<ClickRecord> after = Clicks("after", t);
    REQUIRE(store->WriteClicks(after).ok());
    REQUIRE(store->SyncWal().ok());
    for (const ClickRecord& c : after) acked.push_back(c.click_id);
    REQUIRE(store->Close().ok());
  }
  // Reopened: every acknowledged click exactly as written, none of the refused ones.
  auto store = Open(mnt.path() + "/db", nullptr);
  CheckPresent(*store, acked, t, true);
  std::vector<std::string> refused_ids;
  for (const ClickRecord& c : Clicks("refused", t)) refused_ids.push_back(c.click_id);
  CheckPresent(*store, refused_ids, t, false);
}

TEST_CASE("a WAL append failing with every memtable empty is recovered by reopening",
          "[store][diskfull]") {
  testing::TmpfsMount mnt(32);
  if (!testing::MountedOrSkip(mnt)) return;
  const int64_t t = NowMs();
  Changes changes;
  // Counts stay in the counter journal throughout: the reopen must read them back.
  auto store = Open(mnt.path() + "/db", &changes, /*counter_fold_ms=*/3'600'000);
  std::vector<ClickRecord> before = Clicks("before", t);
  REQUIRE(store->WriteClicks(before).ok());
  // Flushes every memtable: the next write goes to a new WAL with nothing in memory. When that
  // write fails, RocksDB 7.8's Resume() succeeds without replacing the failed WAL writer; a
  // write after it aborts the process (Debian's build keeps assertions) or fails for good.
  REQUIRE(store->CompactAllForTest().ok());
  REQUIRE(mnt.Fill() > 0);
  absl::Status refusal;
  std::vector<std::string> refused;
  std::vector<std::string> acked = WriteUntilRefused(*store, "full", t, &refusal, &refused);
  CHECK(absl::IsResourceExhausted(refusal));
  CHECK_FALSE(store->writable());

  // While full, Resume() "succeeds" but the store does not reopen without room: it stays
  // stopped, with the database open for reads.
  mnt.KeepFull(std::chrono::milliseconds(2500));
  CHECK_FALSE(store->writable());
  for (const ClickRecord& c : before) acked.push_back(c.click_id);
  CheckPresent(*store, acked, t, true);
  CHECK(store->Stats().reopens == 0);

  mnt.Unfill();
  REQUIRE(WaitWritable(*store, std::chrono::milliseconds(5000)));
  StoreStats stats = store->Stats();
  CHECK(stats.reopens == 1);
  CHECK(stats.recoveries == 1);
  REQUIRE(changes.size() == 2);
  CHECK(changes.at(1).reopened);
  // The report counts every stored click once: the acknowledged ones, and the refused batch's
  // if its write reached the WAL before its sync failed (the reopen replays it, counts and all).
  const size_t replayed = CountPresent(*store, refused, t);
  CHECK((replayed == 0 || replayed == refused.size()));
  CHECK(Counted(*store, t) == static_cast<int64_t>(acked.size() + replayed));
  CHECK(store->Stats().counter_journal_rows == 1);
  // The writes that used to abort the process.
  std::vector<ClickRecord> after = Clicks("after", t);
  REQUIRE(store->WriteClicks(after).ok());
  REQUIRE(store->SyncWal().ok());
  REQUIRE(store->CheckWritable().ok());
  for (const ClickRecord& c : after) acked.push_back(c.click_id);
  CheckPresent(*store, acked, t, true);
  REQUIRE(store->Close().ok());
  auto reopened = Open(mnt.path() + "/db", nullptr);
  CheckPresent(*reopened, acked, t, true);
  CHECK(Counted(*reopened, t) == static_cast<int64_t>(acked.size() + replayed));
  CHECK(reopened->Stats().counter_journal_rows == 0);  // folded by the close
}

}  // namespace ricochet::storage
