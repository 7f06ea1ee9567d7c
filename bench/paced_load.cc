// A fixed-rate (open-loop) HTTP/1.1 load generator for the click route: the "p99 at half of
// peak" of bench/load.sh, run the same way against Ricochet and nginx.
//
//   paced_load --url http://127.0.0.1:PORT --rate R --seconds S [--connections 64]
//              [--tick-us 100] [--offer demo] [--aff demo-aff] [--trace FILE]
//              [--priority normal|realtime]
//
// The schedule: request k is due at k/R after the start, rounded up to the next tick (100 us
// by default). The thread sleeps until each tick, writes every request then due, each on a
// keep-alive connection with nothing outstanding, then reads the answers that have arrived.
// When every connection is busy, due requests wait and go out as connections free up.
//
// The clock: each answer is timed by the kernel as it reaches the client's socket
// (SO_TIMESTAMPNS), not when this thread gets round to reading it. Latency is measured as wrk2
// measures it, from the moment the request was due (p50_us..max_us): a server stall counts in
// full for every request it held back (no coordinated omission). Also printed: the time from
// the write (svc_*, what wrk measures), how late requests were written (late_p99_us), how late
// the thread woke for its ticks (wake_*) and at how many ticks a due request found every
// connection busy (queued_ticks). A late wake-up is the client's own delay, on a machine it
// shares with the server.
//
// Why not wrk: its delay() hook (the old bench/wrk/paced.lua) has millisecond timers, so a
// paced wrk sends its requests in bursts, one burst per millisecond, and counts its own time
// writing a burst as latency: nginx's p50 at 54,000/s came out at 0.21 ms and its p99 at about
// 1 ms that way, against 0.06-0.07 and 0.11-0.59 ms here (docs/performance.md).
//
// The requests are those of bench/wrk/click.lua: GET /c/OFFER?aff=AFF&sub1=sN with a browser
// User-Agent and a new X-Forwarded-For on every request, so every click has its own dedupe key.
// After the run it waits up to 5 s for the answers still outstanding, and counts them.
// --trace FILE writes "due_ns sent_ns arrived_ns" (CLOCK_REALTIME) per answer.
//
// --priority realtime runs the client at SCHED_FIFO 1, as a client on another machine would
// be: never kept off its core by the threads of the server under test (on a shared machine a
// normal-priority client waited for the server's idle-priority recording threads, and its own
// lateness counted as latency: docs/performance.md). Every delay of the server still counts,
// from the due time. Refused (no CAP_SYS_NICE, no RLIMIT_RTPRIO): a warning on stderr, and the
// run goes on at normal priority; RESULT's realtime= says which it was.
//
// Prints one line in the shape of bench/wrk/common.lua's, for bench/lib.sh:
//   RESULT requests=N duration_us=D rps=X scheduled=N p50_us=.. p90_us=.. p99_us=.. p999_us=..
//          max_us=.. svc_p50_us=.. svc_p99_us=.. late_p99_us=.. wake_p99_us=.. wake_p999_us=..
//          queued_ticks=N untimed=N errors_connect=.. errors_read=.. errors_write=..
//          errors_status=.. errors_timeout=.. realtime=0|1
// Exits 1 when it could not connect at all, 2 on bad flags.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "flags.h"
namespace {

constexpr char kUserAgent[] =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36";
constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kDrainNs = 5 * kNsPerS;
constexpr int64_t kFarBehindNs = 10'000'000;  // 10 ms

struct Flags {
  std::string host;
  std::string port;
  int64_t rate = 0;
  double seconds = 0;
  int connections = 64;
  int64_t tick_us = 100;
  std::string trace;
  std::string offer = "demo";
  std::string aff = "demo-aff";
  bool realtime = false;  // --priority realtime, and granted
};

using ricochet::bench::ForEachFlag;
using ricochet::bench::ParseCount;
using ricochet::bench::Usage;

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  ForEachFlag(argc, argv, [&f](const std::string& a, const char* v) {
    if (a == "--url") {
      std::string_view u = v;
      constexpr std::string_view kScheme = "http://";
      if (u.substr(0, kScheme.size()) != kScheme) Usage("--url: expected http://HOST:PORT");
      u.remove_prefix(kScheme.size());
      if (!u.empty() && u.back() == '/') u.remove_suffix(1);
      const size_t colon = u.rfind(':');
      if (colon == std::string_view::npos || colon == 0 || colon + 1 == u.size()) {
        Usage("--url: expected http://HOST:PORT");
      }
      f.host = std::string(u.substr(0, colon));
      f.port = std::string(u.substr(colon + 1));
    } else if (a == "--rate") {
      f.rate = ParseCount(a, v, 1, 10'000'000);
    } else if (a == "--seconds") {
      char* end = nullptr;
      f.seconds = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(f.seconds > 0 && f.seconds <= 3600)) {
        Usage("--seconds: expected a number of seconds from 0 to 3600");
      }
    } else if (a == "--connections") {
      f.connections = static_cast<int>(ParseCount(a, v, 1, 10'000));
    } else if (a == "--trace") {
      f.trace = v;
    } else if (a == "--tick-us") {
      f.tick_us = ParseCount(a, v, 1, 1'000'000);
    } else if (a == "--offer") {
      f.offer = v;
    } else if (a == "--aff") {
      f.aff = v;
    } else if (a == "--priority") {
      if (std::string_view(v) != "normal" && std::string_view(v) != "realtime") {
        Usage("--priority: expected normal or realtime");
      }
      f.realtime = std::string_view(v) == "realtime";
    } else {
      Usage("unknown flag " + a);
    }
  });
  if (f.host.empty()) Usage("--url is required");
  if (f.rate == 0) Usage("--rate is required");
  if (f.seconds == 0) Usage("--seconds is required");
  return f;
}

// CLOCK_REALTIME, the clock of the kernel's receive timestamps (SO_TIMESTAMPNS).
int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * kNsPerS + ts.tv_nsec;
}

struct Errors {
  int64_t connect = 0, read = 0, write = 0, status = 0, timeout = 0;
};

// One keep-alive connection with at most one request outstanding.
struct Conn {
  int fd = -1;
  bool busy = false;
  bool watch_out = false;  // EPOLLOUT is on: a request is partly written
  int64_t due_ns = 0;      // when its outstanding request was due
  int64_t sent_ns = 0;     // when it was written
  std::string out;         // unwritten bytes of the request
  std::string in;          // bytes of the answer read so far
};

// Whether `line` starts with `name` (lower case, with its colon), in any case.
bool HasName(std::string_view line, std::string_view name) {
  return line.size() >= name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0;
}

// An answer's length once its head is complete: head + Content-Length. 0 while the head is
// incomplete; -1 for what this client does not read (no Content-Length with a body framing it
// cannot follow). Sets *status and *close.
int64_t AnswerLength(std::string_view in, int* status, bool* close) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return 0;
  const std::string_view head = in.substr(0, head_end + 2);
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return -1;
  *status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
  int64_t body = 0;
  *close = head.substr(0, 8) == "HTTP/1.0";
  size_t pos = head.find("\r\n") + 2;
  while (pos < head.size()) {
    const size_t eol = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (HasName(line, "content-length:")) {
      body = std::atoll(std::string(line.substr(15)).c_str());
    } else if (HasName(line, "transfer-encoding:")) {
      return -1;
    } else if (HasName(line, "connection:")) {
      const std::string value(line.substr(11));
      if (strcasestr(value.c_str(), "close") != nullptr) *close = true;
      if (strcasestr(value.c_str(), "keep-alive") != nullptr) *close = false;
    }
  }
  return static_cast<int64_t>(head_end + 4) + body;
}

class Load {
 public:
  explicit Load(const Flags& flags) : flags_(flags), conns_(flags.connections) {
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) seed = static_cast<uint64_t>(NowNs());
    ip_base_ = static_cast<uint32_t>(seed);
    head_ = "GET /c/" + flags.offer + "?aff=" + flags.aff + "&sub1=s";
    tail_ = " HTTP/1.1\r\nHost: " + flags.host + ":" + flags.port +
            "\r\nUser-Agent: " + kUserAgent + "\r\nX-Forwarded-For: ";
  }

  int Run() {
    // Sleeps end within 1 us of the next tick, not up to 50 us later (the default slack).
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    if (!Resolve()) return 1;
    if (!flags_.trace.empty()) {
      trace_ = std::fopen(flags_.trace.c_str(), "w");
      if (trace_ == nullptr) {
        std::perror(("paced_load: " + flags_.trace).c_str());
        return 1;
      }
    }
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) {
      std::perror("paced_load: epoll_create1");
      return 1;
    }
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (!Connect(i)) {
        std::fprintf(stderr, "paced_load: cannot connect to %s:%s: %s\n", flags_.host.c_str(),
                     flags_.port.c_str(), std::strerror(errno));
        return 1;
      }
    }
    const int64_t start = NowNs();
    const int64_t end = start + static_cast<int64_t>(flags_.seconds * kNsPerS);
    // Request k is due at k/R, rounded up to the next tick: each tick sends what is due.
    const int64_t tick = flags_.tick_us * 1000;
    const int64_t rate = flags_.rate;
    const auto due = [&](int64_t k) {
      const int64_t at = k / rate * kNsPerS + k % rate * kNsPerS / rate;  // no overflow
      return start + (at + tick - 1) / tick * tick;
    };
    int64_t next = 0;  // the next request's index on the schedule
    int64_t rested = start;
    for (int64_t t = start; t < end; t += tick) {
      SleepUntil(t);
      // What is due goes out first; answers are timed by the kernel, so reading them can wait.
      int64_t now = NowNs();
      wake_.push_back(now - t);
      // Far behind its schedule (a stall, or a rate it cannot keep) the loop does not sleep
      // while it catches up; at SCHED_FIFO that holds a core from every normal thread. Rest
      // 0.1 ms per 10 ms then: catching up stays about as fast.
      if (flags_.realtime && now - t > kFarBehindNs && now - rested > kFarBehindNs) {
        SleepUntil(now + kFarBehindNs / 100);
        rested = now = NowNs();
      }
      while (due(next) <= now && due(next) < end) {
        if (idle_.empty() && (!Collect() || idle_.empty())) {
          ++queued_;
          break;
        }
        const size_t i = idle_.back();
        idle_.pop_back();
        Send(i, due(next), now);
        ++next;
        now = NowNs();
      }
      if (!Collect()) return 1;
    }
    const int64_t stopped = NowNs();
    // The answers still outstanding.
    for (int64_t t = stopped; Outstanding() > 0 && t < stopped + kDrainNs; t += tick) {
      SleepUntil(t);
      if (!Collect()) return 1;
    }
    errors_.timeout += Outstanding();
    if (trace_ != nullptr) std::fclose(trace_);
    Print(stopped - start, next);
    return 0;
  }

 private:
  bool Resolve() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(flags_.host.c_str(), flags_.port.c_str(), &hints, &res);
    if (rc != 0 || res == nullptr) {
      std::fprintf(stderr, "paced_load: cannot resolve %s:%s: %s\n", flags_.host.c_str(),
                   flags_.port.c_str(), gai_strerror(rc));
      return false;
    }
    std::memcpy(&addr_, res->ai_addr, res->ai_addrlen);
    addr_len_ = res->ai_addrlen;
    family_ = res->ai_family;
    freeaddrinfo(res);
    return true;
  }

  // A blocking connect (loopback answers at once), then non-blocking for the run.
  bool Connect(size_t i) {
    Conn& c = conns_[i];
    c.fd = socket(family_, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return false;
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0) {
      ::close(c.fd);
      c.fd = -1;
      return false;
    }
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(c.fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    const int fl = fcntl(c.fd, F_GETFL);
    fcntl(c.fd, F_SETFL, fl | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
    c.busy = false;
    c.watch_out = false;
    c.in.clear();
    c.out.clear();
    idle_.push_back(i);
    return true;
  }

  // Drops connection i (its outstanding request, if any, is counted by the caller) and opens
  // a new one in its place.
  void Reconnect(size_t i) {
    Conn& c = conns_[i];
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    c.busy = false;
    if (!Connect(i)) ++errors_.connect;  // the slot stays closed: one connection fewer
  }

  void Send(size_t i, int64_t due_ns, int64_t now) {
    Conn& c = conns_[i];
    const uint32_t v = ip_base_ + static_cast<uint32_t>(sent_);
    ++sent_;
    c.out = head_;
    c.out += std::to_string(sent_ % 2000);
    c.out += tail_;
    c.out += std::to_string(1 + (v >> 24) % 223) + "." + std::to_string((v >> 16) & 255) + "." +
             std::to_string((v >> 8) & 255) + "." + std::to_string(v & 255);
    c.out += "\r\n\r\n";
    c.busy = true;
    c.due_ns = due_ns;
    c.sent_ns = now;
    Write(i);
  }

  void Write(size_t i) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;  // a stale event of a connection that could not be reopened
    while (!c.out.empty()) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.out.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c.watch_out) Watch(i, EPOLLIN | EPOLLOUT);
        c.watch_out = true;
        return;
      } else {
        ++errors_.write;
        Reconnect(i);
        return;
      }
    }
    if (c.watch_out) Watch(i, EPOLLIN);
    c.watch_out = false;
  }

  void Watch(size_t i, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, conns_[i].fd, &ev);
  }

  static void SleepUntil(int64_t t) {
    const timespec ts{static_cast<time_t>(t / kNsPerS), static_cast<long>(t % kNsPerS)};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
  }

  // Reads whatever answers have arrived and finishes partial writes, without waiting. False on
  // an epoll failure.
  bool Collect() {
    epoll_event events[256];
    int n;
    do {
      n = epoll_wait(epoll_, events, 256, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("paced_load: epoll_wait");
        return false;
      }
      for (int e = 0; e < n; ++e) {
        const size_t i = events[e].data.u64;
        if (events[e].events & EPOLLOUT) Write(i);
        if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) Read(i);
      }
    } while (n == 256);
    return true;
  }

  void Read(size_t i) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;  // a stale event of a connection that could not be reopened
    char buf[16384];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    int64_t arrived = 0;  // when the kernel received the bytes last read (SO_TIMESTAMPNS)
    int status = 0;
    bool close = false;
    int64_t len = 0;  // AnswerLength of what has been read
    while (true) {
      iovec iov{buf, sizeof(buf)};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      const ssize_t n = ::recvmsg(c.fd, &msg, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        arrived = 0;
        for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
          if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
            arrived = int64_t{ts.tv_sec} * kNsPerS + ts.tv_nsec;
          }
        }
        // One answer is outstanding at most: once it is whole, a further recv() would only
        // find the socket empty.
        len = AnswerLength(c.in, &status, &close);
        if (len < 0 || (len > 0 && static_cast<int64_t>(c.in.size()) >= len)) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // End of stream or an error: an outstanding request is lost; an idle one just closed.
      if (c.busy) ++errors_.read;
      if (!c.busy) idle_.erase(std::find(idle_.begin(), idle_.end(), i));
      Reconnect(i);
      return;
    }
    if (len == 0 || (len > 0 && static_cast<int64_t>(c.in.size()) < len)) return;
    if (len < 0 || !c.busy) {
      ++errors_.read;  // an answer this client cannot frame, or one it did not ask for
      if (!c.busy) idle_.erase(std::find(idle_.begin(), idle_.end(), i));
      Reconnect(i);
      return;
    }
    if (arrived == 0) {
      ++missing_timestamps_;
      arrived = NowNs();
    }
    if (trace_ != nullptr) {
      std::fprintf(trace_, "%lld %lld %lld\n", static_cast<long long>(c.due_ns),
                   static_cast<long long>(c.sent_ns), static_cast<long long>(arrived));
    }
    latency_.push_back(arrived - c.due_ns);
    service_.push_back(arrived - c.sent_ns);
    late_.push_back(c.sent_ns - c.due_ns);
    if (status >= 400 || status < 100) ++errors_.status;
    c.in.erase(0, static_cast<size_t>(len));
    c.busy = false;
    if (close || !c.in.empty()) {
      if (!c.in.empty()) ++errors_.read;  // bytes after the answer: nothing was asked
      Reconnect(i);
    } else {
      idle_.push_back(i);
    }
  }

  int64_t Outstanding() const {
    int64_t n = 0;
    for (const Conn& c : conns_) n += c.busy ? 1 : 0;
    return n;
  }

  static double Percentile(std::vector<int64_t>& v, double p) {
    if (v.empty()) return 0;
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
    std::nth_element(v.begin(), v.begin() + k, v.end());
    return v[k] / 1000.0;
  }

  void Print(int64_t duration_ns, int64_t scheduled) {
    const int64_t answered = static_cast<int64_t>(latency_.size());
    const double max_us =
        latency_.empty() ? 0 : *std::max_element(latency_.begin(), latency_.end()) / 1000.0;
    std::printf(
        "RESULT requests=%lld duration_us=%lld rps=%.1f scheduled=%lld p50_us=%.1f p90_us=%.1f "
        "p99_us=%.1f p999_us=%.1f max_us=%.0f svc_p50_us=%.1f svc_p99_us=%.1f "
        "late_p99_us=%.1f wake_p99_us=%.1f wake_p999_us=%.1f queued_ticks=%lld untimed=%lld "
        "errors_connect=%lld errors_read=%lld errors_write=%lld "
        "errors_status=%lld errors_timeout=%lld realtime=%d\n",
        static_cast<long long>(answered), static_cast<long long>(duration_ns / 1000),
        answered / (duration_ns / 1e9), static_cast<long long>(scheduled), Percentile(latency_, 50),
        Percentile(latency_, 90), Percentile(latency_, 99), Percentile(latency_, 99.9), max_us,
        Percentile(service_, 50), Percentile(service_, 99), Percentile(late_, 99),
        Percentile(wake_, 99), Percentile(wake_, 99.9), static_cast<long long>(queued_),
        static_cast<long long>(missing_timestamps_), static_cast<long long>(errors_.connect),
        static_cast<long long>(errors_.read), static_cast<long long>(errors_.write),
        static_cast<long long>(errors_.status), static_cast<long long>(errors_.timeout),
        flags_.realtime ? 1 : 0);
  }

  const Flags& flags_;
  std::vector<Conn> conns_;
  std::vector<size_t> idle_;  // connections with no request outstanding
  int epoll_ = -1;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  int family_ = AF_INET;
  std::string head_, tail_;
  uint32_t ip_base_ = 0;
  int64_t sent_ = 0;
  FILE* trace_ = nullptr;           // --trace
  int64_t missing_timestamps_ = 0;  // answers read without SO_TIMESTAMPNS: timed on reading
  int64_t queued_ = 0;              // ticks at which a due request found every connection busy
  std::vector<int64_t> wake_;       // how late each tick's wake-up was, ns
  std::vector<int64_t> latency_, service_, late_;  // ns, one per answer
  Errors errors_;
};

}  // namespace

const ricochet::bench::Program ricochet::bench::kProgram = {
    "paced_load",
    "--url http://HOST:PORT --rate R --seconds S [--connections N] [--tick-us T] "
    "[--offer ID] [--aff ID] [--trace FILE] [--priority normal|realtime]"};

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  if (flags.realtime) {
    sched_param param{};
    param.sched_priority = 1;
    if (sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
      std::fprintf(stderr, "paced_load: --priority realtime refused (%s): normal priority\n",
                   std::strerror(errno));
      flags.realtime = false;
    }
  }
  return Load(flags).Run();
}
