// Reliability (issue #6): exactly-once conversions and exact money under crashes and duplicate
// load, against the real `ricochet` binary over real HTTP and RocksDB.
//
//  - Crash loop: clicks, new postbacks, replays and pending -> approved changes from several
//    threads while the server is SIGKILLed at random moments and restarted on the same data
//    directory. A postback without an answer is retried with the same order id until it gets
//    one. Afterwards no acknowledged conversion is missing, none is counted twice, every ledger
//    entry and balance is exact to the micro-unit, verify is ok, and every restart was ready
//    (/readyz 200) within 5 s.
//    RICOCHET_RELIABILITY_LONG=1 kills 20 times instead of 3 (tools/reliability.sh --long).
//  - Duplicate storm: 10,000 order ids, each sent by 5 concurrent senders.
//  - Conflicting replays: 409 conflict, and the ledger, balances and report byte-identical.
//
// conversion_test.cc holds the plain result codes, the 100-key storm and one SIGKILL whose
// bounds are loose (acked <= conversions <= sent); these are the exact, larger, repeated forms.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "catch2/catch.hpp"
#include "harness.h"

namespace ricochet::testing {
namespace json = boost::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

json::value J(const std::string& s) { return json::parse(s); }

std::string Str(const json::value& v, const char* field) {
  const json::value* f = v.as_object().if_contains(field);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

int64_t Pow10(int n) {
  int64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

// An exact decimal string ("12.5", "-3.00") in micro-units; throws on anything else.
int64_t ParseMicros(std::string_view s) {
  const std::string text(s);
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole.empty() || frac.size() > 6 || (dot != std::string_view::npos && frac.empty()))
    throw std::runtime_error("not a decimal: " + text);
  int64_t v = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') throw std::runtime_error("not a decimal: " + text);
    v = v * 10 + (c - '0');
  }
  for (size_t i = 0; i < 6; ++i) {
    char c = i < frac.size() ? frac[i] : '0';
    if (c < '0' || c > '9') throw std::runtime_error("not a decimal: " + text);
    v = v * 10 + (c - '0');
  }
  return neg ? -v : v;
}

// Micro-units as the API writes them: `decimals` places (the currency's minor unit).
std::string FormatMicros(int64_t m, int decimals) {
  std::string sign = m < 0 ? "-" : "";
  uint64_t a = m < 0 ? static_cast<uint64_t>(-m) : static_cast<uint64_t>(m);
  std::string out = sign + std::to_string(a / 1'000'000);
  if (decimals > 0) {
    std::string frac = std::to_string(1'000'000 + a % 1'000'000).substr(1, decimals);
    out += "." + frac;
  }
  return out;
}

// The contract's commission: cpa + amount × percent / 100, exact, rounded once half to even to
// the currency's minor unit (`decimals`). `percent_e4` is the percent × 10^4 ("7.5" -> 75000).
int64_t Commission(int64_t cpa, int64_t amount, int64_t percent_e4, int decimals) {
  // In units of 10^-12: cpa × 10^6 + amount × percent_e4 (amount × p / 100 = amount × p_e4 / 10^6).
  const int64_t num = cpa * 1'000'000 + amount * percent_e4;
  const int64_t unit = Pow10(6 - decimals) * 1'000'000;
  int64_t q = num / unit;
  const int64_t r = num % unit;
  if (2 * r > unit || (2 * r == unit && (q & 1) != 0)) ++q;
  return q * Pow10(6 - decimals);
}

// One keep-alive HTTP/1.1 connection to 127.0.0.1, reopened when the port changes or after any
// error. Unlike the harness's Http() it reuses its connection (the storm sends 50,000 requests)
// and never throws: every request ends in one of three outcomes. Each step has a deadline, so a
// hung server shows up as kNoAnswer rather than a hung test.
class Conn {
 public:
  enum class Outcome {
    kAnswered,  // a whole response arrived
    kRefused,   // no connection: the server never saw the request
    kNoAnswer,  // sent (or maybe sent) without a whole answer: indeterminate
  };

  explicit Conn(milliseconds timeout = milliseconds(30'000)) : timeout_(timeout) {}

  Outcome Send(int port, const std::string& method, const std::string& target,
               const std::map<std::string, std::string>& headers, HttpResult* out) {
    if (stream_ && port != port_) Close();
    beast::error_code ec;
    if (!stream_) {
      stream_.emplace(ioc_);
      stream_->expires_after(milliseconds(5000));
      stream_->async_connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                     static_cast<unsigned short>(port)),
                             [&](beast::error_code e) { ec = e; });
      Run();
      if (ec) {
        Close();
        return Outcome::kRefused;
      }
      port_ = port;
    }
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    req.keep_alive(true);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (method == "POST" || method == "PUT") req.prepare_payload();
    stream_->expires_after(timeout_);
    http::async_write(*stream_, req, [&](beast::error_code e, size_t) { ec = e; });
    Run();
    if (ec) {
      Close();
      return Outcome::kNoAnswer;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::async_read(*stream_, buffer_, parser, [&](beast::error_code e, size_t) { ec = e; });
    Run();
    if (ec) {
      Close();
      return Outcome::kNoAnswer;
    }
    const auto& res = parser.get();
    out->status = res.result_int();
    out->headers.clear();
    for (const auto& f : res) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      out->headers.emplace(name, std::string(f.value()));
    }
    out->body = res.body();
    if (!res.keep_alive()) Close();
    return Outcome::kAnswered;
  }

 private:
  void Run() {
    ioc_.restart();
    ioc_.run();
  }
  void Close() {
    if (stream_) {
      beast::error_code ignored;
      stream_->socket().close(ignored);
    }
    stream_.reset();
    buffer_.clear();
    port_ = 0;
  }

  milliseconds timeout_;
  asio::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  int port_ = 0;
};

std::map<std::string, std::string> AdminHeaders() {
  return {{"Authorization", std::string("Bearer ") + kToken}};
}

// GET on the admin listener through `c`; a missing answer is a test failure.
HttpResult AdminGet(Conn& c, int admin_port, const std::string& target) {
  HttpResult r;
  if (c.Send(admin_port, "GET", target, AdminHeaders(), &r) != Conn::Outcome::kAnswered)
    throw std::runtime_error("no answer to GET " + target);
  return r;
}

// Polls GET /readyz on the public listener until 200; false after `limit`.
bool WaitReady(const Server& s, milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    try {
      if (Http(s.public_port(), "GET", "/readyz").status == 200) return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

// The offer's report row, which must exist.
json::object ReportRow(const Server& s, const std::string& offer) {
  json::object row = OfferReportRow(s, offer);
  INFO("report row of offer " << offer);
  REQUIRE(!row.empty());
  return row;
}

void CheckVerified(const Server& s) {
  HttpResult v = s.Api("GET", "/api/verify");
  INFO(v.body);
  CHECK(v.status == 200);
  CHECK(J(v.body).at("ok").as_bool());
}

// RICOCHET_RELIABILITY_LONG=1: the long crash loop.
bool LongMode() {
  const char* v = std::getenv("RICOCHET_RELIABILITY_LONG");
  return v != nullptr && std::string(v) == "1";
}

// --------------------------------------------------------------------------------------------
// Crash loop

// The crash-loop offer: sale pays 0.10 + 7.5%; the parent (tier 2) 0.05 + 1%. USD.
constexpr char kCrashOffer[] =
    R"({"url":"https://shop.example/?c={click_id}","plan":{"events":{"sale":)"
    R"({"cpa":"0.10","cps_percent":"7.5"}},"tiers":[{"cpa":"0.05","cps_percent":"1"}]}})";
constexpr int64_t kCrashCpa = 100'000, kCrashPct = 75'000;
constexpr int64_t kCrashTierCpa = 50'000, kCrashTierPct = 10'000;
constexpr int kCrashAffiliates = 4;  // c0..c3, each with parent "cp"

// Where the server is now. The killer takes it down and brings it back; workers wait here while
// it is down, so a retry goes to the restarted server instead of spinning on refused connects.
class Target {
 public:
  // Blocks until the server is up; false on abort.
  bool WaitUp(int* public_port, int* admin_port, int* gen) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return up_ || abort_; });
    if (abort_) return false;
    *public_port = public_port_;
    *admin_port = admin_port_;
    *gen = gen_;
    return true;
  }
  // After a failed attempt on generation `gen`: waits for a newer generation, at most `limit`
  // (a failure without a kill, e.g. a timeout, retries on the same server).
  void AfterFailure(int gen, milliseconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, limit, [&] { return abort_ || (up_ && gen_ != gen); });
  }
  // Marks the server down; returns the generation going down.
  int Down() {
    std::lock_guard<std::mutex> lock(mu_);
    up_ = false;
    return gen_;
  }
  void Up(const Server& s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      up_ = true;
      ++gen_;
      public_port_ = s.public_port();
      admin_port_ = s.admin_port();
    }
    cv_.notify_all();
  }
  void Abort() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      abort_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool up_ = false;
  bool abort_ = false;
  int gen_ = 0;
  int public_port_ = 0;
  int admin_port_ = 0;
};

struct PoolClick {
  std::string id;
  int affiliate = 0;
  int gen = 0;           // server generation that answered the redirect
  bool durable = false;  // read back through the admin API before the load began
  Clock::time_point answered;
};

struct Order {
  std::string click_id;
  int affiliate = 0;
  std::string amount;  // as sent, identical on every retry and replay
  int64_t amount_micros = 0;
  std::string conversion_id;     // from its first 200
  bool created_pending = false;  // sent with status=pending
  bool approved = false;         // its current status is approved
};

// Every request is counted once under its outcome: ok (the expected 2xx/3xx), failed (any other
// definite answer) or indeterminate (no answer). `refused` (no connection, so never sent) is
// counted apart from indeterminate.
struct Counters {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> clicks_ok{0}, clicks_failed{0}, clicks_indeterminate{0}, clicks_refused{0};
  std::atomic<int64_t> postbacks_ok{0}, postbacks_failed{0}, postbacks_indeterminate{0},
      postbacks_refused{0};
  std::atomic<int64_t> unavailable{0};  // failed with 503: nothing written, retried
  std::atomic<int64_t> lost_click{0};   // failed with 404 unknown_click: click lost in a crash
  std::atomic<int64_t> lost_click_max_age_ms{0};  // its redirect's age when the server died
  std::atomic<int64_t> retries{0};  // postback attempts after the first, same order id
  std::atomic<int64_t> orders{0}, acked{0}, replays{0}, approvals{0};
  std::atomic<int64_t> in_doubt_created{0};   // no answer, then "created": it had not been made
  std::atomic<int64_t> in_doubt_recorded{0};  // no answer, then "duplicate": it had been made
  std::atomic<int64_t> in_doubt_applied{0};   // approval: no answer, then already approved
};

class CrashLoop {
 public:
  explicit CrashLoop(uint64_t seed) : seed_(seed) {}

  Target target;
  Counters n;
  std::atomic<int> inflight_postbacks{0};
  std::atomic<bool> stop{false};

  void AddDurableClick(const std::string& id, int affiliate) {
    std::lock_guard<std::mutex> lock(mu_);
    durable_.push_back({id, affiliate, 0, true, Clock::now()});
  }

  // The killer: generation `gen` is SIGKILLed now.
  void RecordKill(int gen) {
    std::lock_guard<std::mutex> lock(mu_);
    killed_at_[gen] = Clock::now();
  }

  // One client thread: clicks, new orders (a fifth of them pending), replays of acknowledged
  // orders, and approvals of pending ones.
  void Worker(int w) {
    std::mt19937_64 rng(seed_ * 1000 + static_cast<uint64_t>(w));
    Conn conn(milliseconds(20'000));
    for (int k = 0; !stop.load(); ++k) {
      const int dice = static_cast<int>(rng() % 100);
      const std::string order_id = "w" + std::to_string(w) + "-" + std::to_string(k);
      if (dice < 35) {
        DoClick(conn, rng, w);
      } else if (dice < 75) {
        NewOrder(conn, rng, order_id);
      } else if (dice < 88) {
        if (!Replay(conn, rng)) NewOrder(conn, rng, order_id);
      } else {
        if (!Approve(conn, rng)) NewOrder(conn, rng, order_id);
      }
    }
  }

  // Results, read after the workers have joined.
  const std::map<std::string, Order>& acked_orders() const { return acked_; }
  const std::vector<std::string>& violations() const { return violations_; }

 private:
  void Violation(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    violations_.push_back(what);
  }

  void DoClick(Conn& conn, std::mt19937_64& rng, int w) {
    int pub, adm, gen;
    if (!target.WaitUp(&pub, &adm, &gen)) return;
    int aff = static_cast<int>(rng() % kCrashAffiliates);
    // A few User-Agents per worker: a mix of unique and duplicate clicks.
    std::string ua = "Mozilla/5.0 (X11; Linux x86_64) Reliability/" + std::to_string(w) + "." +
                     std::to_string(rng() % 8);
    HttpResult r;
    ++n.requests;
    Conn::Outcome o =
        conn.Send(pub, "GET", "/c/crash?aff=c" + std::to_string(aff), {{"User-Agent", ua}}, &r);
    if (o != Conn::Outcome::kAnswered) {
      ++(o == Conn::Outcome::kRefused ? n.clicks_refused : n.clicks_indeterminate);
      target.AfterFailure(gen, milliseconds(50));
      return;
    }
    std::string loc = r.header("location");
    size_t at = loc.find("c=");
    if (r.status != 302 || at == std::string::npos) {
      ++n.clicks_failed;
      Violation("click answered " + std::to_string(r.status) + ": " + r.body);
      return;
    }
    ++n.clicks_ok;
    std::lock_guard<std::mutex> lock(mu_);
    PoolClick c{loc.substr(at + 2, 32), aff, gen, false, Clock::now()};
    if (fresh_.size() < 256) {
      fresh_.push_back(std::move(c));
    } else {
      fresh_[rng() % fresh_.size()] = std::move(c);
    }
  }

  PoolClick PickClick(std::mt19937_64& rng) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fresh_.empty() || rng() % 2 == 0) return durable_[rng() % durable_.size()];
    return fresh_[rng() % fresh_.size()];
  }

  // Sends the postback until a definite answer (anything but no answer, refused or 503) from
  // whichever server generation is up. `in_doubt` tells whether an attempt went unanswered, so
  // its effect may already exist. False if the loop was aborted or a minute went by.
  bool SendUntilDefinite(Conn& conn, const std::string& query, HttpResult* out, int* answered_gen,
                         bool* in_doubt) {
    auto deadline = Clock::now() + std::chrono::seconds(60);
    for (int attempt = 0;; ++attempt) {
      int pub, adm, gen;
      if (!target.WaitUp(&pub, &adm, &gen)) return false;
      if (attempt > 0) ++n.retries;
      ++n.requests;
      ++inflight_postbacks;
      Conn::Outcome o = conn.Send(pub, "GET", "/postback?" + query, {}, out);
      --inflight_postbacks;
      if (o == Conn::Outcome::kAnswered) {
        ++(out->status == 200 ? n.postbacks_ok : n.postbacks_failed);
        if (out->status != 503) {
          *answered_gen = gen;
          return true;
        }
        ++n.unavailable;  // nothing was written (contract); an advertiser retries
      } else if (o == Conn::Outcome::kNoAnswer) {
        ++n.postbacks_indeterminate;
        *in_doubt = true;
      } else {
        ++n.postbacks_refused;
      }
      if (Clock::now() > deadline) return false;
      target.AfterFailure(gen, milliseconds(50));
    }
  }

  static std::string Query(const std::string& order_id, const Order& o) {
    return "cid=" + o.click_id + "&order_id=" + order_id + "&amount=" + o.amount;
  }

  void NewOrder(Conn& conn, std::mt19937_64& rng, const std::string& order_id) {
    ++n.orders;
    PoolClick click = PickClick(rng);
    Order o;
    o.click_id = click.id;
    o.affiliate = click.affiliate;
    o.amount_micros = static_cast<int64_t>(100 + rng() % 49'901) * 10'000;  // 1.00 .. 500.00
    o.amount = FormatMicros(o.amount_micros, 2);
    o.created_pending = rng() % 5 == 0;
    o.approved = !o.created_pending;
    HttpResult r;
    int gen = 0;
    bool in_doubt = false;
    if (!SendUntilDefinite(conn, Query(order_id, o) + (o.created_pending ? "&status=pending" : ""),
                           &r, &gen, &in_doubt)) {
      Violation(order_id + ": no definite answer");
      return;
    }
    if (r.status == 200) {
      json::value v = J(r.body);
      std::string result = Str(v, "result");
      if (result == "created") {
        if (in_doubt) ++n.in_doubt_created;
      } else if (result == "duplicate" && in_doubt) {
        ++n.in_doubt_recorded;
      } else {
        Violation(order_id + (in_doubt ? "" : " (first answer)") + ": " + r.body);
        return;
      }
      if (Str(v, "status") != (o.created_pending ? "pending" : "approved"))
        Violation(order_id + ": " + r.body);
      o.conversion_id = Str(v, "conversion_id");
      ++n.acked;
      std::lock_guard<std::mutex> lock(mu_);
      acked_[order_id] = o;
      acked_ids_.push_back(order_id);
      if (o.created_pending) pending_ids_.push_back(order_id);
      return;
    }
    // The only refusal allowed: a click redirected by a server that was killed before its
    // writer stored it. operations.md: a crash loses "clicks still in the queue, not yet written
    // (normally a few milliseconds' worth)"; a second is far beyond that.
    std::string reason;
    try {
      reason = Str(J(r.body), "reason");
    } catch (const std::exception&) {
    }
    if (r.status == 404 && reason == "unknown_click" && !click.durable && click.gen < gen) {
      ++n.lost_click;
      int64_t age;
      {
        std::lock_guard<std::mutex> lock(mu_);
        age = Ms(killed_at_.at(click.gen) - click.answered);
      }
      if (age > n.lost_click_max_age_ms.load()) n.lost_click_max_age_ms = age;
      if (age > 1000) {
        Violation(order_id + ": click " + click.id + " lost by the kill " + std::to_string(age) +
                  " ms after its redirect");
      }
      return;
    }
    Violation(order_id + " on click of generation " + std::to_string(click.gen) +
              " answered by generation " + std::to_string(gen) + ": " + std::to_string(r.status) +
              " " + r.body);
  }

  // An advertiser resending an acknowledged order: always "duplicate" with the first id.
  // False when there is nothing to replay yet.
  bool Replay(Conn& conn, std::mt19937_64& rng) {
    std::string order_id;
    Order o;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (acked_ids_.empty()) return false;
      order_id = acked_ids_[rng() % acked_ids_.size()];
      o = acked_.at(order_id);
    }
    ++n.replays;
    HttpResult r;
    int gen = 0;
    bool in_doubt = false;
    if (!SendUntilDefinite(conn, Query(order_id, o), &r, &gen, &in_doubt)) {
      Violation(order_id + ": replay got no definite answer");
      return true;
    }
    json::value v;
    try {
      v = J(r.body);
    } catch (const std::exception&) {
    }
    if (r.status != 200 || !v.is_object() || Str(v, "result") != "duplicate" ||
        Str(v, "conversion_id") != o.conversion_id) {
      Violation(order_id + ": replay of " + o.conversion_id + " answered " +
                std::to_string(r.status) + " " + r.body);
    }
    return true;
  }

  // The advertiser approving a pending order: "updated" once; after an unanswered attempt a
  // "duplicate" (already approved) is the same outcome. Each pending order is approved by one
  // worker only. False when nothing is pending.
  bool Approve(Conn& conn, std::mt19937_64& rng) {
    std::string order_id;
    Order o;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_ids_.empty()) return false;
      size_t at = rng() % pending_ids_.size();
      order_id = pending_ids_[at];
      pending_ids_[at] = pending_ids_.back();
      pending_ids_.pop_back();
      o = acked_.at(order_id);
    }
    ++n.approvals;
    HttpResult r;
    int gen = 0;
    bool in_doubt = false;
    if (!SendUntilDefinite(conn, Query(order_id, o) + "&status=approved", &r, &gen, &in_doubt)) {
      Violation(order_id + ": approval got no definite answer");
      return true;
    }
    json::value v;
    try {
      v = J(r.body);
    } catch (const std::exception&) {
    }
    const std::string result = v.is_object() ? Str(v, "result") : "";
    if (r.status == 200 && result == "duplicate" && in_doubt) ++n.in_doubt_applied;
    if (r.status != 200 || !(result == "updated" || (result == "duplicate" && in_doubt)) ||
        Str(v, "status") != "approved" || Str(v, "conversion_id") != o.conversion_id) {
      Violation(order_id + ": approval of " + o.conversion_id + " answered " +
                std::to_string(r.status) + " " + r.body);
      return true;
    }
    std::lock_guard<std::mutex> lock(mu_);
    acked_[order_id].approved = true;
    return true;
  }

  const uint64_t seed_;
  std::mutex mu_;
  std::vector<PoolClick> durable_;
  std::vector<PoolClick> fresh_;
  std::map<std::string, Order> acked_;
  std::vector<std::string> acked_ids_;
  std::vector<std::string> pending_ids_;
  std::vector<std::string> violations_;
  std::map<int, Clock::time_point> killed_at_;  // generation -> when it was SIGKILLed
};

}  // namespace

TEST_CASE("crash loop: SIGKILLs under load lose no acknowledged conversion and count none twice",
          "[reliability][crash]") {
  const bool long_mode = LongMode();
  const int kills = long_mode ? 20 : 3;
  const int workers = 6;
  const int min_load_ms = 300, max_load_ms = long_mode ? 2000 : 1000;
  uint64_t seed =
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  if (const char* s = std::getenv("RICOCHET_RELIABILITY_SEED")) seed = std::stoull(s);
  INFO("seed " << seed << " (RICOCHET_RELIABILITY_SEED reproduces the mix, not the kill timing)");
  std::mt19937_64 rng(seed);
  const auto started = Clock::now();

  TempDir dir;
  auto server = std::make_unique<Server>(dir.path());
  server->PutOffer("crash", kCrashOffer);
  server->PutAffiliate("cp", "{}");
  CrashLoop loop(seed);
  for (int a = 0; a < kCrashAffiliates; ++a) {
    std::string aff = "c" + std::to_string(a);
    server->PutAffiliate(aff, R"({"parent":"cp"})");
    std::string cid = Click(*server, "crash", aff);
    REQUIRE(server->Api("GET", "/api/clicks/" + cid).status == 200);  // stored: survives a kill
    loop.AddDurableClick(cid, a);
  }
  loop.target.Up(*server);

  std::vector<int64_t> restart_ms;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back([&loop, w] { loop.Worker(w); });
  try {
    for (int k = 0; k < kills; ++k) {
      std::this_thread::sleep_for(
          milliseconds(min_load_ms + static_cast<int>(rng() % (max_load_ms - min_load_ms))));
      // Kill while postbacks are in flight, so some answers are lost.
      auto wait_until = Clock::now() + milliseconds(500);
      while (loop.inflight_postbacks.load() == 0 && Clock::now() < wait_until) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      loop.RecordKill(loop.target.Down());
      server->Kill();  // SIGKILL, reaped
      const auto t0 = Clock::now();
      server.reset();
      server = std::make_unique<Server>(dir.path());
      bool ready = WaitReady(*server, milliseconds(30'000));
      restart_ms.push_back(Ms(Clock::now() - t0));
      if (!ready) throw std::runtime_error("restart " + std::to_string(k + 1) + " never ready");
      loop.target.Up(*server);
    }
    // The retries of answers lost in the last kill land on the last server; then stop.
    std::this_thread::sleep_for(milliseconds(200));
  } catch (...) {
    loop.target.Abort();
    loop.stop = true;
    for (auto& t : threads) t.join();
    throw;
  }
  loop.stop = true;
  for (auto& t : threads) t.join();
  const int64_t load_ms = Ms(Clock::now() - started);

  const std::vector<std::string>& violations = loop.violations();
  {
    std::string first;
    for (size_t i = 0; i < violations.size() && i < 20; ++i) first += violations[i] + "\n";
    INFO("violations (first 20):\n" << first);
    CHECK(violations.empty());
  }
  const std::map<std::string, Order>& acked = loop.acked_orders();
  const Counters& n = loop.n;
  REQUIRE(n.acked.load() == static_cast<int64_t>(acked.size()));
  REQUIRE(acked.size() > 50);
  CHECK(n.postbacks_indeterminate.load() > 0);  // the kills did cut answers off: retries ran

  // Expected, exactly: per conversion its ledger entries, per affiliate its balances.
  auto tier1 = [](const Order& o) { return Commission(kCrashCpa, o.amount_micros, kCrashPct, 2); };
  auto tier2 = [](const Order& o) {
    return Commission(kCrashTierCpa, o.amount_micros, kCrashTierPct, 2);
  };
  auto entry_key = [](int64_t tier, const std::string& aff, const std::string& kind,
                      const std::string& status, int64_t micros) {
    return std::to_string(tier) + " " + aff + " " + kind + " " + status + " " +
           FormatMicros(micros, 2);
  };
  std::map<std::string, std::multiset<std::string>> expected_entries;   // conversion -> entries
  std::map<std::string, std::pair<int64_t, int64_t>> expected_balance;  // aff -> pending, approved
  int64_t revenue = 0, payout = 0, approved_count = 0, pending_count = 0;
  size_t expected_entry_count = 0;
  for (const auto& [order_id, o] : acked) {
    const std::string aff = "c" + std::to_string(o.affiliate);
    auto& set = expected_entries[o.conversion_id];
    if (!set.empty()) FAIL_CHECK(order_id << " shares conversion " << o.conversion_id);
    const std::string first_status = o.created_pending ? "pending" : "approved";
    set.insert(entry_key(1, aff, "commission", first_status, tier1(o)));
    set.insert(entry_key(2, "cp", "commission", first_status, tier2(o)));
    if (o.created_pending && o.approved) {
      set.insert(entry_key(1, aff, "adjustment", "approved", tier1(o)));
      set.insert(entry_key(2, "cp", "adjustment", "approved", tier2(o)));
    }
    expected_entry_count += set.size();
    auto& b1 = expected_balance[aff];
    auto& b2 = expected_balance["cp"];
    (o.approved ? b1.second : b1.first) += tier1(o);
    (o.approved ? b2.second : b2.first) += tier2(o);
    (o.approved ? approved_count : pending_count) += 1;
    revenue += o.amount_micros;
    payout += tier1(o) + tier2(o);
  }

  // Every acknowledged order survived as acknowledged, and a replay names the same conversion.
  Conn admin, pub;
  int64_t missing = 0, wrong = 0;
  for (const auto& [order_id, o] : acked) {
    HttpResult c = AdminGet(admin, server->admin_port(), "/api/conversions/" + o.conversion_id);
    if (c.status != 200) {
      if (++missing <= 10) UNSCOPED_INFO("missing " << order_id << " " << o.conversion_id);
      continue;
    }
    json::value v = J(c.body);
    const json::array& cm = v.at("commissions").as_array();
    if (Str(v, "order_id") != order_id || Str(v, "amount") != o.amount ||
        Str(v, "status") != (o.approved ? "approved" : "pending") ||
        Str(v, "affiliate") != "c" + std::to_string(o.affiliate) || cm.size() != 2 ||
        Str(cm[0], "amount") != FormatMicros(tier1(o), 2) ||
        Str(cm[1], "amount") != FormatMicros(tier2(o), 2)) {
      if (++wrong <= 10) UNSCOPED_INFO(order_id << " amount " << o.amount << ": " << c.body);
    }
    HttpResult r;
    const std::string replay =
        "/postback?cid=" + o.click_id + "&order_id=" + order_id + "&amount=" + o.amount;
    REQUIRE(pub.Send(server->public_port(), "GET", replay, {}, &r) == Conn::Outcome::kAnswered);
    if (r.status != 200 || Str(J(r.body), "result") != "duplicate" ||
        Str(J(r.body), "conversion_id") != o.conversion_id) {
      if (++wrong <= 10)
        UNSCOPED_INFO("replay of " << order_id << ": " << r.status << " " << r.body);
    }
  }
  CHECK(missing == 0);
  CHECK(wrong == 0);

  // Counted once: the report's total is exactly the acknowledged orders (every in-doubt one was
  // retried to a definite answer, and refusals write nothing).
  json::object row = ReportRow(*server, "crash");
  CHECK(row.at("conversions").as_int64() == static_cast<int64_t>(acked.size()));
  CHECK(row.at("approved").as_int64() == approved_count);
  CHECK(row.at("pending").as_int64() == pending_count);
  CHECK(row.at("rejected").as_int64() == 0);
  CHECK(row.at("revenue").at("USD").as_string() == FormatMicros(revenue, 2));
  CHECK(row.at("payout").at("USD").as_string() == FormatMicros(payout, 2));
  // Clicks: none counted twice (a crash may lose queued ones, so no lower bound but the setup's).
  CHECK(row.at("clicks").as_int64() <=
        kCrashAffiliates + n.clicks_ok.load() + n.clicks_indeterminate.load());
  CHECK(row.at("clicks").as_int64() >= kCrashAffiliates);

  // The ledger: exactly the entries above, each once, and one unbroken chain.
  HttpResult lr = server->Api("GET", "/api/ledger");
  REQUIRE(lr.status == 200);
  const json::value ledger = J(lr.body);
  const json::array& entries = ledger.at("entries").as_array();
  CHECK(entries.size() == expected_entry_count);
  std::map<std::string, std::multiset<std::string>> actual_entries;
  int64_t foreign = 0;
  for (const json::value& e : entries) {
    if (!expected_entries.count(Str(e, "conversion_id")) || Str(e, "currency") != "USD") {
      if (++foreign <= 10) UNSCOPED_INFO("unexpected entry " << json::serialize(e));
      continue;
    }
    actual_entries[Str(e, "conversion_id")].insert(
        entry_key(e.at("tier").as_int64(), Str(e, "affiliate"), Str(e, "kind"), Str(e, "status"),
                  ParseMicros(Str(e, "amount"))));
  }
  CHECK(foreign == 0);
  int64_t mismatched = 0;
  for (const auto& [conv, want] : expected_entries) {
    auto it = actual_entries.find(conv);
    if (it == actual_entries.end() || it->second != want) {
      if (++mismatched <= 10) {
        std::string got;
        if (it != actual_entries.end())
          for (const std::string& s : it->second) got += "[" + s + "]";
        UNSCOPED_INFO("entries of " << conv << ": " << got);
      }
    }
  }
  CHECK(mismatched == 0);
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].at("prev_hash") != entries[i - 1].at("hash")) {
      FAIL_CHECK("chain broken at entry " << i);
      break;
    }
  }

  // Balances to the micro-unit.
  for (const auto& [aff, b] : expected_balance) {
    HttpResult got = server->Api("GET", "/api/balances/" + aff);
    REQUIRE(got.status == 200);
    const json::value usd = J(got.body).at("USD");
    INFO(aff << ": " << got.body);
    CHECK(ParseMicros(Str(usd, "pending")) == b.first);
    CHECK(ParseMicros(Str(usd, "approved")) == b.second);
    CHECK(ParseMicros(Str(usd, "paid")) == 0);
  }
  CheckVerified(*server);

  int64_t max_restart = 0;
  std::string restarts;
  for (int64_t ms : restart_ms) {
    max_restart = std::max(max_restart, ms);
    restarts += (restarts.empty() ? "" : ",") + std::to_string(ms);
    CHECK(ms < 5000);
  }
  CHECK(static_cast<int>(restart_ms.size()) == kills);
  auto ll = [](const std::atomic<int64_t>& v) { return static_cast<long long>(v.load()); };
  std::printf(
      "reliability crash loop (%s, seed %llu): %lld ms, kills=%d, requests=%lld"
      " | clicks ok=%lld failed=%lld indeterminate=%lld refused=%lld"
      " | postbacks ok=%lld failed=%lld (503=%lld, lost-click 404=%lld, max age %lld ms)"
      " indeterminate=%lld refused=%lld retries=%lld"
      " | orders=%lld acked=%lld in-doubt then created=%lld / then duplicate=%lld,"
      " replays=%lld, approvals=%lld (in-doubt then already approved=%lld)"
      " | conversions=%zu ledger entries=%zu | restart_ms=[%s] max_restart_ms=%lld\n",
      long_mode ? "long" : "bounded", static_cast<unsigned long long>(seed),
      static_cast<long long>(load_ms), kills, ll(n.requests), ll(n.clicks_ok), ll(n.clicks_failed),
      ll(n.clicks_indeterminate), ll(n.clicks_refused), ll(n.postbacks_ok), ll(n.postbacks_failed),
      ll(n.unavailable), ll(n.lost_click), ll(n.lost_click_max_age_ms),
      ll(n.postbacks_indeterminate), ll(n.postbacks_refused), ll(n.retries), ll(n.orders),
      ll(n.acked), ll(n.in_doubt_created), ll(n.in_doubt_recorded), ll(n.replays), ll(n.approvals),
      ll(n.in_doubt_applied), acked.size(), entries.size(), restarts.c_str(),
      static_cast<long long>(max_restart));
  std::fflush(stdout);
}

// --------------------------------------------------------------------------------------------
// Duplicate storm

TEST_CASE("duplicate storm: 10,000 order ids from 5 concurrent senders make 10,000 conversions",
          "[reliability][storm]") {
  constexpr int kIds = 10'000, kSenders = 5, kWorkersPerSender = 3, kAffs = 4;
  // KWD: three decimals. sale pays 0.125 + 2.5%, rounded half to even to 0.001.
  constexpr int64_t kCpa = 125'000, kPct = 25'000;
  constexpr int kDecimals = 3;
  const auto started = Clock::now();
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("storm", R"({"url":"https://shop.example/?c={click_id}","currency":"KWD",)"
                      R"("plan":{"events":{"sale":{"cpa":"0.125","cps_percent":"2.5"}}}})");
  std::vector<std::string> clicks;
  for (int a = 0; a < kAffs; ++a) {
    s.PutAffiliate("s" + std::to_string(a), "{}");
    clicks.push_back(Click(s, "storm", "s" + std::to_string(a)));
  }
  auto amount_of = [](int i) {  // 0.001 .. 100.000 KWD, spread so rounding goes both ways
    return static_cast<int64_t>((static_cast<int64_t>(i) * 7919 % 100'000) + 1) * 1'000;
  };
  auto query_of = [&](int i) {
    return "/postback?cid=" + clicks[i % kAffs] + "&order_id=S" + std::to_string(i) +
           "&amount=" + FormatMicros(amount_of(i), 3);
  };

  // Each sender walks the ids in the same order with a few connections, so the five copies of an
  // id arrive together; every answer lands in its own slot.
  struct Answer {
    int status = 0;
    std::string result, conversion_id;
  };
  std::vector<std::array<Answer, kSenders>> answers(kIds);
  std::atomic<int64_t> transport_failures{0};
  std::vector<std::thread> threads;
  const int port = s.public_port();
  for (int sender = 0; sender < kSenders; ++sender) {
    for (int w = 0; w < kWorkersPerSender; ++w) {
      threads.emplace_back([&, sender, w] {
        Conn conn;
        for (int i = w; i < kIds; i += kWorkersPerSender) {
          HttpResult r;
          if (conn.Send(port, "GET", query_of(i), {}, &r) != Conn::Outcome::kAnswered) {
            ++transport_failures;
            continue;
          }
          Answer& a = answers[i][sender];
          a.status = r.status;
          try {
            json::value v = J(r.body);
            a.result = Str(v, "result");
            a.conversion_id = Str(v, "conversion_id");
          } catch (const std::exception&) {
            a.result = "unparsable: " + r.body;
          }
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  const int64_t send_ms = Ms(Clock::now() - started);
  CHECK(transport_failures.load() == 0);

  // Per id: one "created", four "duplicate", one conversion id; ids all distinct.
  std::map<std::string, int> id_of;  // conversion id -> order index
  int64_t bad_ids = 0;
  for (int i = 0; i < kIds; ++i) {
    int created = 0, duplicate = 0;
    bool same = true;
    for (const Answer& a : answers[i]) {
      if (a.status == 200 && a.result == "created") ++created;
      if (a.status == 200 && a.result == "duplicate") ++duplicate;
      same = same && a.conversion_id == answers[i][0].conversion_id;
    }
    bool ok = created == 1 && duplicate == kSenders - 1 && same &&
              !answers[i][0].conversion_id.empty() &&
              id_of.emplace(answers[i][0].conversion_id, i).second;
    if (!ok) {
      ++bad_ids;
      if (bad_ids <= 10) {
        std::string detail;
        for (const Answer& a : answers[i])
          detail += " [" + std::to_string(a.status) + " " + a.result + " " + a.conversion_id + "]";
        UNSCOPED_INFO("S" << i << ":" << detail);
      }
    }
  }
  CHECK(bad_ids == 0);
  CHECK(id_of.size() == static_cast<size_t>(kIds));

  // Exact money and counts.
  std::map<std::string, int64_t> expected;
  int64_t revenue = 0, payout = 0;
  for (int i = 0; i < kIds; ++i) {
    int64_t c = Commission(kCpa, amount_of(i), kPct, kDecimals);
    expected["s" + std::to_string(i % kAffs)] += c;
    revenue += amount_of(i);
    payout += c;
  }
  json::object row = ReportRow(s, "storm");
  CHECK(row.at("conversions").as_int64() == kIds);
  CHECK(row.at("approved").as_int64() == kIds);
  CHECK(row.at("revenue").at("KWD").as_string() == FormatMicros(revenue, kDecimals));
  CHECK(row.at("payout").at("KWD").as_string() == FormatMicros(payout, kDecimals));
  for (const auto& [aff, micros] : expected) {
    HttpResult b = s.Api("GET", "/api/balances/" + aff);
    REQUIRE(b.status == 200);
    INFO(aff << ": " << b.body);
    CHECK(ParseMicros(Str(J(b.body).at("KWD"), "approved")) == micros);
    CHECK(ParseMicros(Str(J(b.body).at("KWD"), "pending")) == 0);
  }

  // The ledger: one commission per conversion, of the exact amount.
  HttpResult lr = s.Api("GET", "/api/ledger");
  REQUIRE(lr.status == 200);
  json::array entries = J(lr.body).at("entries").as_array();
  CHECK(entries.size() == static_cast<size_t>(kIds));
  std::set<std::string> in_ledger;
  int64_t bad_entries = 0;
  for (const json::value& e : entries) {
    auto it = id_of.find(Str(e, "conversion_id"));
    bool ok = it != id_of.end() && in_ledger.insert(it->first).second &&
              Str(e, "kind") == "commission" && e.at("tier").as_int64() == 1 &&
              Str(e, "affiliate") == "s" + std::to_string(it->second % kAffs) &&
              Str(e, "amount") ==
                  FormatMicros(Commission(kCpa, amount_of(it->second), kPct, kDecimals), kDecimals);
    if (!ok && ++bad_entries <= 10) UNSCOPED_INFO("ledger entry " << json::serialize(e));
  }
  CHECK(bad_entries == 0);

  // Every conversion as stored, through the admin API.
  std::vector<std::pair<std::string, int>> all(id_of.begin(), id_of.end());
  std::atomic<int64_t> bad_stored{0};
  std::mutex mu;
  std::vector<std::string> bad_samples;
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      Conn c;
      for (size_t k = static_cast<size_t>(t); k < all.size(); k += 2) {
        const auto& [conv, i] = all[k];
        HttpResult r;
        bool ok = c.Send(s.admin_port(), "GET", "/api/conversions/" + conv, AdminHeaders(), &r) ==
                      Conn::Outcome::kAnswered &&
                  r.status == 200;
        if (ok) {
          json::value v = J(r.body);
          const json::array& cm = v.at("commissions").as_array();
          ok = Str(v, "order_id") == "S" + std::to_string(i) &&
               Str(v, "amount") == FormatMicros(amount_of(i), kDecimals) &&
               Str(v, "currency") == "KWD" && Str(v, "status") == "approved" && cm.size() == 1 &&
               Str(cm[0], "amount") ==
                   FormatMicros(Commission(kCpa, amount_of(i), kPct, kDecimals), kDecimals);
        }
        if (!ok) {
          ++bad_stored;
          std::lock_guard<std::mutex> lock(mu);
          if (bad_samples.size() < 10) bad_samples.push_back(conv + ": " + r.body);
        }
      }
    });
  }
  for (auto& t : readers) t.join();
  for (const std::string& b : bad_samples) UNSCOPED_INFO(b);
  CHECK(bad_stored.load() == 0);
  CheckVerified(s);
  std::printf(
      "reliability duplicate storm: %d ids x %d senders = %d postbacks in %lld ms; "
      "conversions=%lld ledger_entries=%zu payout=%s KWD; checked in %lld ms total\n",
      kIds, kSenders, kIds * kSenders, static_cast<long long>(send_ms),
      static_cast<long long>(row.at("conversions").as_int64()), entries.size(),
      FormatMicros(payout, kDecimals).c_str(), static_cast<long long>(Ms(Clock::now() - started)));
  std::fflush(stdout);
}

// --------------------------------------------------------------------------------------------
// Conflicting replays

namespace {

// Everything a refused replay must leave as it was, as the API writes it.
struct Snapshot {
  std::vector<std::string> bodies;
  bool operator==(const Snapshot& o) const { return bodies == o.bodies; }
};

Snapshot Take(const Server& s, const std::vector<std::string>& conversions) {
  Snapshot snap;
  std::vector<std::string> targets = {
      "/api/ledger", "/api/balances/k1", "/api/balances/kboss",
      "/api/report?from=2000-01-01&to=2100-01-01&group_by=offer,affiliate", "/api/verify"};
  for (const std::string& c : conversions) targets.push_back("/api/conversions/" + c);
  for (const std::string& t : targets) {
    HttpResult r = s.Api("GET", t);
    snap.bodies.push_back(t + " " + std::to_string(r.status) + " " + r.body);
  }
  return snap;
}

}  // namespace

TEST_CASE("conflicting replays answer 409 conflict and leave the ledger byte-identical",
          "[reliability][conflict]") {
  TempDir dir;
  auto s = std::make_unique<Server>(dir.path());
  s->PutOffer("k", R"({"url":"https://shop.example/?c={click_id}","plan":{"events":{)"
                   R"("sale":{"cpa":"1.00","cps_percent":"12.5"},"lead":{"cpa":"0.50"}},)"
                   R"("tiers":[{"cps_percent":"2"}]}})");
  s->PutAffiliate("kboss", "{}");
  s->PutAffiliate("k1", R"({"parent":"kboss"})");
  const std::string cid = Click(*s, "k", "k1");
  auto post = [&](const std::string& q) { return Postback(*s, "cid=" + cid + "&" + q); };
  auto conversion_of = [](const HttpResult& r) { return Str(J(r.body), "conversion_id"); };

  HttpResult r = post("order_id=A&amount=19.99");  // approved
  REQUIRE(r.status == 200);
  const std::string a = conversion_of(r);
  r = post("order_id=P&amount=5&status=pending");
  REQUIRE(r.status == 200);
  const std::string p = conversion_of(r);
  r = post("order_id=L&event=lead");  // no amount
  REQUIRE(r.status == 200);
  const std::string l = conversion_of(r);
  const std::vector<std::string> convs = {a, p, l};
  const Snapshot before = Take(*s, convs);
  const size_t entries_before =
      J(s->Api("GET", "/api/ledger").body).at("entries").as_array().size();
  REQUIRE(entries_before >= 4);  // A and P: tier 1 and tier 2 each; L: its lead cpa

  struct Replay {
    std::string query;
    std::string conversion;
  };
  // A different amount is a conflict, even when it would also be an allowed status change
  // (approved -> reversed, pending -> approved): the change is refused whole.
  const std::vector<Replay> conflicts = {
      {"order_id=A&amount=20", a},
      {"order_id=A&amount=19.98", a},
      {"order_id=A&amount=19.990001", a},
      {"order_id=A&amount=0", a},
      {"order_id=A&amount=1999", a},
      {"order_id=A&amount=25&status=reversed", a},
      {"order_id=P&amount=6&status=approved", p},
      {"order_id=P&amount=5.01&status=rejected", p},
      {"order_id=L&event=lead&amount=0.50", l},  // recorded without an amount
  };
  for (const Replay& c : conflicts) {
    INFO(c.query);
    r = post(c.query);
    CHECK(r.status == 409);
    CHECK(Str(J(r.body), "reason") == "conflict");
    CHECK(conversion_of(r) == c.conversion);
    CHECK(Take(*s, convs) == before);
  }
  // Not conflicts, and no writes either: the same amount spelled otherwise is a duplicate; a
  // different currency is refused before the key is looked at (the offer's currency is the only
  // one accepted, so it never reaches the conflict check).
  r = post("order_id=A&amount=19.990000");
  CHECK(r.status == 200);
  CHECK(Str(J(r.body), "result") == "duplicate");
  r = post("order_id=A&amount=19.99&currency=EUR");
  CHECK(r.status == 400);
  CHECK(Str(J(r.body), "reason") == "bad_currency");
  CHECK(Take(*s, convs) == before);

  // Concurrent first sends of one new order with eight different amounts: exactly one is
  // created, the other seven are conflicts naming it, and the ledger gains exactly its entries.
  constexpr int kRacers = 8;
  std::vector<HttpResult> race(kRacers);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kRacers; ++t) {
    threads.emplace_back([&, t] {
      ++ready;
      while (ready.load() < kRacers) std::this_thread::yield();
      try {
        race[t] = post("order_id=RACE&amount=" + std::to_string(10 + t));
      } catch (const std::exception& e) {
        race[t].body = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  int created = 0, conflict = 0, winner = -1;
  std::string race_id;
  for (int t = 0; t < kRacers; ++t) {
    INFO(race[t].status << " " << race[t].body);
    if (race[t].status == 200 && Str(J(race[t].body), "result") == "created") {
      ++created;
      winner = t;
      race_id = conversion_of(race[t]);
    }
  }
  REQUIRE(created == 1);
  for (int t = 0; t < kRacers; ++t) {
    if (t == winner) continue;
    INFO(race[t].status << " " << race[t].body);
    CHECK(race[t].status == 409);
    CHECK(Str(J(race[t].body), "reason") == "conflict");
    CHECK(conversion_of(race[t]) == race_id);
    ++conflict;
  }
  CHECK(conflict == kRacers - 1);
  HttpResult stored = s->Api("GET", "/api/conversions/" + race_id);
  CHECK(Str(J(stored.body), "amount") == std::to_string(10 + winner) + ".00");
  json::array entries = J(s->Api("GET", "/api/ledger").body).at("entries").as_array();
  REQUIRE(entries.size() == entries_before + 2);  // tier 1 and tier 2 of the winner
  const json::value& tier1 = entries[entries_before];
  const json::value& tier2 = entries[entries_before + 1];
  CHECK(Str(tier1, "conversion_id") == race_id);
  CHECK(Str(tier2, "conversion_id") == race_id);
  // 1.00 + 12.5% of (10 + winner), and 2% of it for the parent.
  const int64_t winner_amount = (10 + winner) * int64_t{1'000'000};
  CHECK(ParseMicros(Str(tier1, "amount")) == Commission(1'000'000, winner_amount, 125'000, 2));
  CHECK(ParseMicros(Str(tier2, "amount")) == Commission(0, winner_amount, 20'000, 2));

  // After a SIGKILL and restart: the same bytes, and conflicts still change nothing.
  const std::vector<std::string> all = {a, p, l, race_id};
  const Snapshot settled = Take(*s, all);
  s->Kill();
  s.reset();
  s = std::make_unique<Server>(dir.path());
  REQUIRE(WaitReady(*s, milliseconds(10'000)));
  CHECK(Take(*s, all) == settled);
  for (const Replay& c : conflicts) {
    INFO(c.query);
    r = post(c.query);
    CHECK(r.status == 409);
    CHECK(Str(J(r.body), "reason") == "conflict");
  }
  r = post("order_id=RACE&amount=" + std::to_string(10 + (winner + 1) % kRacers));
  CHECK(r.status == 409);
  CHECK(conversion_of(r) == race_id);
  CHECK(Take(*s, all) == settled);
  CheckVerified(*s);
}

}  // namespace ricochet::testing
