#include "engine/net.h"

#include <arpa/inet.h>

#include <charconv>
#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "attribution/sv.h"

namespace ricochet::engine {
namespace {

using boost::asio::ip::address;

address Unmap(const address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A dotted quad exactly as inet_pton(AF_INET) reads one: four decimal numbers of at most 255,
// without leading zeros. make_address tries IPv6 first and copies the text: a client address
// is parsed on every click behind a proxy.
std::optional<boost::asio::ip::address_v4> ParseDottedQuad(std::string_view s) {
  uint32_t v = 0;
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
    const size_t start = i;
    uint32_t octet = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
      octet = octet * 10 + static_cast<uint32_t>(s[i] - '0');
      ++i;
    }
    if (i == start || octet > 255 || (i - start > 1 && s[start] == '0')) return std::nullopt;
    v = v << 8 | octet;
  }
  if (i != s.size()) return std::nullopt;
  return boost::asio::ip::address_v4(v);
}

}  // namespace

bool ParseIp(std::string_view text, address* out) {
  text = Trim(text);
  if (text.empty() || text.size() > 64) return false;
  if (text.find(':') == std::string_view::npos) {
    std::optional<boost::asio::ip::address_v4> v4 = ParseDottedQuad(text);
    if (v4) *out = *v4;
    return v4.has_value();
  }
  boost::system::error_code ec;
  address a = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return false;
  *out = Unmap(a);
  return true;
}

std::optional<address> ParseHostAddress(std::string_view host) {
  boost::system::error_code ec;
  address a = boost::asio::ip::make_address(std::string(host), ec);
  if (!ec) return a;
  // inet_aton is the parser getaddrinfo applies to numeric hosts, so it reads these spellings
  // exactly as delivery would. Only digits, hex letters, x and dots can form one.
  if (host.empty() || host.size() > 64) return std::nullopt;
  for (char c : host) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'x' && c != 'X')
      return std::nullopt;
  }
  in_addr v4{};
  if (inet_aton(std::string(host).c_str(), &v4) == 0) return std::nullopt;
  return boost::asio::ip::address_v4(ntohl(v4.s_addr));
}

absl::StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  size_t slash = text.find('/');
  Cidr c;
  if (!ParseIp(text.substr(0, slash), &c.network_)) {
    return absl::InvalidArgumentError(absl::StrCat("bad address in CIDR '", ToAbsl(text), "'"));
  }
  int max = c.network_.is_v4() ? 32 : 128;
  c.prefix_ = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), c.prefix_);
    if (ec != std::errc() || ptr != p.data() + p.size() || c.prefix_ < 0 || c.prefix_ > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad prefix length in CIDR '", ToAbsl(text), "'"));
    }
  }
  return c;
}

bool Cidr::Contains(const address& raw) const {
  address a = Unmap(raw);
  if (a.is_v4() != network_.is_v4()) return false;
  auto match = [&](const auto& x, const auto& y) {
    int bits = prefix_;
    for (size_t i = 0; i < x.size() && bits > 0; ++i, bits -= 8) {
      uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
      if ((x[i] & mask) != (y[i] & mask)) return false;
    }
    return true;
  };
  if (a.is_v4()) return match(a.to_v4().to_bytes(), network_.to_v4().to_bytes());
  return match(a.to_v6().to_bytes(), network_.to_v6().to_bytes());
}

std::string Cidr::ToString() const { return absl::StrCat(network_.to_string(), "/", prefix_); }

std::optional<std::string_view> BlockedTargetClass(const address& a) {
  if (a.is_v6()) {
    const boost::asio::ip::address_v6 v6 = a.to_v6();
    if (v6.is_v4_mapped()) return "ipv4_mapped";
    const boost::asio::ip::address_v6::bytes_type b = v6.to_bytes();
    // Translation prefixes embed an IPv4 address that the packet really reaches.
    static const Cidr kNat64 = *Cidr::Parse("64:ff9b::/96");
    static const Cidr kNat64Local = *Cidr::Parse("64:ff9b:1::/48");  // RFC 8215, local use
    static const Cidr kSixToFour = *Cidr::Parse("2002::/16");
    if (kNat64Local.Contains(a)) return "reserved";  // its IPv4 part is placed site-specifically
    if (kNat64.Contains(a) || kSixToFour.Contains(a)) {
      const size_t at = kNat64.Contains(a) ? 12 : 2;
      boost::asio::ip::address_v4 inner({b[at], b[at + 1], b[at + 2], b[at + 3]});
      if (std::optional<std::string_view> c = BlockedTargetClass(inner)) return c;
      return std::nullopt;
    }
  }
  // Most specific first: the metadata addresses sit inside link-local and unique-local ranges.
  static const std::vector<std::pair<Cidr, std::string_view>> kBlocked = [] {
    std::vector<std::pair<Cidr, std::string_view>> t;
    for (auto [cidr, name] : std::initializer_list<std::pair<const char*, std::string_view>>{
             {"169.254.169.254/32", "metadata"},  // AWS, GCP, Azure, OpenStack
             {"100.100.100.200/32", "metadata"},  // Alibaba
             {"192.0.0.192/32", "metadata"},      // Oracle
             {"fd00:ec2::254/128", "metadata"},   // AWS over IPv6
             {"0.0.0.0/8", "unspecified"},
             {"10.0.0.0/8", "private"},
             {"172.16.0.0/12", "private"},
             {"192.168.0.0/16", "private"},
             {"100.64.0.0/10", "private"},  // carrier-grade NAT
             {"127.0.0.0/8", "loopback"},
             {"169.254.0.0/16", "link_local"},
             {"192.0.0.0/24", "reserved"},
             {"192.0.2.0/24", "reserved"},
             {"198.18.0.0/15", "reserved"},
             {"198.51.100.0/24", "reserved"},
             {"203.0.113.0/24", "reserved"},
             {"224.0.0.0/4", "multicast"},
             {"240.0.0.0/4", "reserved"},  // includes 255.255.255.255
             {"::/128", "unspecified"},
             {"::1/128", "loopback"},
             {"::/96", "reserved"},  // IPv4-compatible (deprecated)
             {"100::/64", "reserved"},
             {"2001:db8::/32", "reserved"},
             {"fc00::/7", "unique_local"},
             {"fe80::/10", "link_local"},
             {"fec0::/10", "link_local"},  // deprecated site-local
             {"ff00::/8", "multicast"}}) {
      t.emplace_back(*Cidr::Parse(cidr), name);
    }
    return t;
  }();
  for (const auto& [cidr, name] : kBlocked) {
    if (cidr.Contains(a)) return name;
  }
  return std::nullopt;
}

namespace {

// address::to_string() formats IPv4 through inet_ntop and sprintf: 1% of an I/O thread's
// samples under keep-alive clicks, for four numbers.
std::string ToText(const address& a) {
  if (!a.is_v4()) return a.to_string();
  std::string out;
  out.reserve(15);
  for (uint8_t byte : a.to_v4().to_bytes()) {
    if (!out.empty()) out.push_back('.');
    if (byte >= 100) out.push_back(static_cast<char>('0' + byte / 100));
    if (byte >= 10) out.push_back(static_cast<char>('0' + byte / 10 % 10));
    out.push_back(static_cast<char>('0' + byte % 10));
  }
  return out;
}

}  // namespace

std::string ResolveClientIp(const address& peer, std::string_view forwarded_for,
                            const std::vector<Cidr>& trusted) {
  auto is_trusted = [&](const address& a) {
    for (const Cidr& c : trusted) {
      if (c.Contains(a)) return true;
    }
    return false;
  };
  address current = Unmap(peer);
  if (trusted.empty() || forwarded_for.empty() || !is_trusted(current)) return ToText(current);
  // Walk right to left: each hop was reported by the hop to its right, which we trust so far.
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    size_t comma = rest.rfind(',');
    std::string_view item = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    address hop;
    if (!ParseIp(item, &hop)) break;
    current = hop;
    if (!is_trusted(hop)) break;
  }
  return ToText(current);
}

}  // namespace ricochet::engine
