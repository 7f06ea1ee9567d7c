#include "ctl/http_client.h"

#include <cctype>
#include <limits>

#include "absl/status/status.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http.hpp"

namespace ricochet::ctl {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool ParsePort(std::string_view text, std::string* port) {
  if (text.empty() || text.size() > 5) return false;
  int value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) return false;
  *port = std::to_string(value);
  return true;
}

std::string Seconds(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

// Runs the io_context until the operation started by `start` completes; returns its error.
template <typename Start>
beast::error_code RunOne(asio::io_context& ioc, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

}  // namespace

std::string Endpoint::Display() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + port + base_path;
}

std::optional<Endpoint> ParseServer(std::string_view text, std::string* error) {
  Endpoint ep;
  std::string_view authority = text;
  std::string default_port = "8081";
  if (StartsWithNoCase(text, "https://")) {
    *error =
        "https is not supported: the admin listener speaks plain HTTP (keep it on a private "
        "network, or tunnel it); use http://host:port";
    return std::nullopt;
  }
  if (StartsWithNoCase(text, "http://")) {
    authority = text.substr(7);
    default_port = "80";
    size_t slash = authority.find('/');
    if (slash != std::string_view::npos) {
      std::string_view path = authority.substr(slash);
      authority = authority.substr(0, slash);
      if (path.find_first_of("?#") != std::string_view::npos) {
        *error = "the server URL must not have a query or fragment: " + std::string(text);
        return std::nullopt;
      }
      while (!path.empty() && path.back() == '/') path.remove_suffix(1);
      ep.base_path = std::string(path);
    }
  } else if (text.find("://") != std::string_view::npos) {
    *error = "unsupported scheme in " + std::string(text) + "; use host:port or http://host:port";
    return std::nullopt;
  } else if (text.find('/') != std::string_view::npos) {
    *error = "a path needs the URL form: http://host:port/prefix (got " + std::string(text) + ")";
    return std::nullopt;
  }
  if (authority.find('@') != std::string_view::npos) {
    *error = "user names in the server URL are not supported; pass the token with --token";
    return std::nullopt;
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "unclosed '[' in " + std::string(text);
      return std::nullopt;
    }
    ep.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        *error = "expected :port after ] in " + std::string(text);
        return std::nullopt;
      }
      port_text = rest.substr(1);
      if (port_text.empty()) port_text = "-";  // "[::1]:" is not a port
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != authority.rfind(':')) {
      *error = "write an IPv6 address in brackets, like [::1]:8081 (got " + std::string(text) + ")";
      return std::nullopt;
    }
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) port_text = "-";
    }
  }
  if (ep.host.empty()) {
    *error = "no host in " + std::string(text) + "; use host:port, e.g. 127.0.0.1:8081";
    return std::nullopt;
  }
  if (port_text.empty()) {
    ep.port = default_port;
  } else if (!ParsePort(port_text, &ep.port)) {
    *error = "bad port in " + std::string(text) + "; a port is a number from 1 to 65535";
    return std::nullopt;
  }
  return ep;
}

absl::StatusOr<HttpReply> Send(const Endpoint& endpoint, const HttpRequest& request,
                               const Timeouts& timeouts) {
  const std::string where = endpoint.Display();
  asio::io_context ioc;

  // Name resolution has no deadline of its own in Asio: a timer cancels it.
  tcp::resolver resolver(ioc);
  tcp::resolver::results_type addresses;
  bool resolve_timed_out = false;
  asio::steady_timer timer(ioc, timeouts.connect);
  timer.async_wait([&](beast::error_code ec) {
    if (!ec) {
      resolve_timed_out = true;
      resolver.cancel();
    }
  });
  beast::error_code ec = RunOne(ioc, [&](auto handler) {
    resolver.async_resolve(endpoint.host, endpoint.port,
                           [&, handler](beast::error_code e, tcp::resolver::results_type r) {
                             addresses = std::move(r);
                             timer.cancel();
                             handler(e);
                           });
  });
  if (resolve_timed_out) {
    return absl::DeadlineExceededError("looking up " + endpoint.host + " took longer than " +
                                       Seconds(timeouts.connect));
  }
  if (ec) return absl::UnavailableError("cannot resolve " + endpoint.host + ": " + ec.message());

  beast::tcp_stream stream(ioc);
  stream.expires_after(timeouts.connect);
  ec = RunOne(ioc, [&](auto handler) { stream.async_connect(addresses, handler); });
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError("connecting to " + where + " took longer than " +
                                       Seconds(timeouts.connect));
  }
  if (ec) return absl::UnavailableError("cannot connect to " + where + ": " + ec.message());

  http::request<http::string_body> req(http::string_to_verb(request.method),
                                       endpoint.base_path + request.target, 11);
  req.set(http::field::host, where.substr(0, where.size() - endpoint.base_path.size()));
  req.set(http::field::user_agent, "ricochetctl/" RICOCHET_VERSION);
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  if (!request.token.empty()) req.set(http::field::authorization, "Bearer " + request.token);
  if (!request.operator_name.empty()) req.set("X-Ricochet-Operator", request.operator_name);
  if (!request.body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = request.body;
  if (request.method != "GET") req.prepare_payload();

  if (timeouts.answer.count() > 0) {
    stream.expires_after(timeouts.answer);
  } else {
    stream.expires_never();
  }
  ec = RunOne(ioc, [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError("sending to " + where + " took longer than " +
                                       Seconds(timeouts.answer));
  }
  if (ec)
    return absl::UnavailableError("sending the request to " + where + " failed: " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  ec = RunOne(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError(where + " did not answer within " +
                                       Seconds(timeouts.answer));
  }
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset) {
    return absl::UnavailableError(where + " closed the connection without answering");
  }
  if (ec && ec.category() == http::make_error_code(http::error::end_of_stream).category()) {
    return absl::InternalError(where + " answered something that is not HTTP (" + ec.message() +
                               ")");
  }
  if (ec)
    return absl::UnavailableError("reading the answer from " + where + " failed: " + ec.message());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  HttpReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.content_type = std::string(parser.get()[http::field::content_type]);
  reply.body = std::move(parser.get().body());
  return reply;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace ricochet::ctl
