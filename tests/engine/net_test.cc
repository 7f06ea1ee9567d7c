#include "engine/net.h"

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
  CHECK(ResolveClientIp(Ip("::ffff:8.8.8.8"), "", trusted) == "8.8.8.8");
}

}  // namespace ricochet::engine
