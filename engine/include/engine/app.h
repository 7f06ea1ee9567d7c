// The whole server wired together: store, catalog, click pipeline, handlers, HTTP server.
// main() and the integration tests construct it; nothing here reads argv or signals.
#ifndef RICOCHET_ENGINE_APP_H_
#define RICOCHET_ENGINE_APP_H_

#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "attribution/click.h"
#include "boost/asio/thread_pool.hpp"
#include "engine/catalog.h"
#include "engine/click_id.h"
#include "engine/click_pipeline.h"
#include "engine/config.h"
#include "engine/conversion_service.h"
#include "engine/handlers.h"
#include "engine/http_server.h"
#include "engine/log.h"
#include "engine/metrics.h"
#include "engine/postback_sender.h"
#include "storage/store.h"

namespace ricochet::engine {

class App {
 public:
  // Opens the database, loads the configuration and binds both listeners. Fails with a message
  // fit for the operator (bad data dir, port in use, corrupt stored offer).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<App>> Create(ServerConfig config);
  ~App();

  // Fails if the outbox cannot be loaded.
  [[nodiscard]] absl::Status Start();
  // Graceful: stop accepting, drain in-flight requests, write and fsync queued clicks, close the
  // database. Idempotent.
  void Stop();

  uint16_t public_port() const { return server_->port(Listener::kPublic); }
  uint16_t admin_port() const { return server_->port(Listener::kAdmin); }
  const Logger& log() const { return log_; }

 private:
  explicit App(ServerConfig config);

  ServerConfig config_;
  Logger log_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<CatalogHolder> catalog_;
  std::unique_ptr<ClickIdCodec> click_ids_;
  std::unique_ptr<attribution::BotMatcher> bots_;
  std::unique_ptr<ClickPipeline> clicks_;
  std::unique_ptr<ConversionService> conversions_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
  std::mutex config_mu_;
  Readiness readiness_;
  std::unique_ptr<TrackingHandler> tracking_;
  std::unique_ptr<AdminHandler> admin_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<PostbackSender> sender_;  // on worker 0's io_context: destroyed before server_
  bool running_ = false;
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_APP_H_
