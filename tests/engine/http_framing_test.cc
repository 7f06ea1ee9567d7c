// ScanRequestHead on whole heads and on heads that arrive in pieces: the session calls it after
// every read with the bytes so far and how many it had already checked.
#include "engine/http_framing.h"

#include <random>
#include <string>

#include "catch2/catch.hpp"

namespace ricochet::engine {
namespace {

// Scans `head` as the session would when it arrives `step` bytes at a time after the first
// `scanned` were checked; returns the first scan that ended the head or gave a reason, or the
// last one.
HeadScan ScanInSteps(const std::string& head, size_t step, size_t scanned = 0) {
  HeadScan scan;
  for (size_t have = std::min(scanned + step, head.size());;
       have = std::min(have + step, head.size())) {
    scan = ScanRequestHead(std::string_view(head).substr(0, have), scanned);
    scanned = have;
    if (scan.end != 0 || !scan.reason.empty() || have == head.size()) return scan;
  }
}

}  // namespace

TEST_CASE("request heads: the eight-byte skip finds what a byte-by-byte scan finds",
          "[http][framing]") {
  // Arriving a byte at a time, each scan sees at most 4 bytes past those checked: fewer than
  // the 8 the skip needs, so ScanInSteps(head, 1) runs the byte-by-byte path alone.
  // Lines of every length, so CR, LF and what follows them fall at every offset of a word.
  const std::string_view pieces[] = {"a", "abcdefghij", "\r\n", "\r\n", "\r", "\n", " ", "\t"};
  std::mt19937 rng(5);
  for (int n = 0; n < 50000; ++n) {
    std::string head;
    const size_t parts = rng() % 16;
    for (size_t k = 0; k < parts; ++k) head.append(pieces[rng() % 4 == 0 ? rng() % 8 : rng() % 4]);
    const size_t scanned = head.empty() ? 0 : rng() % (head.size() + 1);
    const HeadScan want = ScanInSteps(head, 1, scanned);
    const HeadScan got = ScanRequestHead(head, scanned);
    INFO(head << " scanned " << scanned);
    REQUIRE(got.end == want.end);
    REQUIRE(got.reason == want.reason);
  }
}

TEST_CASE("request heads: the end is found and refusals named, whatever the read sizes",
          "[http][framing]") {
  struct Case {
    std::string head;
    size_t end;  // 0: not complete
    std::string_view reason;
  };
  const std::string click = "GET /c/o?aff=a HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n";
  const Case cases[] = {
      {click, click.size(), ""},
      {click + "GET /next HTTP/1.1\r\n", click.size(), ""},  // a pipelined request follows
      {"GET / HTTP/1.1\r\nHost: x\r\n", 0, ""},              // still arriving
      {"GET / HTTP/1.1\r\n\r\n", 18, ""},
      {"GET / HTTP/1.1\nHost: x\r\n\r\n", 0, "bad_line_ending"},          // bare LF
      {"GET / HTTP/1.1\r\nHost: x\n\n", 0, "bad_line_ending"},            // LF LF
      {"GET / HTTP/1.1\r\nHost: x\rY: 1\r\n\r\n", 0, "bad_line_ending"},  // bare CR
      {"\nGET / HTTP/1.1\r\n\r\n", 0, "bad_line_ending"},                 // LF first
      {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 0, "obs_fold"},
      {"GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", 0, "obs_fold"},
      {"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 0, "obs_fold"},  // whitespace after the request line
  };
  for (const Case& c : cases) {
    for (size_t step : {size_t(1), size_t(2), size_t(3), size_t(7), c.head.size()}) {
      INFO("head: " << c.head << " step " << step);
      HeadScan scan = ScanInSteps(c.head, step);
      CHECK(scan.reason == c.reason);
      CHECK(scan.end == c.end);
    }
  }
}

TEST_CASE("request heads: a CR at the end of the bytes so far waits for the next byte",
          "[http][framing]") {
  // The CR's partner has not arrived: neither an end nor a refusal yet.
  HeadScan scan = ScanRequestHead("GET / HTTP/1.1\r", 0);
  CHECK(scan.end == 0);
  CHECK(scan.reason.empty());
  scan = ScanRequestHead("GET / HTTP/1.1\r\n\r", 15);
  CHECK(scan.end == 0);
  CHECK(scan.reason.empty());
  // A line that ends exactly where the bytes end may still be folded by the next byte.
  scan = ScanRequestHead("GET / HTTP/1.1\r\nA: 1\r\n", 0);
  CHECK(scan.reason.empty());
  scan = ScanRequestHead("GET / HTTP/1.1\r\nA: 1\r\n b\r\n\r\n", 22);
  CHECK(scan.reason == "obs_fold");
}

}  // namespace ricochet::engine
