// Debian 12's Abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW 0: absl::string_view is its
// own type and does not convert from std::string_view. These two adapters are the one place
// the project crosses between them (the lowest module, so every other module can use them).
#ifndef RICOCHET_ATTRIBUTION_SV_H_
#define RICOCHET_ATTRIBUTION_SV_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace ricochet {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace ricochet

#endif  // RICOCHET_ATTRIBUTION_SV_H_
