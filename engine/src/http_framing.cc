#include "engine/http_framing.h"

#include <bit>
#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "attribution/sv.h"
#include "engine/url.h"

namespace ricochet::engine {
namespace http = boost::beast::http;

std::string_view CheckFraming(const http::request_parser<http::string_body>& parser) {
  const auto& req = parser.get();
  size_t hosts = 0, lengths = 0, encodings = 0, chunked = 0;
  std::string_view last_encoding;
  for (const auto& field : req) {
    switch (field.name()) {
      case http::field::host:
        ++hosts;
        break;
      case http::field::content_length:
        ++lengths;
        // "5, 5" is two Content-Length values in one line (RFC 9110 8.6); Beast reads it as 5.
        // Refused like two lines, so that no hop in front can count it differently.
        if (field.value().find(',') != std::string_view::npos) ++lengths;
        break;
      case http::field::transfer_encoding:
        ++encodings;
        last_encoding = field.value();
        // Chunked applied twice is not HTTP (RFC 9112 6.1); Beast decodes it once, and a proxy
        // in front may decode it twice or not at all.
        for (absl::string_view coding : absl::StrSplit(ToAbsl(field.value()), ',')) {
          if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(coding), "chunked")) ++chunked;
        }
        break;
      default:
        break;
    }
  }
  if (req.version() >= 11 && hosts != 1) return hosts == 0 ? "missing_host" : "duplicate_host";
  if (hosts > 1) return "duplicate_host";
  if (lengths > 1) return "duplicate_content_length";
  if (encodings > 0) {
    if (lengths > 0) return "both_transfer_encoding_and_content_length";
    // The final coding must be chunked, or the body length is undefined (RFC 9112 6.3).
    size_t comma = last_encoding.rfind(',');
    std::string_view final_coding =
        comma == std::string_view::npos ? last_encoding : last_encoding.substr(comma + 1);
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(ToAbsl(final_coding)), "chunked")) {
      return "bad_transfer_encoding";
    }
    if (req.version() < 11 || chunked > 1) return "bad_transfer_encoding";
  }
  // An absolute-form target with no host, or with userinfo ("http://user:pass@host/"): RFC 9110
  // 4.2.1 says reject the first, 4.2.4 treat the second as an error (and it would put a
  // password in the logs).
  if (std::optional<AbsoluteForm> a =
          SplitAbsoluteForm(std::string_view(req.target().data(), req.target().size()))) {
    if (a->authority.empty() || a->authority[0] == ':' ||
        a->authority.find('@') != std::string_view::npos) {
      return "bad_target";
    }
  }
  if ((req.method() == http::verb::get || req.method() == http::verb::head) &&
      (encodings > 0 || (parser.content_length() && *parser.content_length() > 0))) {
    return "body_not_allowed";
  }
  return {};
}

namespace {

// The zero-byte test on word ^ byte: nonzero when one of the 8 bytes of `word` is `byte`, and
// then its lowest set bit is in the lowest such byte, which on a little-endian machine is the
// first in memory (a borrow can set bits only above a match).
uint64_t ByteFlags(uint64_t word, unsigned char byte) {
  constexpr uint64_t kOnes = 0x0101010101010101u;
  const uint64_t x = word ^ (kOnes * byte);
  return (x - kOnes) & ~x & 0x8080808080808080u;
}

}  // namespace

HeadScan ScanRequestHead(std::string_view bytes, size_t scanned) {
  HeadScan scan;
  // Start a little before the bytes not yet seen: a CRLF, or a CRLF and the byte after it, may
  // straddle two reads.
  for (size_t i = scanned > 3 ? scanned - 3 : 0; i < bytes.size(); ++i) {
    // Only CR and LF matter, and no check below looks at the bytes between them: go to the
    // next one eight bytes at a time (most of a head holds neither).
    while (bytes.size() - i >= 8) {
      uint64_t word;
      std::memcpy(&word, bytes.data() + i, 8);
      const uint64_t found = ByteFlags(word, '\r') | ByteFlags(word, '\n');
      if (found != 0) {
        // On a big-endian machine the bytes before it are left to the loop below.
        if constexpr (std::endian::native == std::endian::little) {
          i += static_cast<size_t>(std::countr_zero(found)) / 8;
        }
        break;
      }
      i += 8;
    }
    if (i == bytes.size()) break;
    if (bytes[i] == '\r') {
      if (i + 1 < bytes.size() && bytes[i + 1] != '\n') {
        scan.reason = "bad_line_ending";
        return scan;
      }
    } else if (bytes[i] == '\n') {
      if (i == 0 || bytes[i - 1] != '\r') {
        scan.reason = "bad_line_ending";
        return scan;
      }
      if (i >= 3 && bytes[i - 2] == '\n' && bytes[i - 3] == '\r') {
        scan.end = i + 1;  // what follows is the body or the next request
        return scan;
      }
      // A line that starts with whitespace continues the one before (after the request line it
      // is the whitespace RFC 9112 2.2 also lets us refuse).
      if (i + 1 < bytes.size() && (bytes[i + 1] == ' ' || bytes[i + 1] == '\t')) {
        scan.reason = "obs_fold";
        return scan;
      }
    }
  }
  return scan;
}

}  // namespace ricochet::engine
