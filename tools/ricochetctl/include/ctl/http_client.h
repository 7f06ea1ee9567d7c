// A small synchronous HTTP/1.1 client for the admin API: one request per connection over plain
// TCP (Boost.Beast), with a connect timeout and an overall answer timeout.
#ifndef RICOCHET_CTL_HTTP_CLIENT_H_
#define RICOCHET_CTL_HTTP_CLIENT_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ricochet::ctl {

// Where the admin listener is. `base_path` ("" or "/prefix") is put before every target, for a
// server behind a reverse proxy.
struct Endpoint {
  std::string host;  // name or address; an IPv6 address without brackets
  std::string port;
  std::string base_path;
  // host:port as typed back to the user ("[::1]:8081" for IPv6).
  std::string Display() const;
};

// Accepts "host:port", "host" (port 8081), "[v6]:port", and "http://host[:port][/prefix]"
// (port 80 by default). Returns nullopt with *error saying what is wrong (https is refused: the
// admin listener speaks plain HTTP).
std::optional<Endpoint> ParseServer(std::string_view text, std::string* error);

struct HttpRequest {
  std::string method;         // GET, PUT, POST
  std::string target;         // path and query, without base_path
  std::string token;          // sent as "Authorization: Bearer <token>" when not empty
  std::string operator_name;  // sent as X-Ricochet-Operator when not empty (printable ASCII)
  std::string body;           // sent with Content-Type: application/json when not empty
};

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

struct Timeouts {
  std::chrono::milliseconds connect{std::chrono::seconds(10)};
  // From the first byte sent to the last byte of the answer; 0 waits forever.
  std::chrono::milliseconds answer{std::chrono::seconds(30)};
};

// Sends one request and reads the answer, whatever its status. Errors: Unavailable (name not
// resolved, connection refused or reset), DeadlineExceeded (a timeout passed), Internal (the
// answer is not HTTP). Messages name the server and say what failed.
[[nodiscard]] absl::StatusOr<HttpReply> Send(const Endpoint& endpoint, const HttpRequest& request,
                                             const Timeouts& timeouts);

// Percent-encodes everything but RFC 3986 unreserved characters (for path segments and query
// values).
std::string UrlEncode(std::string_view s);

}  // namespace ricochet::ctl

#endif  // RICOCHET_CTL_HTTP_CLIENT_H_
