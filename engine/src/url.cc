#include "engine/url.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "attribution/sv.h"

namespace ricochet::engine {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

// RFC 3986's unreserved bytes, as a table: the click path encodes every macro value.
constexpr std::array<bool, 256> kUnreserved = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
  }
  return t;
}();

bool IsUnreserved(unsigned char c) { return kUnreserved[c]; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Appends `value` with every byte for which keep() is false written as %XX.
// Runs of kept bytes are appended whole.
template <typename Keep>
void AppendEncodedExcept(std::string& out, std::string_view value, Keep keep) {
  size_t i = 0;
  while (i < value.size()) {
    size_t run = i;
    while (run < value.size() && keep(static_cast<unsigned char>(value[run]))) ++run;
    out.append(value.data() + i, run - i);
    if (run == value.size()) break;
    const auto c = static_cast<unsigned char>(value[run]);
    const char escaped[3] = {'%', kHex[c >> 4], kHex[c & 15]};
    out.append(escaped, 3);
    i = run + 1;
  }
}

}  // namespace

void AppendPercentEncoded(std::string& out, std::string_view value) {
  AppendEncodedExcept(out, value, IsUnreserved);
}

std::string PercentEncodeUnprintable(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  AppendEncodedExcept(out, value, [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  return out;
}

std::string PercentEncode(std::string_view value) {
  std::string out;
  out.reserve(value.size() * 3);
  AppendPercentEncoded(out, value);
  return out;
}

std::string PercentDecode(std::string_view value, bool plus_is_space) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '%' && i + 2 < value.size()) {
      int hi = HexValue(value[i + 1]);
      int lo = HexValue(value[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void ForEachQueryParam(std::string_view query,
                       absl::FunctionRef<void(std::string_view, std::string_view)> fn) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    // Most names and many values need no decoding: avoid the copy then.
    bool name_plain = raw_name.find_first_of("%+") == std::string_view::npos;
    bool value_plain = raw_value.find_first_of("%+") == std::string_view::npos;
    if (name_plain && value_plain) {
      fn(raw_name, raw_value);
    } else {
      std::string name = name_plain ? std::string(raw_name) : PercentDecode(raw_name);
      std::string value = value_plain ? std::string(raw_value) : PercentDecode(raw_value);
      fn(name, value);
    }
  }
}

std::optional<AbsoluteForm> SplitAbsoluteForm(std::string_view target) {
  if (target.empty() || target[0] == '/') return std::nullopt;
  size_t colon = target.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  absl::string_view scheme = ToAbsl(target.substr(0, colon));
  if (!absl::EqualsIgnoreCase(scheme, "http") && !absl::EqualsIgnoreCase(scheme, "https")) {
    return std::nullopt;
  }
  target.remove_prefix(colon + 3);
  size_t end = std::min(target.find_first_of("/?#"), target.size());
  return AbsoluteForm{target.substr(0, end), target.substr(end)};
}

void SplitTarget(std::string_view target, std::string_view* path, std::string_view* query) {
  // Absolute-form (RFC 9112 3.2.2: a server must accept it): the path starts after the
  // authority, and is "/" when only a query or a fragment, or nothing, follows it.
  std::optional<AbsoluteForm> absolute = SplitAbsoluteForm(target);
  if (absolute) target = absolute->rest;
  size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  size_t q = target.find('?');
  *path = target.substr(0, q);
  *query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (absolute && path->empty()) *path = "/";
}

bool HasControlChars(std::string_view s, bool reject_space) {
  // Without an early exit the loop vectorizes; it checks every redirect's Location.
  const unsigned char below = reject_space ? 0x21 : 0x20;
  bool found = false;
  for (unsigned char c : s) found |= (c < below) | (c == 0x7f);
  return found;
}

absl::Status ValidateConfiguredUrl(std::string_view url) {
  if (url.empty()) return absl::InvalidArgumentError("URL is empty");
  if (url.size() > 4096) return absl::InvalidArgumentError("URL longer than 4096 bytes");
  if (HasControlChars(url, /*reject_space=*/true)) {
    return absl::InvalidArgumentError("URL contains control characters or whitespace");
  }
  for (unsigned char c : url) {
    if (c >= 0x80)
      return absl::InvalidArgumentError("URL contains non-ASCII bytes; percent-encode them");
    if (c == '\\') return absl::InvalidArgumentError("URL contains a backslash");
  }
  std::string_view rest;
  if (StartsWithNoCase(url, "https://")) {
    rest = url.substr(8);
  } else if (StartsWithNoCase(url, "http://")) {
    rest = url.substr(7);
  } else {
    return absl::InvalidArgumentError("URL must start with http:// or https://");
  }
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  size_t at = authority.rfind('@');
  std::string_view host = at == std::string_view::npos ? authority : authority.substr(at + 1);
  if (host.empty() || host[0] == ':') return absl::InvalidArgumentError("URL has no host");
  // A macro here would let the request choose the destination host (an open redirect).
  if (authority.find_first_of("{}") != std::string_view::npos) {
    return absl::InvalidArgumentError("URL must not have macros or braces in its host part");
  }
  return absl::OkStatus();
}

bool IsSecretParamName(std::string_view lower_name) {
  // token, access_token, security_token (the postback alias), api_key, apikey, client_secret,
  // password, passwd, auth, signature, ...: redacting an innocent value costs nothing.
  for (std::string_view part : {"token", "secret", "passw", "key", "auth", "signature"}) {
    if (lower_name.find(part) != std::string_view::npos) return true;
  }
  return false;
}

std::string RedactTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view rest = target.substr(q + 1);
  bool first = true;
  while (!rest.empty() || first) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (!first) out.push_back('&');
    first = false;
    size_t eq = pair.find('=');
    std::string name = PercentDecode(pair.substr(0, eq));
    for (char& c : name) c = absl::ascii_tolower(c);
    if (eq != std::string_view::npos && IsSecretParamName(name)) {
      absl::StrAppend(&out, ToAbsl(pair.substr(0, eq)), "=REDACTED");
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos) break;
  }
  return out;
}

absl::StatusOr<HttpTarget> ParseHttpTarget(std::string_view url) {
  if (absl::Status st = ValidateConfiguredUrl(url); !st.ok()) return st;
  HttpTarget t;
  t.tls = StartsWithNoCase(url, "https://");
  std::string_view rest = url.substr(t.tls ? 8 : 7);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? "" : rest.substr(end);
  if (size_t hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("URL must not carry user information");
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("URL has a bad host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return absl::InvalidArgumentError("URL has a bad host");
      port = after.substr(1);
    }
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return absl::InvalidArgumentError("URL has no host");
  t.host = std::string(host);
  for (char& c : t.host) c = absl::ascii_tolower(c);
  t.port = t.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return absl::InvalidArgumentError("URL has a bad port");
    }
    t.port = static_cast<uint16_t>(value);
  }
  t.target = tail.empty() || tail[0] != '/' ? absl::StrCat("/", ToAbsl(tail)) : std::string(tail);
  return t;
}

void AssignValidUtf8(std::string_view s, std::string* out) {
  out->clear();
  size_t i = 0;
  size_t copied = 0;  // s[copied, i) is valid and not yet in `out`: copied in runs
  while (i < s.size()) {
    // Eight ASCII bytes at a time: nearly all of a User-Agent or a sub-id is ASCII.
    if (s.size() - i >= 8) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      if ((word & 0x8080808080808080u) == 0) {
        i += 8;
        continue;
      }
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (ok) {
      uint32_t cp = c & (0x7F >> len);
      for (size_t k = 1; k < len; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      i += len;
    } else {
      out->append(s.substr(copied, i - copied));
      out->append("\xEF\xBF\xBD");  // U+FFFD
      copied = ++i;
    }
  }
  out->append(s.substr(copied));
}

std::string ToValidUtf8(std::string_view s) {
  std::string out;
  AssignValidUtf8(s, &out);
  return out;
}

}  // namespace ricochet::engine
