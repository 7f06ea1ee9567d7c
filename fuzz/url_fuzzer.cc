// engine/url.h on arbitrary bytes, read as a query string, a request target and a configured
// URL: percent-encoding round trips, form parsing, redaction of secrets for logs, the checks of
// configured URLs, and UTF-8 repair.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/url.h"
#include "fuzz_check.h"

namespace {

namespace engine = ricochet::engine;

bool IsSecretName(std::string name) {
  for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  for (const char* part : {"token", "secret", "passw", "key", "auth", "signature"}) {
    if (name.find(part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  // Query / form parsing: decoding only ever shrinks, and an empty pair is no pair.
  std::vector<std::pair<std::string, std::string>> pairs;
  engine::ForEachQueryParam(in, [&](std::string_view n, std::string_view v) {
    FUZZ_CHECK(n.size() + v.size() <= in.size());
    pairs.emplace_back(n, v);
  });
  FUZZ_CHECK(pairs.size() <= static_cast<size_t>(std::count(in.begin(), in.end(), '&')) + 1);
  FUZZ_CHECK(engine::PercentDecode(in).size() <= in.size());

  // Percent-encoding round-trips under both decodings, and survives form parsing as a name and
  // as a value.
  std::string enc = engine::PercentEncode(in);
  FUZZ_CHECK(engine::PercentDecode(enc, true) == in);
  FUZZ_CHECK(engine::PercentDecode(enc, false) == in);
  FUZZ_CHECK(enc.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-._~%") == std::string::npos);
  std::vector<std::pair<std::string, std::string>> round;
  engine::ForEachQueryParam(
      "k=" + enc + "&" + enc + "=v",
      [&](std::string_view n, std::string_view v) { round.emplace_back(n, v); });
  FUZZ_CHECK(round.size() == 2);
  FUZZ_CHECK(round[0].first == "k" && round[0].second == in);
  FUZZ_CHECK(round[1].first == in && round[1].second == "v");

  // Targets: the path never carries the query or fragment.
  std::string_view path, query;
  engine::SplitTarget(in, &path, &query);
  FUZZ_CHECK(path.find_first_of("?#") == std::string_view::npos);
  FUZZ_CHECK(query.find('#') == std::string_view::npos);
  FUZZ_CHECK(path.size() + query.size() <= in.size());

  // Redaction: same path; every secret-named parameter with a value shows only REDACTED.
  std::string redacted = engine::RedactTarget(in);
  size_t q = in.find('?');
  if (q == std::string_view::npos) {
    FUZZ_CHECK(redacted == in);
  } else {
    FUZZ_CHECK(redacted.compare(0, q + 1, in.substr(0, q + 1)) == 0);
    std::string_view rest = std::string_view(redacted).substr(q + 1);
    while (true) {
      size_t amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && IsSecretName(engine::PercentDecode(pair.substr(0, eq)))) {
        FUZZ_CHECK(pair.substr(eq + 1) == "REDACTED");
      }
      if (amp == std::string_view::npos) break;
      rest = rest.substr(amp + 1);
    }
  }

  // Configured URLs: a parsed target is always usable for an outgoing request.
  absl::Status valid = engine::ValidateConfiguredUrl(in);
  absl::StatusOr<engine::HttpTarget> target = engine::ParseHttpTarget(in);
  if (!valid.ok()) FUZZ_CHECK(!target.ok());
  if (target.ok()) {
    FUZZ_CHECK(!target->host.empty());
    FUZZ_CHECK(target->port != 0);
    FUZZ_CHECK(!target->target.empty() && target->target[0] == '/');
    FUZZ_CHECK(target->target.find('#') == std::string::npos);
    FUZZ_CHECK(std::none_of(target->host.begin(), target->host.end(),
                            [](char c) { return c >= 'A' && c <= 'Z'; }));
    FUZZ_CHECK(!engine::HasControlChars(target->target, /*reject_space=*/true));
  }
  if (engine::HasControlChars(in)) FUZZ_CHECK(engine::HasControlChars(in, true));

  // UTF-8 repair: idempotent, and ASCII passes through untouched.
  std::string utf8 = engine::ToValidUtf8(in);
  FUZZ_CHECK(engine::ToValidUtf8(utf8) == utf8);
  if (std::all_of(in.begin(), in.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    FUZZ_CHECK(utf8 == in);
  return 0;
}
