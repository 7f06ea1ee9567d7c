// Request framing and smuggling defences, checked on raw bytes: every bad head is answered with
// a 4xx and the connection is closed, so nothing after it is ever parsed as a request.
#include <signal.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "catch2/catch.hpp"
#include "harness.h"

namespace ricochet::testing {
namespace {

struct Case {
  const char* name;
  std::string request;
  const char* status;
};

}  // namespace

TEST_CASE("smuggling-shaped requests are rejected and the connection closed", "[http][security]") {
  TempDir dir;
  Server s(dir.path(), {"--max-header-bytes", "2048", "--max-body-bytes", "1024"});
  s.PutOffer("o", R"({"url":"https://x.example/"})");
  s.PutAffiliate("a", "{}");
  // The smuggled second request would be a click; it must never be answered.
  const std::string smuggled =
      "GET /c/o?aff=a&sub1=smuggled HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
  const std::vector<Case> cases = {
      {"TE and CL",
       "POST /postback HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n",
       "400"},
      {"TE not chunked", "POST /postback HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
       "400"},
      {"TE chunked then gzip",
       "POST /postback HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "400"},
      {"duplicate CL",
       "POST /postback HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
       "400"},
      {"missing Host", "GET /c/o?aff=a HTTP/1.1\r\nUser-Agent: t\r\n\r\n", "400"},
      {"duplicate Host", "GET /c/o?aff=a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "400"},
      {"body on GET", "GET /c/o?aff=a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "400"},
      {"garbage", "NOT A REQUEST\r\n\r\n", "400"},
      {"absolute-form without a host", "GET http:///c/o?aff=a HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
      {"absolute-form with userinfo", "GET http://user:pw@x/c/o?aff=a HTTP/1.1\r\nHost: x\r\n\r\n",
       "400"},
      {"headers too large",
       "GET /c/o HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n", "431"},
      {"body too large",
       "PUT /api/offers/o HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
           std::string(5000, '{'),
       "413"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    for (int port : {s.public_port(), s.admin_port()}) {
      bool closed = false;
      std::string raw = RawExchange(port, c.request + smuggled, 3000, &closed);
      CHECK(raw.rfind(std::string("HTTP/1.1 ") + c.status, 0) == 0);
      CHECK(CountResponses(raw) == 1);
      CHECK(raw.find("Connection: close") != std::string::npos);
      CHECK(closed);
    }
  }
  // The smuggled clicks were never recorded.
  HttpResult r =
      s.Api("GET", "/api/report?from=2000-01-01&to=2100-01-01&group_by=sub1&sub1=smuggled");
  CHECK(r.body.find("smuggled") == std::string::npos);
}

TEST_CASE("keep-alive and pipelined requests are answered in order", "[http]") {
  // With the I/O threads' yields (the default) and without: they sleep in epoll_wait at once.
  const std::string yields = GENERATE("5", "0");
  TempDir dir;
  Server s(dir.path(), {"--io-yields", yields});
  s.PutOffer("o", R"({"url":"https://x.example/?s={sub1}"})");
  s.PutAffiliate("a", "{}");
  std::string pipeline;
  for (int i = 0; i < 5; ++i) {
    pipeline += "GET /c/o?aff=a&sub1=n" + std::to_string(i) +
                " HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
  }
  pipeline += "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  bool closed = false;
  std::string raw = RawExchange(s.public_port(), pipeline, 3000, &closed);
  CHECK(CountResponses(raw) == 6);
  CHECK(closed);
  size_t last = 0;
  for (int i = 0; i < 5; ++i) {
    size_t pos = raw.find("Location: https://x.example/?s=n" + std::to_string(i) + "\r\n");
    REQUIRE(pos != std::string::npos);
    CHECK(pos > last);
    last = pos;
  }
  CHECK(raw.find("{\"status\":\"ok\"}") > last);
}

TEST_CASE("idle keep-alive connections are closed after the idle timeout", "[http]") {
  TempDir dir;
  Server s(dir.path(), {"--idle-timeout-s", "1", "--header-timeout-s", "1"});
  bool closed = false;
  // A complete request, then silence: answered, then closed by the idle timer.
  std::string raw =
      RawExchange(s.public_port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 4000, &closed);
  CHECK(CountResponses(raw) == 1);
  CHECK(closed);
  // A request head that never completes (slowloris): 408 and closed.
  raw =
      RawExchange(s.public_port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a", 4000, &closed);
  CHECK(raw.rfind("HTTP/1.1 408", 0) == 0);
  CHECK(closed);
}

}  // namespace ricochet::testing

namespace ricochet::testing {

TEST_CASE("HEAD answers carry no body, so the next pipelined answer stays framed", "[http]") {
  TempDir dir;
  Server s(dir.path());
  std::string raw = RawExchange(s.admin_port(),
                                "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  REQUIRE(CountResponses(raw) == 2);
  size_t first_end = raw.find("\r\n\r\n");
  CHECK(raw.substr(0, first_end).find("Content-Length: 15") != std::string::npos);
  // Right after the HEAD answer's blank line comes the next status line, not a body.
  CHECK(raw.compare(first_end + 4, 9, "HTTP/1.1 ") == 0);
  CHECK(raw.substr(raw.size() - 15) == R"({"status":"ok"})");
}

// The click's answer is written as bytes by the click handler (WireResponse), not by Beast: its
// head, byte for byte, and the Connection header the session adds for each protocol version.
TEST_CASE("the click's 302 is framed exactly, in HTTP/1.1 and HTTP/1.0", "[http]") {
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o", R"({"url":"https://x.example/l?c={click_id}&s={sub1}","lookback_days":7})");
  s.PutAffiliate("a", "{}");
  const std::string click = "GET /c/o?aff=a&sub1=a%20b HTTP/1.";
  // Everything but the two cookies' ids, which are random.
  auto shape = [](std::string raw) {
    for (const char* name : {"rc_cid=", "rc_vid=", "c="}) {
      for (size_t at = raw.find(name); at != std::string::npos; at = raw.find(name, at + 1)) {
        size_t end = raw.find_first_of(";&\r", at);
        raw.replace(at + std::strlen(name), end - at - std::strlen(name), "ID");
      }
    }
    return raw;
  };
  const std::string head =
      "302 Found\r\nLocation: https://x.example/l?c=ID&s=a%20b\r\nCache-Control: no-store\r\n"
      "Set-Cookie: rc_cid=ID; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax\r\n"
      "Set-Cookie: rc_vid=ID; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax\r\n"
      "Content-Length: 0\r\n";

  // HTTP/1.1 keeps the connection without saying so; "close" is echoed on the last answer.
  bool closed = false;
  std::string raw = RawExchange(
      s.public_port(),
      click + "1\r\nHost: x\r\n\r\n" + click + "1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000,
      &closed);
  CHECK(shape(raw) == "HTTP/1.1 " + head + "\r\nHTTP/1.1 " + head + "Connection: close\r\n\r\n");
  CHECK(closed);

  // HTTP/1.0 closes unless asked to keep the connection, and then says "keep-alive".
  raw = RawExchange(
      s.public_port(),
      click + "0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n" + click + "0\r\nHost: x\r\n\r\n",
      3000, &closed);
  CHECK(shape(raw) ==
        "HTTP/1.0 " + head + "Connection: keep-alive\r\n\r\nHTTP/1.0 " + head + "\r\n");
  CHECK(closed);

  // HEAD: the same head, no body (there is none), and the connection stays framed.
  raw = RawExchange(s.public_port(),
                    "HEAD /c/o?aff=a&sub1=a%20b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    3000, &closed);
  CHECK(shape(raw) == "HTTP/1.1 " + head + "Connection: close\r\n\r\n");
}

TEST_CASE("Expect: 100-continue is answered before the body is read", "[http]") {
  TempDir dir;
  Server s(dir.path());
  const std::string body = R"({"url":"https://x.example/?q=)" + std::string(2000, 'q') + R"("})";
  std::string raw = RawExchange(
      s.admin_port(),
      "PUT /api/offers/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kToken) +
          "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nConnection: close\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body);
  CHECK(raw.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 0) == 0);
  CHECK(s.Api("GET", "/api/offers/big").status == 200);
}

}  // namespace ricochet::testing

namespace ricochet::testing {

TEST_CASE("100 Continue never jumps ahead of an earlier pipelined answer", "[http]") {
  TempDir dir;
  Server s(dir.path());
  const std::string body = R"({"url":"https://x.example/?q=)" + std::string(1500, 'q') + R"("})";
  const std::string auth = std::string("Authorization: Bearer ") + kToken + "\r\n";
  std::string raw = RawExchange(
      s.admin_port(), "GET /api/offers HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n" +
                          "PUT /api/offers/p HTTP/1.1\r\nHost: x\r\n" + auth +
                          "Expect: 100-continue\r\nConnection: close\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body);
  CHECK(raw.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(raw.find("100 Continue") == std::string::npos);
  CHECK(CountResponses(raw) == 2);
}

TEST_CASE("a rejected request releases its connection at once", "[http]") {
  TempDir dir;
  Server s(dir.path(), {"--header-timeout-s", "60"});
  bool closed = false;
  std::string raw =
      RawExchange(s.public_port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
                  2000, &closed);
  CHECK(raw.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(closed);
  // The session must be gone long before the 60 s request deadline.
  bool released = false;
  for (int i = 0; i < 100 && !released; ++i) {
    HttpResult m = Http(s.admin_port(), "GET", "/metrics");
    released =
        m.body.find("ricochet_open_connections{listener=\"public\"} 0\n") != std::string::npos;
    if (!released) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(released);
}

TEST_CASE("SIGTERM closes keep-alive connections once their answers are out", "[http][ops]") {
  const std::string yields = GENERATE("5", "0");
  TempDir dir;
  Server s(dir.path(), {"--drain-timeout-s", "60", "--io-yields", yields});
  // A keep-alive client with an answered request and a pending read-ahead.
  int port = s.public_port();
  std::thread client([port] {
    bool closed = false;
    RawExchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 10000, &closed);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s.Signal(SIGTERM);
  CHECK(s.Wait() == 0);
  client.join();
  std::string log = s.Log();
  INFO(log);
  CHECK(log.find("\"connections_cut\":\"0\"") != std::string::npos);
  CHECK(log.find("ricochet stopped cleanly") != std::string::npos);
}

}  // namespace ricochet::testing

namespace ricochet::testing {

TEST_CASE("absolute-form targets are served by their path", "[http]") {
  // RFC 9112 3.2.2: a server must accept "GET http://host/path HTTP/1.1"; the target's host,
  // like the Host header, does not change where it goes.
  TempDir dir;
  Server s(dir.path());
  s.PutOffer("o", R"({"url":"https://x.example/?s={sub1}"})");
  s.PutAffiliate("a", "{}");
  std::string raw = RawExchange(s.public_port(),
                                "GET http://elsewhere.example:81/c/o?aff=a&sub1=abs HTTP/1.1\r\n"
                                "Host: x\r\nUser-Agent: t\r\nConnection: close\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.1 302 Found\r\n", 0) == 0);
  CHECK(raw.find("Location: https://x.example/?s=abs\r\n") != std::string::npos);
  CHECK(Eventually([&] {
    boost::json::object row = OfferReportRow(s, "o");
    return row.contains("clicks") && row.at("clicks").as_int64() == 1;
  }));
  raw = RawExchange(s.admin_port(),
                    "GET HTTP://x/api/offers/o HTTP/1.1\r\nHost: x\r\n"
                    "Authorization: Bearer " +
                        std::string(kToken) + "\r\nConnection: close\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(raw.find(R"("id":"o")") != std::string::npos);
  // No host, or userinfo (RFC 9110 4.2.1, 4.2.4): refused before routing.
  for (const char* target : {"http://", "HTTP://:80/c/o?aff=a", "http://u:secret@x/c/o?aff=a"}) {
    INFO(target);
    raw = RawExchange(s.public_port(), std::string("GET ") + target +
                                           " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(raw.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(raw.find(R"({"reason":"bad_target"})") != std::string::npos);
  }
  // Another scheme is not absolute-form: no route.
  raw = RawExchange(s.public_port(),
                    "GET ftp://x/c/o?aff=a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.1 404", 0) == 0);
}

}  // namespace ricochet::testing
