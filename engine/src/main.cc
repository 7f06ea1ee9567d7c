// ricochet: the tracking server binary. Everything but flag and signal handling is in App.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "engine/app.h"
#include "engine/config.h"

int main(int argc, char** argv) {
  absl::StatusOr<ricochet::engine::ServerConfig> config =
      ricochet::engine::ParseServerFlags(argc, argv);
  if (!config.ok()) {
    if (absl::IsNotFound(config.status())) {  // --help / --version
      std::fputs(std::string(config.status().message()).c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "ricochet: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  // Block the stop signals in every thread (all are created after this) and wait for them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<ricochet::engine::App>> app =
      ricochet::engine::App::Create(*std::move(config));
  if (!app.ok()) {
    std::fprintf(stderr, "ricochet: %s\n", std::string(app.status().message()).c_str());
    return 1;
  }
  if (absl::Status st = (*app)->Start(); !st.ok()) {
    std::fprintf(stderr, "ricochet: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*app)->log().Info("signal received", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*app)->Stop();
  return 0;
}
