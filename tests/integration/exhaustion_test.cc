// Descriptor exhaustion (issue #6): the server's descriptor limit is lowered (prlimit) to a few
// dozen above what it holds, and idle connections use up the rest. Accepting then fails with
// EMFILE; the accept loop must back off (one retry per 50 ms per listener) instead of spinning
// or dying, and serve again within a second once the connections close.
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "catch2/catch.hpp"
#include "harness.h"

namespace ricochet::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Open descriptors of process `pid`.
size_t CountDescriptors(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = opendir(path.c_str());
  REQUIRE(dir != nullptr);
  size_t n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

// User plus system CPU time of `pid`, in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt (fields 3-13)
  long utime = 0, stime = 0;
  fields >> utime >> stime;
  return utime + stime;
}

// True when a click sent on a new connection is answered within `wait`.
bool AnsweredWithin(int port, milliseconds wait) {
  int fd = ConnectLoopback(port);
  timeval tv{static_cast<time_t>(wait.count() / 1000),
             static_cast<suseconds_t>(wait.count() % 1000 * 1000)};
  REQUIRE(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
  const std::string req = "GET /c/o?aff=a HTTP/1.1\r\nHost: x\r\n\r\n";
  bool answered = ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == ssize_t(req.size());
  char byte;
  answered = answered && ::recv(fd, &byte, 1, 0) == 1;
  ::close(fd);
  return answered;
}

}  // namespace

TEST_CASE("descriptor exhaustion: the accept loop backs off, and serves within a second after",
          "[reliability][descriptors]") {
  TempDir dir;
  Server s(dir.path(), {"--threads", "2"});
  s.PutOffer("o", R"({"url":"https://shop.example/?c={click_id}"})");
  s.PutAffiliate("a", "{}");
  REQUIRE(!Click(s, "o", "a").empty());
  const int64_t backoffs_before = MetricValue(s, "ricochet_accept_backoffs_total");
  CHECK(backoffs_before == 0);

  // Room for 24 more descriptors, then 150 idle connections: most wait in the listen backlog.
  const size_t held = CountDescriptors(s.pid());
  rlimit limit{};
  REQUIRE(prlimit(s.pid(), RLIMIT_NOFILE, nullptr, &limit) == 0);
  limit.rlim_cur = held + 24;
  REQUIRE(prlimit(s.pid(), RLIMIT_NOFILE, &limit, nullptr) == 0);
  std::vector<int> idle;
  for (int i = 0; i < 150; ++i) idle.push_back(ConnectLoopback(s.public_port()));

  // Exhausted: the server holds its limit and a new click waits unanswered.
  REQUIRE(
      Eventually([&] { return CountDescriptors(s.pid()) >= limit.rlim_cur; }, milliseconds(5000)));
  const Clock::time_point exhausted = Clock::now();
  const long ticks_before = CpuTicks(s.pid());
  CHECK_FALSE(AnsweredWithin(s.public_port(), milliseconds(1000)));
  const long ticks = CpuTicks(s.pid()) - ticks_before;
  REQUIRE(s.running());

  // Descriptors free up: the idle clients leave. The next click is answered within a second:
  // the server accepts and closes the abandoned connections ahead of it in the backlog first.
  for (int fd : idle) ::close(fd);
  const Clock::time_point freed = Clock::now();
  HttpResult r = Http(s.public_port(), "GET", "/c/o?aff=a");
  const auto recovered = std::chrono::duration_cast<milliseconds>(Clock::now() - freed);
  CHECK(r.status == 302);
  CHECK(recovered < milliseconds(1000));

  // Backed off: at most one failed accept per 50 ms on each of the three listeners (two public
  // workers, one admin), plus one each for the tries in flight. A spinning loop fails
  // thousands of times a second.
  const auto exhausted_ms =
      std::chrono::duration_cast<milliseconds>(freed - exhausted).count() + 100;
  const int64_t backoffs = MetricValue(s, "ricochet_accept_backoffs_total") - backoffs_before;
  WARN("exhausted for " << exhausted_ms << " ms: " << backoffs << " accept backoffs, " << ticks
                        << " CPU ticks in 1 s; served again after " << recovered.count() << " ms");
  CHECK(backoffs >= 1);
  CHECK(ticks < sysconf(_SC_CLK_TCK) / 2);  // under half a core in the exhausted second
  CHECK(backoffs <= 3 * (exhausted_ms / 50 + 2));
  CHECK(s.Get("/healthz").status == 200);
  CHECK(s.Stop() == 0);
}

}  // namespace ricochet::testing
