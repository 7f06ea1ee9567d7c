// The HTTP/1.1 server, in Beast's three roles: a listener per worker that accepts, a session that
// owns one connection, and a Handler that turns a request into a response and does no socket
// I/O. Each worker thread runs its own io_context and accepts on its own SO_REUSEPORT socket, so
// a connection lives on one thread from accept to close (its implicit strand) and nothing on the
// request path is shared between threads.
#ifndef RICOCHET_ENGINE_HTTP_SERVER_H_
#define RICOCHET_ENGINE_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/string_body.hpp"
#include "engine/config.h"
#include "engine/log.h"
#include "engine/metrics.h"

namespace ricochet::engine {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// An answer as the bytes the server writes: the status line and the header lines (Content-Length
// among them), each ending in CRLF, then the body. The session adds the Connection header and the
// blank line that ends the head when it writes the answer, since whether the connection stays
// open is decided then; the answer to a HEAD request goes without its body. The click route
// builds one directly; every other route builds a Response and lets Send serialize it (ToWire).
struct WireResponse {
  unsigned version = 11;  // the request's: 10 or 11
  int status = 0;
  std::string head;
  std::string body;
};

// `response` as a WireResponse: its status line and fields, and a Content-Length from its body
// when it has none. A Connection field is dropped (the session owns the connection).
WireResponse ToWire(Response&& response);

struct RequestContext {
  boost::asio::ip::address peer;
  Listener listener = Listener::kPublic;
  size_t worker = 0;  // I/O worker index: catalog slot and metrics shard
};

class Session;

// Answers one request. Move-only; must be invoked exactly once, from any thread. Invoking it off
// the connection's thread posts the response back to it.
class Responder {
 public:
  Responder(std::shared_ptr<Session> session, uint64_t seq);
  Responder(Responder&&) noexcept;
  Responder& operator=(Responder&&) noexcept;
  ~Responder();
  void Send(Route route, Response&& response);
  void Send(Route route, WireResponse&& response);

 private:
  std::shared_ptr<Session> session_;
  uint64_t seq_ = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Called on the connection's worker thread. Must not block: slow work goes to a pool and
  // answers through `respond` from there. Never throws.
  virtual void Handle(Request&& request, const RequestContext& context, Responder respond) = 0;
};

struct HttpServerOptions {
  int threads = 1;
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 64 * 1024;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds write_timeout{10};
  size_t max_pipeline = 16;
  bool access_log = false;  // one log line per answered request
  // Times a busy worker with nothing ready yields its core and polls again before it sleeps in
  // epoll_wait (HttpServer::Run, YieldPolicy). 0: it sleeps at once, as io_context::run().
  int io_yields = 5;
};

// Whether a worker with nothing ready should yield its core before it sleeps: only while it has
// been busy. A yielded thread is runnable, not asleep, so a request arriving for it cannot
// preempt what took its core, and that may run until the next tick (4 ms at HZ=250): a flush at
// SCHED_IDLE did, in the paced runs of docs/performance.md. At saturation the yields pay (the
// next request is a poll away, not a wake-up); at half of the peak they only cost that tail.
// The measure is the share of wall time spent outside io_context::run_one() (the sleep in
// epoll_wait, and the first handler after it), over windows of at least 1 ms that end when the
// worker wakes. Two thresholds: at saturation a window now and then dips under half busy (a
// wake-up that waited for a core counts as asleep), and one threshold switched the yields off
// and on there (about 4% fewer req/s); the stop threshold must stay above the 30-50% that a
// worker yielding at half of the peak shows (the yields' own time counts as busy), or the
// yields would stay on there.
class YieldPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::duration kWindow = std::chrono::milliseconds(1);
  static constexpr int kStartBusyPercent = 50;  // yields start after a window this busy
  static constexpr int kStopBusyPercent = 35;   // and stop after one less busy than this

  explicit YieldPolicy(Clock::time_point now) : window_start_(now) {}
  bool yielding() const { return yielding_; }
  // The worker was in io_context::run_one() (asleep in epoll_wait, then the first handler) from
  // `from` to `to`.
  void Slept(Clock::time_point from, Clock::time_point to);

 private:
  bool yielding_ = false;
  Clock::time_point window_start_;
  Clock::duration slept_{0};
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Metrics* metrics, const Logger* log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `endpoint`. Public listeners accept on every worker; admin listeners on worker 0.
  // Port 0 picks a free port (see port()). Call before Start.
  [[nodiscard]] absl::Status Listen(Listener kind, const Endpoint& endpoint, Handler* handler);
  void Start();
  // Stops accepting, lets in-flight requests finish (answered with Connection: close), closes
  // idle connections, and after `drain` at the latest stops every worker and joins them.
  void Shutdown(std::chrono::milliseconds drain);

  uint16_t port(Listener kind) const;
  size_t workers() const { return workers_.size(); }
  // Worker `i`'s io_context, for other asynchronous work (the postback sender). Runs from
  // Start() until Shutdown() ends.
  boost::asio::io_context& context(size_t i);

 private:
  struct Worker;
  struct Acceptor;
  // A worker thread's loop: its io_context until Shutdown stops it.
  void Run(Worker& worker);
  void Accept(Worker& worker, Acceptor& acceptor);
  // Every 100 ms: the deadlines of the worker's connections (idle, request, write).
  void Sweep(Worker& worker);

  HttpServerOptions options_;
  Metrics* metrics_;
  const Logger* log_;
  std::vector<std::unique_ptr<Worker>> workers_;
  uint16_t ports_[size_t(Listener::kCount)] = {0, 0};
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  friend class Session;
};

// Builds a JSON response {"reason": reason} (plus `extra` fields already serialized, e.g.
// R"("field":"url")"), with Content-Type and Cache-Control: no-store.
Response JsonError(unsigned version, boost::beast::http::status status, std::string_view reason,
                   std::string_view extra_fields = "");
Response JsonResponse(unsigned version, boost::beast::http::status status, std::string body);
// 405 {"reason":"method_not_allowed"} with `allow` as its Allow header.
Response MethodNotAllowed(unsigned version, std::string_view allow);

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_HTTP_SERVER_H_
