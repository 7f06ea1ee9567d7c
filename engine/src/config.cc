#include "engine/config.h"

#include <charconv>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "attribution/sv.h"

namespace ricochet::engine {
namespace {

template <typename T>
absl::Status ParseNumber(std::string_view flag, std::string_view text, T min, T max, T* out) {
  T v{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    return absl::InvalidArgumentError(absl::StrCat("--", ToAbsl(flag),
                                                   ": expected a whole number from ", min, " to ",
                                                   max, ", got '", ToAbsl(text), "'"));
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status ParseSecret(std::string_view text, std::array<uint8_t, 16>* out) {
  if (text.size() != 32) {
    return absl::InvalidArgumentError("--click-secret: expected 32 hex digits");
  }
  for (size_t i = 0; i < 16; ++i) {
    uint8_t b = 0;
    for (size_t j = 0; j < 2; ++j) {
      char c = text[i * 2 + j];
      int v = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (v < 0) return absl::InvalidArgumentError("--click-secret: expected 32 hex digits");
      b = static_cast<uint8_t>(b * 16 + v);
    }
    (*out)[i] = b;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text) {
  Endpoint e;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address '", ToAbsl(text), "' (want [v6]:port)"));
    }
    e.host.assign(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address '", ToAbsl(text), "' (want host:port)"));
    }
    e.host.assign(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  boost::asio::ip::address addr;
  if (!ParseIp(e.host, &addr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address '", ToAbsl(text), "' (the host must be a numeric IP address)"));
  }
  if (absl::Status s = ParseNumber<uint16_t>("port", port, 0, 65535, &e.port); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", ToAbsl(text), "'"));
  }
  return e;
}

std::string ServerUsage() {
  return R"(ricochet — click and conversion tracking server

Usage: ricochet [flags]

  --listen HOST:PORT         public tracking listener (default 0.0.0.0:8080)
  --admin-listen HOST:PORT   admin API and /metrics (default 127.0.0.1:8081)
  --data DIR                 RocksDB data directory (default ./data)
  --admin-token TOKEN        bearer token for /api (or env RICOCHET_ADMIN_TOKEN; required)
  --trusted-proxy CIDR[,..]  proxies whose X-Forwarded-For is trusted (repeatable)
  --threads N                I/O threads (default: number of cores)
  --partition N              partition number carried in click ids, 0..65535 (default 0)
  --click-secret HEX         32 hex digits MAC key for click ids (or env RICOCHET_CLICK_SECRET;
                             default: generated once and stored in the data directory)
  --retention-days N         keep clicks and dedupe keys this long (default 90)
  --bot-list FILE            User-Agent substrings, one per line, replacing the built-in list
  --wal-sync-ms N            fsync recorded clicks at least this often, 1..100 (default 100)
  --click-queue N            clicks buffered for the writer before dropping (default 1000000)
  --block-cache-mb N         RocksDB block cache size (default 128)
  --write-buffer-mb N        RocksDB memtable size per column family (default 32)
  --counter-fold-ms N        merge journaled report click counts about this often, 0..60000
                             (default 1000; reports include unmerged counts)
  --max-header-bytes N       request line + headers limit, else 431 (default 8192)
  --max-body-bytes N         request body limit, else 413 (default 65536)
  --header-timeout-s N       deadline to receive one request (default 10)
  --idle-timeout-s N         keep-alive idle timeout (default 60)
  --write-timeout-s N        deadline to send one response (default 10)
  --max-pipeline N           pipelined requests read ahead per connection (default 16)
  --io-yields N              times a busy I/O thread with nothing ready yields its core and
                             looks again before it sleeps, 0..100 (default 5; 0 sleeps at
                             once)
  --record-priority MODE     adaptive: the click writer and RocksDB's flushes and compactions
                             run only on CPU that redirects leave, except while they fall
                             behind; normal: at the same priority as redirects (default
                             adaptive; needs CAP_SYS_NICE or RLIMIT_NICE 20, else normal)
  --drain-timeout-s N        SIGTERM grace period for in-flight requests (default 10)
  --log-level LEVEL          debug, info, warn or error (default info)
  --access-log               log one JSON line per answered request (default off)
  --allow-private-postbacks  let affiliate postback URLs reach private, loopback, link-local,
                             unique-local, metadata and IPv4-mapped addresses (default off)
  --pause-postbacks          keep outgoing postbacks queued, send none (restore drills,
                             staging copies of production data; default off)
  --postback-max-attempts N  delivery attempts before a dead letter, 1..100 (default 10)
  --postback-retry-ms N      first retry delay in ms, doubling per attempt (default 1000)
  --postback-retry-max-ms N  longest retry delay in ms (default 3600000)
  --postback-timeout-ms N    deadline of one delivery attempt in ms (default 10000)
  --postback-concurrency N   deliveries in flight at once (default 32)
  --help                     this text
  --version                  print the version

Every flag may also be written --flag=value. Environment variables RICOCHET_ADMIN_TOKEN and
RICOCHET_CLICK_SECRET are read when the flag is absent; a flag always wins.
)";
}

absl::StatusOr<ServerConfig> ParseServerFlags(int argc, const char* const* argv) {
  ServerConfig c;
  c.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool token_from_flag = false, secret_from_flag = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::NotFoundError(ServerUsage());
    if (arg == "--version")
      return absl::NotFoundError(absl::StrCat("ricochet ", RICOCHET_VERSION, "\n"));
    if (arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", ToAbsl(arg), "' (see --help)"));
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    size_t eq = name.find('=');
    std::string_view base = name.substr(0, eq);
    bool* flag = base == "access-log"                ? &c.access_log
                 : base == "allow-private-postbacks" ? &c.allow_private_postbacks
                 : base == "pause-postbacks"         ? &c.pause_postbacks
                                                     : nullptr;
    if (flag != nullptr) {  // switches
      bool on = true;
      if (eq != std::string_view::npos) {
        std::string_view v = name.substr(eq + 1);
        name = base;
        if (v != "true" && v != "false") {
          return absl::InvalidArgumentError(
              absl::StrCat("--", ToAbsl(name), ": expected true or false"));
        }
        on = v == "true";
      }
      *flag = on;
      continue;
    }
    if (eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", ToAbsl(name), " needs a value (see --help)"));
      }
      value = argv[++i];
    }
    absl::Status s;
    if (name == "listen" || name == "admin-listen") {
      absl::StatusOr<Endpoint> e = ParseEndpoint(value);
      if (!e.ok())
        return absl::InvalidArgumentError(
            absl::StrCat("--", ToAbsl(name), ": ", e.status().message()));
      (name == "listen" ? c.listen : c.admin_listen) = *e;
    } else if (name == "data") {
      if (value.empty()) return absl::InvalidArgumentError("--data: must not be empty");
      c.data_dir.assign(value);
    } else if (name == "admin-token") {
      c.admin_token.assign(value);
      token_from_flag = true;
    } else if (name == "trusted-proxy") {
      for (absl::string_view apart : absl::StrSplit(ToAbsl(value), ',', absl::SkipWhitespace())) {
        std::string_view part = ToStd(apart);
        absl::StatusOr<Cidr> cidr = Cidr::Parse(part);
        if (!cidr.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("--trusted-proxy: ", cidr.status().message()));
        }
        c.trusted_proxies.push_back(*cidr);
      }
    } else if (name == "threads") {
      s = ParseNumber("threads", value, 1, 256, &c.threads);
    } else if (name == "partition") {
      s = ParseNumber<uint16_t>("partition", value, 0, 65535, &c.partition);
    } else if (name == "click-secret") {
      std::array<uint8_t, 16> secret;
      s = ParseSecret(value, &secret);
      if (s.ok()) c.click_secret = secret;
      secret_from_flag = true;
    } else if (name == "retention-days") {
      s = ParseNumber("retention-days", value, 1, 36500, &c.retention_days);
    } else if (name == "bot-list") {
      c.bot_list_file.assign(value);
    } else if (name == "wal-sync-ms") {
      s = ParseNumber("wal-sync-ms", value, 1, 100, &c.wal_sync_ms);
    } else if (name == "click-queue") {
      s = ParseNumber<size_t>("click-queue", value, 1024, 100'000'000, &c.click_queue_limit);
    } else if (name == "block-cache-mb") {
      s = ParseNumber<size_t>("block-cache-mb", value, 8, 1'000'000, &c.block_cache_mb);
    } else if (name == "write-buffer-mb") {
      s = ParseNumber<size_t>("write-buffer-mb", value, 1, 1024, &c.write_buffer_mb);
    } else if (name == "counter-fold-ms") {
      s = ParseNumber("counter-fold-ms", value, 0, 60'000, &c.counter_fold_ms);
    } else if (name == "max-header-bytes") {
      s = ParseNumber<size_t>("max-header-bytes", value, 1024, 1 << 20, &c.max_header_bytes);
    } else if (name == "max-body-bytes") {
      s = ParseNumber<size_t>("max-body-bytes", value, 1024, 64 << 20, &c.max_body_bytes);
    } else if (name == "header-timeout-s") {
      s = ParseNumber("header-timeout-s", value, 1, 3600, &c.header_timeout_s);
    } else if (name == "idle-timeout-s") {
      s = ParseNumber("idle-timeout-s", value, 1, 86400, &c.idle_timeout_s);
    } else if (name == "write-timeout-s") {
      s = ParseNumber("write-timeout-s", value, 1, 3600, &c.write_timeout_s);
    } else if (name == "max-pipeline") {
      s = ParseNumber<size_t>("max-pipeline", value, 1, 1024, &c.max_pipeline);
    } else if (name == "io-yields") {
      s = ParseNumber("io-yields", value, 0, 100, &c.io_yields);
    } else if (name == "drain-timeout-s") {
      s = ParseNumber("drain-timeout-s", value, 0, 3600, &c.drain_timeout_s);
    } else if (name == "postback-max-attempts") {
      s = ParseNumber("postback-max-attempts", value, 1, 100, &c.postback_max_attempts);
    } else if (name == "postback-retry-ms") {
      s = ParseNumber("postback-retry-ms", value, 1, 86'400'000, &c.postback_retry_ms);
    } else if (name == "postback-retry-max-ms") {
      s = ParseNumber("postback-retry-max-ms", value, 1, 86'400'000, &c.postback_retry_max_ms);
    } else if (name == "postback-timeout-ms") {
      s = ParseNumber("postback-timeout-ms", value, 100, 600'000, &c.postback_timeout_ms);
    } else if (name == "postback-concurrency") {
      s = ParseNumber("postback-concurrency", value, 1, 4096, &c.postback_concurrency);
    } else if (name == "record-priority") {
      if (value != "adaptive" && value != "normal") {
        return absl::InvalidArgumentError("--record-priority: expected adaptive or normal");
      }
      c.record_priority.assign(value);
    } else if (name == "log-level") {
      if (value != "debug" && value != "info" && value != "warn" && value != "error") {
        return absl::InvalidArgumentError("--log-level: expected debug, info, warn or error");
      }
      c.log_level.assign(value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", ToAbsl(name), " (see --help)"));
    }
    if (!s.ok()) return s;
  }

  if (!token_from_flag) {
    if (const char* env = std::getenv("RICOCHET_ADMIN_TOKEN")) c.admin_token = env;
  }
  if (!secret_from_flag) {
    if (const char* env = std::getenv("RICOCHET_CLICK_SECRET"); env != nullptr && *env != '\0') {
      std::array<uint8_t, 16> secret;
      if (absl::Status s = ParseSecret(env, &secret); !s.ok()) {
        return absl::InvalidArgumentError("RICOCHET_CLICK_SECRET: expected 32 hex digits");
      }
      c.click_secret = secret;
    }
  }
  if (c.admin_token.empty()) {
    return absl::InvalidArgumentError(
        "an admin token is required: pass --admin-token or set RICOCHET_ADMIN_TOKEN");
  }
  for (char ch : c.admin_token) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) {
      return absl::InvalidArgumentError(
          "--admin-token: must not contain spaces or control characters");
    }
  }
  return c;
}

}  // namespace ricochet::engine
