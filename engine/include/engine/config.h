// The server's configuration: every flag, its default, and why you would change it.
// Parsed once at start-up; a bad flag fails the start with a message naming it.
#ifndef RICOCHET_ENGINE_CONFIG_H_
#define RICOCHET_ENGINE_CONFIG_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/net.h"

namespace ricochet::engine {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
};

struct ServerConfig {
  // Public tracking listener (clicks, postbacks, pixel, health).
  Endpoint listen{"0.0.0.0", 8080};
  // Admin API and /metrics. Keep it on a private interface.
  Endpoint admin_listen{"127.0.0.1", 8081};
  // RocksDB directory. Put it on a local SSD; it must not be shared by two servers.
  std::string data_dir = "./data";
  // Bearer token for /api. From --admin-token, else RICOCHET_ADMIN_TOKEN. Required.
  std::string admin_token;
  // Proxies whose X-Forwarded-For is believed (your load balancers). Empty: trust nobody.
  std::vector<Cidr> trusted_proxies;
  // I/O threads; each owns its connections. Default: the number of cores.
  int threads = 0;
  // This node's partition number, carried in every click id (scale-out routing).
  uint16_t partition = 0;
  // 32 hex digits. Click ids are MACed with it; default: generated once and kept in the data
  // dir. Give the same secret to every node that must verify another node's click ids.
  std::optional<std::array<uint8_t, 16>> click_secret;
  // Clicks, dedupe keys and visitor index entries older than this are deleted by compaction.
  int retention_days = 90;
  // File with one User-Agent substring per line, replacing the shipped bot list.
  std::string bot_list_file;
  // Longest time a recorded click stays in the OS buffer before the WAL is fsynced.
  int wal_sync_ms = 100;
  // Clicks waiting for the writer beyond this are dropped (still redirected, counted).
  size_t click_queue_limit = 1'000'000;
  // RocksDB block cache; raise it for large dedupe windows.
  size_t block_cache_mb = 128;
  // RocksDB memtable size per column family (the small ones get an eighth, at least 1 MiB).
  // Lower it to bound memory on a small machine.
  size_t write_buffer_mb = 32;
  // How often report click counts move from the counter journal into the counters
  // (storage::StoreOptions::counter_fold_ms).
  int counter_fold_ms = 1000;
  // HTTP limits and deadlines.
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 64 * 1024;
  int header_timeout_s = 10;  // whole request head (and body) must arrive within this
  int idle_timeout_s = 60;    // keep-alive connection with no request
  int write_timeout_s = 10;
  size_t max_pipeline = 16;  // requests read ahead of their answers on one connection
  // Times a busy I/O thread with nothing ready yields its core and polls again before it
  // sleeps (HttpServerOptions::io_yields).
  int io_yields = 5;
  // "adaptive": the click writer and RocksDB's flush and compaction threads run at idle
  // priority, except while they fall behind (ClickPipelineOptions::idle_priority); needs
  // CAP_SYS_NICE or RLIMIT_NICE >= 20, else the server warns and uses "normal".
  std::string record_priority = "adaptive";
  int drain_timeout_s = 10;  // on SIGTERM, time given to in-flight requests
  // debug, info, warn, error.
  std::string log_level = "info";
  // One JSON line per answered request on stderr. Off by default: the click path logs nothing.
  bool access_log = false;
  // Outgoing affiliate postbacks (the outbox). Private, loopback, link-local, unique-local,
  // metadata and IPv4-mapped targets are refused unless allow_private_postbacks.
  bool allow_private_postbacks = false;
  // Queue outgoing postbacks but send none: for a server started on a copy of production data.
  bool pause_postbacks = false;
  int postback_max_attempts = 10;  // then the entry is a dead letter
  int postback_retry_ms = 1000;    // first retry delay; doubles per attempt (jittered)
  int postback_retry_max_ms = 3'600'000;
  int postback_timeout_ms = 10'000;  // one attempt: resolve, connect, TLS, request, answer head
  int postback_concurrency = 32;     // deliveries in flight at once
};

// Parses argv (and RICOCHET_* environment variables, which flags override). Returns the
// config, or InvalidArgument naming the bad flag. `--help` / `--version` return NotFound with
// the text to print in the message.
[[nodiscard]] absl::StatusOr<ServerConfig> ParseServerFlags(int argc, const char* const* argv);

// The --help text.
std::string ServerUsage();

// "host:port" (IPv6 as "[::1]:8080").
[[nodiscard]] absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text);

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_CONFIG_H_
