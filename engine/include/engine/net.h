// Client addresses: CIDR ranges and the X-Forwarded-For trust rule.
#ifndef RICOCHET_ENGINE_NET_H_
#define RICOCHET_ENGINE_NET_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/asio/ip/address.hpp"

namespace ricochet::engine {

// An IPv4 or IPv6 prefix. IPv4-mapped IPv6 addresses match IPv4 ranges.
class Cidr {
 public:
  // "10.0.0.0/8", "::1/128", or a bare address (a /32 or /128).
  static absl::StatusOr<Cidr> Parse(std::string_view text);
  [[nodiscard]] bool Contains(const boost::asio::ip::address& addr) const;
  std::string ToString() const;

 private:
  boost::asio::ip::address network_;
  int prefix_ = 0;
};

// Parses an address, unwrapping IPv4-mapped IPv6 to IPv4. False on anything else.
bool ParseIp(std::string_view text, boost::asio::ip::address* out);

// A URL host that names an address, as the resolver reads it: IPv6 and dotted-quad literals,
// and the legacy IPv4 spellings getaddrinfo also accepts (decimal 2130706433, octal 0177.0.0.1,
// hex 0x7f.0.0.1, short 127.1). nullopt for a name.
std::optional<boost::asio::ip::address> ParseHostAddress(std::string_view host);

// SSRF guard for outgoing postbacks: the class of address a server must not be made to call
// ("loopback", "private", "link_local", "unique_local", "metadata", "ipv4_mapped",
// "unspecified", "multicast", "reserved"), or nullopt for a public unicast address. Addresses
// embedded in NAT64 (64:ff9b::/96) and 6to4 (2002::/16) are judged by their IPv4 part.
[[nodiscard]] std::optional<std::string_view> BlockedTargetClass(
    const boost::asio::ip::address& address);

// The client address of a request: the socket peer, unless the peer is a trusted proxy, in
// which case X-Forwarded-For is walked from the right and the first address that is not itself
// a trusted proxy wins (so a client cannot spoof by prepending). Malformed entries stop the walk
// and the last trusted hop's view (the nearest address seen) is used.
std::string ResolveClientIp(const boost::asio::ip::address& peer, std::string_view forwarded_for,
                            const std::vector<Cidr>& trusted);

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_NET_H_
