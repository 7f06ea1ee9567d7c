#include "engine/url_template.h"

#include <optional>

#include "engine/url.h"

namespace ricochet::engine {
namespace {

struct MacroName {
  std::string_view name;
  Macro macro;
};

constexpr MacroName kMacroNames[] = {
    {"click_id", Macro::kClickId},
    {"transaction_id", Macro::kClickId},
    {"offer_id", Macro::kOfferId},
    {"aff_id", Macro::kAffId},
    {"sub1", Macro::kSub1},
    {"sub2", Macro::kSub2},
    {"sub3", Macro::kSub3},
    {"sub4", Macro::kSub4},
    {"sub5", Macro::kSub5},
    {"source", Macro::kSource},
    {"timestamp", Macro::kTimestamp},
    {"random", Macro::kRandom},
    {"visitor_id", Macro::kVisitorId},
    {"event", Macro::kEvent},
    {"amount", Macro::kAmount},
    {"payout", Macro::kPayout},
    {"currency", Macro::kCurrency},
    {"status", Macro::kStatus},
    {"conversion_id", Macro::kConversionId},
    {"order_id", Macro::kOrderId},
    {"event_id", Macro::kEventId},
};

std::optional<Macro> LookupMacro(std::string_view name) {
  for (const MacroName& m : kMacroNames) {
    if (m.name == name) return m.macro;
  }
  return std::nullopt;
}

}  // namespace

UrlTemplate UrlTemplate::Parse(std::string_view text) {
  UrlTemplate t;
  t.text_.assign(text);
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{') {
      size_t close = text.find('}', i + 1);
      if (close != std::string_view::npos) {
        std::optional<Macro> m = LookupMacro(text.substr(i + 1, close - i - 1));
        if (m) {
          if (!literal.empty()) t.segments_.push_back({std::move(literal), Macro::kCount});
          literal.clear();
          t.segments_.push_back({"", *m});
          i = close + 1;
          continue;
        }
      }
    }
    literal.push_back(text[i]);
    ++i;
  }
  if (!literal.empty()) t.segments_.push_back({std::move(literal), Macro::kCount});
  return t;
}

std::string UrlTemplate::Render(const MacroValues& values) const {
  std::string out;
  out.reserve(text_.size() + 64);
  AppendTo(values, &out);
  return out;
}

void UrlTemplate::AppendTo(const MacroValues& values, std::string* out) const {
  for (const Segment& s : segments_) {
    if (s.macro == Macro::kCount) {
      out->append(s.literal);
    } else {
      AppendPercentEncoded(*out, values[static_cast<size_t>(s.macro)]);
    }
  }
}

}  // namespace ricochet::engine
