// The one syntax rule for names that appear in URLs and keys: offer, affiliate and event ids.
#ifndef RICOCHET_ATTRIBUTION_IDS_H_
#define RICOCHET_ATTRIBUTION_IDS_H_

#include <string_view>

namespace ricochet {

inline constexpr size_t kMaxIdLength = 64;

// [A-Za-z0-9_-]{1,64}
[[nodiscard]] constexpr bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace ricochet

#endif  // RICOCHET_ATTRIBUTION_IDS_H_
