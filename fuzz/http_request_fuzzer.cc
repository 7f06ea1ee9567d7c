// Bytes from a client, read the way a session reads them (engine/src/http_server.cc): Beast's
// request parser with the server's default limits, the framing checks on the head before any
// body byte, then the body, then what routing and the access log read from the request
// (SplitTarget, the query, RedactTarget, ToValidUtf8). Requests are pipelined: the bytes after
// one request start the next, until one is rejected, closes the connection or runs out.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "boost/asio/buffer.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/string_body.hpp"
#include "engine/http_framing.h"
#include "engine/http_server.h"
#include "engine/url.h"
#include "fuzz_check.h"

namespace {

namespace http = boost::beast::http;
namespace engine = ricochet::engine;

using Parser = http::request_parser<http::string_body>;

// Feeds `bytes` from `*used` on until `done` or an error. All bytes are there at once, so
// need_more means the client stopped sending: put_eof, as Beast's read does at end of stream.
template <typename Done>
void Feed(Parser& parser, std::string_view bytes, size_t* used, boost::beast::error_code& ec,
          Done done) {
  while (!ec && !done()) {
    size_t n = parser.put(boost::asio::buffer(bytes.data() + *used, bytes.size() - *used), ec);
    FUZZ_CHECK(n <= bytes.size() - *used);
    *used += n;
    if (ec == http::error::need_more) {
      ec = {};
      parser.put_eof(ec);
      if (!ec && !done()) ec = http::error::partial_message;
      return;
    }
    if (n == 0 && !ec && !done()) return;  // no progress: nothing more can be read
  }
}

// Returns false when the session would stop reading after this request.
bool OneRequest(const engine::HttpServerOptions& opts, std::string_view bytes, size_t* used) {
  // The raw-head scan the session runs before Beast sees the head (Session::ReadHead), fed in
  // two reads as a split packet would be; it must agree with one scan of the whole.
  std::string_view raw = bytes.substr(*used, opts.max_header_bytes);
  engine::HeadScan whole = engine::ScanRequestHead(raw, 0);
  engine::HeadScan first = engine::ScanRequestHead(raw.substr(0, raw.size() / 2), 0);
  if (first.reason.empty() && first.end == 0) {
    engine::HeadScan split = engine::ScanRequestHead(raw, raw.size() / 2);
    FUZZ_CHECK(split.reason == whole.reason && split.end == whole.end);
  } else {
    FUZZ_CHECK(first.reason == whole.reason && first.end == whole.end);
  }
  if (!whole.reason.empty() || whole.end == 0) return false;  // 400, 414/431, or incomplete

  Parser parser;
  parser.header_limit(static_cast<uint32_t>(opts.max_header_bytes));
  parser.body_limit(opts.max_body_bytes);
  boost::beast::error_code ec;
  Feed(parser, bytes, used, ec, [&] { return parser.is_header_done(); });
  if (ec || !parser.is_header_done()) return false;  // 400/431/413, or the client is gone

  std::string_view reason = engine::CheckFraming(parser);
  const auto& head = parser.get();
  if (!reason.empty()) return false;  // 400 and close: nothing after it is parsed
  // What an accepted head guarantees, counted through another API than CheckFraming uses.
  if (head.version() >= 11) FUZZ_CHECK(head.count(http::field::host) == 1);
  FUZZ_CHECK(head.count(http::field::host) <= 1);
  FUZZ_CHECK(head.count(http::field::content_length) <= 1);
  FUZZ_CHECK(head.count(http::field::transfer_encoding) == 0 ||
             head.count(http::field::content_length) == 0);
  if (head.method() == http::verb::get || head.method() == http::verb::head) {
    FUZZ_CHECK(!parser.chunked());
    FUZZ_CHECK(!parser.content_length() || *parser.content_length() == 0);
  }

  Feed(parser, bytes, used, ec, [&] { return parser.is_done(); });
  if (ec || !parser.is_done()) return false;

  engine::Request req = parser.release();
  FUZZ_CHECK(req.body().size() <= opts.max_body_bytes);
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path, query;
  engine::SplitTarget(target, &path, &query);
  FUZZ_CHECK(path.find_first_of("?#") == std::string_view::npos);
  FUZZ_CHECK(query.find('#') == std::string_view::npos);
  FUZZ_CHECK(path.size() + query.size() <= target.size());
  if (path.substr(0, 3) == "/c/") (void)engine::IsValidId(path.substr(3));  // the click route
  size_t pairs = 0;
  engine::ForEachQueryParam(query, [&](std::string_view, std::string_view) { ++pairs; });
  FUZZ_CHECK(pairs <= query.size());
  std::string redacted = engine::RedactTarget(target);
  if (target.find('?') == std::string_view::npos) FUZZ_CHECK(redacted == target);
  std::string access = std::string(req.method_string()) + " " + redacted;
  std::string utf8 = engine::ToValidUtf8(access);
  FUZZ_CHECK(engine::ToValidUtf8(utf8) == utf8);
  return req.keep_alive();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const engine::HttpServerOptions opts;  // the defaults of --max-header-bytes and friends
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  size_t used = 0;
  for (size_t i = 0; i < opts.max_pipeline && used < bytes.size(); ++i) {
    size_t before = used;
    if (!OneRequest(opts, bytes, &used)) break;
    FUZZ_CHECK(used > before);  // a complete request consumed bytes
  }
  return 0;
}
