#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "boost/json/parse.hpp"
#include "catch2/catch.hpp"

namespace ricochet::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string HttpResult::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

namespace {

pid_t Spawn(const std::vector<std::string>& args, int stderr_fd, const SpawnOptions& options) {
  pid_t pid = fork();
  if (pid == 0) {
    if (options.without_sys_nice) {
      // Root's permitted set after exec is the bounding set plus the inheritable one: out of
      // both. (Out of the inheritable set, it leaves the ambient set too.) The bounding-set
      // drop fails without CAP_SETPCAP, where the process has no CAP_SYS_NICE to lose anyway.
      prctl(PR_CAPBSET_DROP, CAP_SYS_NICE, 0, 0, 0);
      __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
      __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
      if (syscall(SYS_capget, &header, data) == 0) {
        data[CAP_TO_INDEX(CAP_SYS_NICE)].inheritable &= ~CAP_TO_MASK(CAP_SYS_NICE);
        syscall(SYS_capset, &header, data);
      }
      const rlimit none{0, 0};
      if (setrlimit(RLIMIT_NICE, &none) != 0) _exit(126);
    }
    if (stderr_fd >= 0) dup2(stderr_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(RICOCHET_BINARY));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // The tests' own environment may carry a token: the flags below must be what counts.
    unsetenv("RICOCHET_ADMIN_TOKEN");
    unsetenv("RICOCHET_CLICK_SECRET");
    execv(RICOCHET_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return ExitCode(status);
}

// WaitExit for at most `limit`; -1 (and the process killed) when it was still running.
int WaitExit(pid_t pid, std::chrono::milliseconds limit) {
  int status = 0;
  for (auto end = std::chrono::steady_clock::now() + limit;
       std::chrono::steady_clock::now() < end;) {
    if (waitpid(pid, &status, WNOHANG) == pid) return ExitCode(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

}  // namespace

Server::Server(const std::string& data_dir, std::vector<std::string> extra_args,
               SpawnOptions options)
    : data_dir_(data_dir), log_path_(data_dir + ".stderr") {
  for (int attempt = 0; attempt < 5; ++attempt) {
    public_port_ = FreePort();
    admin_port_ = FreePort();
    std::vector<std::string> args = {"--data",         data_dir_,
                                     "--listen",       "127.0.0.1:" + std::to_string(public_port_),
                                     "--admin-listen", "127.0.0.1:" + std::to_string(admin_port_),
                                     "--admin-token",  kToken,
                                     "--click-secret", kSecretHex,
                                     "--threads",      "2",
                                     "--log-level",    "info"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    pid_ = Spawn(args, log_fd, options);
    close(log_fd);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;  // died (port race?): try again with new ports
      }
      try {
        if (Http(admin_port_, "GET", "/healthz").status == 200 &&
            Http(public_port_, "GET", "/healthz").status == 200) {
          return;
        }
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0) Kill();
  }
  throw std::runtime_error("ricochet did not start");
}

Server::~Server() {
  if (pid_ > 0) Kill();
  unlink(log_path_.c_str());
}

void Server::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int Server::Wait() {
  if (pid_ <= 0) return -1;
  int rc = WaitExit(pid_);
  pid_ = -1;
  return rc;
}

std::string Server::Log() const {
  std::string out;
  int fd = open(log_path_.c_str(), O_RDONLY);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

int Server::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int rc = WaitExit(pid_);
  pid_ = -1;
  return rc;
}

void Server::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  WaitExit(pid_);
  pid_ = -1;
}

HttpResult Server::Get(const std::string& target,
                       std::map<std::string, std::string> headers) const {
  if (!headers.count("User-Agent")) headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Test";
  return Http(public_port_, "GET", target, headers);
}

HttpResult Server::Head(const std::string& target,
                        std::map<std::string, std::string> headers) const {
  if (!headers.count("User-Agent")) headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Test";
  return Http(public_port_, "HEAD", target, headers);
}

HttpResult Server::Api(const std::string& method, const std::string& target,
                       const std::string& body) const {
  return Http(
      admin_port_, method, target,
      {{"Authorization", std::string("Bearer ") + kToken}, {"Content-Type", "application/json"}},
      body);
}

void Server::PutOffer(const std::string& id, const std::string& json) const {
  HttpResult r = Api("PUT", "/api/offers/" + id, json);
  INFO(r.body);
  REQUIRE(r.status == 200);
}

void Server::PutAffiliate(const std::string& id, const std::string& json) const {
  HttpResult r = Api("PUT", "/api/affiliates/" + id, json);
  INFO(r.body);
  REQUIRE(r.status == 200);
}

std::string Click(const Server& s, const std::string& offer, const std::string& aff,
                  const std::string& ua) {
  HttpResult r = s.Get("/c/" + offer + "?aff=" + aff, {{"User-Agent", ua}});
  REQUIRE(r.status == 302);
  std::string loc = r.header("location");
  return loc.substr(loc.find("c=") + 2, 32);
}

HttpResult Postback(const Server& s, const std::string& query) {
  return Http(s.public_port(), "GET", "/postback?" + query);
}

HttpResult Http(int port, const std::string& method, const std::string& target,
                const std::map<std::string, std::string>& headers, const std::string& body) {
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  if (method == "HEAD") parser.skip(true);
  http::read(socket, buffer, parser);
  HttpResult out;
  const auto& res = parser.get();
  out.status = res.result_int();
  for (const auto& f : res) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    out.headers.emplace(name, std::string(f.value()));
  }
  out.body = res.body();
  beast::error_code ec;
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return out;
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  return fd;
}

boost::json::object OfferReportRow(const Server& s, const std::string& offer) {
  HttpResult r = s.Api("GET", "/api/report?from=2000-01-01&to=2100-01-01&group_by=offer");
  REQUIRE(r.status == 200);
  const boost::json::value report = boost::json::parse(r.body);
  for (const boost::json::value& row : report.at("rows").as_array()) {
    if (row.at("offer").as_string() == offer) return row.as_object();
  }
  return {};
}

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

int64_t MetricValue(const Server& s, const std::string& series) {
  HttpResult m = Http(s.admin_port(), "GET", "/metrics");
  REQUIRE(m.status == 200);
  size_t at = m.body.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(m.body.substr(at + series.size() + 2));
}

std::string RawExchange(int port, const std::string& bytes, int timeout_ms, bool* closed) {
  int fd = ConnectLoopback(port);
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  if (closed) *closed = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (closed) *closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string RawExchange(int port, const std::string& bytes, int timeout_ms) {
  return RawExchange(port, bytes, timeout_ms, nullptr);
}

int RunBinary(const std::vector<std::string>& args, std::string* stderr_out,
              std::chrono::milliseconds limit) {
  char path[] = "/tmp/ricochet-stderr-XXXXXX";
  int fd = mkstemp(path);
  pid_t pid = Spawn(args, fd, SpawnOptions{});
  int rc = WaitExit(pid, limit);
  lseek(fd, 0, SEEK_SET);
  std::string err;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) err.append(buf, static_cast<size_t>(n));
  close(fd);
  unlink(path);
  if (stderr_out) *stderr_out = err;
  return rc;
}

int CountResponses(const std::string& raw) {
  int n = 0;
  for (size_t pos = raw.find("HTTP/1.1 "); pos != std::string::npos;
       pos = raw.find("HTTP/1.1 ", pos + 1)) {
    ++n;
  }
  return n;
}

}  // namespace ricochet::testing
