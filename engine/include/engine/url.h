// URL helpers for the request path: RFC 3986 percent-encoding, query parsing, and checks of
// configured URLs. No allocation beyond the returned strings.
#ifndef RICOCHET_ENGINE_URL_H_
#define RICOCHET_ENGINE_URL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "attribution/ids.h"

namespace ricochet::engine {

// Appends `value` percent-encoded: unreserved characters (ALPHA DIGIT - . _ ~) stay, every
// other byte becomes %XX with upper-case hex.
void AppendPercentEncoded(std::string& out, std::string_view value);
[[nodiscard]] std::string PercentEncode(std::string_view value);
// `value` with every byte outside printable ASCII (space, controls, DEL, 0x80 and above) as
// %XX: a request target kept as text stays one valid, readable token.
[[nodiscard]] std::string PercentEncodeUnprintable(std::string_view value);

// Decodes %XX and, when `plus_is_space`, '+' (form encoding). A malformed escape is kept
// literally, as browsers do.
[[nodiscard]] std::string PercentDecode(std::string_view value, bool plus_is_space = true);

// Calls fn(name, value) for each `name=value` pair of an application/x-www-form-urlencoded
// string (a query string without '?'), both decoded. Empty pairs are skipped.
void ForEachQueryParam(std::string_view query,
                       absl::FunctionRef<void(std::string_view, std::string_view)> fn);

// An absolute-form request target, "http://authority/path?query" (scheme http or https, any
// case), split after its authority. `rest` is what follows the authority, possibly empty.
struct AbsoluteForm {
  std::string_view authority;
  std::string_view rest;
};
// nullopt for any other form (origin-form "/path", "*", another scheme, no "://").
[[nodiscard]] std::optional<AbsoluteForm> SplitAbsoluteForm(std::string_view target);

// Splits a request target into path and query (without '?'); a fragment is dropped. An
// absolute-form target (http:// or https://, any case) loses its scheme and authority first;
// its path is "/" (a literal, not a view into `target`) when nothing, or only a query or a
// fragment, follows the authority.
void SplitTarget(std::string_view target, std::string_view* path, std::string_view* query);

// True for a query parameter name (decoded, lower-case) that may carry a secret: one that
// contains "token", "secret", "passw", "key", "auth" or "signature".
[[nodiscard]] bool IsSecretParamName(std::string_view lower_name);

// `target` with the values of secret-bearing query parameters (IsSecretParamName; the name may
// be percent-encoded) replaced by "REDACTED", for logs and the audit trail.
[[nodiscard]] std::string RedactTarget(std::string_view target);

// True if any byte is a C0 control, DEL, or (when `reject_space`) a space.
[[nodiscard]] bool HasControlChars(std::string_view s, bool reject_space = false);

// A configured destination must be an absolute http(s) URL with a host, at most 4096 bytes,
// without control characters or whitespace. InvalidArgument says what is wrong.
[[nodiscard]] absl::Status ValidateConfiguredUrl(std::string_view url);

// An absolute http(s) URL split for an outgoing request.
struct HttpTarget {
  bool tls = false;
  std::string host;  // lower-cased; an IPv6 literal without brackets
  uint16_t port = 0;
  std::string target;  // path and query, at least "/"; the fragment dropped
};
// Fails (InvalidArgument) on anything ValidateConfiguredUrl rejects, userinfo, a bad port, or an
// empty host.
[[nodiscard]] absl::StatusOr<HttpTarget> ParseHttpTarget(std::string_view url);

// `s` with every byte that is not part of valid UTF-8 replaced by U+FFFD, so stored text is
// always valid in JSON answers.
[[nodiscard]] std::string ToValidUtf8(std::string_view s);
// The same into `*out`, which keeps its buffer when it is large enough. `out` must not hold `s`.
void AssignValidUtf8(std::string_view s, std::string* out);

// Ids of offers and affiliates follow ricochet::IsValidId ([A-Za-z0-9_-]{1,64}).
using ::ricochet::IsValidId;

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_URL_H_
