#include "engine/click_pipeline.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "catch2/catch.hpp"
#include "temp_dir.h"
#include "thread_policies.h"

namespace ricochet::engine {
namespace {

struct Fixture {
  Fixture() {
    storage::StoreOptions o;
    o.path = dir.path();
    store = std::move(*storage::Store::Open(o));
  }
  testing::TempDir dir;  // declared first: outlives the store
  std::unique_ptr<storage::Store> store;
  Metrics metrics{1};
  Logger log{LogLevel::kError};
};

std::unique_ptr<PendingClick> Click(const std::string& id, int64_t t, const std::string& ip,
                                    const std::string& ua, int64_t max_per_minute = 0) {
  auto p = std::make_unique<PendingClick>();
  p->record.click_id = id;
  p->record.time_ms = t;
  p->record.offer = "o";
  p->record.affiliate = "a";
  p->record.client_ip = ip;
  p->record.user_agent = ua;
  p->max_clicks_per_ip_per_minute = max_per_minute;
  p->dedupe_window_s = 3600;
  p->dedupe_key = attribution::MakeDedupeKey("o", "a", ip, ua);
  return p;
}

std::string ClassOf(storage::Store& s, const std::string& id, int64_t t) {
  auto c = s.GetClick(t, id);
  REQUIRE(c.ok());
  REQUIRE(c->has_value());
  return std::string(attribution::ClickClassName((*c)->klass));
}

// Every counter field summed over all report rows.
std::array<int64_t, storage::kCounterFieldCount> Totals(storage::Store& s) {
  std::array<int64_t, storage::kCounterFieldCount> totals{};
  REQUIRE(s.ScanCounters(0, 100000, [&](const storage::CounterRow& r) {
             for (size_t i = 0; i < totals.size(); ++i) totals[i] += r.values[i];
           }).ok());
  return totals;
}

// Polls `done` every millisecond for up to `limit`; its last answer.
template <typename Pred>
bool Within(std::chrono::milliseconds limit, Pred done) {
  for (int64_t i = 0; i < limit.count() && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

template <typename Pred>
bool Within5s(Pred done) {
  return Within(std::chrono::seconds(5), done);
}

}  // namespace

TEST_CASE("the writer classifies in arrival order, across batches", "[pipeline]") {
  Fixture f;
  ClickPipeline p(f.store.get(), &f.metrics, &f.log,
                  ClickPipelineOptions{.wal_sync_ms = 5, .max_batch = 2});
  p.Start();
  const int64_t t = 1'700'000'000'000;  // fixed minute
  REQUIRE(p.Submit(Click("u1", t, "1.1.1.1", "A")));
  REQUIRE(p.Submit(Click("d1", t + 1, "1.1.1.1", "A")));
  REQUIRE(p.Submit(Click("u2", t + 2, "1.1.1.1", "B")));
  REQUIRE(p.Submit(Click("d2", t + 3, "1.1.1.1", "A")));
  auto bot = Click("b1", t + 4, "1.1.1.1", "A");
  bot->bot_user_agent = true;
  REQUIRE(p.Submit(std::move(bot)));
  REQUIRE(p.Submit(Click("later", t + 3'600'000, "1.1.1.1", "A")));  // window passed: unique again
  REQUIRE(p.Flush(std::chrono::seconds(5)));
  CHECK(ClassOf(*f.store, "u1", t) == "unique");
  CHECK(ClassOf(*f.store, "d1", t + 1) == "duplicate");
  CHECK(ClassOf(*f.store, "u2", t + 2) == "unique");
  CHECK(ClassOf(*f.store, "d2", t + 3) == "duplicate");
  CHECK(ClassOf(*f.store, "b1", t + 4) == "bot");
  CHECK(ClassOf(*f.store, "later", t + 3'600'000) == "unique");
  p.Stop();
  CHECK(p.depth() == 0);
}

TEST_CASE("rate limit counts non-bot clicks per offer and IP per minute, only under a limit",
          "[pipeline]") {
  Fixture f;
  ClickPipeline p(f.store.get(), &f.metrics, &f.log, ClickPipelineOptions{});
  p.Start();
  const int64_t t = 1'700'000'040'000 - (1'700'000'040'000 % 60'000);
  for (int i = 0; i < 4; ++i)
    REQUIRE(
        p.Submit(Click("r" + std::to_string(i), t + i, "2.2.2.2", "UA" + std::to_string(i), 2)));
  REQUIRE(p.Submit(Click("other-ip", t + 5, "3.3.3.3", "UAx", 2)));
  // Clicks on an offer without a limit count nothing: a limit set later in the minute counts
  // from then on.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(p.Submit(
        Click("free" + std::to_string(i), t + 10 + i, "4.4.4.4", "F" + std::to_string(i), 0)));
  }
  for (int i = 0; i < 3; ++i) {
    REQUIRE(p.Submit(
        Click("lim" + std::to_string(i), t + 20 + i, "4.4.4.4", "L" + std::to_string(i), 2)));
  }
  REQUIRE(p.Submit(Click("next-minute", t + 60'000, "2.2.2.2", "UAy", 2)));
  REQUIRE(p.Flush(std::chrono::seconds(5)));
  for (int i = 0; i < 3; ++i)
    CHECK(ClassOf(*f.store, "free" + std::to_string(i), t + 10 + i) == "unique");
  CHECK(ClassOf(*f.store, "lim0", t + 20) == "unique");
  CHECK(ClassOf(*f.store, "lim1", t + 21) == "unique");
  CHECK(ClassOf(*f.store, "lim2", t + 22) == "rate_limited");
  CHECK(ClassOf(*f.store, "r0", t) == "unique");
  CHECK(ClassOf(*f.store, "r1", t + 1) == "unique");
  CHECK(ClassOf(*f.store, "r2", t + 2) == "rate_limited");
  CHECK(ClassOf(*f.store, "r3", t + 3) == "rate_limited");
  CHECK(ClassOf(*f.store, "other-ip", t + 5) == "unique");
  CHECK(ClassOf(*f.store, "next-minute", t + 60'000) == "unique");
}

TEST_CASE("concurrent producers: every click written exactly once, one unique per key",
          "[pipeline]") {
  Fixture f;
  ClickPipeline p(f.store.get(), &f.metrics, &f.log, ClickPipelineOptions{.wal_sync_ms = 10});
  p.Start();
  const int64_t t = 1'700'000'000'000;
  constexpr int kThreads = 4, kPerThread = 20000, kKeys = 50;
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};  // Catch2 assertions are not thread-safe: count, check after join
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = std::to_string(th) + "-" + std::to_string(i);
        if (!p.Submit(Click(id, t, "9.9.9.9", "UA" + std::to_string(i % kKeys)))) ++refused;
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(refused.load() == 0);
  REQUIRE(p.Flush(std::chrono::seconds(30)));
  const std::array<int64_t, storage::kCounterFieldCount> totals = Totals(*f.store);
  CHECK(totals[storage::kClicks] == kThreads * kPerThread);
  CHECK(totals[storage::kUniqueClicks] == kKeys);
  CHECK(totals[storage::kDuplicateClicks] == kThreads * kPerThread - kKeys);
  p.Stop();
}

TEST_CASE("written clicks come back to their producer cleared, and are reused", "[pipeline]") {
  Fixture f;
  constexpr int kThreads = 3, kRounds = 10, kPerRound = 300;
  ClickPipeline p(
      f.store.get(), &f.metrics, &f.log,
      ClickPipelineOptions{.wal_sync_ms = 10, .producers = kThreads, .recycle_limit = 64});
  p.Start();
  const int64_t t = 1'700'000'000'000;
  const PendingClick fresh;
  // Catch2 assertions are not thread-safe: count, check after join.
  std::atomic<int> refused{0}, unclean{0}, reused{0}, flush_timeouts{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int round = 0; round < kRounds; ++round) {
        for (int i = 0; i < kPerRound; ++i) {
          const int n = round * kPerRound + i;
          std::unique_ptr<PendingClick> c = p.Acquire(th);
          // Exactly what a new click holds, whatever the one before it held.
          if (!(c->record == fresh.record) || c->is_head || c->bot_user_agent ||
              c->max_clicks_per_ip_per_minute != fresh.max_clicks_per_ip_per_minute ||
              c->dedupe_window_s != fresh.dedupe_window_s || c->dedupe_key != fresh.dedupe_key ||
              c->next.load() != nullptr) {
            ++unclean;
          }
          if (c->record.click_id.capacity() > 15) ++reused;  // a buffer from an earlier click
          storage::ClickRecord& r = c->record;
          r.click_id = "producer-" + std::to_string(th) + "-click-" + std::to_string(n);
          r.time_ms = t;
          r.offer = "o";
          r.affiliate = "a";
          r.client_ip = "10.0.0." + std::to_string(th);
          // Every other click has a User-Agent, a sub and a referer; every seventh is a bot.
          if (n % 2 == 0) {
            r.user_agent = "Mozilla/5.0 producer " + std::to_string(th);
            r.subs[0] = "sub-" + std::to_string(n);
            r.referer = "https://ref.example/" + std::to_string(n);
          }
          c->bot_user_agent = n % 7 == 0;
          c->dedupe_window_s = 3600;
          c->dedupe_key = attribution::MakeDedupeKey("o", "a", r.client_ip, r.click_id);
          if (!p.Submit(std::move(c))) ++refused;
        }
        if (!p.Flush(std::chrono::seconds(10))) ++flush_timeouts;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(refused.load() == 0);
  CHECK(flush_timeouts.load() == 0);
  CHECK(unclean.load() == 0);
  // After each round's flush the producer's next clicks are reused ones.
  CHECK(reused.load() >= kThreads * (kRounds - 1));
  // A thread that is not a producer gets new clicks, deleted once written.
  std::unique_ptr<PendingClick> outsider = p.Acquire(kThreads);
  CHECK(outsider->producer == SIZE_MAX);
  outsider->record.click_id = "outsider";
  outsider->record.time_ms = t;
  outsider->record.offer = "o";
  REQUIRE(p.Submit(std::move(outsider)));
  REQUIRE(p.Flush(std::chrono::seconds(10)));
  CHECK(f.store->GetClick(t, "outsider")->has_value());
  // Every click as it was submitted: the odd ones carry nothing over from the even ones.
  for (int th = 0; th < kThreads; ++th) {
    for (int n : {0, 1, kPerRound * kRounds - 2, kPerRound * kRounds - 1}) {
      auto c =
          f.store->GetClick(t, "producer-" + std::to_string(th) + "-click-" + std::to_string(n));
      REQUIRE(c.ok());
      REQUIRE(c->has_value());
      const storage::ClickRecord& r = **c;
      INFO(r.click_id);
      CHECK(r.user_agent.empty() == (n % 2 == 1));
      CHECK(r.subs[0].empty() == (n % 2 == 1));
      CHECK(r.referer.empty() == (n % 2 == 1));
      CHECK((r.klass == attribution::ClickClass::kBot) == (n % 7 == 0));
    }
  }
  const std::array<int64_t, storage::kCounterFieldCount> totals = Totals(*f.store);
  CHECK(totals[storage::kClicks] == kThreads * kRounds * kPerRound + 1);
  p.Stop();
}

TEST_CASE("a full queue drops clicks instead of blocking", "[pipeline]") {
  Fixture f;
  ClickPipeline p(f.store.get(), &f.metrics, &f.log, ClickPipelineOptions{.queue_limit = 3});
  // Not started: nothing drains the queue.
  CHECK(p.Submit(Click("1", 1, "i", "u")));
  CHECK(p.Submit(Click("2", 1, "i", "u")));
  CHECK(p.Submit(Click("3", 1, "i", "u")));
  CHECK_FALSE(p.Submit(Click("4", 1, "i", "u")));
  CHECK(p.depth() == 3);
  p.Start();
  REQUIRE(p.Flush(std::chrono::seconds(5)));
  CHECK(p.depth() == 0);
  p.Stop();
  CHECK(f.store->GetClick(1, "3")->has_value());
  CHECK(f.metrics.Render(Gauges{}).find("ricochet_clicks_dropped_total 1\n") != std::string::npos);
}

TEST_CASE("adaptive priority: recording threads idle, normal while the writer falls behind",
          "[pipeline][priority]") {
  RETURN_UNLESS_CAN_LEAVE_IDLE();
  Fixture f;
  ClickPipeline p(f.store.get(), &f.metrics, &f.log,
                  ClickPipelineOptions{.wal_sync_ms = 5, .idle_priority = true, .boost_depth = 64});
  const pid_t self = getpid();
  auto wait_idle = [&] { return Within5s([&] { return p.idle(); }); };
  p.Start();
  REQUIRE(wait_idle());
  CHECK(testing::AllAre(self, "click-writer", SCHED_IDLE));
  CHECK(testing::AllAre(self, "rocksdb:", SCHED_IDLE));
  CHECK(p.boosts() == 0);
  // Idle CPU, but best-effort I/O: not the idle I/O class SCHED_IDLE would imply.
  CHECK(testing::IoClassesOf(self, "click-writer") == std::vector<int>{2});
  std::vector<int> rocks_io = testing::IoClassesOf(self, "rocksdb:");
  CHECK_FALSE(rocks_io.empty());
  for (int c : rocks_io) CHECK(c == 2);

  // The writer naps 1 ms between batches: 20,000 clicks at once pass 64 queued meanwhile.
  const int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 20'000; ++i) {
    REQUIRE(p.Submit(Click("c" + std::to_string(i), t + i, "10.0.0.1", "A")));
  }
  REQUIRE(p.Flush(std::chrono::seconds(10)));
  CHECK(p.boosts() >= 1);
  CHECK(f.store->GetClick(t + 19'999, "c19999")->has_value());
  // Caught up: idle again after ClickPipeline::kMinBoost. Relax() sets idle() before it lowers
  // the threads (a Boost() meanwhile then waits for it and boosts again), so wait for both.
  REQUIRE(wait_idle());
  CHECK(Within5s([&] {
    return testing::AllAre(self, "click-writer", SCHED_IDLE) &&
           testing::AllAre(self, "rocksdb:", SCHED_IDLE);
  }));

  // Stop() boosts so that the last clicks do not wait for an idle core; RocksDB's threads stay
  // normal after (the process's, shared with any other store).
  const uint64_t boosts = p.boosts();
  p.Stop();
  CHECK_FALSE(p.idle());
  CHECK(p.boosts() == boosts + 1);
  CHECK(testing::AllAre(self, "rocksdb:", SCHED_OTHER));
}

TEST_CASE("adaptive priority: batches at idle priority hold at most idle_max_batch clicks",
          "[pipeline][priority]") {
  RETURN_UNLESS_CAN_LEAVE_IDLE();
  Fixture f;
  // Nothing boosts below: no deep queue, no Flush(), no Submit() once the writer runs.
  ClickPipeline p(f.store.get(), &f.metrics, &f.log,
                  ClickPipelineOptions{.wal_sync_ms = 5,
                                       .max_batch = 4096,
                                       .idle_priority = true,
                                       .boost_depth = SIZE_MAX,
                                       .idle_max_batch = 512});
  // Queued before the writer starts, which goes to idle priority before it takes any.
  const int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 5000; ++i) {
    REQUIRE(p.Submit(Click("b" + std::to_string(i), t + i, "10.0.0.3", "A")));
  }
  p.Start();
  // Up to 60 s: the writer stays at idle priority throughout, which on a busy machine (a
  // parallel build, a sanitizer build) gets little CPU.
  (void)Within(std::chrono::seconds(60), [&] { return p.depth() == 0 && p.batches() >= 10; });
  CHECK(p.idle());
  CHECK(p.boosts() == 0);
  // 9 x 512 + 392: at normal priority (max_batch) it would have been 4096 + 904.
  CHECK(p.batches() == 10);
  Gauges g;
  g.click_batches = p.batches();
  CHECK(f.metrics.Render(g).find("ricochet_click_batches_total 10\n") != std::string::npos);
  p.Stop();
  CHECK(f.store->GetClick(t + 4999, "b4999")->has_value());
}

TEST_CASE("adaptive priority: another thread's store write raises the writer's",
          "[pipeline][priority]") {
  RETURN_UNLESS_CAN_LEAVE_IDLE();
  Fixture f;
  // No deep queue, and no Flush() (which boosts), below; and no raise for a write that lasts,
  // so that only another thread's write can raise.
  ClickPipeline p(f.store.get(), &f.metrics, &f.log,
                  ClickPipelineOptions{.wal_sync_ms = 5,
                                       .idle_priority = true,
                                       .boost_depth = SIZE_MAX,
                                       .stuck_raise = std::chrono::hours(1)});
  p.Start();
  REQUIRE(Within5s([&] { return p.idle(); }));
  // Synced writes from another thread, as a postback's commits, while the writer writes clicks.
  std::atomic<bool> done{false};
  std::atomic<int> failed_syncs{0};
  std::thread other([&] {
    while (!done.load()) {
      if (!f.store->SyncWal().ok()) failed_syncs.fetch_add(1);
    }
  });
  const int64_t t = 1'700'000'000'000;
  int submitted = 0;
  for (int round = 0; round < 500 && p.raises() == 0; ++round) {
    for (int i = 0; i < 200; ++i, ++submitted) {
      REQUIRE(p.Submit(Click("r" + std::to_string(submitted), t + submitted, "10.0.0.2", "A")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  done.store(true);
  other.join();
  CHECK(failed_syncs.load() == 0);
  CHECK(p.raises() >= 1);
  // Raised for single writes only: once the other thread stopped, the writer is idle again.
  REQUIRE(Within5s([&] { return p.depth() == 0; }));
  REQUIRE(p.Submit(Click("last", t + submitted, "10.0.0.2", "A")));
  REQUIRE(Within5s([&] { return p.depth() == 0; }));
  // (A write held up over stuck_boost by the other thread's fsyncs may have boosted it.)
  CHECK(Within5s([&] {
    return p.idle() &&
           testing::PoliciesOf(getpid(), "click-writer") == std::vector<int>{SCHED_IDLE};
  }));
  p.Stop();
  CHECK(f.store->GetClick(t + submitted, "last")->has_value());
}

namespace {

// Starves the click writer of CPU: pins it, and a thread that spins at normal priority, to one
// CPU this process may use. A SCHED_IDLE writer then gets next to none of it, and each of its
// store writes lasts; at normal priority it shares the CPU with the spinner.
class WriterStarver {
 public:
  WriterStarver() {
    cpu_set_t allowed;
    REQUIRE(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    int cpu = 0;
    while (!CPU_ISSET(cpu, &allowed)) ++cpu;
    CPU_ZERO(&one_);
    CPU_SET(cpu, &one_);
    std::vector<pid_t> writer = storage::ThreadsNamed(getpid(), "click-writer");
    REQUIRE(writer.size() == 1);
    writer_ = writer[0];
    REQUIRE(sched_getaffinity(writer_, sizeof writer_cpus_, &writer_cpus_) == 0);
    REQUIRE(sched_setaffinity(writer_, sizeof one_, &one_) == 0);
    spinner_ = std::thread([this] {
      pinned_.store(sched_setaffinity(0, sizeof one_, &one_) == 0 ? 1 : -1);
      while (!stop_.load(std::memory_order_relaxed)) {
      }
    });
    REQUIRE(Within5s([&] { return pinned_.load() != 0; }));
    REQUIRE(pinned_.load() == 1);
  }
  ~WriterStarver() { Stop(); }
  // Stops the spinner and gives the writer its CPUs back.
  void Stop() {
    stop_.store(true);
    if (spinner_.joinable()) spinner_.join();
    if (writer_ != 0) (void)sched_setaffinity(writer_, sizeof writer_cpus_, &writer_cpus_);
  }

 private:
  cpu_set_t one_;
  pid_t writer_ = 0;
  cpu_set_t writer_cpus_;
  std::atomic<int> pinned_{0};  // the spinner's sched_setaffinity: 1 done, -1 failed
  std::atomic<bool> stop_{false};
  std::thread spinner_;
};

// An adaptive pipeline whose writer is starved of CPU (WriterStarver) while Run() submits a
// click a millisecond, until `enough` (at most 60 s); Run() then lets the writer have the CPU
// again and waits until every click is written. Nothing else raises or boosts it: no other
// writer, no deep queue, no Flush().
struct StarvedWriter {
  StarvedWriter(std::chrono::milliseconds stuck_raise, std::chrono::milliseconds stuck_boost)
      : p(f.store.get(), &f.metrics, &f.log,
          ClickPipelineOptions{.wal_sync_ms = 5,
                               .idle_priority = true,
                               .boost_depth = SIZE_MAX,
                               .stuck_raise = stuck_raise,
                               .stuck_boost = stuck_boost}) {
    p.Start();
    REQUIRE(Within5s([&] { return p.idle(); }));
  }
  template <typename Pred>
  void Run(Pred enough) {
    WriterStarver starver;
    for (; submitted < 60'000 && !enough(); ++submitted) {
      REQUIRE(p.Submit(Click("s" + std::to_string(submitted), kT + submitted, "10.0.0.4", "A")));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    starver.Stop();
    REQUIRE(Within(std::chrono::seconds(60), [&] { return p.depth() == 0; }));
  }
  // After p.Stop().
  bool LastWritten() {
    return f.store->GetClick(kT + submitted - 1, "s" + std::to_string(submitted - 1))->has_value();
  }

  static constexpr int64_t kT = 1'700'000'000'000;
  Fixture f;
  ClickPipeline p;
  int submitted = 0;
};

}  // namespace

TEST_CASE("adaptive priority: a store write starved of CPU raises the writer alone",
          "[pipeline][priority]") {
  RETURN_UNLESS_CAN_LEAVE_IDLE();
  StarvedWriter s(std::chrono::milliseconds(10), std::chrono::hours(1));
  s.Run([&] { return s.p.raises() >= 1; });
  CHECK(s.p.raises() >= 1);
  // Only the writer, and only for that write: RocksDB's threads never left idle priority.
  CHECK(s.p.boosts() == 0);
  CHECK(s.p.idle());
  CHECK(Within5s([&] {
    return testing::PoliciesOf(getpid(), "click-writer") == std::vector<int>{SCHED_IDLE};
  }));
  CHECK(testing::AllAre(getpid(), "rocksdb:", SCHED_IDLE));
  s.p.Stop();
  CHECK(s.LastWritten());
}

TEST_CASE("adaptive priority: a store write that lasts stuck_boost boosts every recording thread",
          "[pipeline][priority]") {
  RETURN_UNLESS_CAN_LEAVE_IDLE();
  StarvedWriter s(std::chrono::hours(1), std::chrono::milliseconds(10));
  // Until the boost has reached RocksDB's threads as well (SetPolicy lowers idle() first).
  bool boosted_all = false;
  s.Run([&] {
    boosted_all = s.p.boosts() >= 1 && testing::AllAre(getpid(), "click-writer", SCHED_OTHER) &&
                  testing::AllAre(getpid(), "rocksdb:", SCHED_OTHER);
    return boosted_all;
  });
  CHECK(boosted_all);
  CHECK(s.p.boosts() >= 1);
  CHECK(s.p.raises() == 0);
  s.p.Stop();
  CHECK(s.LastWritten());
}

TEST_CASE("without adaptive priority the recording threads stay normal", "[pipeline][priority]") {
  Fixture f;
  ClickPipeline p(f.store.get(), &f.metrics, &f.log, ClickPipelineOptions{.wal_sync_ms = 5});
  p.Start();
  REQUIRE(p.Submit(Click("x", 1, "10.0.0.1", "A")));
  REQUIRE(p.Flush(std::chrono::seconds(5)));
  CHECK_FALSE(p.idle());
  CHECK(p.boosts() == 0);
  CHECK(testing::PoliciesOf(getpid(), "click-writer") == std::vector<int>{SCHED_OTHER});
  CHECK(testing::AllAre(getpid(), "rocksdb:", SCHED_OTHER));
  p.Stop();
}

}  // namespace ricochet::engine
