#include "engine/postback_sender.h"

#include <openssl/ssl.h>

#include <chrono>
#include <future>

#include "absl/strings/str_cat.h"
#include "attribution/sv.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl/host_name_verification.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/write.hpp"
#include "engine/net.h"
#include "engine/url.h"

namespace ricochet::engine {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kStopped = "stopped";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// One delivery attempt: resolve, check, connect, (TLS), GET, read the answer's head.
class PostbackSender::Attempt : public std::enable_shared_from_this<Attempt> {
 public:
  Attempt(PostbackSender& owner, storage::OutboxEntry entry, HttpTarget target)
      : owner_(owner),
        entry_(std::move(entry)),
        target_(std::move(target)),
        tcp_(owner.ioc_),
        deadline_(owner.ioc_) {}

  void Run() {
    deadline_.expires_after(std::chrono::milliseconds(owner_.options_.timeout_ms));
    deadline_.async_wait([self = shared_from_this()](const beast::error_code& ec) {
      if (!ec) self->Abort("timeout");
    });
    // getaddrinfo blocks and cannot be cancelled; Asio's async resolver runs every lookup of an
    // io_context on one thread, so one slow name server would stall every affiliate. Lookups
    // run on the sender's own small pool instead; a lookup that outlives the deadline is
    // abandoned (the attempt ends as a timeout) and its answer dropped.
    asio::post(owner_.dns_pool_, [self = shared_from_this()] {
      beast::error_code ec;
      tcp::resolver resolver(self->owner_.dns_pool_.get_executor());
      tcp::resolver::results_type results =
          resolver.resolve(self->target_.host, std::to_string(self->target_.port), ec);
      asio::post(self->owner_.ioc_, [self, ec, results] { self->OnResolve(ec, results); });
    });
  }

  // Ends the attempt now as failed with `why` ("timeout", "stopped"); whatever is still under
  // way finds it done and stops.
  void Abort(std::string why) { Done({false, false, 0, std::move(why)}); }

 private:
  void OnResolve(const beast::error_code& ec, const tcp::resolver::results_type& results) {
    if (done_) return;
    if (ec) return Fail("dns_error", ec);
    for (const auto& r : results) {
      const asio::ip::address a = r.endpoint().address();
      if (std::optional<std::string_view> c = BlockedTargetClass(a);
          c && !owner_.options_.allow_private) {
        // Dead at once: the same name will resolve the same way on the next try.
        return Done({false, true, 0,
                     absl::StrCat("ssrf_blocked: ", target_.host, " resolves to ", a.to_string(),
                                  " (", ToAbsl(*c), ")")});
      }
    }
    // Connect to exactly the addresses checked above (pinned: no second lookup).
    tcp_.async_connect(
        results, [self = shared_from_this()](const beast::error_code& ec, const tcp::endpoint&) {
          self->OnConnect(ec);
        });
  }

  void OnConnect(const beast::error_code& ec) {
    if (done_) return;
    if (ec) return Fail("connect_error", ec);
    if (!target_.tls) return Write(tcp_);
    tls_ = std::make_unique<asio::ssl::stream<beast::tcp_stream&>>(tcp_, owner_.tls_);
    boost::system::error_code parse_ec;
    asio::ip::make_address(target_.host, parse_ec);
    if (parse_ec) {  // SNI for names only (RFC 6066)
      SSL_set_tlsext_host_name(tls_->native_handle(), target_.host.c_str());
    }
    tls_->set_verify_mode(asio::ssl::verify_peer);
    tls_->set_verify_callback(asio::ssl::host_name_verification(target_.host));
    tls_->async_handshake(asio::ssl::stream_base::client,
                          [self = shared_from_this()](const beast::error_code& ec) {
                            if (self->done_) return;
                            if (ec) return self->Fail("tls_error", ec);
                            self->Write(*self->tls_);
                          });
  }

  template <class Stream>
  void Write(Stream& stream) {
    req_ = {http::verb::get, target_.target, 11};
    const bool ipv6 = target_.host.find(':') != std::string::npos;
    std::string host = ipv6 ? absl::StrCat("[", target_.host, "]") : target_.host;
    if (target_.port != (target_.tls ? 443 : 80)) absl::StrAppend(&host, ":", target_.port);
    req_.set(http::field::host, host);
    req_.set(http::field::user_agent, "Ricochet/" RICOCHET_VERSION);
    req_.set(http::field::accept, "*/*");
    req_.set(http::field::connection, "close");
    http::async_write(stream, req_,
                      [self = shared_from_this(), &stream](const beast::error_code& ec, size_t) {
                        if (self->done_) return;
                        if (ec) return self->Fail("send_error", ec);
                        self->Read(stream);
                      });
  }

  template <class Stream>
  void Read(Stream& stream) {
    parser_.header_limit(16 * 1024);
    http::async_read_header(
        stream, buffer_, parser_, [self = shared_from_this()](const beast::error_code& ec, size_t) {
          if (self->done_) return;
          if (ec) return self->Fail("read_error", ec);
          const int status = self->parser_.get().result_int();
          const bool ok = status >= 200 && status < 300;
          self->Done({ok, false, status, ok ? "" : absl::StrCat("http_status: ", status)});
        });
  }

  void Fail(std::string_view code, const beast::error_code& ec) {
    Done({false, false, 0, absl::StrCat(ToAbsl(code), ": ", ec.message())});
  }

  void Done(Outcome outcome) {
    if (done_) return;
    done_ = true;
    deadline_.cancel();
    beast::error_code ignored;
    tcp_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_.socket().close(ignored);
    owner_.Finish(std::move(entry_), std::move(outcome));
  }

  PostbackSender& owner_;
  storage::OutboxEntry entry_;
  HttpTarget target_;
  beast::tcp_stream tcp_;
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls_;
  asio::steady_timer deadline_;
  http::request<http::empty_body> req_;
  beast::flat_buffer buffer_;
  http::response_parser<http::empty_body> parser_;
  bool done_ = false;
};

PostbackSender::PostbackSender(asio::io_context& ioc, storage::Store* store, Metrics* metrics,
                               const Logger* log, PostbackSenderOptions options)
    : ioc_(ioc),
      store_(store),
      metrics_(metrics),
      log_(log),
      options_(options),
      tls_(asio::ssl::context::tls_client),
      timer_(ioc),
      rng_(std::random_device{}()) {
  boost::system::error_code ec;
  tls_.set_default_verify_paths(ec);  // the system's CA bundle (Debian: ca-certificates)
  if (ec) log_->Warn("postbacks: no system CA certificates", {{"error", ec.message()}});
}

PostbackSender::~PostbackSender() {
  dns_pool_.stop();  // lookups not started are dropped; a running one is waited for
  dns_pool_.join();
}

absl::Status PostbackSender::Start() {
  std::vector<storage::OutboxEntry> loaded;
  absl::Status st =
      store_->ScanOutbox(storage::OutboxState::kPending, [&](const storage::OutboxEntry& e) {
        loaded.push_back(e);
        return true;
      });
  if (!st.ok()) return st;
  for (storage::OutboxEntry& e : loaded) {
    if (e.last_error != "in_flight") continue;
    // The attempt was cut off by a crash or restart. It already counts; its result is unknown,
    // so it is retried (the receiver dedupes on {event_id}).
    e.last_error = "interrupted";
    // On its last allowed attempt: a dead letter now, not one attempt more than allowed.
    if (e.attempts >= options_.max_attempts) e.state = storage::OutboxState::kDead;
    if (absl::Status u = store_->UpdateOutbox(storage::OutboxState::kPending, e); !u.ok()) {
      return u;
    }
  }
  std::erase_if(loaded, [](const storage::OutboxEntry& e) {
    return e.state != storage::OutboxState::kPending;
  });
  if (!loaded.empty()) {
    log_->Info("postbacks: loaded pending outbox entries",
               {{"pending", std::to_string(loaded.size())}});
  }
  if (options_.paused) log_->Warn("postbacks: paused (--pause-postbacks): nothing is sent");
  started_ = true;
  asio::post(ioc_, [this, loaded = std::move(loaded)]() mutable {
    for (storage::OutboxEntry& e : loaded) Add(std::move(e));
    Pump();
  });
  return absl::OkStatus();
}

void PostbackSender::Stop() {
  if (!started_) return;
  started_ = false;
  auto stopped = std::make_shared<std::promise<void>>();  // outlives a timed-out wait
  asio::post(ioc_, [this, stopped] {
    stopping_ = true;
    timer_.cancel();
    std::vector<std::shared_ptr<Attempt>> attempts;
    for (auto& [id, weak] : flying_) {
      if (std::shared_ptr<Attempt> a = weak.lock()) attempts.push_back(std::move(a));
    }
    for (auto& a : attempts) a->Abort(std::string(kStopped));  // Finish() edits flying_
    stopped->set_value();
  });
  // Bounded: if the io_context no longer runs, nothing is in flight that could still finish.
  stopped->get_future().wait_for(std::chrono::seconds(5));
}

void PostbackSender::Enqueue(std::vector<storage::OutboxEntry> entries) {
  if (entries.empty()) return;
  asio::post(ioc_, [this, entries = std::move(entries)]() mutable {
    for (storage::OutboxEntry& e : entries) Add(std::move(e));
    Pump();
  });
}

void PostbackSender::Retry(std::string id, std::function<void(RetryResult)> done) {
  asio::post(ioc_, [this, id = std::move(id), done = std::move(done)] {
    RetryResult r;
    if (flying_.count(id) != 0) {
      r.status = 409;
      r.reason = "in_flight";
      if (absl::StatusOr<std::optional<storage::OutboxEntry>> e = store_->GetOutbox(id);
          e.ok() && e->has_value()) {
        r.entry = **e;
      }
      return done(std::move(r));
    }
    storage::OutboxEntry entry;
    storage::OutboxState from = storage::OutboxState::kPending;
    std::optional<storage::OutboxEntry> was_waiting;
    if (auto it = waiting_.find(id); it != waiting_.end()) {
      was_waiting = it->second;
      entry = it->second;
      waiting_.erase(it);
      pending_.fetch_sub(1, std::memory_order_relaxed);
    } else {
      absl::StatusOr<std::optional<storage::OutboxEntry>> e = store_->GetOutbox(id);
      if (!e.ok() || !e->has_value()) {
        r.status = e.ok() ? 404 : 503;
        r.reason = e.ok() ? "unknown_outbox_entry" : "storage_unavailable";
        return done(std::move(r));
      }
      entry = std::move(**e);
      from = entry.state;
    }
    entry.state = storage::OutboxState::kPending;
    entry.attempts = 0;
    entry.next_attempt_ms = NowMs();
    if (absl::Status st = store_->UpdateOutbox(from, entry); !st.ok()) {
      log_->Error("postbacks: cannot re-arm outbox entry", {{"id", id}, {"error", st.ToString()}});
      if (was_waiting) Add(std::move(*was_waiting));  // unchanged, as the 503 says
      r.status = 503;
      r.reason = "storage_unavailable";
      return done(std::move(r));
    }
    r.entry = entry;
    Add(std::move(entry));
    Pump();
    done(std::move(r));
  });
}

void PostbackSender::Add(storage::OutboxEntry entry) {
  if (waiting_.count(entry.id) != 0 || flying_.count(entry.id) != 0) return;
  pending_.fetch_add(1, std::memory_order_relaxed);
  Wait(std::move(entry));
}

void PostbackSender::Wait(storage::OutboxEntry entry) {
  schedule_.emplace(entry.next_attempt_ms, entry.id);
  std::string id = entry.id;
  waiting_.emplace(std::move(id), std::move(entry));
}

void PostbackSender::Pump() {
  if (stopping_ || options_.paused) return;
  const int64_t now = NowMs();
  while (flying_.size() < static_cast<size_t>(options_.concurrency) && !schedule_.empty() &&
         schedule_.begin()->first <= now) {
    auto [due, id] = *schedule_.begin();
    schedule_.erase(schedule_.begin());
    auto it = waiting_.find(id);
    // A stale slot: the entry was re-armed (Retry) under another time, or is already gone.
    if (it == waiting_.end() || it->second.next_attempt_ms != due) continue;
    storage::OutboxEntry entry = std::move(it->second);
    waiting_.erase(it);
    Launch(std::move(entry));
  }
  Arm();
}

void PostbackSender::Arm() {
  if (stopping_ || schedule_.empty() ||
      flying_.size() >= static_cast<size_t>(options_.concurrency)) {
    return;  // a finishing attempt pumps again
  }
  const int64_t wait = std::max<int64_t>(0, schedule_.begin()->first - NowMs());
  timer_.expires_after(std::chrono::milliseconds(wait));
  timer_.async_wait([this](const beast::error_code& ec) {
    if (!ec) Pump();
  });
}

void PostbackSender::Launch(storage::OutboxEntry entry) {
  const std::string id = entry.id;
  entry.attempts += 1;
  entry.last_attempt_ms = NowMs();
  entry.last_error = "in_flight";
  if (absl::Status st = store_->UpdateOutbox(storage::OutboxState::kPending, entry); !st.ok()) {
    // Without the attempt on record it must not leave; try again later.
    OutboxWriteFailed("postbacks: cannot record attempt", id, st);
    entry.attempts -= 1;
    entry.last_error = "storage_error";
    entry.next_attempt_ms = NowMs() + options_.retry_ms;
    Wait(std::move(entry));
    return;
  }
  OutboxWriteOk();
  absl::StatusOr<HttpTarget> target = ParseHttpTarget(entry.url);
  flying_[id];  // Finish() expects every attempt here
  in_flight_count_.fetch_add(1, std::memory_order_relaxed);
  if (!target.ok()) {
    return Finish(std::move(entry),
                  {false, true, 0, absl::StrCat("bad_url: ", target.status().message())});
  }
  auto attempt = std::make_shared<Attempt>(*this, std::move(entry), std::move(*target));
  flying_[id] = attempt;
  attempt->Run();
}

void PostbackSender::OutboxWriteFailed(std::string_view message, const std::string& id,
                                       const absl::Status& st) {
  if (outbox_write_failures_.Failed(1)) {
    log_->Error(message, {{"id", id}, {"error", st.ToString()}});
  }
}

void PostbackSender::OutboxWriteOk() {
  outbox_write_failures_.Succeeded(*log_, "postbacks: outbox writes resumed", "failed");
}

int64_t PostbackSender::Backoff(int64_t attempts) {
  // retry_ms doubling per failed attempt, capped, with +-20% jitter so a receiver that comes back
  // is not hit by every entry in the same millisecond.
  int64_t delay = options_.retry_ms;
  for (int64_t i = 1; i < attempts && delay < options_.retry_max_ms; ++i) delay *= 2;
  delay = std::min(delay, options_.retry_max_ms);
  std::uniform_int_distribution<int64_t> jitter(-delay / 5, delay / 5);
  return std::max<int64_t>(1, delay + jitter(rng_));
}

void PostbackSender::Finish(storage::OutboxEntry entry, Outcome outcome) {
  flying_.erase(entry.id);
  in_flight_count_.fetch_sub(1, std::memory_order_relaxed);
  // Cut off by Stop(): no result to record; it stays "in_flight" in the store and is retried
  // after the restart. A result that did arrive is recorded even while stopping.
  if (outcome.error == kStopped) return;
  entry.last_status = outcome.status;
  entry.last_error = outcome.error;
  std::string_view result;
  if (outcome.delivered) {
    entry.state = storage::OutboxState::kDelivered;
    result = "delivered";
  } else if (outcome.final || entry.attempts >= options_.max_attempts) {
    entry.state = storage::OutboxState::kDead;
    result = outcome.error.rfind("ssrf_blocked", 0) == 0 ? "ssrf_blocked" : "dead";
  } else {
    entry.next_attempt_ms = NowMs() + Backoff(entry.attempts);
    result = "retry";
  }
  metrics_->CountDelivery(result);
  if (absl::Status st = store_->UpdateOutbox(storage::OutboxState::kPending, entry); !st.ok()) {
    // The store still says "in_flight" (retried after a restart); keep it scheduled meanwhile.
    OutboxWriteFailed("postbacks: cannot record attempt result", entry.id, st);
    if (entry.state != storage::OutboxState::kPending) {
      entry.state = storage::OutboxState::kPending;
      entry.next_attempt_ms = NowMs() + options_.retry_ms;
    }
  } else {
    OutboxWriteOk();
  }
  if (stopping_) return;  // the store has it; the next start schedules it
  if (entry.state == storage::OutboxState::kPending) {
    Wait(std::move(entry));
  } else {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    if (entry.state == storage::OutboxState::kDead) {
      log_->Warn("postback dead letter", {{"id", entry.id},
                                          {"affiliate", entry.affiliate},
                                          {"attempts", std::to_string(entry.attempts)},
                                          {"error", entry.last_error}});
    }
  }
  Pump();
}

}  // namespace ricochet::engine
