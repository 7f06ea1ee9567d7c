#include "engine/postback_params.h"

#include <array>
#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "attribution/sv.h"
#include "boost/json/basic_parser_impl.hpp"
#include "engine/url.h"

namespace ricochet::engine {
namespace {

enum Field {
  kClickId,
  kVisitorId,
  kEvent,
  kAmount,
  kCurrency,
  kOrderId,
  kStatus,
  kToken,
  kOfferId,
  kReturn,
  kFieldCount
};

struct Name {
  std::string_view name;
  Field field;
  int rank;  // lower wins
};
constexpr Name kNames[] = {
    {"click_id", kClickId, 0}, {"transaction_id", kClickId, 1},
    {"cid", kClickId, 2},      {"clickid", kClickId, 3},
    {"subid", kClickId, 4},    {"visitor_id", kVisitorId, 0},
    {"event", kEvent, 0},      {"goal", kEvent, 1},
    {"amount", kAmount, 0},    {"sale_amount", kAmount, 1},
    {"sum", kAmount, 2},       {"currency", kCurrency, 0},
    {"order_id", kOrderId, 0}, {"txid", kOrderId, 1},
    {"adv_sub", kOrderId, 2},  {"status", kStatus, 0},
    {"token", kToken, 0},      {"security_token", kToken, 1},
    {"offer_id", kOfferId, 0}, {"return", kReturn, 0},
};

// Collects the best-ranked value of each field. `source` 1 (body) beats 0 (query) at equal rank.
class Collector {
 public:
  void Offer(std::string_view name, std::string_view value, int source) {
    for (const Name& n : kNames) {
      if (n.name != name) continue;
      int score = n.rank * 2 + (1 - source);
      if (score < scores_[n.field]) {
        scores_[n.field] = score;
        values_[n.field] = std::string(value);
      }
    }
  }
  PostbackParams Result() && {
    PostbackParams p;
    std::optional<std::string>* out[kFieldCount] = {
        &p.click_id, &p.visitor_id, &p.event, &p.amount,   &p.currency,
        &p.order_id, &p.status,     &p.token, &p.offer_id, &p.return_format};
    for (int f = 0; f < kFieldCount; ++f) {
      if (scores_[f] != INT_MAX) *out[f] = std::move(values_[f]);
    }
    return p;
  }

 private:
  std::array<int, kFieldCount> scores_ = [] {
    std::array<int, kFieldCount> a;
    a.fill(INT_MAX);
    return a;
  }();
  std::array<std::string, kFieldCount> values_;
};

// SAX handler for a flat JSON object: scalar members go to the collector as text. Numbers keep
// their literal spelling ("19.990"), never a double.
struct FlatObjectHandler {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  using sv = boost::json::string_view;
  using ec_t = boost::json::error_code;

  // basic_parser constructs the handler as h_(args...): an aggregate would need C++20
  // parenthesized aggregate init, which clang 14 (the fuzz build) does not implement.
  explicit FlatObjectHandler(Collector* collector) : out(collector) {}

  Collector* out;
  int depth = 0;
  bool top_is_object = false;
  std::string key, key_parts, text;

  void Scalar(std::string_view value) {
    if (depth == 1) out->Offer(key, value, 1);
  }
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t& ec) {
    if (depth == 0) ec = boost::json::error::syntax;  // the top level must be an object
    ++depth;
    return !ec;
  }
  bool on_array_end(std::size_t, ec_t&) {
    --depth;
    return true;
  }
  bool on_object_begin(ec_t&) {
    if (depth == 0) top_is_object = true;
    ++depth;
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) {
    --depth;
    return true;
  }
  bool on_string_part(sv s, std::size_t, ec_t&) {
    text.append(s.data(), s.size());
    return true;
  }
  bool on_string(sv s, std::size_t, ec_t& ec) { return Leaf(s, ec); }
  bool on_key_part(sv s, std::size_t, ec_t&) {
    key_parts.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv s, std::size_t, ec_t&) {
    key_parts.append(s.data(), s.size());
    if (depth == 1) key = key_parts;  // nested keys never replace the member's own
    key_parts.clear();
    return true;
  }
  bool on_number_part(sv s, ec_t&) {
    text.append(s.data(), s.size());
    return true;
  }
  // The last part of a string or number literal: the member's whole value is now in `text`.
  bool Leaf(sv s, ec_t& ec) {
    if (depth == 0) {
      ec = boost::json::error::syntax;
      return false;
    }
    text.append(s.data(), s.size());
    Scalar(text);
    text.clear();
    return true;
  }
  bool on_int64(int64_t, sv s, ec_t& ec) { return Leaf(s, ec); }
  bool on_uint64(uint64_t, sv s, ec_t& ec) { return Leaf(s, ec); }
  bool on_double(double, sv s, ec_t& ec) { return Leaf(s, ec); }
  bool on_bool(bool b, ec_t& ec) {
    if (depth == 0) ec = boost::json::error::syntax;
    Scalar(b ? "true" : "false");
    return !ec;
  }
  bool on_null(ec_t& ec) {
    if (depth == 0) ec = boost::json::error::syntax;
    return !ec;
  }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
};

}  // namespace

BodyKind BodyKindOf(std::string_view content_type, std::string_view body) {
  if (body.empty()) return BodyKind::kNone;
  absl::string_view ct = absl::StripAsciiWhitespace(ToAbsl(content_type));
  if (absl::StartsWithIgnoreCase(ct, "application/json") ||
      (absl::StartsWithIgnoreCase(ct, "application/") &&
       absl::EndsWithIgnoreCase(ct.substr(0, ct.find(';')), "+json"))) {
    return BodyKind::kJson;
  }
  return BodyKind::kForm;
}

absl::StatusOr<PostbackParams> ParsePostbackParams(std::string_view query, BodyKind kind,
                                                   std::string_view body) {
  Collector c;
  ForEachQueryParam(query, [&](std::string_view n, std::string_view v) { c.Offer(n, v, 0); });
  if (kind == BodyKind::kForm) {
    ForEachQueryParam(body, [&](std::string_view n, std::string_view v) { c.Offer(n, v, 1); });
  } else if (kind == BodyKind::kJson) {
    boost::json::basic_parser<FlatObjectHandler> parser(boost::json::parse_options{}, &c);
    boost::json::error_code ec;
    size_t n = parser.write_some(false, body.data(), body.size(), ec);
    if (!ec && n != body.size()) ec = boost::json::error::extra_data;
    if (ec || !parser.handler().top_is_object) {
      return absl::InvalidArgumentError("the body is not a JSON object");
    }
  }
  return std::move(c).Result();
}

}  // namespace ricochet::engine
