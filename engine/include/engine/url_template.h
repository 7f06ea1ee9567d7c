// URL templates with {macro} placeholders, parsed once when an offer or affiliate is saved so
// the redirect path only concatenates.
#ifndef RICOCHET_ENGINE_URL_TEMPLATE_H_
#define RICOCHET_ENGINE_URL_TEMPLATE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ricochet::engine {

enum class Macro : uint8_t {
  kClickId,  // also {transaction_id}
  kOfferId,
  kAffId,
  kSub1,
  kSub2,
  kSub3,
  kSub4,
  kSub5,
  kSource,
  kTimestamp,
  kRandom,
  kVisitorId,
  // Outgoing affiliate postbacks.
  kEvent,
  kAmount,
  kPayout,
  kCurrency,
  kStatus,
  kConversionId,
  kOrderId,
  kEventId,  // the outbox entry's id: receivers deduplicate deliveries by it
  kCount,
};

// Values by macro; a macro left empty renders as nothing.
using MacroValues = std::array<std::string_view, static_cast<size_t>(Macro::kCount)>;

// Immutable after Parse; thread-safe.
class UrlTemplate {
 public:
  UrlTemplate() = default;
  // Unknown {names} are kept literally.
  static UrlTemplate Parse(std::string_view text);

  // The template with every macro replaced by its percent-encoded (RFC 3986) value.
  [[nodiscard]] std::string Render(const MacroValues& values) const;
  // Render, appended to `out`.
  void AppendTo(const MacroValues& values, std::string* out) const;
  const std::string& text() const { return text_; }
  bool empty() const { return text_.empty(); }

 private:
  struct Segment {
    std::string literal;  // used when macro == kCount
    Macro macro = Macro::kCount;
  };
  std::string text_;
  std::vector<Segment> segments_;
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_URL_TEMPLATE_H_
