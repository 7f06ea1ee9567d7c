#include "engine/config.h"

#include <cstdlib>

#include "catch2/catch.hpp"

namespace ricochet::engine {
namespace {
absl::StatusOr<ServerConfig> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ricochet");
  return ParseServerFlags(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST_CASE("flags parse with defaults", "[config]") {
  unsetenv("RICOCHET_ADMIN_TOKEN");
  unsetenv("RICOCHET_CLICK_SECRET");
  auto c = Parse({"--admin-token", "tok"});
  REQUIRE(c.ok());
  CHECK(c->listen.host == "0.0.0.0");
  CHECK(c->listen.port == 8080);
  CHECK(c->admin_listen.host == "127.0.0.1");
  CHECK(c->admin_listen.port == 8081);
  CHECK(c->data_dir == "./data");
  CHECK(c->threads >= 1);
  CHECK(c->retention_days == 90);
  CHECK(c->wal_sync_ms == 100);
  CHECK(c->write_buffer_mb == 32);
  CHECK(c->io_yields == 5);
  CHECK_FALSE(c->click_secret.has_value());
  CHECK_FALSE(c->access_log);
  CHECK_FALSE(c->allow_private_postbacks);
  CHECK(c->postback_max_attempts == 10);
  CHECK(c->postback_retry_ms == 1000);

  auto d =
      Parse({"--admin-token=tok", "--listen=[::1]:9000", "--admin-listen", "127.0.0.1:0",
             "--trusted-proxy", "10.0.0.0/8, 192.168.0.0/16", "--trusted-proxy=::1", "--threads",
             "3", "--partition", "65535", "--click-secret", "000102030405060708090A0B0C0D0E0F",
             "--data", "/tmp/x", "--write-buffer-mb=1", "--counter-fold-ms", "0"});
  REQUIRE(d.ok());
  CHECK(d->listen.host == "::1");
  CHECK(d->listen.port == 9000);
  CHECK(d->trusted_proxies.size() == 3);
  CHECK(d->threads == 3);
  CHECK(d->partition == 65535);
  CHECK(d->write_buffer_mb == 1);
  CHECK(d->counter_fold_ms == 0);
  REQUIRE(d->click_secret.has_value());
  CHECK((*d->click_secret)[15] == 0x0f);

  auto e = Parse({"--admin-token=tok", "--allow-private-postbacks", "--access-log=true",
                  "--postback-max-attempts", "3", "--postback-retry-ms=20", "--io-yields=0"});
  REQUIRE(e.ok());
  CHECK(e->allow_private_postbacks);
  CHECK(e->access_log);
  CHECK(e->postback_max_attempts == 3);
  CHECK(e->postback_retry_ms == 20);
  CHECK(e->io_yields == 0);
  CHECK(e->record_priority == "adaptive");
  CHECK(Parse({"--admin-token=tok", "--record-priority", "normal"})->record_priority == "normal");
  CHECK_FALSE(Parse({"--admin-token=tok", "--access-log=false"})->access_log);
  CHECK(Parse({"--admin-token=tok", "--pause-postbacks"})->pause_postbacks);
  CHECK_FALSE(Parse({"--admin-token=tok"})->pause_postbacks);
}

TEST_CASE("bad flags fail with a message naming them", "[config]") {
  unsetenv("RICOCHET_ADMIN_TOKEN");
  struct Case {
    std::vector<const char*> args;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--admin-token", "t", "--threads", "0"}, "--threads"},
           {{"--admin-token", "t", "--threads", "x"}, "--threads"},
           {{"--admin-token", "t", "--listen", "localhost:80"}, "--listen"},
           {{"--admin-token", "t", "--listen", "1.2.3.4:99999"}, "--listen"},
           {{"--admin-token", "t", "--trusted-proxy", "10.0.0.0/99"}, "--trusted-proxy"},
           {{"--admin-token", "t", "--click-secret", "abc"}, "--click-secret"},
           {{"--admin-token", "t", "--wal-sync-ms", "500"}, "--wal-sync-ms"},
           {{"--admin-token", "t", "--write-buffer-mb", "0"}, "--write-buffer-mb"},
           {{"--admin-token", "t", "--counter-fold-ms", "60001"}, "--counter-fold-ms"},
           {{"--admin-token", "t", "--io-yields", "101"}, "--io-yields"},
           {{"--admin-token", "t", "--io-yields", "-1"}, "--io-yields"},
           {{"--admin-token", "t", "--log-level", "loud"}, "--log-level"},
           {{"--admin-token", "t", "--record-priority", "idle"}, "--record-priority"},
           {{"--admin-token", "t", "--nope", "1"}, "unknown flag --nope"},
           {{"--admin-token", "t", "--access-log=yes"}, "--access-log"},
           {{"--admin-token", "t", "--postback-max-attempts", "0"}, "--postback-max-attempts"},
           {{"--admin-token", "t", "stray"}, "unexpected argument"},
           {{"--admin-token"}, "needs a value"},
           {{"--data", "d"}, "admin token is required"},
           {{"--admin-token", "has space"}, "--admin-token"},
       }) {
    auto r = Parse(c.args);
    REQUIRE_FALSE(r.ok());
    CHECK(absl::IsInvalidArgument(r.status()));
    INFO(r.status().message());
    CHECK(std::string(r.status().message()).find(c.message) != std::string::npos);
  }
  CHECK(absl::IsNotFound(Parse({"--help"}).status()));
  CHECK(std::string(Parse({"--help"}).status().message()).find("--trusted-proxy") !=
        std::string::npos);
}

TEST_CASE("environment variables apply, flags win", "[config]") {
  setenv("RICOCHET_ADMIN_TOKEN", "from-env", 1);
  setenv("RICOCHET_CLICK_SECRET", "ffffffffffffffffffffffffffffffff", 1);
  auto env = Parse({});
  REQUIRE(env.ok());
  CHECK(env->admin_token == "from-env");
  CHECK((*env->click_secret)[0] == 0xff);
  auto flag =
      Parse({"--admin-token", "from-flag", "--click-secret", "00000000000000000000000000000000"});
  REQUIRE(flag.ok());
  CHECK(flag->admin_token == "from-flag");
  CHECK((*flag->click_secret)[0] == 0);
  setenv("RICOCHET_CLICK_SECRET", "bad", 1);
  CHECK_FALSE(Parse({}).ok());
  unsetenv("RICOCHET_ADMIN_TOKEN");
  unsetenv("RICOCHET_CLICK_SECRET");
}

}  // namespace ricochet::engine
