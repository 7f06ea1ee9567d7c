// Advertiser postbacks (engine/postback_params.h): a query, a Content-Type and a body, split out
// of the input by FuzzedDataProvider (query and Content-Type each end at a backslash followed by
// any other byte; the rest is the body). Checks the documented precedence (canonical names beat
// aliases, the body beats the query at equal rank, the first of equal names wins) for query and
// form input, and for JSON that exactly the documents Boost.JSON's own parser reads as an object
// are accepted.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "engine/postback_params.h"
#include "engine/url.h"
#include "fuzz_check.h"

namespace {

namespace engine = ricochet::engine;
using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs Parse(std::string_view form) {
  Pairs out;
  engine::ForEachQueryParam(
      form, [&](std::string_view n, std::string_view v) { out.emplace_back(n, v); });
  return out;
}

std::optional<std::string> First(const Pairs& pairs, std::string_view name) {
  for (const auto& [n, v] : pairs) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  std::string query = fdp.ConsumeRandomLengthString(4096);
  std::string content_type = fdp.ConsumeRandomLengthString(256);
  std::string body = fdp.ConsumeRemainingBytesAsString();

  engine::BodyKind kind = engine::BodyKindOf(content_type, body);
  FUZZ_CHECK((kind == engine::BodyKind::kNone) == body.empty());
  absl::StatusOr<engine::PostbackParams> p = engine::ParsePostbackParams(query, kind, body);

  if (kind == engine::BodyKind::kJson) {
    boost::json::error_code ec;
    boost::json::value doc = boost::json::parse(body, ec);
    const bool is_object = !ec && doc.is_object();
    FUZZ_CHECK(p.ok() == is_object);
    if (!is_object) return 0;
    // A top-level scalar member named click_id always reaches the result.
    if (const boost::json::value* v = doc.as_object().if_contains("click_id")) {
      if (v->is_string() || v->is_number() || v->is_bool()) FUZZ_CHECK(p->click_id.has_value());
    }
    return 0;
  }

  FUZZ_CHECK(p.ok());  // query and form input never fail
  const Pairs from_query = Parse(query);
  const Pairs from_body = kind == engine::BodyKind::kForm ? Parse(body) : Pairs();
  const std::pair<std::string_view, const std::optional<std::string>*> canonical[] = {
      {"click_id", &p->click_id},    {"visitor_id", &p->visitor_id}, {"event", &p->event},
      {"amount", &p->amount},        {"currency", &p->currency},     {"order_id", &p->order_id},
      {"status", &p->status},        {"token", &p->token},           {"offer_id", &p->offer_id},
      {"return", &p->return_format},
  };
  for (const auto& [name, field] : canonical) {
    std::optional<std::string> expected = First(from_body, name);
    if (!expected) expected = First(from_query, name);
    if (expected) FUZZ_CHECK(*field == expected);
  }
  // Every value comes from the request: with no pairs at all, nothing is set.
  if (from_query.empty() && from_body.empty()) {
    for (const auto& [name, field] : canonical) FUZZ_CHECK(!field->has_value());
  }
  FUZZ_CHECK(!p->from_pixel);
  return 0;
}
