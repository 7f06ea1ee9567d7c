// Request-smuggling checks on a parsed request head: the rules Beast 1.81 does not apply itself
// (one Host, one Content-Length, no Transfer-Encoding beside Content-Length, chunked as the final
// coding, no body on GET/HEAD, an absolute-form target with a host and no userinfo). Split out
// of the session so the fuzz target (fuzz/http_request_fuzzer.cc) runs exactly the code the
// server runs.
#ifndef RICOCHET_ENGINE_HTTP_FRAMING_H_
#define RICOCHET_ENGINE_HTTP_FRAMING_H_

#include <cstddef>
#include <string_view>

#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/string_body.hpp"

namespace ricochet::engine {

// Call once the head is parsed (parser.is_header_done()). Returns the reason for a 400 (a
// string literal, e.g. "duplicate_content_length"), or empty when the head is acceptable. Pure;
// thread-safe.
[[nodiscard]] std::string_view CheckFraming(
    const boost::beast::http::request_parser<boost::beast::http::string_body>& parser);

// What the raw bytes of a request head say, before Beast parses them.
struct HeadScan {
  // Length of the head through its empty line, or 0 while it has not all arrived.
  size_t end = 0;
  // Why the head is refused with a 400 ("bad_line_ending", "obs_fold"), or empty.
  std::string_view reason;
};

// Checks the raw bytes of a request head (`bytes` start at its first byte) for what Beast 1.81
// lets through or only notices late: a CR or LF that is not part of a CRLF (Beast looks for
// CRLF CRLF and would wait for it until the request deadline), and obsolete line folding, a line
// that starts with SP or HTAB (Beast joins it to the line before, as RFC 9112 5.2 allows; a
// proxy in front may read it as a header of its own instead, which is a smuggling vector). Bytes
// before `scanned` were checked by an earlier call on the same head and are not looked at again.
// Pure; thread-safe.
[[nodiscard]] HeadScan ScanRequestHead(std::string_view bytes, size_t scanned);

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_HTTP_FRAMING_H_
