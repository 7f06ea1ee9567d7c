// Test harness: runs the real `ricochet` binary on 127.0.0.1 with a temporary data directory and
// talks HTTP to it. No mocks of our own code.
#ifndef RICOCHET_TESTS_INTEGRATION_HARNESS_H_
#define RICOCHET_TESTS_INTEGRATION_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "boost/json/object.hpp"
#include "temp_dir.h"

namespace ricochet::testing {

inline constexpr char kToken[] = "test-admin-token-0123456789";
// A fixed click secret, so tests can mint valid-but-unknown click ids.
inline constexpr char kSecretHex[] = "000102030405060708090a0b0c0d0e0f";

struct HttpResult {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const;  // first value or ""
  size_t count(const std::string& name) const { return headers.count(name); }
};

// How the server process starts, besides its flags.
struct SpawnOptions {
  // Without CAP_SYS_NICE (dropped from the capability bounding set, so even root lacks it
  // after exec) and with RLIMIT_NICE 0: how an unprivileged service starts.
  bool without_sys_nice = false;
};

class Server {
 public:
  // Starts ricochet on free ports with `data_dir`; waits until /healthz answers.
  explicit Server(const std::string& data_dir, std::vector<std::string> extra_args = {},
                  SpawnOptions options = {});
  ~Server();  // SIGKILL if still running

  // SIGTERM and wait; returns the exit status.
  int Stop();
  void Kill();
  // Sends `sig` without waiting; Wait() then reaps the process and returns its exit status.
  void Signal(int sig);
  int Wait();
  // Everything the server wrote to stderr so far (its JSON log lines).
  std::string Log() const;
  bool running() const { return pid_ > 0; }

  pid_t pid() const { return pid_; }
  int public_port() const { return public_port_; }
  int admin_port() const { return admin_port_; }

  HttpResult Get(const std::string& target, std::map<std::string, std::string> headers = {}) const;
  HttpResult Head(const std::string& target, std::map<std::string, std::string> headers = {}) const;
  // Admin API with the token.
  HttpResult Api(const std::string& method, const std::string& target,
                 const std::string& body = "") const;
  // Puts the JSON object and requires 200.
  void PutOffer(const std::string& id, const std::string& json) const;
  void PutAffiliate(const std::string& id, const std::string& json) const;

 private:
  std::string data_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  int public_port_ = 0;
  int admin_port_ = 0;
};

// Clicks on `offer` for `aff` and returns the click id (the offer URL must carry c={click_id}).
std::string Click(const Server& s, const std::string& offer, const std::string& aff,
                  const std::string& ua = "Mozilla/5.0 Test");
// GET /postback?query on the public listener.
HttpResult Postback(const Server& s, const std::string& query);

// One request on a fresh connection to 127.0.0.1:port.
HttpResult Http(int port, const std::string& method, const std::string& target,
                const std::map<std::string, std::string>& headers = {},
                const std::string& body = "");

// Writes raw bytes, then reads until the server closes or `timeout_ms` passes; returns all bytes.
std::string RawExchange(int port, const std::string& bytes, int timeout_ms = 2000);
// True when the server closed the connection (read returned 0) within timeout_ms after the
// exchange above; RawExchange reports it through `closed`.
std::string RawExchange(int port, const std::string& bytes, int timeout_ms, bool* closed);

int FreePort();

// A blocking TCP connection to 127.0.0.1:port; throws std::runtime_error when refused.
int ConnectLoopback(int port);

// The all-time report row of `offer` (GET /api/report?group_by=offer), or an empty object when
// the offer has none.
boost::json::object OfferReportRow(const Server& s, const std::string& offer);

// Polls `done` every 20 ms for up to `limit`; true as soon as it holds.
bool Eventually(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::milliseconds(10'000));

// The value of one series of GET /metrics (e.g. `ricochet_clicks_total{class="unique"}`), or -1
// when the server does not list it.
int64_t MetricValue(const Server& s, const std::string& series);

// Runs ricochet with `args` to completion; returns exit code and captures stderr. A run longer
// than `limit` is killed and returns -1.
int RunBinary(const std::vector<std::string>& args, std::string* stderr_out,
              std::chrono::milliseconds limit = std::chrono::milliseconds(60'000));

// Counts "HTTP/1.1 " status lines in a raw response stream.
int CountResponses(const std::string& raw);

}  // namespace ricochet::testing

#endif  // RICOCHET_TESTS_INTEGRATION_HARNESS_H_
