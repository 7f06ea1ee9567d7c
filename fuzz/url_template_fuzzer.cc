// Macro substitution (engine/url_template.h): a template, then one value per macro, each ending
// at a backslash followed by any other byte (FuzzedDataProvider). Checks that values only ever
// add their percent-encoded bytes where their macros stand (so they cannot add URL delimiters),
// and that a template that passes the configured-URL checks keeps its scheme, host and port
// whatever the values are: no open redirect through a macro.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/url.h"
#include "engine/url_template.h"
#include "fuzz_check.h"

namespace {

namespace engine = ricochet::engine;
constexpr size_t kMacros = static_cast<size_t>(engine::Macro::kCount);

size_t CountDelimiters(std::string_view s) {
  return std::count_if(s.begin(), s.end(), [](char c) {
    return c == '/' || c == '?' || c == '#' || c == '&' || c == '=' || c == '@' || c == ':' ||
           c == '{' || c == '}';
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const std::string text = fdp.ConsumeRandomLengthString(4096);
  std::string storage[kMacros];
  engine::MacroValues values{};
  for (size_t i = 0; i < kMacros; ++i) {
    storage[i] = fdp.ConsumeRandomLengthString(256);
    values[i] = storage[i];
  }

  const engine::UrlTemplate t = engine::UrlTemplate::Parse(text);
  FUZZ_CHECK(t.text() == text);
  FUZZ_CHECK(t.empty() == text.empty());
  const engine::MacroValues none{};
  const std::string bare = t.Render(none);
  FUZZ_CHECK(bare.size() <= text.size());
  if (text.find('{') == std::string::npos) FUZZ_CHECK(bare == text);

  // Each macro's occurrences, counted by rendering it alone as one byte; the full rendering is
  // then exactly the bare one plus each encoded value at each occurrence.
  size_t expected = bare.size();
  for (size_t i = 0; i < kMacros; ++i) {
    engine::MacroValues one{};
    one[i] = "x";
    size_t occurrences = t.Render(one).size() - bare.size();
    expected += occurrences * engine::PercentEncode(values[i]).size();
  }
  const std::string rendered = t.Render(values);
  FUZZ_CHECK(rendered.size() == expected);
  FUZZ_CHECK(CountDelimiters(rendered) == CountDelimiters(bare));

  // A template the admin API would accept keeps its destination.
  absl::StatusOr<engine::HttpTarget> before = engine::ParseHttpTarget(text);
  if (before.ok() && rendered.size() <= 4096) {
    absl::StatusOr<engine::HttpTarget> after = engine::ParseHttpTarget(rendered);
    FUZZ_CHECK(after.ok());
    FUZZ_CHECK(after->tls == before->tls && after->host == before->host &&
               after->port == before->port);
  }
  return 0;
}
