// The fields of an advertiser postback, read from the query string and (for POST) a form or JSON
// body, with every alias of the contract (TUNE, Everflow, Voluum, Affise, Prosper202, Keitaro
// conventions). Values are kept as text: amounts are validated as exact decimals later.
#ifndef RICOCHET_ENGINE_POSTBACK_PARAMS_H_
#define RICOCHET_ENGINE_POSTBACK_PARAMS_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ricochet::engine {

struct PostbackParams {
  std::optional<std::string> click_id;       // click_id | transaction_id | cid | clickid | subid
  std::optional<std::string> visitor_id;     // visitor_id
  std::optional<std::string> event;          // event | goal
  std::optional<std::string> amount;         // amount | sale_amount | sum
  std::optional<std::string> currency;       // currency
  std::optional<std::string> order_id;       // order_id | txid | adv_sub
  std::optional<std::string> status;         // status
  std::optional<std::string> token;          // token | security_token
  std::optional<std::string> offer_id;       // offer_id (pixel)
  std::optional<std::string> return_format;  // return ("OK" asks for a plain-text answer)
  // Set by the pixel route, never from the request: no token, and the offer must allow pixels.
  bool from_pixel = false;
};

// Body encodings a POST may use; anything else is read as form data when it parses as such.
enum class BodyKind { kNone, kForm, kJson };
BodyKind BodyKindOf(std::string_view content_type, std::string_view body);

// Canonical names beat aliases; the body beats the query for the same rank. JSON bodies must be
// one flat object: strings, numbers (kept as their exact literal text), booleans; nested values
// are ignored. InvalidArgument when a JSON body does not parse.
[[nodiscard]] absl::StatusOr<PostbackParams> ParsePostbackParams(std::string_view query,
                                                                 BodyKind kind,
                                                                 std::string_view body);

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_POSTBACK_PARAMS_H_
