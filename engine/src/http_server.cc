#include "engine/http_server.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <deque>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "attribution/sv.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/write.hpp"
#include "engine/http_framing.h"
#include "engine/url.h"

namespace ricochet::engine {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Response JsonResponse(unsigned version, http::status status, std::string body) {
  Response res(status, version);
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response JsonError(unsigned version, http::status status, std::string_view reason,
                   std::string_view extra_fields) {
  std::string body = absl::StrCat("{\"reason\":\"", ToAbsl(reason), "\"");
  if (!extra_fields.empty()) absl::StrAppend(&body, ",", ToAbsl(extra_fields));
  body += "}";
  return JsonResponse(version, status, std::move(body));
}

Response MethodNotAllowed(unsigned version, std::string_view allow) {
  Response res = JsonError(version, http::status::method_not_allowed, "method_not_allowed");
  res.set(http::field::allow, allow);
  return res;
}

namespace {

using Clock = std::chrono::steady_clock;

// How often each worker checks its connections' deadlines. Timeouts are whole seconds, so a
// deadline is met within a tenth of a second, and no request arms or cancels a timer.
constexpr auto kSweepInterval = std::chrono::milliseconds(100);

bool IsClientGone(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == asio::error::broken_pipe || ec == http::error::partial_message;
}

void AppendDecimal(std::string& out, uint64_t v) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(digits[--n]);
}

}  // namespace

// Serialized here rather than by Beast's serializer, which works through a chain of buffer
// sequences and a composed write per answer: flat bytes let ready pipelined answers go out in
// one send. Content-Length is set by every answer (prepare_payload or content_length); one that
// forgot gets it from its body.
WireResponse ToWire(Response&& res) {
  WireResponse out;
  out.version = res.version() == 10 ? 10 : 11;
  out.status = static_cast<int>(res.result_int());
  std::string& head = out.head;
  head.append(out.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  AppendDecimal(head, res.result_int());
  head.push_back(' ');
  head.append(res.reason());
  head.append("\r\n");
  bool has_length = false;
  for (const auto& field : res) {
    if (field.name() == http::field::connection) continue;
    has_length = has_length || field.name() == http::field::content_length ||
                 field.name() == http::field::transfer_encoding;
    head.append(field.name_string());
    head.append(": ");
    head.append(field.value());
    head.append("\r\n");
  }
  if (!has_length) {
    head.append("Content-Length: ");
    AppendDecimal(head, res.body().size());
    head.append("\r\n");
  }
  out.body = std::move(res.body());
  return out;
}

struct HttpServer::Acceptor {
  Acceptor(asio::io_context& ioc, Listener l, Handler* h)
      : acceptor(ioc), backoff(ioc), kind(l), handler(h) {}
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  Listener kind;
  Handler* handler;
};

struct HttpServer::Worker {
  explicit Worker(size_t i) : index(i), ioc(1), guard(ioc.get_executor()), sweep(ioc) {}
  size_t index;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  std::vector<std::unique_ptr<Acceptor>> acceptors;
  // Touched only on this worker's thread: every open connection, visited by the deadline sweep.
  std::vector<std::weak_ptr<Session>> sessions;
  asio::steady_timer sweep;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer& server, asio::io_context& ioc, size_t worker,
          Listener listener, Handler* handler)
      : socket_(std::move(socket)), ioc_(ioc), server_(server), worker_(worker), handler_(handler) {
    context_.listener = listener;
    context_.worker = worker;
    beast::error_code ec;
    tcp::endpoint peer = socket_.remote_endpoint(ec);
    if (!ec) context_.peer = peer.address();
    server_.metrics_->ConnectionOpened(listener);
  }
  ~Session() { server_.metrics_->ConnectionClosed(context_.listener); }

  void Start() {
    beast::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    DoRead();
  }

  // Worker thread only.
  void BeginShutdown() {
    shutting_down_ = true;
    if (idle_wait_ && slots_.empty()) {
      beast::error_code ec;
      socket_.cancel(ec);
    }
  }

  // Worker thread only, from the sweep. A late write closes the connection; a keep-alive
  // connection idle too long is closed; a request head or body late is answered 408.
  void CheckDeadlines(Clock::time_point now) {
    if (closed_) return;
    if (writing_ && now >= write_deadline_) {
      Close();
      return;
    }
    if (reading_ && now >= read_deadline_ && (idle_wait_ || request_read_pending_) &&
        !read_timed_out_) {
      read_timed_out_ = !idle_wait_;
      beast::error_code ec;
      socket_.cancel(ec);  // the pending read ends with operation_aborted
    }
  }

  void Deliver(uint64_t seq, Route route, WireResponse&& res) {
    if (slots_.empty() || seq < slots_.front().seq) return;
    Slot& slot = slots_[seq - slots_.front().seq];
    slot.route = route;
    slot.response = std::move(res);
    slot.ready = true;
    MaybeWrite();
  }

  bool OnOwnThread() const { return ioc_.get_executor().running_in_this_thread(); }
  asio::io_context::executor_type executor() { return ioc_.get_executor(); }

 private:
  struct Slot {
    uint64_t seq = 0;
    bool ready = false;
    bool close = false;
    bool head = false;  // a HEAD request: headers (with the real Content-Length) but no body
    Route route = Route::kNotFound;
    Clock::time_point received;
    WireResponse response;
    std::string access;  // "METHOD target" when the access log is on
  };

  const HttpServerOptions& opts() const { return server_.options_; }

  void DoRead() {
    if (reading_ || read_closed_ || slots_.size() >= opts().max_pipeline) return;
    reading_ = true;
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    if (shutting_down_ && slots_.empty()) {
      Close();
      return;
    }
    // Wait for the first byte under the idle deadline, then give the request its own deadline.
    idle_wait_ = true;
    read_timed_out_ = false;
    read_deadline_ = Clock::now() + opts().idle_timeout;
    socket_.async_read_some(
        buffer_.prepare(4096),
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnFirstBytes(ec, n); });
  }

  void OnFirstBytes(beast::error_code ec, size_t n) {
    idle_wait_ = false;
    if (ec) {
      StopReading();
      return;
    }
    buffer_.commit(n);
    ReadHeader();
  }

  // The request deadline is checked by the worker's sweep (CheckDeadlines), which cancels the
  // read: a client that was too slow deserves a 408 before the close.
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(opts().max_header_bytes));
    parser_->body_limit(opts().max_body_bytes);
    read_timed_out_ = false;
    request_read_pending_ = true;
    read_deadline_ = Clock::now() + opts().header_timeout;
    head_scanned_ = 0;
    ReadHead();
  }

  // Reads until the whole head is buffered and checks its raw bytes (ScanRequestHead) before
  // Beast parses it from the buffer: Beast joins folded lines, which a proxy in front may read
  // differently, and waits out the deadline on bare-LF heads. A head that cannot fit is refused
  // at once: 414 when the request line alone does not fit (RFC 9112 3), else 431.
  void ReadHead() {
    const size_t limit = opts().max_header_bytes;
    std::string_view bytes(static_cast<const char*>(buffer_.data().data()),
                           std::min(buffer_.size(), limit));
    HeadScan scan = ScanRequestHead(bytes, head_scanned_);
    head_scanned_ = bytes.size();
    if (!scan.reason.empty()) {
      Reject(http::status::bad_request, scan.reason);
      return;
    }
    if (scan.end == 0 && bytes.size() >= limit) {
      if (bytes.find('\n') == std::string_view::npos) {
        Reject(http::status::uri_too_long, "uri_too_long");
      } else {
        Reject(http::status::request_header_fields_too_large, "header_too_large");
      }
      return;
    }
    if (scan.end == 0) {
      socket_.async_read_some(buffer_.prepare(std::min<size_t>(4096, limit - buffer_.size())),
                              [self = shared_from_this()](beast::error_code ec, size_t n) {
                                if (ec) {
                                  self->EndRequestRead();
                                  self->OnReadError(ec);
                                  return;
                                }
                                self->buffer_.commit(n);
                                self->ReadHead();
                              });
      return;
    }
    // The head is all in the buffer: parse it here, without an asynchronous operation. The
    // parser is not eager, so it stops at the end of the head.
    beast::error_code ec;
    size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (!ec && !parser_->is_header_done()) ec = http::error::partial_message;  // cannot happen
    OnHeader(ec);
  }

  void OnHeader(beast::error_code ec) {
    if (ec || parser_->is_done()) EndRequestRead();
    if (ec) {
      OnReadError(ec);
      return;
    }
    if (std::string_view reason = CheckFraming(*parser_); !reason.empty()) {
      Reject(http::status::bad_request, reason);
      return;
    }
    if (parser_->is_done()) {
      OnRequest();
      return;
    }
    // curl and others wait (1 s) for "100 Continue" before sending a larger body.
    auto expect = parser_->get().find(http::field::expect);
    if (expect != parser_->get().end() &&
        absl::EqualsIgnoreCase(ToAbsl(expect->value()), "100-continue") && !writing_ &&
        slots_.empty()) {  // an earlier pipelined answer must go out first
      writing_ = true;
      write_deadline_ = Clock::now() + opts().write_timeout;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          self->writing_ = false;
                          if (ec) {
                            self->Close();
                            return;
                          }
                          self->ReadBody();
                          self->MaybeWrite();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->EndRequestRead();
                       if (ec) {
                         self->OnReadError(ec);
                       } else {
                         self->OnRequest();
                       }
                     });
  }

  void EndRequestRead() { request_read_pending_ = false; }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      Reject(http::status::request_header_fields_too_large, "header_too_large");
    } else if (ec == http::error::body_limit) {
      Reject(http::status::payload_too_large, "body_too_large");
    } else if (read_timed_out_) {
      Reject(http::status::request_timeout, "request_timeout");
    } else if (IsClientGone(ec)) {
      StopReading();
    } else {
      Reject(http::status::bad_request, "malformed_request");
    }
  }

  // A request that cannot be read any further: answer, then close. Nothing after it is parsed.
  void Reject(http::status status, std::string_view reason) {
    EndRequestRead();
    reading_ = false;
    read_closed_ = true;
    Slot slot;
    slot.seq = next_seq_++;
    slot.ready = true;
    slot.close = true;
    slot.route = Route::kBadRequest;
    slot.received = Clock::now();
    slot.response = ToWire(JsonError(11, status, reason));
    server_.metrics_->RecordRequest(worker_, context_.listener, Route::kBadRequest,
                                    static_cast<int>(status), 0);
    slots_.push_back(std::move(slot));
    MaybeWrite();
  }

  void StopReading() {
    reading_ = false;
    read_closed_ = true;
    if (slots_.empty()) Close();
  }

  void OnRequest() {
    reading_ = false;
    Request req = parser_->release();
    parser_.reset();
    bool keep_alive = req.keep_alive() && !shutting_down_;
    Slot slot;
    slot.seq = next_seq_++;
    slot.close = !keep_alive;
    slot.head = req.method() == http::verb::head;
    slot.received = Clock::now();
    if (opts().access_log) {
      slot.access = absl::StrCat(ToAbsl(std::string_view(req.method_string())), " ",
                                 RedactTarget(std::string_view(req.target())));
    }
    if (!keep_alive) read_closed_ = true;
    uint64_t seq = slot.seq;
    slots_.push_back(std::move(slot));
    handler_->Handle(std::move(req), context_, Responder(shared_from_this(), seq));
    DoRead();  // read ahead (pipelining) while the answer is being produced
  }

  // Writes every answer that is ready, in request order, in one send: pipelined answers that
  // were produced together leave together.
  void MaybeWrite() {
    if (writing_ || slots_.empty() || !slots_.front().ready) return;
    const Clock::time_point now = Clock::now();
    out_.clear();
    size_t count = 0;
    for (Slot& slot : slots_) {
      if (!slot.ready) break;
      ++count;
      if (shutting_down_ && count == slots_.size() && (!reading_ || idle_wait_)) {
        slot.close = true;
        read_closed_ = true;
      }
      Serialize(slot, now);
      if (slot.close) break;
    }
    writing_ = true;
    writing_count_ = count;
    write_deadline_ = now + opts().write_timeout;
    asio::async_write(
        socket_, asio::buffer(out_),
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  // Appends the slot's answer, with the Connection header that says what happens next: HTTP/1.1
  // keeps a connection open unless told "close", HTTP/1.0 closes it unless told "keep-alive".
  void Serialize(Slot& slot, Clock::time_point now) {
    const WireResponse& res = slot.response;
    auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now - slot.received).count();
    if (slot.route != Route::kBadRequest) {
      server_.metrics_->RecordRequest(worker_, context_.listener, slot.route, res.status, micros);
    }
    if (opts().access_log) {
      server_.log_->Info("access", {{"request", ToValidUtf8(slot.access)},
                                    {"status", std::to_string(res.status)},
                                    {"us", std::to_string(micros)},
                                    {"peer", context_.peer.to_string()},
                                    {"listener", std::string(ListenerName(context_.listener))}});
    }
    out_.append(res.head);
    if (res.version == 10 && !slot.close) out_.append("Connection: keep-alive\r\n");
    if (res.version != 10 && slot.close) out_.append("Connection: close\r\n");
    out_.append("\r\n");
    if (!slot.head) out_.append(res.body);
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    if (ec) {
      Close();
      return;
    }
    bool close = false;
    for (size_t i = 0; i < writing_count_; ++i) {
      close = close || slots_.front().close;
      slots_.pop_front();
    }
    writing_count_ = 0;
    if (out_.capacity() > kKeepOutputBytes) std::string().swap(out_);  // after a large answer
    if (close || (shutting_down_ && slots_.empty() && idle_wait_)) {
      Close();  // also ends a read-ahead that was only waiting for a next request
      return;
    }
    MaybeWrite();
    DoRead();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    read_closed_ = true;
    EndRequestRead();
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  static constexpr size_t kKeepOutputBytes = 64 * 1024;

  tcp::socket socket_;
  asio::io_context& ioc_;
  // Deadlines, checked by the worker's sweep: of the pending read (idle wait, or the request
  // head and body) and of the pending write.
  Clock::time_point read_deadline_;
  Clock::time_point write_deadline_;
  size_t head_scanned_ = 0;  // bytes of the current head that ScanRequestHead has checked
  bool request_read_pending_ = false;
  bool read_timed_out_ = false;
  HttpServer& server_;
  size_t worker_;
  Handler* handler_;
  RequestContext context_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<Slot> slots_;
  std::string out_;           // the bytes of the write in flight
  size_t writing_count_ = 0;  // answers (front slots) in that write
  uint64_t next_seq_ = 0;
  bool reading_ = false;
  bool read_closed_ = false;
  bool writing_ = false;
  bool idle_wait_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
};

Responder::Responder(std::shared_ptr<Session> session, uint64_t seq)
    : session_(std::move(session)), seq_(seq) {}
Responder::Responder(Responder&&) noexcept = default;
Responder& Responder::operator=(Responder&&) noexcept = default;
Responder::~Responder() {
  // A handler that dropped its responder must not leave the connection waiting forever.
  if (session_)
    Send(Route::kBadRequest, JsonError(11, http::status::internal_server_error, "internal_error"));
}

void Responder::Send(Route route, Response&& response) { Send(route, ToWire(std::move(response))); }

void Responder::Send(Route route, WireResponse&& response) {
  std::shared_ptr<Session> session = std::move(session_);
  if (!session) return;
  if (session->OnOwnThread()) {
    session->Deliver(seq_, route, std::move(response));
    return;
  }
  asio::post(session->executor(),
             [session, seq = seq_, route, res = std::move(response)]() mutable {
               session->Deliver(seq, route, std::move(res));
             });
}

HttpServer::HttpServer(HttpServerOptions options, Metrics* metrics, const Logger* log)
    : options_(options), metrics_(metrics), log_(log) {
  for (int i = 0; i < options_.threads; ++i) workers_.push_back(std::make_unique<Worker>(i));
}

HttpServer::~HttpServer() {
  if (started_) Shutdown(std::chrono::milliseconds(0));
  workers_.clear();  // sessions still queued in an io_context die here, before the counters
}

absl::Status HttpServer::Listen(Listener kind, const Endpoint& endpoint, Handler* handler) {
  beast::error_code ec;
  asio::ip::address addr = asio::ip::make_address(endpoint.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad address ", endpoint.host));
  uint16_t port = endpoint.port;
  size_t count = kind == Listener::kPublic ? workers_.size() : 1;
  {
    // SO_REUSEPORT would let us join another process's listeners on a busy port. An exclusive
    // bind first fails if anyone holds it (and picks the port when 0 was asked for).
    tcp::acceptor probe(workers_[0]->ioc);
    tcp::endpoint ep(addr, port);
    probe.open(ep.protocol(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(ep, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", endpoint.host, ":", port, ": ", ec.message()));
    }
    port = probe.local_endpoint().port();
  }
  for (size_t i = 0; i < count; ++i) {
    Worker& w = *workers_[i];
    auto a = std::make_unique<Acceptor>(w.ioc, kind, handler);
    tcp::endpoint ep(addr, port);
    a->acceptor.open(ep.protocol(), ec);
    if (!ec) a->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && count > 1) {
      a->acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true),
                             ec);
    }
    if (!ec) a->acceptor.bind(ep, ec);
    if (!ec) a->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", endpoint.host, ":", port, ": ", ec.message()));
    }
    w.acceptors.push_back(std::move(a));
  }
  ports_[size_t(kind)] = port;
  return absl::OkStatus();
}

uint16_t HttpServer::port(Listener kind) const { return ports_[size_t(kind)]; }

void HttpServer::Accept(Worker& worker, Acceptor& a) {
  a.acceptor.async_accept(
      worker.ioc, [this, &worker, &a](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || stopping_.load(std::memory_order_relaxed))
          return;
        if (ec) {
          // Out of descriptors (or memory): pause instead of spinning; a retry a moment later finds
          // descriptors freed by closed connections.
          metrics_->CountAcceptBackoff(worker.index);
          a.backoff.expires_after(std::chrono::milliseconds(50));
          a.backoff.async_wait([this, &worker, &a](beast::error_code wec) {
            if (!wec) Accept(worker, a);
          });
          return;
        }
        metrics_->CountConnection(worker.index, a.kind);
        auto session = std::make_shared<Session>(std::move(socket), *this, worker.ioc, worker.index,
                                                 a.kind, a.handler);
        worker.sessions.push_back(session);
        session->Start();
        Accept(worker, a);
      });
}

void HttpServer::Sweep(Worker& worker) {
  worker.sweep.expires_after(kSweepInterval);
  worker.sweep.async_wait([this, &worker](beast::error_code ec) {
    if (ec) return;
    const Clock::time_point now = Clock::now();
    std::erase_if(worker.sessions, [now](const std::weak_ptr<Session>& weak) {
      std::shared_ptr<Session> session = weak.lock();
      if (!session) return true;
      session->CheckDeadlines(now);
      return false;
    });
    Sweep(worker);
  });
}

void HttpServer::Start() {
  started_ = true;
  for (auto& wp : workers_) {
    Worker& w = *wp;
    for (auto& a : w.acceptors) Accept(w, *a);
    Sweep(w);
    w.thread = std::thread([this, &w] {
      std::string name = absl::StrCat("http-", w.index);  // for top -H, perf and /proc
      pthread_setname_np(pthread_self(), name.c_str());
      Run(w);
    });
  }
}

void YieldPolicy::Slept(Clock::time_point from, Clock::time_point to) {
  slept_ += to - from;
  const Clock::duration window = to - window_start_;
  if (window < kWindow) return;
  const int threshold = yielding_ ? kStopBusyPercent : kStartBusyPercent;
  yielding_ = (window - slept_) * 100 >= window * threshold;
  window_start_ = to;
  slept_ = Clock::duration(0);
}

void HttpServer::Run(Worker& w) {
  const int yields = options_.io_yields;
  if (yields == 0) {
    w.ioc.run();
    return;
  }
  // A busy worker with nothing ready gives its core to whatever else is runnable (sched_yield)
  // and looks again, up to `yields` times, before it sleeps in epoll_wait. Under load the next
  // request is usually a few microseconds away, and sleeping for it costs more than waiting:
  // the core goes idle, and the thread is switched out and must be woken. Once the queue is
  // still empty after that, or at once while the worker is not busy (YieldPolicy), it sleeps
  // as io_context::run() would.
  YieldPolicy policy(YieldPolicy::Clock::now());
  while (!w.ioc.stopped()) {
    if (w.ioc.poll() != 0) continue;
    size_t ran = 0;
    for (int i = 0; policy.yielding() && i < yields && ran == 0; ++i) {
      sched_yield();
      ran = w.ioc.poll();
    }
    if (ran != 0) continue;
    const YieldPolicy::Clock::time_point asleep = YieldPolicy::Clock::now();
    w.ioc.run_one();  // sleeps until something is ready; 0 once stopped
    policy.Slept(asleep, YieldPolicy::Clock::now());
  }
}

boost::asio::io_context& HttpServer::context(size_t i) { return workers_.at(i)->ioc; }

void HttpServer::Shutdown(std::chrono::milliseconds drain) {
  if (!started_) return;
  started_ = false;
  stopping_.store(true);
  for (auto& wp : workers_) {
    Worker& w = *wp;
    asio::post(w.ioc, [&w] {
      for (auto& a : w.acceptors) {
        beast::error_code ec;
        a->acceptor.close(ec);
        a->backoff.cancel();
      }
      for (auto& weak : w.sessions) {
        if (auto s = weak.lock()) s->BeginShutdown();
      }
    });
  }
  auto deadline = std::chrono::steady_clock::now() + drain;
  while (metrics_->open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& wp : workers_) {
    wp->guard.reset();
    wp->ioc.stop();
  }
  for (auto& wp : workers_) {
    if (wp->thread.joinable()) wp->thread.join();
  }
  log_->Info("http server stopped",
             {{"connections_cut", std::to_string(metrics_->open_connections())}});
}

}  // namespace ricochet::engine
