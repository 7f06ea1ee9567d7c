// clicks, outbox, backup, verify (online and offline) and stats through ricochetctl against a
// real server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "boost/json/parse.hpp"
#include "catch2/catch.hpp"
#include "ctl_runner.h"
#include "storage/store.h"

namespace ricochet::testing {
namespace json = boost::json;
namespace {

constexpr char kShop[] =
    R"({"url":"https://shop.example/?c={click_id}","plan":{"events":{"sale":{"cpa":"2.00"}}}})";

// Polls `outbox list --state state` until it has `n` entries (10 s at most).
std::vector<std::map<std::string, std::string>> WaitOutbox(const Server& s,
                                                           const std::string& state, size_t n) {
  std::vector<std::map<std::string, std::string>> rows;
  for (int i = 0; i < 200; ++i) {
    CtlResult r = Ctl(s, {"outbox", "list", "--state", state});
    REQUIRE(r.code == 0);
    rows = ParseTable(r.out);
    if (rows.size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return rows;
}

}  // namespace

TEST_CASE("clicks get", "[ctl][clicks]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("shop", kShop);
  s.PutAffiliate("a1", "{}");
  HttpResult click = s.Get("/c/shop?aff=a1&sub1=spring%20sale");
  REQUIRE(click.status == 302);
  std::string loc = click.header("location");
  std::string id = loc.substr(loc.find("c=") + 2, 32);

  CtlResult r = Ctl(s, {"clicks", "get", id});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::map<std::string, std::string> kv = ParseKeyValue(r.out);
  CHECK(kv.at("click_id") == id);
  CHECK(kv.at("offer") == "shop");
  CHECK(kv.at("affiliate") == "a1");
  CHECK(kv.at("sub1") == "spring sale");
  CHECK(kv.at("class") == "unique");
  CHECK(kv.at("attributable") == "true");
  CHECK(kv.at("client_ip") == "127.0.0.1");
  r = Ctl(s, {"clicks", "get", id, "--json"});
  CHECK(json::parse(r.out).at("sub1").as_string() == "spring sale");

  r = Ctl(s, {"clicks", "get", "not-a-click-id"});
  CHECK(r.code == 5);
  CHECK(r.err.find("400 bad_click_id); a click id is the 32-character cid") != std::string::npos);
}

TEST_CASE("outbox list, get, dead-letters, retry", "[ctl][outbox]") {
  TempDir dir;
  Server s(dir.path(), {"--allow-private-postbacks", "--postback-max-attempts", "1"});
  s.PutOffer("shop", kShop);
  // "good" posts to the server's own /healthz (200); "bad" to a closed port (dead at once).
  s.PutAffiliate("good", R"({"postback_url":"http://127.0.0.1:)" + std::to_string(s.public_port()) +
                             R"(/healthz?cid={click_id}"})");
  s.PutAffiliate("bad", R"({"postback_url":"http://127.0.0.1:)" + std::to_string(FreePort()) +
                            R"(/pb?cid={click_id}"})");
  std::string cv_good = MakeConversion(s, MakeClick(s, "shop", "good"), "order_id=G1");
  std::string cv_bad = MakeConversion(s, MakeClick(s, "shop", "bad"), "order_id=B1");

  auto delivered = WaitOutbox(s, "delivered", 1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].at("AFFILIATE") == "good");
  CHECK(delivered[0].at("CONVERSION_ID") == cv_good);
  CHECK(delivered[0].at("STATE") == "delivered");
  CHECK(delivered[0].at("ATTEMPTS") == "1");
  auto dead = WaitOutbox(s, "dead", 1);
  REQUIRE(dead.size() == 1);
  const std::string dead_id = dead[0].at("ID");
  CHECK(dead[0].at("AFFILIATE") == "bad");
  CHECK(dead[0].at("CONVERSION_ID") == cv_bad);
  CHECK(dead[0].at("ATTEMPTS") == "1");
  CHECK_FALSE(dead[0].at("LAST_ERROR").empty());

  CtlResult r = Ctl(s, {"outbox", "dead-letters"});
  REQUIRE(r.code == 0);
  CHECK(ParseTable(r.out) == dead);
  r = Ctl(s, {"outbox", "dead-letters", "--csv"});
  auto records = ParseCsvRecords(r.out);
  REQUIRE(records.size() == 1);
  CHECK(records[0].at("id") == dead_id);
  CHECK(records[0].at("url").find("/pb?cid=") != std::string::npos);
  CHECK(records[0].count("created") == 1);
  r = Ctl(s, {"outbox", "list", "--json"});  // pending: none left
  CHECK(r.out == "{\"entries\":[]}\n");

  r = Ctl(s, {"outbox", "get", dead_id});
  REQUIRE(r.code == 0);
  CHECK(ParseKeyValue(r.out).at("state") == "dead");

  r = Ctl(s, {"outbox", "retry", dead_id});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::map<std::string, std::string> kv = ParseKeyValue(r.out);
  CHECK(kv.at("id") == dead_id);
  CHECK(kv.at("state") == "pending");
  CHECK(kv.at("attempts") == "0");
  // One more attempt, and it is a dead letter again.
  for (int i = 0; i < 200; ++i) {
    kv = ParseKeyValue(Ctl(s, {"outbox", "get", dead_id}).out);
    if (kv.at("state") == "dead") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(kv.at("state") == "dead");
  CHECK(kv.at("attempts") == "1");

  r = Ctl(s, {"outbox", "retry", "ob_nope"});
  CHECK(r.code == 4);
  CHECK(r.err.find("outbox entry ob_nope not found (404 unknown_outbox_entry)") !=
        std::string::npos);
  r = Ctl(s, {"outbox", "list", "--state", "gone"});
  CHECK(r.code == 5);
  CHECK(r.err.find("bad_state") != std::string::npos);
  CHECK(r.err.find("--state is pending, delivered or dead") != std::string::npos);
}

TEST_CASE("stats", "[ctl][stats]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("shop", kShop);
  s.PutAffiliate("a1", "{}");
  s.PutAffiliate("a2", "{}");
  CtlResult r = Ctl(s, {"stats"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::map<std::string, std::string> kv = ParseKeyValue(r.out);
  CHECK(kv.at("offers") == "1");
  CHECK(kv.at("affiliates") == "2");
  CHECK(kv.at("data_dir") == dir.path());
  CHECK(kv.count("clicks.queue_depth") == 1);
  CHECK(kv.count("rocksdb.wal_syncs") == 1);
  r = Ctl(s, {"stats", "--json"});
  CHECK(json::parse(r.out).at("affiliates").as_int64() == 2);
  r = Ctl(s, {"stats", "--csv"});
  CHECK(r.out.rfind("key,value\n", 0) == 0);
  CHECK(r.out.find("\noffers,1\n") != std::string::npos);
}

TEST_CASE("backup, then verify online, offline, locked, and broken", "[ctl][backup][verify]") {
  TempDir dir, backups;
  const std::string data = dir.path() + "/data";
  std::string backup_path = backups.path() + "/bk1";
  {
    Server s(data);
    s.PutOffer("shop", kShop);
    s.PutAffiliate("a1", "{}");
    MakeConversion(s, MakeClick(s, "shop", "a1"), "order_id=A");
    MakeConversion(s, MakeClick(s, "shop", "a1"), "order_id=B");

    CtlResult r = Ctl(s, {"backup", backup_path, "--progress"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    std::map<std::string, std::string> kv = ParseKeyValue(r.out);
    CHECK(kv.at("path") == backup_path);
    CHECK(std::stoll(kv.at("files")) > 0);
    CHECK(std::stoll(kv.at("bytes")) > 0);
    CHECK(kv.count("elapsed_ms") == 1);
    CHECK(r.err.rfind(
              "backup: writing a checkpoint to " + backup_path + " on " + AdminAddress(s) + "\n",
              0) == 0);
    CHECK(r.err.find("backup: done in ") != std::string::npos);
    CHECK(std::filesystem::exists(backup_path + "/CURRENT"));

    // Not a tty and no --progress: stderr stays quiet.
    r = Ctl(s, {"backup", backups.path() + "/bk2", "--json"});
    REQUIRE(r.code == 0);
    CHECK(r.err.empty());
    CHECK(json::parse(r.out).at("path").as_string() == backups.path() + "/bk2");

    r = Ctl(s, {"backup", backup_path});
    CHECK(r.code == 5);
    CHECK(r.err.find("409 path_exists") != std::string::npos);
    r = Ctl(s, {"backup", "relative/dir"});
    CHECK(r.code == 2);
    CHECK(r.err.find("must be absolute") != std::string::npos);

    // Online verify.
    r = Ctl(s, {"verify"});
    REQUIRE(r.code == 0);
    kv = ParseKeyValue(r.out);
    CHECK(kv.at("ok") == "true");
    CHECK(kv.at("entries") == "2");
    CHECK(kv.at("balances") == "1");
    CHECK(kv.at("problems") == "[]");

    // Offline verify of the running server's directory: locked.
    r = RunCtl({"verify", "--data", data});
    CHECK(r.code == 6);
    CHECK(r.err.find("ricochetctl: the database in " + data +
                     " is in use: a running server holds its lock") == 0);
    CHECK(r.err.find("verify it online with ricochetctl verify") != std::string::npos);

    // The backup is a database of its own and opens while the server runs.
    r = RunCtl({"verify", "--data", backup_path, "--json"});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(json::parse(r.out) ==
          json::parse(R"({"ok":true,"entries":2,"balances":1,"problems":[]})"));
    CHECK(s.Stop() == 0);
  }
  // Stopped: offline verify works on the data directory; no server or token needed.
  CtlResult r = RunCtl({"verify", "--data", data});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(ParseKeyValue(r.out).at("entries") == "2");

  r = RunCtl({"verify", "--data", dir.path() + "/missing"});
  CHECK(r.code == 4);
  CHECK(r.err.find("no directory " + dir.path() + "/missing") != std::string::npos);
  r = RunCtl({"verify", "--data", backups.path()});
  CHECK(r.code == 4);
  CHECK(r.err.find("holds no Ricochet database") != std::string::npos);

  // Append an entry whose hash does not chain and that no balance reflects.
  {
    storage::StoreOptions options;
    options.path = data;
    auto store = storage::Store::Open(options);
    REQUIRE(store.ok());
    auto head = (*store)->LedgerHead();
    REQUIRE(head.ok());
    storage::ConversionBatch batch;
    storage::LedgerEntry e;
    e.seq = head->first + 1;
    e.conversion_id = "cv_forged";
    e.affiliate = "a1";
    e.amount = 1'000'000;
    e.currency = "USD";
    e.time_ms = 1;
    e.prev_hash = head->second;
    e.hash = std::string(32, 'x');
    batch.entries.push_back(e);
    REQUIRE((*store)->CommitConversions(batch).ok());
    REQUIRE((*store)->Close().ok());
  }
  r = RunCtl({"verify", "--data", data});
  CHECK(r.code == 1);
  std::map<std::string, std::string> kv = ParseKeyValue(r.out);
  CHECK(kv.at("ok") == "false");
  CHECK(kv.at("entries") == "3");
  CHECK(kv.at("problems.0") == "entry 3: hash mismatch");
  CHECK(r.err.find("ricochetctl: verify found ") == 0);
  CHECK(r.err.find("stop payouts") != std::string::npos);

  // Online, the same problems come back as a 409 report: still exit 1, not 5.
  Server s(data);
  r = Ctl(s, {"verify", "--json"});
  CHECK(r.code == 1);
  json::value report = json::parse(r.out);
  CHECK_FALSE(report.at("ok").as_bool());
  CHECK(report.at("problems").at(0).as_string() == "entry 3: hash mismatch");
}

TEST_CASE("backup progress while the server is busy", "[ctl][backup]") {
  // A listener that accepts and never answers stands in for a long checkpoint.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string server = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  CtlResult r = RunCtl({"backup", "/tmp/never", "--progress", "--timeout", "2.5", "--server",
                        server, "--token", "t"});
  ::close(fd);
  CHECK(r.code == 6);
  CHECK(r.err == "backup: writing a checkpoint to /tmp/never on " + server +
                     "\n"
                     "backup: 1 s elapsed\n"
                     "backup: 2 s elapsed\n"
                     "ricochetctl: " +
                     server +
                     " did not answer within 2500 ms; the server may be overloaded or stuck: "
                     "check it, or raise --timeout\n");
}

}  // namespace ricochet::testing
