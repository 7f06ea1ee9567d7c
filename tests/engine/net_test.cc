#include "engine/net.h"

#include <arpa/inet.h>

#include <optional>
#include <random>
#include <string>

#include "catch2/catch.hpp"

namespace ricochet::engine {
namespace {
boost::asio::ip::address Ip(const char* s) { return boost::asio::ip::make_address(s); }
std::vector<Cidr> Cidrs(std::initializer_list<const char*> list) {
  std::vector<Cidr> out;
  for (const char* c : list) out.push_back(*Cidr::Parse(c));
  return out;
}
}  // namespace

TEST_CASE("CIDR parsing and matching", "[net]") {
  Cidr ten = *Cidr::Parse("10.0.0.0/8");
  CHECK(ten.Contains(Ip("10.255.1.2")));
  CHECK_FALSE(ten.Contains(Ip("11.0.0.1")));
  CHECK(ten.Contains(Ip("::ffff:10.1.1.1")));  // IPv4-mapped
  Cidr odd = *Cidr::Parse("192.168.1.128/25");
  CHECK(odd.Contains(Ip("192.168.1.200")));
  CHECK_FALSE(odd.Contains(Ip("192.168.1.127")));
  Cidr v6 = *Cidr::Parse("2001:db8::/32");
  CHECK(v6.Contains(Ip("2001:db8:1::5")));
  CHECK_FALSE(v6.Contains(Ip("2001:db9::1")));
  CHECK_FALSE(v6.Contains(Ip("10.0.0.1")));
  CHECK(Cidr::Parse("127.0.0.1")->Contains(Ip("127.0.0.1")));
  CHECK(Cidr::Parse("0.0.0.0/0")->Contains(Ip("8.8.8.8")));
  for (const char* bad :
       {"10.0.0.0/33", "10.0.0/8", "x/8", "10.0.0.0/", "::1/129", "10.0.0.0/8x"}) {
    INFO(bad);
    CHECK_FALSE(Cidr::Parse(bad).ok());
  }
}

TEST_CASE("X-Forwarded-For is trusted only from trusted proxies", "[net]") {
  auto trusted = Cidrs({"10.0.0.0/8", "127.0.0.1"});
  // Untrusted peer: header ignored.
  CHECK(ResolveClientIp(Ip("203.0.113.5"), "1.2.3.4", trusted) == "203.0.113.5");
  // No trusted proxies configured.
  CHECK(ResolveClientIp(Ip("10.0.0.1"), "1.2.3.4", {}) == "10.0.0.1");
  // Trusted peer: rightmost untrusted hop.
  CHECK(ResolveClientIp(Ip("10.0.0.1"), "1.2.3.4", trusted) == "1.2.3.4");
  CHECK(ResolveClientIp(Ip("10.0.0.1"), "6.6.6.6, 1.2.3.4, 10.9.9.9", trusted) == "1.2.3.4");
  // A spoofed leftmost entry does not win over the real client.
  CHECK(ResolveClientIp(Ip("127.0.0.1"), "9.9.9.9,5.5.5.5", trusted) == "5.5.5.5");
  // All hops trusted: the leftmost.
  CHECK(ResolveClientIp(Ip("10.0.0.1"), "10.1.1.1, 10.2.2.2", trusted) == "10.1.1.1");
  // Garbage stops the walk at the last good hop.
  CHECK(ResolveClientIp(Ip("10.0.0.1"), "1.1.1.1, garbage", trusted) == "10.0.0.1");
  CHECK(ResolveClientIp(Ip("10.0.0.1"), "", trusted) == "10.0.0.1");
  CHECK(ResolveClientIp(Ip("10.0.0.1"), " 2001:db8::1 ", trusted) == "2001:db8::1");
  CHECK(ResolveClientIp(Ip("::ffff:10.0.0.1"), "1.2.3.4", trusted) == "1.2.3.4");
  // Every width of an IPv4 byte, as inet_ntop writes it.
  CHECK(ResolveClientIp(Ip("10.0.0.1"), "0.9.10.255", trusted) == "0.9.10.255");
  CHECK(ResolveClientIp(Ip("100.99.1.0"), "", trusted) == "100.99.1.0");
  CHECK(ResolveClientIp(Ip("::ffff:8.8.8.8"), "", trusted) == "8.8.8.8");
}

}  // namespace ricochet::engine

namespace ricochet::engine {

TEST_CASE("postback targets: every non-public address class is blocked", "[net][ssrf]") {
  auto cls = [](const char* text) -> std::string {
    boost::system::error_code ec;
    boost::asio::ip::address a = boost::asio::ip::make_address(text, ec);
    REQUIRE_FALSE(ec);
    std::optional<std::string_view> c = BlockedTargetClass(a);
    return c ? std::string(*c) : std::string("public");
  };
  CHECK(cls("127.0.0.1") == "loopback");
  CHECK(cls("127.255.0.9") == "loopback");
  CHECK(cls("::1") == "loopback");
  CHECK(cls("10.1.2.3") == "private");
  CHECK(cls("172.16.0.1") == "private");
  CHECK(cls("172.31.255.255") == "private");
  CHECK(cls("172.32.0.1") == "public");
  CHECK(cls("192.168.1.1") == "private");
  CHECK(cls("100.64.0.1") == "private");
  CHECK(cls("169.254.169.254") == "metadata");
  CHECK(cls("100.100.100.200") == "metadata");
  CHECK(cls("fd00:ec2::254") == "metadata");
  CHECK(cls("169.254.1.1") == "link_local");
  CHECK(cls("fe80::1") == "link_local");
  CHECK(cls("fc00::1") == "unique_local");
  CHECK(cls("fd12:3456::1") == "unique_local");
  CHECK(cls("::ffff:127.0.0.1") == "ipv4_mapped");
  CHECK(cls("::ffff:8.8.8.8") == "ipv4_mapped");
  CHECK(cls("0.0.0.0") == "unspecified");
  CHECK(cls("::") == "unspecified");
  CHECK(cls("224.0.0.1") == "multicast");
  CHECK(cls("ff02::1") == "multicast");
  CHECK(cls("255.255.255.255") == "reserved");
  CHECK(cls("64:ff9b::7f00:1") == "loopback");   // NAT64 of 127.0.0.1
  CHECK(cls("64:ff9b::808:808") == "public");    // NAT64 of 8.8.8.8
  CHECK(cls("64:ff9b:1::a00:1") == "reserved");  // local-use NAT64 (RFC 8215)
  CHECK(cls("2002:a00:1::1") == "private");      // 6to4 of 10.0.0.1
  CHECK(cls("8.8.8.8") == "public");
  CHECK(cls("93.184.216.34") == "public");
  CHECK(cls("2606:4700::1111") == "public");
}

TEST_CASE("postback hosts: address spellings are read as the resolver reads them", "[net][ssrf]") {
  auto read = [](const char* host) -> std::string {
    std::optional<boost::asio::ip::address> a = ParseHostAddress(host);
    return a ? a->to_string() : std::string("name");
  };
  CHECK(read("127.0.0.1") == "127.0.0.1");
  CHECK(read("::1") == "::1");
  CHECK(read("2130706433") == "127.0.0.1");
  CHECK(read("0177.0.0.1") == "127.0.0.1");
  CHECK(read("0x7f000001") == "127.0.0.1");
  CHECK(read("0x7F.1") == "127.0.0.1");
  CHECK(read("127.1") == "127.0.0.1");
  CHECK(read("127.000.000.001") == "127.0.0.1");
  CHECK(read("017700000001") == "127.0.0.1");
  CHECK(read("0") == "0.0.0.0");
  CHECK(read("0300.0250.1") == "192.168.0.1");
  CHECK(read("0xa9fea9fe") == "169.254.169.254");
  CHECK(read("example.com") == "name");
  CHECK(read("deadbeef.example") == "name");
  CHECK(read("cafe") == "name");  // hex letters without 0x: a name, as getaddrinfo reads it
  CHECK(read("1.2.3.4.5") == "name");
  CHECK(read("4294967296") == "name");  // above 32 bits
  CHECK(read("08.0.0.1") == "name");    // 8 is not an octal digit
  CHECK(read("") == "name");
}

// ParseIp reads dotted quads itself; inet_pton (what make_address calls) is the oracle.
TEST_CASE("ParseIp reads IPv4 exactly as inet_pton does", "[net]") {
  auto pton = [](const std::string& s) -> std::optional<uint32_t> {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
    return ntohl(a.s_addr);
  };
  auto parse = [](const std::string& s) -> std::optional<uint32_t> {
    boost::asio::ip::address a;
    if (!ParseIp(s, &a)) return std::nullopt;
    REQUIRE(a.is_v4());
    return a.to_v4().to_uint();
  };
  for (const char* s :
       {"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4",
        "1.2.3.00", "1.2.3.0", "1..3.4", ".1.2.3", "1.2.3.", "1.2.3.4x", "1.2.3.1000", "1.2.3.-1",
        "+1.2.3.4", "0x1.2.3.4", "1 .2.3.4", "9.99.199.249"}) {
    INFO(s);
    CHECK(parse(s) == pton(s));
  }
  CHECK(parse(" 10.0.0.1\t") == pton("10.0.0.1"));  // list items are trimmed
  std::mt19937 rng(7);
  const std::string alphabet = "0123456789.";
  for (int i = 0; i < 200000; ++i) {
    std::string s(1 + rng() % 16, ' ');
    for (char& c : s) c = alphabet[rng() % (rng() % 2 ? 10 : alphabet.size())];
    INFO(s);
    REQUIRE(parse(s) == pton(s));
  }
}

}  // namespace ricochet::engine
