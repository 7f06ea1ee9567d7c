// Hostile HTTP and security corpus against the real server on 127.0.0.1, asserting on raw bytes:
// request smuggling and framing, slow clients, the method and route table, open redirects,
// header injection, postback forgery, SSRF on outgoing postbacks, X-Forwarded-For trust and the
// admin token. It extends http_framing_test.cc, outbox_test.cc and server_test.cc (smuggling,
// SSRF at PUT, CR/LF in sub1, the token on a few routes) without repeating their cases.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/value.hpp"
#include "catch2/catch.hpp"
#include "engine/click_id.h"
#include "harness.h"
#include "receiver.h"

namespace ricochet::testing {
namespace json = boost::json;
namespace {

using Clock = std::chrono::steady_clock;

json::value J(const std::string& s) { return json::parse(s); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// RFC 3986 percent-encoding as the contract states it (unreserved stay, all else %XX uppercase);
// written here independently of engine/src/url.cc.
std::string Enc(const std::string& v) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool IsClickIdChars(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of(
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789-_") == std::string::npos;
}

// One HTTP response cut out of a raw byte stream.
struct Answer {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> fields;  // in order, names lower-cased
  std::string body;
  std::string problem;  // why the bytes are not a well-formed response, or empty

  std::string Field(const std::string& name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return v;
    }
    return "<absent>";
  }
  size_t Count(const std::string& name) const {
    size_t n = 0;
    for (const auto& f : fields) n += f.first == name;
    return n;
  }
  // The header names, lower-cased and sorted.
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& f : fields) names.push_back(f.first);
    std::sort(names.begin(), names.end());
    return names;
  }
};

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Splits `raw` into responses. Every header line must be `token ":" value` with no control byte
// but HTAB (so a CR or LF smuggled into a value shows as a problem or as an extra line). A
// response to HEAD (`head`) has no body whatever its Content-Length says.
std::vector<Answer> SplitAnswers(std::string raw, bool head = false) {
  std::vector<Answer> out;
  while (!raw.empty()) {
    Answer a;
    size_t end = raw.find("\r\n\r\n");
    if (end == std::string::npos) {
      a.problem = "truncated head";
      out.push_back(std::move(a));
      break;
    }
    std::string block = raw.substr(0, end + 2);
    raw.erase(0, end + 4);
    std::vector<std::string> lines;
    for (size_t pos = 0; pos < block.size();) {
      size_t crlf = block.find("\r\n", pos);
      lines.push_back(block.substr(pos, crlf - pos));
      pos = crlf + 2;
    }
    const std::string& status_line = lines[0];
    if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0 ||
        status_line[8] != ' ') {
      a.problem = "bad status line: " + status_line;
    } else {
      a.version = status_line.substr(0, 8);
      a.status = std::atoi(status_line.substr(9, 3).c_str());
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      const std::string& line = lines[i];
      for (unsigned char c : line) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) a.problem = "control byte in: " + line;
      }
      size_t colon = line.find(':');
      if (colon == std::string::npos || colon == 0 ||
          line.substr(0, colon).find_first_of(" \t\"(),/;<=>?@[\\]{}") != std::string::npos) {
        a.problem = "not a header line: " + line;
        continue;
      }
      std::string value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
      a.fields.emplace_back(Lower(line.substr(0, colon)), value);
    }
    size_t length = 0;
    std::string cl = a.Field("content-length");
    if (!head && cl != "<absent>") length = std::stoul(cl);
    if (raw.size() < length) {
      a.problem = "truncated body";
      length = raw.size();
    }
    a.body = raw.substr(0, length);
    raw.erase(0, length);
    out.push_back(std::move(a));
  }
  return out;
}

// The single answer of a one-request exchange.
Answer One(const std::string& raw, bool head = false) {
  std::vector<Answer> answers = SplitAnswers(raw, head);
  INFO(raw);
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].problem.empty());
  return answers[0];
}

std::string Tail(const std::string& s, size_t n) {
  return s.size() < n ? s : s.substr(s.size() - n);
}

std::string WithNul(const std::string& a, const std::string& b) { return a + '\0' + b; }

// A client socket driven by hand: connect, send some bytes, read what has come.
class RawConn {
 public:
  explicit RawConn(int port) {
    fd_ = ConnectLoopback(port);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~RawConn() { ::close(fd_); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  void Send(const std::string& bytes) {
    if (closed_) return;
    if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
      Drain();  // a reset shows up as a close
  }
  // Reads whatever has arrived, without waiting. Returns true once the peer has closed.
  bool Drain() {
    char buf[4096];
    while (!closed_) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        received_.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        closed_ = true;
      } else {
        break;
      }
    }
    return closed_;
  }
  const std::string& received() const { return received_; }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  std::string received_;
  bool closed_ = false;
};

// One request on its own connection with Connection: close; the whole answer stream.
std::string Exchange(int port, const std::string& method, const std::string& target,
                     const std::string& extra_headers = "") {
  return RawExchange(port,
                     method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + extra_headers +
                         "Connection: close\r\n\r\n",
                     3000);
}

std::string Bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }

const std::string kAuth = Bearer(kToken);

}  // namespace

// ---------------------------------------------------------------------------------------------
// 1. Framing: every case is followed on the same connection by a smuggled click; exactly one
// answer comes back, with the exact status and JSON reason, and the connection is closed.

TEST_CASE("framing corpus: one exact 4xx, JSON reason, close; the smuggled request is never read",
          "[security][http]") {
  TempDir dir;
  Server s(dir.path(),
           {"--max-header-bytes", "2048", "--max-body-bytes", "1024", "--header-timeout-s", "3"});
  s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}"})");
  s.PutAffiliate("a", "{}");
  const std::string smuggled =
      "GET /c/o?aff=a&sub1=smuggled HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
  const std::string post = "POST /postback HTTP/1.1\r\nHost: x\r\n";
  struct Case {
    const char* name;
    std::string request;
    int status;
    const char* reason;
  };
  const std::vector<Case> cases = {
      // Transfer-Encoding whose final coding is not chunked (once).
      {"TE identity", post + "Transfer-Encoding: identity\r\n\r\n", 400, "bad_transfer_encoding"},
      {"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400,
       "bad_transfer_encoding"},
      {"TE chunked twice in one line",
       post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400, "bad_transfer_encoding"},
      {"TE chunked twice in two lines",  // Beast's own refusal
       post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "malformed_request"},
      {"TE on HTTP/1.0",
       "POST /postback HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "bad_transfer_encoding"},
      {"TE with space before the colon", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400,
       "malformed_request"},
      {"TE folded onto a second line",
       post + "Transfer-Encoding: gzip\r\n chunked\r\n\r\n0\r\n\r\n", 400, "obs_fold"},
      // Beast used to unfold this to "chunked" and read a chunked body.
      {"TE value only on a folded line", post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
       400, "obs_fold"},
      // Transfer-Encoding beside Content-Length (Beast refuses it before our own check).
      {"TE then CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n", 400,
       "malformed_request"},
      {"TE and CL on HTTP/1.0",
       "POST /postback HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", 400,
       "malformed_request"},
      // Content-Length said twice or said badly.
      {"two equal CL lines", post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400,
       "duplicate_content_length"},
      {"two different CL lines", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400,
       "malformed_request"},
      {"CL list in one line", post + "Content-Length: 3, 3\r\n\r\nabc", 400,
       "duplicate_content_length"},
      {"CL with a sign", post + "Content-Length: +3\r\n\r\nabc", 400, "malformed_request"},
      {"CL negative", post + "Content-Length: -1\r\n\r\n", 400, "malformed_request"},
      {"CL in hex", post + "Content-Length: 0x3\r\n\r\nabc", 400, "malformed_request"},
      {"CL past 2^64", post + "Content-Length: 99999999999999999999999\r\n\r\n", 400,
       "malformed_request"},
      // Host.
      {"no Host on a POST", "POST /postback HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400,
       "missing_host"},
      {"Host twice, different case", "GET /healthz HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400,
       "duplicate_host"},
      {"Host twice on HTTP/1.0", "GET /healthz HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400,
       "duplicate_host"},
      // Obsolete line folding (RFC 9112 5.2): a proxy in front may read the folded line as a
      // header of its own.
      {"obs-fold with SP", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400,
       "obs_fold"},
      {"obs-fold with HTAB", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tHost: y\r\n\r\n", 400,
       "obs_fold"},
      {"whitespace before the first header", "GET /healthz HTTP/1.1\r\n Host: y\r\nHost: x\r\n\r\n",
       400, "obs_fold"},
      // Line endings other than CRLF.
      {"bare LF everywhere", "GET /healthz HTTP/1.1\nHost: x\n\n", 400, "bad_line_ending"},
      {"one bare LF", "GET /healthz HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400, "bad_line_ending"},
      {"bare LF ends the head", "GET /healthz HTTP/1.1\r\nHost: x\r\n\n", 400, "bad_line_ending"},
      {"bare CR", "GET /healthz HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n", 400, "bad_line_ending"},
      // Limits.
      {"request line over the header limit",
       "GET /c/o?aff=a&sub1=" + std::string(3000, 'u') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414,
       "uri_too_long"},
      {"many small headers over the limit",
       [] {
         std::string r = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
         for (int i = 0; i < 100; ++i)
           r += "X-H" + std::to_string(i) + ": " + std::string(20, 'v') + "\r\n";
         return r + "\r\n";
       }(),
       431, "header_too_large"},
      {"declared body over the limit", post + "Content-Length: 5000\r\n\r\n", 413,
       "body_too_large"},
      {"chunked body over the limit",
       post + "Transfer-Encoding: chunked\r\n\r\n800\r\n" + std::string(2048, 'b') +
           "\r\n0\r\n\r\n",
       413, "body_too_large"},
      // A body where none is allowed.
      {"chunked body on GET",
       "GET /c/o?aff=a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "body_not_allowed"},
      {"body on HEAD", "HEAD /c/o?aff=a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde", 400,
       "body_not_allowed"},
      // Bytes that are not HTTP.
      {"NUL in a header value", WithNul("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a", "b\r\n\r\n"),
       400, "malformed_request"},
      {"NUL in the target", WithNul("GET /healthz", " HTTP/1.1\r\nHost: x\r\n\r\n"), 400,
       "malformed_request"},
      {"HTTP/2.0 request line", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 400,
       "malformed_request"},
      {"bad chunk size", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", 400,
       "malformed_request"},
  };
  for (const Case& c : cases) {
    for (int port : {s.public_port(), s.admin_port()}) {
      INFO(c.name << (port == s.public_port() ? " (public)" : " (admin)"));
      bool closed = false;
      const auto start = Clock::now();
      std::string raw = RawExchange(port, c.request + smuggled, 5000, &closed);
      INFO(raw);
      CHECK(closed);
      // Refused on sight, not at the 3 s request deadline.
      CHECK(Clock::now() - start < std::chrono::milliseconds(1500));
      std::vector<Answer> answers = SplitAnswers(raw);
      CHECK(answers.size() == 1);  // the smuggled request got no answer
      if (answers.empty()) continue;
      const Answer& a = answers[0];
      CHECK(a.problem.empty());
      CHECK(a.version == "HTTP/1.1");
      CHECK(a.status == c.status);
      CHECK(a.body == std::string("{\"reason\":\"") + c.reason + "\"}");
      CHECK(a.Field("content-type") == "application/json");
      CHECK(a.Field("connection") == "close");
    }
  }

  // Near misses that are legal are answered, and the next request on the connection too.
  const std::string next =
      "GET /c/o?aff=a&sub1=control HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n"
      "Connection: close\r\n\r\n";
  const std::vector<std::pair<std::string, int>> legal = {
      {"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 200},
      {post + "Transfer-Encoding: chunked\r\n\r\n5\r\ncid=x\r\n0\r\n\r\n", 400},  // bad_click_id
      {post + "Content-Length: 5\r\n\r\ncid=x", 400},
      {"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A:\ta\t\r\n\r\n", 200},
      {"GET /c/o?aff=a&sub1=control&sub2=" + std::string(1900, 'u') +
           " HTTP/1.1\r\nHost: x\r\n\r\n",
       302},
  };
  for (const auto& [request, status] : legal) {
    INFO(request.substr(0, 80));
    std::vector<Answer> answers = SplitAnswers(RawExchange(s.public_port(), request + next, 3000));
    REQUIRE(answers.size() == 2);
    CHECK(answers[0].status == status);
    CHECK(answers[1].status == 302);
  }
  // HTTP/1.0 without Host is fine, and closes after its answer.
  std::vector<Answer> old =
      SplitAnswers(RawExchange(s.public_port(), "GET /healthz HTTP/1.0\r\n\r\n" + smuggled, 3000));
  REQUIRE(old.size() == 1);
  CHECK(old[0].status == 200);

  // The clicks read (the controls) are counted; the smuggled ones were never parsed.
  std::string cid = Click(s, "o", "a");
  REQUIRE(s.Api("GET", "/api/clicks/" + cid).status == 200);  // flushes the click writer
  HttpResult report = s.Api("GET", "/api/report?from=2000-01-01&to=2100-01-01&group_by=sub1");
  REQUIRE(report.status == 200);
  int64_t control = -1;
  const json::value rows = J(report.body).at("rows");
  for (const json::value& row : rows.as_array()) {
    CHECK(row.at("sub1").as_string() != "smuggled");
    if (row.at("sub1").as_string() == "control") control = row.at("clicks").as_int64();
  }
  CHECK(control == 6);  // five follow-ups and the 1900-byte line
}

// ---------------------------------------------------------------------------------------------
// 2. Slow clients: trickled heads and bodies are cut at the request deadline with a 408, silent
// connections at the idle deadline, while other clients keep getting answers.

TEST_CASE("slowloris and slow bodies are cut at the deadline; others are served meanwhile",
          "[security][http][slow]") {
  TempDir dir;
  Server s(dir.path(), {"--header-timeout-s", "1", "--idle-timeout-s", "2"});
  s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}"})");
  s.PutAffiliate("a", "{}");
  enum Kind { kSlowHead, kSlowBody, kSilent };
  struct Attacker {
    Kind kind;
    std::unique_ptr<RawConn> conn;
    Clock::time_point closed_at{};
  };
  std::vector<Attacker> attackers;
  auto add = [&](Kind kind, int port, int n) {
    for (int i = 0; i < n; ++i) attackers.push_back({kind, std::make_unique<RawConn>(port)});
  };
  add(kSlowHead, s.public_port(), 6);
  add(kSlowHead, s.admin_port(), 2);
  add(kSlowBody, s.public_port(), 3);
  add(kSlowBody, s.admin_port(), 1);
  add(kSilent, s.public_port(), 2);
  const auto start = Clock::now();
  for (Attacker& a : attackers) {
    if (a.kind == kSlowHead) a.conn->Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    if (a.kind == kSlowBody) {
      a.conn->Send(
          "POST /postback HTTP/1.1\r\nHost: x\r\nContent-Type: "
          "application/x-www-form-urlencoded\r\n"
          "Content-Length: 500\r\n\r\n");
    }
  }
  // One byte every 100 ms on every slow connection, until each is closed (or 6 s).
  std::thread attack([&] {
    while (Clock::now() - start < std::chrono::seconds(6)) {
      bool all_closed = true;
      for (Attacker& a : attackers) {
        if (a.conn->closed()) continue;
        if (a.kind != kSilent) a.conn->Send("a");
        if (a.conn->Drain()) {
          a.closed_at = Clock::now();
        } else {
          all_closed = false;
        }
      }
      if (all_closed) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // Meanwhile, legitimate clients on both listeners.
  int answered = 0, during_attack = 0;
  auto worst = std::chrono::milliseconds(0);
  while (Clock::now() - start < std::chrono::milliseconds(1500)) {
    for (const auto& [port, target] :
         std::vector<std::pair<int, std::string>>{{s.public_port(), "/healthz"},
                                                  {s.public_port(), "/c/o?aff=a"},
                                                  {s.admin_port(), "/healthz"}}) {
      const auto t0 = Clock::now();
      std::vector<Answer> a = SplitAnswers(Exchange(port, "GET", target));
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
      worst = std::max(worst, took);
      if (a.size() == 1 && (a[0].status == 200 || a[0].status == 302)) {
        ++answered;
        if (Clock::now() - start < std::chrono::milliseconds(900)) ++during_attack;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  attack.join();
  INFO("answered " << answered << ", worst " << worst.count() << " ms");
  CHECK(answered >= 15);
  CHECK(during_attack >= 6);  // before any attacker had been cut off
  CHECK(worst < std::chrono::milliseconds(800));
  for (size_t i = 0; i < attackers.size(); ++i) {
    const Attacker& a = attackers[i];
    INFO("attacker " << i << " kind " << a.kind << ": " << a.conn->received());
    REQUIRE(a.conn->closed());
    const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(a.closed_at - start);
    INFO("closed after " << after.count() << " ms");
    if (a.kind == kSilent) {
      CHECK(a.conn->received().empty());  // nothing to answer: closed without a response
      CHECK(after >= std::chrono::milliseconds(1800));
      CHECK(after <= std::chrono::milliseconds(3500));
    } else {
      std::vector<Answer> answers = SplitAnswers(a.conn->received());
      REQUIRE(answers.size() == 1);
      CHECK(answers[0].status == 408);
      CHECK(answers[0].body == R"({"reason":"request_timeout"})");
      CHECK(answers[0].Field("connection") == "close");
      CHECK(after >= std::chrono::milliseconds(900));
      CHECK(after <= std::chrono::milliseconds(2500));
    }
  }
  // The sessions are gone, not just answered.
  CHECK(Eventually([&] {
    HttpResult m = Http(s.admin_port(), "GET", "/metrics");
    return m.body.find("ricochet_open_connections{listener=\"public\"} 0\n") != std::string::npos;
  }));
}

// ---------------------------------------------------------------------------------------------
// 3. Methods and routes: 405 with the contract's Allow on every route, 404 elsewhere, never 5xx.

TEST_CASE("method and route table on both listeners: 405 with Allow, 404, never 5xx",
          "[security][http]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}"})");
  s.PutAffiliate("a", "{}");
  const std::vector<std::string> methods = {"GET",     "HEAD",  "POST",    "PUT",
                                            "DELETE",  "PATCH", "OPTIONS", "TRACE",
                                            "CONNECT", "FOO",   "get",     "M-SEARCH"};
  struct Route {
    int port;
    std::string target;
    std::vector<std::string> allowed;
    std::string allow;  // the Allow header of a 405
    std::string auth;
  };
  const int pub = s.public_port(), adm = s.admin_port();
  const std::vector<Route> routes = {
      {pub, "/c/o?aff=a", {"GET", "HEAD"}, "GET, HEAD", ""},
      {pub, "/c/unknown", {"GET", "HEAD"}, "GET, HEAD", ""},
      {pub, "/postback?cid=x", {"GET", "POST"}, "GET, POST", ""},
      {pub, "/p.gif?offer_id=o", {"GET"}, "GET", ""},
      {pub, "/healthz", {"GET", "HEAD"}, "GET, HEAD", ""},
      {pub, "/readyz", {"GET", "HEAD"}, "GET, HEAD", ""},
      {adm, "/healthz", {"GET", "HEAD"}, "GET, HEAD", ""},
      {adm, "/readyz", {"GET", "HEAD"}, "GET, HEAD", ""},
      {adm, "/metrics", {"GET"}, "GET", ""},
      {adm, "/api/offers", {"GET"}, "GET", kAuth},
      {adm, "/api/offers/o", {"GET", "PUT"}, "GET, PUT", kAuth},
      {adm, "/api/affiliates", {"GET"}, "GET", kAuth},
      {adm, "/api/affiliates/a", {"GET", "PUT"}, "GET, PUT", kAuth},
      {adm, "/api/clicks/x", {"GET"}, "GET", kAuth},
      {adm, "/api/conversions/x", {"GET"}, "GET", kAuth},
      {adm, "/api/conversions/x/status", {"POST"}, "POST", kAuth},
      {adm, "/api/ledger", {"GET"}, "GET", kAuth},
      {adm, "/api/balances/a", {"GET"}, "GET", kAuth},
      {adm, "/api/payouts", {"GET", "POST"}, "GET, POST", kAuth},
      {adm, "/api/payouts/x", {"GET"}, "GET", kAuth},
      {adm, "/api/outbox", {"GET"}, "GET", kAuth},
      {adm, "/api/outbox/x", {"GET"}, "GET", kAuth},
      {adm, "/api/outbox/x/retry", {"POST"}, "POST", kAuth},
      {adm, "/api/backup", {"POST"}, "POST", kAuth},
      {adm, "/api/stats", {"GET"}, "GET", kAuth},
      {adm, "/api/verify", {"GET", "POST"}, "GET, POST", kAuth},
      {adm, "/api/report", {"GET"}, "GET", kAuth},
  };
  auto ask = [](int port, const std::string& method, const std::string& target,
                const std::string& auth) {
    std::string raw = RawExchange(port,
                                  method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + auth +
                                      "Content-Length: 0\r\nConnection: close\r\n\r\n",
                                  3000);
    std::vector<Answer> a = SplitAnswers(raw, method == "HEAD");
    INFO(raw);
    REQUIRE(a.size() == 1);
    CHECK(a[0].problem.empty());
    CHECK(a[0].status > 0);
    CHECK(a[0].status < 500);
    return a[0];
  };
  int refused = 0;
  for (const Route& r : routes) {
    for (const std::string& m : methods) {
      if (std::find(r.allowed.begin(), r.allowed.end(), m) != r.allowed.end()) continue;
      INFO(m << " " << r.target << " on " << (r.port == pub ? "public" : "admin"));
      Answer a = ask(r.port, m, r.target, r.auth);
      CHECK(a.status == 405);
      CHECK(a.Field("allow") == r.allow);
      if (m != "HEAD") CHECK(a.body == R"({"reason":"method_not_allowed"})");
      ++refused;
    }
  }
  CHECK(refused > 200);
  // Routes that do not exist, whatever the method (the admin API ones with a valid token).
  const std::vector<std::pair<int, std::string>> unknown = {
      {pub, "/"},
      {pub, "/c"},
      {pub, "/c/"},
      {pub, "/index.html"},
      {pub, "/api/offers"},
      {pub, "/metrics"},
      {pub, "/postback/"},
      {pub, "/p.gif/x"},
      {pub, "/P.GIF"},
      {pub, "/healthz/"},
      {pub, "//c/o"},
      {pub, "*"},
      {pub, "/%63/o"},
      {pub, "/..%2fapi/offers"},
      {adm, "/"},
      {adm, "/c/o"},
      {adm, "/postback"},
      {adm, "/p.gif"},
      {adm, "/metrics/"},
      {adm, "/api/nope"},
      {adm, "/api/offers/o/x"},
      {adm, "/apix"},
  };
  for (const auto& [port, target] : unknown) {
    for (const char* m : {"GET", "POST", "PUT", "DELETE", "OPTIONS", "FOO"}) {
      INFO(m << " " << target << " on " << (port == pub ? "public" : "admin"));
      Answer a = ask(port, m, target, port == adm ? kAuth : "");
      CHECK(a.status == 404);
      CHECK(a.Field("content-type") == "application/json");
    }
  }
  // Nothing above was a PUT that took effect.
  CHECK(J(s.Api("GET", "/api/offers").body).at("offers").as_array().size() == 1);
}

// ---------------------------------------------------------------------------------------------
// 4. Open redirects: whatever the request says, Location is the configured URL with the macros
// percent-encoded, or the fallback URL.

TEST_CASE("open redirect corpus: Location is always the configured destination or fallback",
          "[security][click]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer(
      "o",
      R"({"url":"https://shop.example/lp?c={click_id}&s1={sub1}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}&src={source}&a={aff_id}",
                      "fallback_url":"https://fallback.example/fb?s1={sub1}&a={aff_id}&c={click_id}"})");
  s.PutOffer("paused", R"({"url":"https://shop.example/p?c={click_id}","status":"paused",
                           "fallback_url":"https://fallback.example/pf?s1={sub1}&c={click_id}"})");
  s.PutOffer("nofb", R"({"url":"https://shop.example/n?c={click_id}"})");
  s.PutAffiliate("a", "{}");
  const std::vector<std::string> payloads = {"//evil.com",
                                             "/\\evil.com",
                                             "\\\\evil.com",
                                             "https:evil.com",
                                             "https://evil.com",
                                             "javascript:alert(1)",
                                             "user@evil.com",
                                             "https://shop.example@evil.com/",
                                             "//evil.com/%2F..",
                                             "%2F%2Fevil.com",
                                             "%5Cevil.com",
                                             "\r\nLocation: https://evil.com",
                                             "data:text/html,<script>alert(1)</script>",
                                             "/%09/evil.com"};
  // `loc` must be exactly prefix + a click id + after_cid.
  auto check_location = [](const std::string& loc, const std::string& prefix,
                           const std::string& after_cid) {
    INFO(loc);
    REQUIRE(loc.rfind(prefix, 0) == 0);
    std::string cid = loc.substr(prefix.size(), 32);
    CHECK(IsClickIdChars(cid));
    CHECK(loc == prefix + cid + after_cid);
  };
  const std::vector<std::string> destination_params = {
      "url",  "redir_url", "dest",     "redirect", "redirect_uri", "return_url", "next",
      "goto", "to",        "location", "u",        "fallback_url", "offer_url"};
  int redirects = 0;
  for (const std::string& p : payloads) {
    INFO("payload " << p);
    const std::string e = Enc(p);
    const std::string subs =
        "sub1=" + e + "&sub2=" + e + "&sub3=" + e + "&sub4=" + e + "&sub5=" + e + "&source=" + e;
    const std::string expect_subs =
        "&s1=" + e + "&s2=" + e + "&s3=" + e + "&s4=" + e + "&s5=" + e + "&src=" + e;
    for (const std::string method : {"GET", "HEAD"}) {
      INFO(method);
      const bool head = method == "HEAD";
      // In the macros: on the attributable path and on both fallback paths.
      Answer a =
          One(Exchange(s.public_port(), method, "/c/o?aff=a&" + subs, "User-Agent: t\r\n"), head);
      REQUIRE(a.status == 302);
      CHECK(a.Count("location") == 1);
      check_location(a.Field("location"), "https://shop.example/lp?c=", expect_subs + "&a=a");
      Answer fb =
          One(Exchange(s.public_port(), method, "/c/o?aff=" + e + "&" + subs, "User-Agent: t\r\n"),
              head);
      REQUIRE(fb.status == 302);
      const std::string fb_loc = fb.Field("location");
      CHECK(IsClickIdChars(Tail(fb_loc, 32)));
      CHECK(fb_loc == "https://fallback.example/fb?s1=" + e + "&a=" + e + "&c=" + Tail(fb_loc, 32));
      Answer paused = One(
          Exchange(s.public_port(), method, "/c/paused?aff=a&" + subs, "User-Agent: t\r\n"), head);
      REQUIRE(paused.status == 302);
      check_location(paused.Field("location"), "https://fallback.example/pf?s1=" + e + "&c=", "");
      redirects += 3;
    }
    // As a would-be destination parameter: ignored.
    for (const std::string& name : destination_params) {
      Answer r = One(
          Exchange(s.public_port(), "GET", "/c/o?aff=a&" + name + "=" + e, "User-Agent: t\r\n"));
      REQUIRE(r.status == 302);
      check_location(r.Field("location"),
                     "https://shop.example/lp?c=", "&s1=&s2=&s3=&s4=&s5=&src=&a=a");
      Answer n = One(Exchange(s.public_port(), "GET", "/c/nofb?aff=nobody&" + name + "=" + e));
      CHECK(n.status == 404);  // no fallback: no redirect at all
      CHECK(n.Count("location") == 0);
      ++redirects;
    }
    // In the offer id: never an offer, never a redirect.
    for (const std::string& target : {"/c/" + e, "/c/o/" + e, "/c/o" + e, "/c/" + e + "?aff=a"}) {
      Answer r = One(Exchange(s.public_port(), "GET", target));
      CHECK(r.status == 404);
      CHECK(r.Count("location") == 0);
    }
  }
  CHECK(redirects == static_cast<int>(payloads.size() * (6 + destination_params.size())));
  // Raw (not percent-encoded) forms the parser accepts in a target.
  for (const std::string raw : {"//evil.com", "/\\evil.com", "https:evil.com", "user@evil.com",
                                "javascript:alert(1)", "http://evil.com/"}) {
    INFO("raw " << raw);
    Answer a = One(Exchange(s.public_port(), "GET",
                            "/c/o?aff=a&sub1=" + raw + "&url=" + raw + "&dest=" + raw,
                            "User-Agent: t\r\n"));
    REQUIRE(a.status == 302);
    check_location(a.Field("location"),
                   "https://shop.example/lp?c=", "&s1=" + Enc(raw) + "&s2=&s3=&s4=&s5=&src=&a=a");
    for (const std::string& target : {"/c/" + raw, "/c//" + raw, "/c/o/" + raw}) {
      Answer r = One(Exchange(s.public_port(), "GET", target));
      CHECK(r.status == 404);
      CHECK(r.Count("location") == 0);
    }
  }
  // Absolute-form and authority tricks in the request line do not pick the destination either:
  // an absolute-form target is the click of its path (RFC 9112 3.2.2), its host ignored; a
  // path that starts with "//" is no click route.
  Answer absolute = One(Exchange(s.public_port(), "GET", "http://evil.com/c/o?aff=a"));
  REQUIRE(absolute.status == 302);
  check_location(absolute.Field("location"),
                 "https://shop.example/lp?c=", "&s1=&s2=&s3=&s4=&s5=&src=&a=a");
  Answer authority = One(Exchange(s.public_port(), "GET", "//evil.com/c/o?aff=a"));
  CHECK(authority.status == 404);
  CHECK(authority.Count("location") == 0);
}

// ---------------------------------------------------------------------------------------------
// 5. Header injection: control bytes, raw or percent-encoded, in every value the server reflects
// never make an extra header line; the header block has exactly the expected names.

TEST_CASE("header injection: control bytes in reflected values never add a header line",
          "[security][click]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer(
      "o",
      R"({"url":"https://x.example/?c={click_id}&s1={sub1}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}&src={source}&a={aff_id}&v={visitor_id}",
                      "fallback_url":"https://x.example/fb?s1={sub1}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}&src={source}&a={aff_id}&c={click_id}",
                      "plan":{"events":{"sale":{"cpa":"1"}}}})");
  s.PutAffiliate("a", "{}");
  const std::vector<std::string> click_names = Sorted(
      {"location", "cache-control", "set-cookie", "set-cookie", "content-length", "connection"});
  const std::vector<std::string> fallback_names =
      Sorted({"location", "cache-control", "set-cookie", "content-length", "connection"});
  const std::vector<std::string> json_names =
      Sorted({"content-type", "cache-control", "content-length", "connection"});
  const std::vector<std::string> pixel_names = Sorted(
      {"content-type", "cache-control", "x-ricochet-result", "content-length", "connection"});

  std::vector<std::string> payloads;
  for (int c = 0; c < 0x20; ++c) payloads.push_back(std::string("a") + char(c) + "X-Injected: 1");
  payloads.push_back("a\x7fX-Injected: 1");
  payloads.push_back("a\x80\xff");
  payloads.push_back("\r\nSet-Cookie: rc_cid=evil; Path=/");
  payloads.push_back("\r\n\r\n<html>injected body");
  payloads.push_back(
      "\xE5\x98\x8A\xE5\x98\x8DX-Injected: 1");  // U+560A U+560D: "\n\r" if truncated
  payloads.push_back(std::string("\0\r\nX-Injected: 1", 16));
  for (const std::string& p : payloads) {
    const std::string e = Enc(p);
    INFO("payload " << e);
    // Attributable click: sub ids and source; a visitor cookie that is not an id.
    for (const std::string method : {"GET", "HEAD"}) {
      Answer a = One(Exchange(s.public_port(), method,
                              "/c/o?aff=a&sub1=" + e + "&sub2=" + e + "&sub3=" + e + "&sub4=" + e +
                                  "&sub5=" + e + "&source=" + e,
                              "User-Agent: t\r\nCookie: rc_vid=" + e + "; rc_cid=" + e + "\r\n"),
                     method == "HEAD");
      REQUIRE(a.status == 302);
      CHECK(a.Names() == click_names);
      const std::string loc = a.Field("location");
      const std::string prefix = "https://x.example/?c=";
      REQUIRE(loc.rfind(prefix, 0) == 0);
      const std::string cid = loc.substr(prefix.size(), 32);
      const std::string vid = Tail(loc, 22);
      CHECK(loc == prefix + cid + "&s1=" + e + "&s2=" + e + "&s3=" + e + "&s4=" + e + "&s5=" + e +
                       "&src=" + e + "&a=a&v=" + vid);
      for (const auto& [name, value] : a.fields) {
        if (name != "set-cookie") continue;
        CHECK((value == "rc_cid=" + cid + "; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax" ||
               value == "rc_vid=" + vid + "; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"));
      }
    }
    // Affiliate id and the alias names: an unknown affiliate, so the fallback.
    Answer fb =
        One(Exchange(s.public_port(), "GET",
                     "/c/o?affid=" + e + "&aff_sub=" + e + "&aff_sub2=" + e + "&aff_sub3=" + e +
                         "&aff_sub4=" + e + "&aff_sub5=" + e + "&source=" + e,
                     "User-Agent: t\r\n"));
    REQUIRE(fb.status == 302);
    CHECK(fb.Names() == fallback_names);
    const std::string fb_prefix = "https://x.example/fb?s1=" + e + "&s2=" + e + "&s3=" + e +
                                  "&s4=" + e + "&s5=" + e + "&src=" + e + "&a=" + e + "&c=";
    CHECK(fb.Field("location") == fb_prefix + Tail(fb.Field("location"), 32));
    // Pixel: the result header is one of ours, whatever the query and cookies say.
    Answer px = One(Exchange(s.public_port(), "GET",
                             "/p.gif?offer_id=" + e + "&event=" + e + "&amount=" + e +
                                 "&currency=" + e + "&order_id=" + e,
                             "Cookie: rc_cid=" + e + "; rc_vid=" + e + "\r\n"));
    CHECK(px.status == 200);
    CHECK(px.Names() == pixel_names);
    CHECK(px.Field("x-ricochet-result") == "no_click");
    // Postback: JSON (or text) answers carry only their fixed headers.
    for (const std::string extra : {"", "&return=OK"}) {
      Answer pb = One(Exchange(s.public_port(), "GET",
                               "/postback?click_id=" + e + "&event=" + e + "&amount=" + e +
                                   "&order_id=" + e + "&token=" + e + extra));
      CHECK(pb.status == 400);
      CHECK(pb.Names() == json_names);
    }
  }
  // Raw control bytes: in the target, in a header value. Refused whole (or, for HTAB in a
  // value, legal and answered), one answer with the fixed headers.
  for (int c = 0; c < 0x20 || c == 0x7f; c = c == 0x1f ? 0x7f : c + 1) {
    INFO("raw byte " << c);
    const std::string b(1, char(c));
    Answer t = One(Exchange(s.public_port(), "GET", "/c/o?aff=a&sub1=a" + b + "X-Injected:%201"));
    CHECK(t.status == 400);
    CHECK(t.Names() == json_names);
    for (const std::string header : {"User-Agent: a", "Cookie: rc_vid=a", "Referer: a"}) {
      Answer h =
          One(Exchange(s.public_port(), "GET", "/c/o?aff=a", header + b + "X-Injected: 1\r\n"));
      if (c == '\t') {  // legal inside a field value
        CHECK(h.status == 302);
        CHECK(h.Names() == click_names);
      } else {
        CHECK(h.status == 400);
        CHECK(h.Names() == json_names);
      }
    }
  }
  // Raw bytes above 0x7F in the target are legal and come out percent-encoded.
  Answer hi = One(Exchange(s.public_port(), "GET", "/c/o?aff=a&sub1=\x80\xff\xe5\x98\x8a",
                           "User-Agent: t\r\n"));
  CHECK(hi.status == 302);
  CHECK(hi.Field("location").find("&s1=%80%FF%E5%98%8A&") != std::string::npos);
  CHECK(hi.Names() == click_names);
}

// ---------------------------------------------------------------------------------------------
// 6. Postback forgery: no token, a wrong token, or a forged click id creates nothing.
// (The token is compared with CRYPTO_memcmp, in conversion_service.cc.)

TEST_CASE("postback forgery: bad tokens and forged click ids create no conversion",
          "[security][conversion]") {
  TempDir dir;
  Server s(dir.path());
  const std::string token = "s3cret-Token_0123";
  s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}","postback_token":")" + token +
                      R"(","plan":{"events":{"sale":{"cpa":"2.50"}}}})");
  s.PutAffiliate("a", "{}");
  const std::string cid = Click(s, "o", "a");
  REQUIRE(s.Api("GET", "/api/clicks/" + cid).status == 200);
  auto expect = [&](const std::string& query, int status, const std::string& reason) {
    INFO(query);
    HttpResult r = Postback(s, query);
    CHECK(r.status == status);
    CHECK(J(r.body).at("reason").as_string() == reason);
  };
  // Tokens.
  for (const std::string& t :
       {std::string(""), std::string("wrong"), std::string("S3CRET-TOKEN_0123"),
        token.substr(0, token.size() - 1), token + "x", "x" + token, Enc(token + '\0'),
        Enc(token + ' '), std::string(token.size(), 'a'), Enc(" " + token)}) {
    expect("cid=" + cid + "&token=" + t, 403, "bad_token");
    expect("cid=" + cid + "&security_token=" + t + "&amount=5", 403, "bad_token");
  }
  expect("cid=" + cid, 403, "bad_token");
  expect("cid=" + cid + "&postback_token=" + token, 403, "bad_token");  // not an alias
  // Click ids: forged, altered, truncated, extended, or signed under another secret.
  const std::string auth = "&token=" + token;
  expect("cid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" + auth, 400, "bad_click_id");
  expect("cid=" + std::string(32, '_') + auth, 400, "bad_click_id");
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < cid.size(); ++i) {
    std::string forged = cid;
    forged[i] = alphabet[(alphabet.find(cid[i]) + 1 + i) % 64];
    expect("cid=" + forged + auth, 400, "bad_click_id");
  }
  expect("cid=" + cid.substr(0, 31) + auth, 400, "bad_click_id");
  expect("cid=" + cid.substr(0, 16) + auth, 400, "bad_click_id");
  expect("cid=" + cid + "A" + auth, 400, "bad_click_id");
  expect("cid=" + cid + "%00" + auth, 400, "bad_click_id");
  if (Lower(cid) != cid) expect("cid=" + Lower(cid) + auth, 400, "bad_click_id");
  expect("cid=" + auth, 400, "bad_click_id");
  std::array<uint8_t, 16> other{};
  other.fill(0xA5);
  std::array<uint8_t, 16> ours{};
  for (int i = 0; i < 16; ++i) ours[i] = static_cast<uint8_t>(i);  // harness kSecretHex
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  expect("cid=" + engine::ClickIdCodec(other).Issue(now_ms, 0, 42) + auth, 400, "bad_click_id");
  // Correctly signed but never issued: a lookup, then unknown.
  expect("cid=" + engine::ClickIdCodec(ours).Issue(now_ms - 120'000, 0, 42) + auth, 404,
         "unknown_click");
  // Error precedence: a forged id is refused before the token is looked at.
  expect("cid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&token=wrong", 400, "bad_click_id");
  // POST bodies, form and JSON, say the same.
  HttpResult form = Http(s.public_port(), "POST", "/postback",
                         {{"Content-Type", "application/x-www-form-urlencoded"}},
                         "click_id=" + cid + "&token=wrong&amount=1");
  CHECK(form.status == 403);
  const std::string last_altered = cid.substr(0, 31) + (cid[31] == 'B' ? "C" : "B");
  HttpResult js = Http(s.public_port(), "POST", "/postback", {{"Content-Type", "application/json"}},
                       R"({"click_id":")" + last_altered + R"(","token":")" + token + "\"}");
  CHECK(js.status == 400);
  CHECK(J(js.body).at("reason").as_string() == "bad_click_id");
  // The pixel takes its click from the cookie only; a forged one finds nothing.
  HttpResult px = Http(s.public_port(), "GET", "/p.gif?offer_id=o&click_id=" + cid,
                       {{"Cookie", "rc_cid=" + last_altered}});
  CHECK(px.header("x-ricochet-result") == "no_click");

  json::object row = OfferReportRow(s, "o");
  CHECK(row.at("clicks").as_int64() == 1);
  CHECK(row.at("conversions").as_int64() == 0);
  CHECK(J(s.Api("GET", "/api/ledger?affiliate=a").body).at("entries").as_array().empty());

  // The real token and id do convert (the checks above could have passed by accident
  // otherwise); a forged status change after it changes nothing.
  HttpResult ok = Postback(s, "cid=" + cid + "&order_id=F1" + auth);
  REQUIRE(ok.status == 200);
  CHECK(J(ok.body).at("result").as_string() == "created");
  const std::string conversion(J(ok.body).at("conversion_id").as_string());
  expect("cid=" + cid + "&order_id=F1&status=rejected&token=wrong", 403, "bad_token");
  expect("cid=" + cid + "&order_id=F1&status=rejected", 403, "bad_token");
  CHECK(OfferReportRow(s, "o").at("conversions").as_int64() == 1);
  CHECK(J(s.Api("GET", "/api/conversions/" + conversion).body).at("status").as_string() ==
        "approved");
  CHECK(J(s.Api("GET", "/api/ledger?affiliate=a").body).at("entries").as_array().size() == 1);
}

// ---------------------------------------------------------------------------------------------
// 7. SSRF: loopback and metadata addresses in the spellings getaddrinfo and browsers accept
// (decimal, octal, hex, short, IPv4-mapped and translated IPv6) are refused at PUT, a name that
// resolves to one at delivery, and the receiver behind them never hears a thing.

TEST_CASE("SSRF: odd spellings of loopback and metadata addresses never reach the target",
          "[security][outbox][ssrf]") {
  Receiver rx;
  const std::string port = std::to_string(rx.port());
  // Each reaches 127.0.0.1 (the receiver) when private targets are allowed: see below.
  const std::vector<std::string> loopback = {"2130706433",      "0177.0.0.1",
                                             "0x7f000001",      "0x7f.0.0.1",
                                             "127.1",           "0177.1",
                                             "0x7F.1",          "127.000.000.001",
                                             "017700000001",    "0",
                                             "0.0.0.0",         "LOCALHOST",
                                             "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]"};
  // Addresses nothing here listens on; refused all the same.
  const std::vector<std::string> elsewhere = {"2852039166",
                                              "0xa9fea9fe",
                                              "0251.0376.0251.0376",
                                              "[::ffff:a9fe:a9fe]",
                                              "[::127.0.0.1]",
                                              "[64:ff9b::7f00:1]",
                                              "[64:ff9b::a9fe:a9fe]",
                                              "[2002:7f00:1::]",
                                              "[::]",
                                              "[0000:0000:0000:0000:0000:0000:0000:0001]",
                                              "[fd00:ec2::254]",
                                              "0xa000001",
                                              "0300.0250.1"};
  std::vector<std::string> hosts = loopback;
  hosts.insert(hosts.end(), elsewhere.begin(), elsewhere.end());
  REQUIRE(hosts[11] == "LOCALHOST");  // the one name: refused at delivery, not at PUT
  {
    TempDir dir;
    Server s(dir.path(), {"--postback-max-attempts", "1", "--postback-retry-ms", "50",
                          "--postback-timeout-ms", "2000"});
    s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}",
                        "plan":{"events":{"sale":{"cpa":"1"}}}})");
    int at_put = 0;
    std::vector<std::string> accepted;
    for (size_t i = 0; i < hosts.size(); ++i) {
      const std::string url = "http://" + hosts[i] + ":" + port + "/pb?c={click_id}";
      INFO(url);
      const std::string id = "s" + std::to_string(i);
      HttpResult r = s.Api("PUT", "/api/affiliates/" + id,
                           json::serialize(json::object{{"postback_url", url}}));
      if (r.status == 400) {
        const std::string reason(J(r.body).at("reason").as_string());
        CHECK(reason == "ssrf_blocked");
        ++at_put;
        continue;
      }
      REQUIRE(r.status == 200);
      accepted.push_back(id);
      std::string cid = Click(s, "o", id);
      REQUIRE(Postback(s, "cid=" + cid + "&order_id=" + id).status == 200);
    }
    // Every address spelling is read at PUT as the resolver would read it, and refused there;
    // only the name (LOCALHOST) needs resolving, and is refused at delivery. Not attempted.
    CHECK(at_put == static_cast<int>(hosts.size()) - 1);
    CHECK(accepted == std::vector<std::string>{"s11"});
    auto dead = [&] {
      return J(s.Api("GET", "/api/outbox?state=dead").body).at("entries").as_array();
    };
    REQUIRE(Eventually([&] { return dead().size() == accepted.size(); }));
    for (const json::value& e : dead()) {
      INFO(json::serialize(e));
      CHECK(e.at("reason").as_string() == "ssrf_blocked");
      CHECK(e.at("attempts").as_int64() == 1);
    }
    CHECK(J(s.Api("GET", "/api/outbox?state=pending").body).at("entries").as_array().empty());
    CHECK(rx.count() == 0);
  }
  // Control: with --allow-private-postbacks the same spellings do reach the receiver, so the
  // refusals above are the guard's doing.
  {
    TempDir dir;
    Server s(dir.path(), {"--allow-private-postbacks", "--postback-max-attempts", "1",
                          "--postback-retry-ms", "50"});
    s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}",
                        "plan":{"events":{"sale":{"cpa":"1"}}}})");
    for (size_t i = 0; i < loopback.size(); ++i) {
      const std::string id = "s" + std::to_string(i);
      s.PutAffiliate(id,
                     json::serialize(json::object{
                         {"postback_url", "http://" + loopback[i] + ":" + port + "/pb?n=" + id}}));
      REQUIRE(Postback(s, "cid=" + Click(s, "o", id) + "&order_id=" + id).status == 200);
    }
    CHECK(Eventually([&] { return rx.count() == loopback.size(); }));
    CHECK(J(s.Api("GET", "/api/outbox?state=delivered").body).at("entries").as_array().size() ==
          loopback.size());
  }
}

// ---------------------------------------------------------------------------------------------
// 8. X-Forwarded-For: believed only from a trusted proxy, walked from the right as documented
// in docs/operations.md.

TEST_CASE("X-Forwarded-For corpus: the stored client_ip is the documented one",
          "[security][click]") {
  // Clicks with raw header lines; returns the stored client_ip.
  auto client_ip = [](const Server& s, const std::string& headers) {
    Answer a = One(
        Exchange(s.public_port(), "GET", "/c/o?aff=a", "User-Agent: Mozilla/5.0 t\r\n" + headers));
    REQUIRE(a.status == 302);
    const std::string cid = a.Field("location").substr(std::string("https://x.example/?c=").size());
    HttpResult c = s.Api("GET", "/api/clicks/" + cid);
    REQUIRE(c.status == 200);
    return std::string(J(c.body).at("client_ip").as_string());
  };
  const std::vector<std::pair<std::string, std::string>> trusted_cases = {
      // The table of docs/operations.md (trusted: 127.0.0.1, 10.0.0.0/8).
      {"X-Forwarded-For: 198.51.100.7\r\n", "198.51.100.7"},
      {"X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.1.2.3\r\n", "198.51.100.7"},
      {"X-Forwarded-For: 198.51.100.7, garbage, 10.1.2.3\r\n", "10.1.2.3"},
      {"X-Forwarded-For: 10.9.9.9\r\n", "10.9.9.9"},
      // Several headers read as one list, in order.
      {"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 198.51.100.7, 10.1.2.3\r\n", "198.51.100.7"},
      {"X-Forwarded-For: 198.51.100.7\r\nX-Forwarded-For: 10.1.2.3, 10.2.3.4\r\n", "198.51.100.7"},
      // IPv6, and IPv4-mapped IPv6 read as IPv4.
      {"X-Forwarded-For: 2001:db8::1\r\n", "2001:db8::1"},
      {"X-Forwarded-For: ::ffff:198.51.100.7\r\n", "198.51.100.7"},
      // Malformed entries stop the walk at the nearest address seen.
      {"X-Forwarded-For: 198.51.100.7:443\r\n", "127.0.0.1"},
      {"X-Forwarded-For: [2001:db8::1]\r\n", "127.0.0.1"},
      {"X-Forwarded-For: unknown\r\n", "127.0.0.1"},
      {"X-Forwarded-For: 198.51.100.7, 10.1.2.3 x\r\n", "127.0.0.1"},
      {"X-Forwarded-For: 999.1.1.1\r\n", "127.0.0.1"},
      {"X-Forwarded-For:\r\n", "127.0.0.1"},
      {"X-Forwarded-For: , \r\n", "127.0.0.1"},
      // Other headers are not read.
      {"X-Real-IP: 6.6.6.6\r\n", "127.0.0.1"},
      {"Forwarded: for=6.6.6.6\r\n", "127.0.0.1"},
      {"X-Client-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\n", "127.0.0.1"},
  };
  {
    TempDir dir;
    Server s(dir.path(), {"--trusted-proxy", "127.0.0.1,10.0.0.0/8"});
    s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}"})");
    s.PutAffiliate("a", "{}");
    for (const auto& [headers, ip] : trusted_cases) {
      INFO(headers);
      CHECK(client_ip(s, headers) == ip);
    }
  }
  {
    // A trusted list that does not hold the peer: the header is ignored, whatever it says.
    TempDir dir;
    Server s(dir.path(), {"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"});
    s.PutOffer("o", R"({"url":"https://x.example/?c={click_id}"})");
    s.PutAffiliate("a", "{}");
    for (const auto& [headers, ip] : trusted_cases) {
      INFO(headers);
      CHECK(client_ip(s, headers) == "127.0.0.1");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 9. Admin: every /api route answers 401 without the token or with a wrong one, changes nothing,
// and none exists on the public listener.

TEST_CASE("admin token on every /api route; no admin route on the public listener",
          "[security][admin]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o",
             R"({"url":"https://x.example/?c={click_id}","plan":{"events":{"sale":{"cpa":"1"}}}})");
  s.PutAffiliate("a", "{}");
  const std::string cid = Click(s, "o", "a");
  HttpResult conv = Postback(s, "cid=" + cid + "&order_id=A1");
  REQUIRE(conv.status == 200);
  const std::string conversion(J(conv.body).at("conversion_id").as_string());
  const std::string backup = dir.path() + "-backup";
  const std::string backup_body = json::serialize(json::object{{"path", backup}});
  // Every route of admin_handler.cc, with ids that exist, and bodies that would change things.
  struct Call {
    std::string method, target, body;
  };
  const std::vector<Call> calls = {
      {"GET", "/api", ""},
      {"GET", "/api/", ""},
      {"GET", "/api/offers", ""},
      {"GET", "/api/offers/", ""},
      {"GET", "/api/offers/o", ""},
      {"PUT", "/api/offers/o", R"({"url":"https://evil.example/"})"},
      {"PUT", "/api/offers/new", R"({"url":"https://evil.example/"})"},
      {"GET", "/api/affiliates", ""},
      {"GET", "/api/affiliates/a", ""},
      {"PUT", "/api/affiliates/a", R"({"status":"paused"})"},
      {"GET", "/api/clicks/" + cid, ""},
      {"GET", "/api/conversions/" + conversion, ""},
      {"POST", "/api/conversions/" + conversion + "/status", R"({"status":"reversed"})"},
      {"GET", "/api/ledger?affiliate=a", ""},
      {"GET", "/api/balances/a", ""},
      {"GET", "/api/payouts", ""},
      {"POST", "/api/payouts", R"({"currency":"USD"})"},
      {"GET", "/api/payouts/x", ""},
      {"GET", "/api/payouts/x.csv", ""},
      {"GET", "/api/outbox?state=dead", ""},
      {"GET", "/api/outbox/x", ""},
      {"POST", "/api/outbox/x/retry", ""},
      {"POST", "/api/backup", backup_body},
      {"GET", "/api/stats", ""},
      {"GET", "/api/verify", ""},
      {"POST", "/api/verify", ""},
      {"GET", "/api/report?group_by=offer", ""},
      {"DELETE", "/api/offers/o", ""},
      {"GET", "/api/nope", ""},
      {"GET", "/api/../api/offers", ""},
  };
  const std::string t = kToken;
  std::string wrong = t;
  wrong[5] = wrong[5] == 'x' ? 'y' : 'x';
  const std::vector<std::pair<std::string, std::string>> credentials = {
      {"none", ""},
      {"wrong token, same length", Bearer(wrong)},
      {"prefix of the token", Bearer(t.substr(0, t.size() - 1))},
      {"token plus a byte", Bearer(t + "0")},
      {"upper-cased token",
       Bearer(Lower(t) == t ? std::string(t).replace(0, 4, "TEST") : Lower(t))},
      {"empty bearer", "Authorization: Bearer \r\n"},
      {"no scheme", "Authorization: " + t + "\r\n"},
      {"Basic scheme", "Authorization: Basic " + t + "\r\n"},
      {"no space after Bearer", "Authorization: Bearer" + t + "\r\n"},
      {"two spaces after Bearer", "Authorization: Bearer  " + t + "\r\n"},
      {"two Authorization lines, first wrong", Bearer(wrong) + kAuth},
      {"other headers",
       "X-Admin-Token: " + t + "\r\nCookie: token=" + t + "\r\nX-Api-Key: " + t + "\r\n"},
  };
  int refused = 0;
  for (const Call& c : calls) {
    const std::string body_headers =
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(c.body.size()) +
        "\r\n";
    for (const auto& [what, cred] : credentials) {
      INFO(c.method << " " << c.target << " with " << what);
      std::vector<Answer> a =
          SplitAnswers(RawExchange(s.admin_port(),
                                   c.method + " " + c.target + " HTTP/1.1\r\nHost: x\r\n" + cred +
                                       body_headers + "Connection: close\r\n\r\n" + c.body,
                                   3000));
      REQUIRE(a.size() == 1);
      CHECK(a[0].status == 401);
      CHECK(a[0].body == R"({"reason":"unauthorized"})");
      CHECK(a[0].Field("www-authenticate") == "Bearer");
      ++refused;
    }
    // The token in the query string is not a token.
    for (const char* q : {"token=", "access_token=", "admin_token="}) {
      std::string target = c.target + (c.target.find('?') == std::string::npos ? "?" : "&") + q + t;
      HttpResult r =
          Http(s.admin_port(), c.method, target, {{"Content-Type", "application/json"}}, c.body);
      CHECK(r.status == 401);
    }
    // On the public listener, even with the token, the route does not exist.
    HttpResult pub =
        Http(s.public_port(), c.method, c.target,
             {{"Authorization", "Bearer " + t}, {"Content-Type", "application/json"}}, c.body);
    INFO("public " << c.method << " " << c.target);
    CHECK(pub.status == 404);
    CHECK(J(pub.body).at("reason").as_string() == "not_found");
  }
  CHECK(refused == static_cast<int>(calls.size() * credentials.size()));
  // /metrics is admin-only too.
  CHECK(Http(s.public_port(), "GET", "/metrics").status == 404);

  // Nothing changed.
  HttpResult offers = s.Api("GET", "/api/offers");
  REQUIRE(J(offers.body).at("offers").as_array().size() == 1);
  CHECK(J(offers.body).at("offers").at(0).at("url").as_string() ==
        "https://x.example/?c={click_id}");
  CHECK(J(s.Api("GET", "/api/affiliates/a").body).at("status").as_string() == "active");
  CHECK(J(s.Api("GET", "/api/conversions/" + conversion).body).at("status").as_string() ==
        "approved");
  CHECK(J(s.Api("GET", "/api/payouts").body).at("payouts").as_array().empty());
  CHECK_FALSE(std::filesystem::exists(backup));
  // And the real token works on the same routes (so the 401s above are the token check).
  CHECK(s.Api("GET", "/api/offers/o").status == 200);
  CHECK(s.Api("GET", "/api/clicks/" + cid).status == 200);
  CHECK(s.Api("GET", "/api/balances/a").status == 200);
  std::string lower_scheme =
      RawExchange(s.admin_port(),
                  "GET /api/stats HTTP/1.1\r\nHost: x\r\nAuthorization: bearer " + t +
                      "\r\nConnection: close\r\n\r\n",
                  3000);
  CHECK(SplitAnswers(lower_scheme)[0].status == 200);  // the scheme is case-insensitive (RFC 9110)
}

}  // namespace ricochet::testing
