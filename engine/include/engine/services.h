// The long-lived parts a request handler uses, constructed in main (App) and passed in.
#ifndef RICOCHET_ENGINE_SERVICES_H_
#define RICOCHET_ENGINE_SERVICES_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "attribution/click.h"
#include "boost/asio/thread_pool.hpp"
#include "engine/catalog.h"
#include "engine/click_id.h"
#include "engine/click_pipeline.h"
#include "engine/config.h"
#include "engine/conversion_service.h"
#include "engine/log.h"
#include "engine/metrics.h"
#include "engine/postback_sender.h"
#include "storage/store.h"

namespace ricochet::engine {

// Remembers the last successful readiness probe, so a flood of /readyz (the public listener is
// reachable from the internet) cannot turn into a flood of fsyncs.
struct Readiness {
  static constexpr int64_t kCacheMs = 1000;
  std::atomic<int64_t> last_ok_ms{INT64_MIN / 2};
};

struct Services {
  const ServerConfig* config = nullptr;
  storage::Store* store = nullptr;
  CatalogHolder* catalog = nullptr;
  ClickPipeline* clicks = nullptr;
  ConversionService* conversions = nullptr;
  PostbackSender* postbacks = nullptr;  // set once the HTTP server exists (see App::Create)
  const ClickIdCodec* click_ids = nullptr;
  const attribution::BotMatcher* bots = nullptr;
  Metrics* metrics = nullptr;
  const Logger* log = nullptr;
  // Blocking work (database scans, synced writes, waits) runs here, never on an I/O thread.
  boost::asio::thread_pool* blocking_pool = nullptr;
  // Serialises configuration changes (read-modify-publish of the catalog).
  std::mutex* config_mu = nullptr;
  Readiness* readiness = nullptr;
  std::chrono::steady_clock::time_point started;
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_SERVICES_H_
