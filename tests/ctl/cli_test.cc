// ricochetctl's command line as scripts see it: help at every level, usage errors (exit 2),
// auth (3), unknown routes (4), unreachable and silent servers (6), and where the server and
// token come from (a flag beats its environment variable).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "catch2/catch.hpp"
#include "ctl_runner.h"

namespace ricochet::testing {
namespace {

// A TCP listener that accepts connections and never answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

const char* const kVerbs[][2] = {
    {"offers", "list"},         {"offers", "get"},         {"offers", "create"},
    {"offers", "update"},       {"offers", "put"},         {"affiliates", "list"},
    {"affiliates", "get"},      {"affiliates", "create"},  {"affiliates", "update"},
    {"affiliates", "put"},      {"clicks", "get"},         {"conversions", "get"},
    {"conversions", "approve"}, {"conversions", "reject"}, {"conversions", "reverse"},
    {"report", nullptr},        {"ledger", nullptr},       {"balances", nullptr},
    {"payouts", "create"},      {"payouts", "list"},       {"payouts", "get"},
    {"payouts", "csv"},         {"outbox", "list"},        {"outbox", "get"},
    {"outbox", "dead-letters"}, {"outbox", "retry"},       {"backup", nullptr},
    {"verify", nullptr},        {"stats", nullptr},
};

}  // namespace

TEST_CASE("help at every level goes to stdout with exit 0", "[ctl][cli]") {
  CtlResult top = RunCtl({"--help"});
  CHECK(top.code == 0);
  CHECK(top.out.find("Commands:") != std::string::npos);
  CHECK(top.out.find("Exit codes: 0 ok") != std::string::npos);
  CHECK(RunCtl({"help"}).out == top.out);

  CtlResult group = RunCtl({"payouts", "--help"});
  CHECK(group.code == 0);
  for (const char* verb : {"create", "list", "get", "csv"})
    CHECK(group.out.find("  " + std::string(verb)) != std::string::npos);

  for (const auto& v : kVerbs) {
    std::vector<std::string> words = {v[0]};
    if (v[1] != nullptr) words.push_back(v[1]);
    std::string joined = v[1] != nullptr ? std::string(v[0]) + " " + v[1] : v[0];
    INFO(joined);
    words.push_back("--help");
    CtlResult r = RunCtl(words);
    CHECK(r.code == 0);
    CHECK(r.out.rfind("Usage: ricochetctl " + joined, 0) == 0);
    CHECK(r.out.find("Example") != std::string::npos);
    CHECK(r.err.empty());
    // `help <words>` and `-h` say the same.
    words.pop_back();
    words.insert(words.begin(), "help");
    CHECK(RunCtl(words).out == r.out);
  }
  CtlResult version = RunCtl({"--version"});
  CHECK(version.code == 0);
  CHECK(version.out.rfind("ricochetctl ", 0) == 0);
}

TEST_CASE("usage errors exit 2 and say what to do", "[ctl][cli]") {
  CtlResult r = RunCtl({});
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("ricochetctl: no command given; ") != std::string::npos);

  r = RunCtl({"ofers", "list"});
  CHECK(r.code == 2);
  CHECK(r.err ==
        "ricochetctl: unknown command \"ofers\" (did you mean \"offers\"?); the commands "
        "are offers, affiliates, clicks, conversions, report, ledger, balances, "
        "payouts, outbox, backup, verify, stats, audit; see ricochetctl --help\n");

  r = RunCtl({"offers", "lst"});
  CHECK(r.code == 2);
  CHECK(r.err.find("unknown verb \"lst\" for offers (did you mean \"list\"?)") !=
        std::string::npos);

  r = RunCtl({"offers"});
  CHECK(r.code == 2);
  CHECK(r.err.find("\"offers\" needs a verb: list, get, create, update, put") != std::string::npos);

  r = RunCtl({"offers", "get"});
  CHECK(r.code == 2);
  CHECK(r.err == "ricochetctl: offers get needs ID; usage: ricochetctl offers get ID\n");

  r = RunCtl({"offers", "get", "a", "b"});
  CHECK(r.code == 2);
  CHECK(r.err.find("too many arguments for offers get (\"b\" and after)") != std::string::npos);

  r = RunCtl({"report", "--group_by", "day"});
  CHECK(r.code == 2);
  CHECK(r.err.find("unknown option --group_by for report (did you mean --group-by?)") !=
        std::string::npos);

  r = RunCtl({"offers", "list", "--from", "2026-01-01"});  // an option of another verb
  CHECK(r.code == 2);
  CHECK(r.err.find("unknown option --from for offers list") != std::string::npos);

  r = RunCtl({"stats", "--json", "--csv"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--json and --csv exclude each other") != std::string::npos);

  r = RunCtl({"report", "--from"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--from needs a value") != std::string::npos);

  r = RunCtl({"stats", "--server", "https://127.0.0.1:8081", "--token", "t"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--server: https is not supported") != std::string::npos);

  r = RunCtl({"stats", "--token", "t"}, {{"RICOCHET_SERVER", "host:99999"}});
  CHECK(r.code == 2);
  CHECK(r.err.find("RICOCHET_SERVER: bad port") != std::string::npos);

  r = RunCtl({"stats", "--timeout", "soon", "--token", "t"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--timeout takes seconds") != std::string::npos);
}

TEST_CASE("token and server: flags beat the environment; auth failures exit 3", "[ctl][cli]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o1", R"({"url":"https://shop.example/?c={click_id}"})");
  const std::string addr = AdminAddress(s);

  // Environment only.
  CtlResult r =
      RunCtl({"offers", "list"}, {{"RICOCHET_SERVER", addr}, {"RICOCHET_ADMIN_TOKEN", kToken}});
  CHECK(r.code == 0);
  REQUIRE(ParseTable(r.out).size() == 1);
  CHECK(ParseTable(r.out)[0].at("ID") == "o1");

  // The URL form of --server.
  r = RunCtl({"offers", "list", "--server", "http://" + addr + "/", "--token", kToken});
  CHECK(r.code == 0);

  // A wrong environment token loses to a right flag, and the other way round.
  r = RunCtl({"offers", "list", "--token", kToken},
             {{"RICOCHET_SERVER", addr}, {"RICOCHET_ADMIN_TOKEN", "wrong"}});
  CHECK(r.code == 0);
  r = RunCtl({"offers", "list", "--token", "wrong"},
             {{"RICOCHET_SERVER", addr}, {"RICOCHET_ADMIN_TOKEN", kToken}});
  CHECK(r.code == 3);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "ricochetctl: the server refused the admin token (401 unauthorized); check --token or "
        "RICOCHET_ADMIN_TOKEN: it must equal the server's --admin-token\n");

  // A dead environment server loses to a live flag, and the other way round.
  const std::string dead = "127.0.0.1:" + std::to_string(FreePort());
  r = RunCtl({"offers", "list", "--server", addr},
             {{"RICOCHET_SERVER", dead}, {"RICOCHET_ADMIN_TOKEN", kToken}});
  CHECK(r.code == 0);
  r = RunCtl({"offers", "list", "--server", dead},
             {{"RICOCHET_SERVER", addr}, {"RICOCHET_ADMIN_TOKEN", kToken}});
  CHECK(r.code == 6);
  CHECK(r.err.find("cannot connect to " + dead) != std::string::npos);
  CHECK(r.err.find("is ricochet running there?") != std::string::npos);

  // No token at all: exit 3 before any request.
  r = RunCtl({"offers", "list", "--server", addr});
  CHECK(r.code == 3);
  CHECK(r.err.find("no admin token; pass --token TOKEN") != std::string::npos);

  // --token-file, between the flag and the environment.
  std::string token_path = dir.path() + ".token";
  std::ofstream(token_path) << kToken << "\n";
  r = RunCtl({"offers", "list", "--server", addr, "--token-file", token_path},
             {{"RICOCHET_ADMIN_TOKEN", "wrong"}});
  CHECK(r.code == 0);
  r = RunCtl({"offers", "list", "--server", addr, "--token-file", token_path + ".missing"});
  CHECK(r.code == 2);
  CHECK(r.err.find("cannot read --token-file") != std::string::npos);
  std::remove(token_path.c_str());

  // The public listener has no /api: a 404 route says where to point --server.
  r = RunCtl({"offers", "list", "--server", "127.0.0.1:" + std::to_string(s.public_port()),
              "--token", kToken});
  CHECK(r.code == 4);
  CHECK(r.err.find("the server has no route GET /api/offers (404 not_found); point --server at "
                   "the admin listener") != std::string::npos);
}

TEST_CASE("a server that does not answer in time exits 6", "[ctl][cli]") {
  SilentListener silent;
  CtlResult r = RunCtl({"stats", "--server", "127.0.0.1:" + std::to_string(silent.port()),
                        "--token", "t", "--timeout", "0.5"});
  CHECK(r.code == 6);
  CHECK(r.err.find("did not answer within 500 ms") != std::string::npos);
  CHECK(r.err.find("raise --timeout") != std::string::npos);
}

}  // namespace ricochet::testing
