#include "engine/app.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "attribution/sv.h"

namespace ricochet::engine {
namespace {

absl::StatusOr<std::vector<std::string>> ReadBotList(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--bot-list: cannot read ", path));
  std::vector<std::string> patterns;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view s = ToStd(absl::StripAsciiWhitespace(line));
    if (s.empty() || s[0] == '#') continue;
    patterns.emplace_back(s);
  }
  return patterns;
}

absl::StatusOr<std::shared_ptr<const Catalog>> LoadCatalog(storage::Store& store, const Logger& log,
                                                           int retention_days) {
  auto catalog = std::make_shared<Catalog>();
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> offers =
      store.ListConfig("offer");
  if (!offers.ok()) return offers.status();
  for (const auto& [id, text] : *offers) {
    Offer o;
    FieldError e;
    if (!ParseOffer(id, text, &o, &e)) {
      return absl::DataLossError(absl::StrCat("stored offer ", id, " is invalid: ", e.message));
    }
    if (o.lookback_days > retention_days || o.dedupe_window_s > int64_t{retention_days} * 86400) {
      // Saved under a longer --retention-days: still served, but the operator must know.
      log.Warn("offer window exceeds --retention-days; old clicks will already be gone",
               {{"offer", id}, {"retention_days", std::to_string(retention_days)}});
    }
    catalog->offers[id] = std::make_shared<const Offer>(std::move(o));
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> affs =
      store.ListConfig("affiliate");
  if (!affs.ok()) return affs.status();
  for (const auto& [id, text] : *affs) {
    Affiliate a;
    FieldError e;
    if (!ParseAffiliate(id, text, &a, &e)) {
      return absl::DataLossError(absl::StrCat("stored affiliate ", id, " is invalid: ", e.message));
    }
    catalog->affiliates[id] = std::make_shared<const Affiliate>(std::move(a));
  }
  return std::shared_ptr<const Catalog>(std::move(catalog));
}

}  // namespace

App::App(ServerConfig config)
    : config_(std::move(config)), log_(Logger::ParseLevel(config_.log_level)) {}

App::~App() { Stop(); }

absl::StatusOr<std::unique_ptr<App>> App::Create(ServerConfig config) {
  std::unique_ptr<App> app(new App(std::move(config)));
  const ServerConfig& c = app->config_;

  std::vector<std::string> patterns = attribution::BotMatcher::DefaultPatterns();
  if (!c.bot_list_file.empty()) {
    absl::StatusOr<std::vector<std::string>> p = ReadBotList(c.bot_list_file);
    if (!p.ok()) return p.status();
    patterns = std::move(*p);
  }
  app->bots_ = std::make_unique<attribution::BotMatcher>(patterns);

  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("--data: cannot create ", c.data_dir, ": ", ec.message()));
  }
  storage::StoreOptions so;
  so.path = c.data_dir;
  so.retention_days = c.retention_days;
  so.block_cache_bytes = c.block_cache_mb << 20;
  so.write_buffer_bytes = c.write_buffer_mb << 20;
  so.counter_fold_ms = c.counter_fold_ms;
  // Once per change, not per refused write (docs/operations.md, "When the disk fills up").
  so.on_health_change = [log = &app->log_](const storage::StoreHealthChange& h) {
    if (!h.writable) {
      log->Error(
          "storage stopped accepting writes: postbacks answer 503, clicks are redirected "
          "but not recorded, /readyz answers 503; retrying every second",
          {{"error", h.error}, {"disk_full", h.disk_full ? "true" : "false"}});
    } else {
      log->Warn("storage accepts writes again", {{"stopped_ms", std::to_string(h.stopped_ms)},
                                                 {"attempts", std::to_string(h.attempts)},
                                                 {"reopened", h.reopened ? "true" : "false"},
                                                 {"error", h.error}});
    }
  };
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(so);
  if (!store.ok()) return store.status();
  app->store_ = std::move(*store);

  std::array<uint8_t, kSecretBytes> secret;
  if (c.click_secret) {
    secret = *c.click_secret;
  } else {
    std::random_device rd;
    std::string fresh(kSecretBytes, '\0');
    for (char& ch : fresh) ch = static_cast<char>(rd() & 0xff);
    absl::StatusOr<std::string> stored = app->store_->LoadOrCreateMeta("click_secret", fresh);
    if (!stored.ok()) return stored.status();
    if (stored->size() != kSecretBytes)
      return absl::DataLossError("stored click secret is corrupt");
    std::memcpy(secret.data(), stored->data(), kSecretBytes);
  }
  app->click_ids_ = std::make_unique<ClickIdCodec>(secret);

  absl::StatusOr<std::shared_ptr<const Catalog>> catalog =
      LoadCatalog(*app->store_, app->log_, c.retention_days);
  if (!catalog.ok()) return catalog.status();
  app->store_->SetIndexHorizons((*catalog)->DedupeHorizonSeconds(),
                                (*catalog)->VisitorHorizonSeconds());
  app->catalog_ = std::make_unique<CatalogHolder>(*catalog, static_cast<size_t>(c.threads));

  app->metrics_ = std::make_unique<Metrics>(static_cast<size_t>(c.threads));
  ClickPipelineOptions po;
  po.wal_sync_ms = c.wal_sync_ms;
  po.queue_limit = c.click_queue_limit;
  po.producers = static_cast<size_t>(c.threads);
  if (c.record_priority == "adaptive") {
    po.idle_priority = storage::CanLeaveIdlePolicy();
    if (!po.idle_priority) {
      app->log_.Warn(
          "--record-priority adaptive needs CAP_SYS_NICE or RLIMIT_NICE 20 (systemd: "
          "LimitNICE=20); recording runs at normal priority");
    }
  }
  app->clicks_ =
      std::make_unique<ClickPipeline>(app->store_.get(), app->metrics_.get(), &app->log_, po);
  app->conversions_ = std::make_unique<ConversionService>(
      app->store_.get(), app->catalog_.get(), app->click_ids_.get(), app->clicks_.get(),
      app->metrics_.get(), &app->log_, c.partition);
  app->pool_ = std::make_unique<boost::asio::thread_pool>(2);

  HttpServerOptions ho;
  ho.threads = c.threads;
  ho.max_header_bytes = c.max_header_bytes;
  ho.max_body_bytes = c.max_body_bytes;
  ho.header_timeout = std::chrono::seconds(c.header_timeout_s);
  ho.idle_timeout = std::chrono::seconds(c.idle_timeout_s);
  ho.write_timeout = std::chrono::seconds(c.write_timeout_s);
  ho.max_pipeline = c.max_pipeline;
  ho.access_log = c.access_log;
  ho.io_yields = c.io_yields;
  app->server_ = std::make_unique<HttpServer>(ho, app->metrics_.get(), &app->log_);
  PostbackSenderOptions pso;
  pso.allow_private = c.allow_private_postbacks;
  pso.paused = c.pause_postbacks;
  pso.max_attempts = c.postback_max_attempts;
  pso.retry_ms = c.postback_retry_ms;
  pso.retry_max_ms = c.postback_retry_max_ms;
  pso.timeout_ms = c.postback_timeout_ms;
  pso.concurrency = c.postback_concurrency;
  app->sender_ = std::make_unique<PostbackSender>(app->server_->context(0), app->store_.get(),
                                                  app->metrics_.get(), &app->log_, pso);
  app->conversions_->SetOutboxListener(
      [sender = app->sender_.get()](const std::vector<storage::OutboxEntry>& entries) {
        sender->Enqueue(entries);
      });
  // Reads the ledger head: a database whose chain cannot be read must not take money.
  if (absl::Status st = app->conversions_->Start(); !st.ok()) return st;

  Services s;
  s.config = &app->config_;
  s.store = app->store_.get();
  s.catalog = app->catalog_.get();
  s.clicks = app->clicks_.get();
  s.conversions = app->conversions_.get();
  s.postbacks = app->sender_.get();
  s.click_ids = app->click_ids_.get();
  s.bots = app->bots_.get();
  s.metrics = app->metrics_.get();
  s.log = &app->log_;
  s.blocking_pool = app->pool_.get();
  s.config_mu = &app->config_mu_;
  s.readiness = &app->readiness_;
  s.started = std::chrono::steady_clock::now();
  app->tracking_ = std::make_unique<TrackingHandler>(s);
  app->admin_ = std::make_unique<AdminHandler>(s);

  if (absl::Status st = app->server_->Listen(Listener::kPublic, c.listen, app->tracking_.get());
      !st.ok()) {
    return absl::UnavailableError(absl::StrCat("--listen: ", st.message()));
  }
  if (absl::Status st = app->server_->Listen(Listener::kAdmin, c.admin_listen, app->admin_.get());
      !st.ok()) {
    return absl::UnavailableError(absl::StrCat("--admin-listen: ", st.message()));
  }
  return app;
}

absl::Status App::Start() {
  // Before any postback can arrive: what the outbox still owes is scheduled first.
  if (absl::Status st = sender_->Start(); !st.ok()) return st;
  clicks_->Start();
  server_->Start();
  running_ = true;
  log_.Info("ricochet started",
            {{"listen", absl::StrCat(config_.listen.host, ":", public_port())},
             {"admin_listen", absl::StrCat(config_.admin_listen.host, ":", admin_port())},
             {"data", config_.data_dir},
             {"threads", std::to_string(config_.threads)},
             {"version", RICOCHET_VERSION}});
  return absl::OkStatus();
}

void App::Stop() {
  if (!running_) return;
  running_ = false;
  log_.Info("ricochet stopping: draining connections");
  sender_->Stop();  // attempts in flight stay on record and are retried after the restart
  server_->Shutdown(std::chrono::seconds(config_.drain_timeout_s));
  conversions_->Stop();  // every queued postback answered (durable or 503)
  pool_->join();         // admin work in flight finishes (its answers may no longer be sent)
  sender_.reset();       // its timer must go before its io_context; no handler runs any more
  server_.reset();       // sessions die while their io_contexts still exist
  clicks_->Stop();       // every queued click written and fsynced
  if (absl::Status st = store_->Close(); !st.ok()) {
    log_.Error("closing the database failed", {{"error", st.ToString()}});
  } else {
    log_.Info("ricochet stopped cleanly");
  }
}

}  // namespace ricochet::engine
