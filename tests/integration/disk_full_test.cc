// Disk full (issue #6), against the real `ricochet` binary: its data directory is a small tmpfs,
// which a filler file then fills.
//
//  - Postbacks answer 200 while RocksDB can still make them durable, then 503
//    storage_unavailable, never 200 or 201, until space is freed (a replay of an acknowledged
//    order still answers `duplicate`: it needs no write). Status changes and admin writes 503.
//  - Redirects keep being served with the right Location; every click of the full period is
//    dropped and counted in ricochet_clicks_dropped_total, exactly. /readyz answers 503.
//  - Once the filler is deleted, writes resume by themselves within seconds: postbacks 200,
//    /readyz 200, affiliate postbacks delivered, one log line per state change.
//  - After a restart on the same data directory every acknowledged conversion is there exactly
//    once with its exact amount and commission, none of the refused ones, and verify is ok.
//
// Needs root to mount the tmpfs; where mounting is refused the test prints a WARN line saying
// so and skips.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "catch2/catch.hpp"
#include "harness.h"
#include "receiver.h"
#include "tmpfs_mount.h"

namespace ricochet::testing {
namespace json = boost::json;

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kOffer[] = R"({"url":"https://shop.example/land?c={click_id}&a={aff_id}",)"
                          R"("plan":{"events":{"sale":{"cpa":"2.50","cps_percent":"10"}}}})";

int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

std::string Field(const std::string& body, const char* name) {
  json::value v = json::parse(body);
  const json::value* f = v.as_object().if_contains(name);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

// How many times `needle` occurs in `haystack`.
size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

struct Acked {
  std::string conversion_id;
  std::string affiliate;
  int dollars = 0;  // the sale amount, whole dollars
};

// The commission in cents of a sale of `dollars`: 2.50 + 10 %.
int64_t CommissionCents(int dollars) { return 250 + dollars * 10; }

class DiskFullRun {
 public:
  DiskFullRun(const Server& s, std::vector<std::string> clicks)
      : s_(&s), clicks_(std::move(clicks)) {}
  // The server to send to (a new one after a restart).
  void Use(const Server& s) { s_ = &s; }

  // A new order: returns the HTTP status; a 200 is recorded as acknowledged.
  int NewOrder(const std::string& order_id) {
    const size_t k = orders_++;
    const std::string& click = clicks_[k % clicks_.size()];
    const int dollars = 10 + static_cast<int>(k % 90);
    sent_[order_id] = {click, dollars};
    return Send(order_id);
  }
  // Sends `order_id` again with its first fields.
  int Send(const std::string& order_id) {
    const auto& [click, dollars] = sent_.at(order_id);
    HttpResult r = Postback(*s_, "cid=" + click + "&order_id=" + order_id +
                                     "&amount=" + std::to_string(dollars) + ".00");
    last_body_ = r.body;
    if (r.status == 200) {
      std::string result = Field(r.body, "result");
      if (acked_.count(order_id) == 0) {
        CHECK(result == "created");
        acked_[order_id] = {Field(r.body, "conversion_id"), affiliate_of_.at(click), dollars};
      } else {
        CHECK(result == "duplicate");
        CHECK(Field(r.body, "conversion_id") == acked_[order_id].conversion_id);
      }
    }
    return r.status;
  }
  void SetAffiliate(const std::string& click, const std::string& aff) {
    affiliate_of_[click] = aff;
  }
  const std::map<std::string, Acked>& acked() const { return acked_; }
  const std::string& last_body() const { return last_body_; }

 private:
  const Server* s_;
  std::vector<std::string> clicks_;
  std::map<std::string, std::string> affiliate_of_;
  std::map<std::string, std::pair<std::string, int>> sent_;  // order -> (click, dollars)
  std::map<std::string, Acked> acked_;
  size_t orders_ = 0;
  std::string last_body_;
};

}  // namespace

TEST_CASE("disk full: postbacks 503, redirects served, writes resume by themselves",
          "[diskfull][reliability]") {
  TmpfsMount mnt(64);
  if (!MountedOrSkip(mnt)) return;
  Receiver receiver;
  // Small memtables: RocksDB's WAL preallocation (1.1 x the memtable) and flushes stay small, so
  // the disk fills within a few hundred postbacks rather than 35 MiB of them.
  const std::vector<std::string> args = {
      "--write-buffer-mb",   "1",  "--wal-sync-ms", "10", "--allow-private-postbacks",
      "--postback-retry-ms", "200"};
  std::optional<Server> server;
  server.emplace(mnt.path(), args);
  Server& s = *server;
  s.PutOffer("df", kOffer);
  s.PutAffiliate("a1", R"({"name":"A1"})");
  s.PutAffiliate("a2", R"({"name":"A2","postback_url":"http://127.0.0.1:)" +
                           std::to_string(receiver.port()) +
                           R"(/hook?cid={click_id}&event_id={event_id}"})");
  std::vector<std::string> clicks;
  std::map<std::string, std::string> affiliate_of;
  for (int i = 0; i < 20; ++i) {
    std::string aff = i % 2 == 0 ? "a1" : "a2";
    std::string id = Click(s, "df", aff, "Mozilla/5.0 DiskFull/" + std::to_string(i));
    clicks.push_back(id);
    affiliate_of[id] = aff;
  }
  DiskFullRun run(s, clicks);
  for (const auto& [id, aff] : affiliate_of) run.SetAffiliate(id, aff);

  // Before: acknowledged as usual. One order is left pending, to be approved later.
  for (int i = 0; i < 30; ++i) REQUIRE(run.NewOrder("before-" + std::to_string(i)) == 200);
  {
    HttpResult r =
        Postback(s, "cid=" + clicks[0] + "&order_id=pending-1&amount=40.00&status=pending");
    REQUIRE(r.status == 200);
  }
  REQUIRE(Http(s.public_port(), "GET", "/readyz").status == 200);

  // Fill the disk. Postbacks go on while RocksDB still has room (its WAL is preallocated);
  // from the first 503 on, none may answer 200.
  REQUIRE(mnt.Fill() > 0);
  int filling = 0, first_503 = -1;
  for (; filling < 20'000; ++filling) {
    int status = run.NewOrder("filling-" + std::to_string(filling));
    INFO(run.last_body());
    REQUIRE((status == 200 || status == 503));
    if (status == 503) {
      first_503 = filling;
      CHECK(Field(run.last_body(), "reason") == "storage_unavailable");
      break;
    }
  }
  REQUIRE(first_503 >= 0);
  mnt.KeepFull(milliseconds(300));  // what RocksDB frees itself, or a resume would succeed
  WARN("postbacks acknowledged after the disk filled, before the first 503: " << first_503);
  const auto full_since = Clock::now();

  // Full.
  std::vector<std::string> refused = {"filling-" + std::to_string(first_503)};
  for (int i = 0; i < 50; ++i) {
    std::string order = "full-" + std::to_string(i);
    int status = run.NewOrder(order);
    INFO(order << ": " << run.last_body());
    CHECK(status == 503);
    CHECK(Field(run.last_body(), "reason") == "storage_unavailable");
    refused.push_back(order);
    if (i % 10 == 0) mnt.Fill();
  }
  CHECK(run.Send("before-3") == 200);  // a duplicate needs no write: still answered
  {
    HttpResult r =
        Postback(s, "cid=" + clicks[0] + "&order_id=pending-1&amount=40.00&status=approved");
    INFO(r.body);
    CHECK(r.status == 503);
    HttpResult put = s.Api("PUT", "/api/offers/df2", kOffer);
    INFO(put.body);
    CHECK(put.status == 503);
    CHECK(Field(put.body, "reason") == "storage_unavailable");
    // Its audit record cannot be written either: the answer went out, the loss is counted.
    CHECK(MetricValue(s, "ricochet_audit_write_errors_total") == 1);
  }
  CHECK(Http(s.public_port(), "GET", "/readyz").status == 503);
  CHECK(Http(s.admin_port(), "GET", "/readyz").status == 503);
  CHECK(MetricValue(s, "ricochet_storage_writable") == 0);
  CHECK(MetricValue(s, "ricochet_storage_write_stops_total") == 1);

  // Clicks: every one redirected to the right place, every one dropped and counted.
  const int64_t dropped_before = MetricValue(s, "ricochet_clicks_dropped_total");
  const int64_t recorded_before = MetricValue(s, "ricochet_click_write_errors_total");
  int64_t slowest_click_ms = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string aff = i % 2 == 0 ? "a1" : "a2";
    auto t0 = Clock::now();
    HttpResult r =
        s.Get("/c/df?aff=" + aff, {{"User-Agent", "Mozilla/5.0 Full/" + std::to_string(i % 7)}});
    slowest_click_ms = std::max(slowest_click_ms, Ms(Clock::now() - t0));
    REQUIRE(r.status == 302);
    const std::string loc = r.header("location");
    INFO(loc);
    REQUIRE(loc.rfind("https://shop.example/land?c=", 0) == 0);
    CHECK(loc.size() == std::string("https://shop.example/land?c=").size() + 32 + 3 + aff.size());
    CHECK(loc.substr(loc.size() - aff.size() - 3) == "&a=" + aff);
  }
  CHECK(slowest_click_ms < 500);
  int64_t dropped = 0;
  for (auto deadline = Clock::now() + milliseconds(5000); Clock::now() < deadline;) {
    dropped = MetricValue(s, "ricochet_clicks_dropped_total") - dropped_before;
    if (dropped >= 200 && MetricValue(s, "ricochet_click_queue_depth") == 0) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  CHECK(dropped == 200);
  CHECK(MetricValue(s, "ricochet_click_write_errors_total") > recorded_before);
  // Stay full for 2.5 s more: the store's resume attempts (one a second) fail, and every
  // postback meanwhile still answers 503, /readyz 503.
  for (auto end = Clock::now() + milliseconds(2500); Clock::now() < end;) {
    mnt.Fill();
    std::string order = "waiting-" + std::to_string(refused.size());
    CHECK(run.NewOrder(order) == 503);
    refused.push_back(order);
    CHECK(Http(s.public_port(), "GET", "/readyz").status == 503);
    std::this_thread::sleep_for(milliseconds(100));
  }
  CHECK(MetricValue(s, "ricochet_storage_writable") == 0);
  CHECK(MetricValue(s, "ricochet_storage_write_stops_total") == 1);
  WARN("disk full for " << Ms(Clock::now() - full_since) << " ms");

  // Free the space: writes resume without a restart.
  const auto freed = Clock::now();
  mnt.Unfill();
  int64_t resumed_ms = -1;
  while (Ms(Clock::now() - freed) < 10'000) {
    if (run.Send(refused[0]) == 200) {
      resumed_ms = Ms(Clock::now() - freed);
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  REQUIRE(resumed_ms >= 0);
  WARN("postbacks answered 200 again " << resumed_ms << " ms after the filler was deleted");
  CHECK(resumed_ms < 5000);
  CHECK(Http(s.public_port(), "GET", "/readyz").status == 200);
  // The refused orders were never written: each is created now, not a duplicate.
  for (size_t i = 1; i < refused.size(); ++i) CHECK(run.Send(refused[i]) == 200);
  {
    HttpResult r =
        Postback(s, "cid=" + clicks[0] + "&order_id=pending-1&amount=40.00&status=approved");
    INFO(r.body);
    CHECK(r.status == 200);
    CHECK(Field(r.body, "result") == "updated");
  }
  for (int i = 0; i < 30; ++i) REQUIRE(run.NewOrder("after-" + std::to_string(i)) == 200);
  for (int i = 0; i < 50; ++i) Click(s, "df", "a1", "Mozilla/5.0 After/" + std::to_string(i));
  for (auto deadline = Clock::now() + milliseconds(3000);
       Clock::now() < deadline && MetricValue(s, "ricochet_click_queue_depth") != 0;) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  CHECK(MetricValue(s, "ricochet_clicks_dropped_total") - dropped_before == 200);
  CHECK(MetricValue(s, "ricochet_storage_writable") == 1);
  CHECK(MetricValue(s, "ricochet_storage_recoveries_total") == 1);
  {
    // The audit trail writes again; the refused PUT left a gap, not a record.
    REQUIRE(s.Api("PUT", "/api/offers/df3", kOffer).status == 200);
    HttpResult trail = s.Api("GET", "/api/audit?order=desc&limit=2");
    INFO(trail.body);
    REQUIRE(trail.status == 200);
    const boost::json::array records = boost::json::parse(trail.body).at("records").as_array();
    REQUIRE(records.size() == 2);
    CHECK(records[0].at("path").as_string() == "/api/offers/df3");
    CHECK(records[0].at("status").as_int64() == 200);
    CHECK(records[0].at("seq").as_int64() == records[1].at("seq").as_int64() + 2);
    CHECK(records[1].at("path").as_string() != "/api/offers/df2");
    CHECK(MetricValue(s, "ricochet_audit_write_errors_total") == 1);
  }

  // Affiliate postbacks of a2's conversions, including those whose attempts could not be
  // recorded while the disk was full, are delivered.
  std::vector<std::string> a2_conversions;
  for (const auto& [order, a] : run.acked()) {
    if (a.affiliate == "a2") a2_conversions.push_back(a.conversion_id);
  }
  REQUIRE(!a2_conversions.empty());
  size_t undelivered = a2_conversions.size();
  for (auto deadline = Clock::now() + milliseconds(10'000); Clock::now() < deadline;) {
    HttpResult ob = s.Api("GET", "/api/outbox?state=delivered");
    undelivered = 0;
    for (const std::string& cv : a2_conversions) {
      if (ob.body.find("\"conversion_id\":\"" + cv + "\"") == std::string::npos) ++undelivered;
    }
    if (undelivered == 0) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  CHECK(undelivered == 0);

  // One line per state change, not one per refused write.
  const std::string log = s.Log();
  CHECK(Count(log, "storage stopped accepting writes") == 1);
  CHECK(Count(log, "storage accepts writes again") == 1);
  CHECK(Count(log, "conversion batch not durable") == 1);
  CHECK(Count(log, "click writes failing") == 1);
  CHECK(Count(log, "click writes resumed") == 1);
  CHECK(Count(log, "postbacks: cannot record attempt") <= 1);

  // Restart on the same data directory: every acknowledged conversion exactly once, exact.
  REQUIRE(s.Stop() == 0);
  server.reset();
  server.emplace(mnt.path(), args);
  Server& r = *server;
  run.Use(r);
  std::map<std::string, int64_t> commission_cents;  // affiliate -> approved balance, cents
  for (const auto& [order, a] : run.acked()) {
    INFO(order);
    CHECK(run.Send(order) == 200);  // a duplicate with the same conversion id (checked in Send)
    HttpResult c = r.Api("GET", "/api/conversions/" + a.conversion_id);
    REQUIRE(c.status == 200);
    json::value v = json::parse(c.body);
    CHECK(v.at("amount").as_string() == std::to_string(a.dollars) + ".00");
    CHECK(v.at("status").as_string() == "approved");
    commission_cents[a.affiliate] += CommissionCents(a.dollars);
  }
  commission_cents["a1"] += CommissionCents(40);  // pending-1, approved after the recovery
  json::object row = OfferReportRow(r, "df");
  REQUIRE(!row.empty());
  CHECK(row.at("conversions").as_int64() == static_cast<int64_t>(run.acked().size()) + 1);
  for (const auto& [aff, cents] : commission_cents) {
    HttpResult b = r.Api("GET", "/api/balances/" + aff);
    REQUIRE(b.status == 200);
    json::value v = json::parse(b.body);
    char want[32];
    std::snprintf(want, sizeof(want), "%lld.%02lld", static_cast<long long>(cents / 100),
                  static_cast<long long>(cents % 100));
    INFO(aff << ": " << b.body);
    CHECK(v.at("USD").at("approved").as_string() == want);
  }
  HttpResult verify = r.Api("GET", "/api/verify");
  INFO(verify.body);
  CHECK(verify.status == 200);
  CHECK(json::parse(verify.body).at("ok").as_bool());
  WARN("acknowledged conversions: " << run.acked().size() + 1 << ", refused while full: "
                                    << refused.size() << ", clicks dropped: " << dropped);
  REQUIRE(r.Stop() == 0);
}

TEST_CASE(
    "disk full: a crash while full loses nothing acknowledged; a start on a full disk "
    "fails with a message",
    "[diskfull][reliability]") {
  TmpfsMount mnt(64);
  if (!MountedOrSkip(mnt)) return;
  const std::vector<std::string> args = {"--write-buffer-mb", "1"};
  std::optional<Server> server;
  server.emplace(mnt.path(), args);
  server->PutOffer("df", kOffer);
  server->PutAffiliate("a1", R"({"name":"A1"})");
  std::vector<std::string> clicks;
  for (int i = 0; i < 10; ++i) {
    clicks.push_back(Click(*server, "df", "a1", "Mozilla/5.0 Crash/" + std::to_string(i)));
  }
  DiskFullRun run(*server, clicks);
  for (const std::string& c : clicks) run.SetAffiliate(c, "a1");
  for (int i = 0; i < 20; ++i) REQUIRE(run.NewOrder("before-" + std::to_string(i)) == 200);
  REQUIRE(mnt.Fill() > 0);
  int first_503 = -1;
  for (int i = 0; i < 20'000 && first_503 < 0; ++i) {
    int status = run.NewOrder("filling-" + std::to_string(i));
    REQUIRE((status == 200 || status == 503));
    if (status == 503) first_503 = i;
  }
  REQUIRE(first_503 >= 0);
  mnt.KeepFull(milliseconds(300));
  std::vector<std::string> refused = {"filling-" + std::to_string(first_503)};
  for (int i = 0; i < 20; ++i) {
    refused.push_back("full-" + std::to_string(i));
    CHECK(run.NewOrder(refused.back()) == 503);
  }
  server->Kill();  // SIGKILL while full: the WAL ends with the torn record of the failed write
  server.reset();

  // Starting on a disk that is still full fails at once (RocksDB must flush the WAL it
  // replays), with the reason; under systemd, Restart=on-failure tries again until it starts.
  mnt.Fill();
  std::string err;
  int rc =
      RunBinary({"--data", mnt.path(), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                 "--admin-token", kToken, "--click-secret", kSecretHex, "--write-buffer-mb", "1"},
                &err, milliseconds(15'000));
  INFO(err);
  CHECK(rc == 1);
  CHECK(err.find("No space left on device") != std::string::npos);

  mnt.Unfill();
  server.emplace(mnt.path(), args);
  run.Use(*server);
  for (const auto& [order, a] : run.acked()) {
    INFO(order);
    CHECK(run.Send(order) == 200);  // duplicate, same conversion id
  }
  json::object row = OfferReportRow(*server, "df");
  REQUIRE(!row.empty());
  CHECK(row.at("conversions").as_int64() == static_cast<int64_t>(run.acked().size()));
  // The refused orders were never recorded: each is created now.
  for (const std::string& order : refused) {
    INFO(order << ": " << run.last_body());
    CHECK(run.Send(order) == 200);
  }
  HttpResult verify = server->Api("GET", "/api/verify");
  INFO(verify.body);
  CHECK(json::parse(verify.body).at("ok").as_bool());
  REQUIRE(server->Stop() == 0);
}

}  // namespace ricochet::testing
