#include "info_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>

namespace ricochet::storage {
namespace {

class FdLogger final : public rocksdb::Logger {
 public:
  explicit FdLogger(int fd) : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), fd_(fd) {}
  ~FdLogger() override { (void)CloseImpl(); }

  // The level filter and the "[WARN] " prefixes come from rocksdb::Logger::Logv(level, ...).
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (fd_ < 0) return;
    struct timeval now;
    gettimeofday(&now, nullptr);
    struct tm t;
    localtime_r(&now.tv_sec, &t);
    char line[8192];
    int n =
        std::snprintf(line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld %lx ",
                      t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                      static_cast<long>(now.tv_usec), static_cast<unsigned long>(pthread_self()));
    if (n < 0) return;
    va_list copy;
    va_copy(copy, ap);
    int m = std::vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n), format, copy);
    va_end(copy);
    if (m < 0) return;
    size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;  // long lines (options dumps) are cut
    if (len == 0 || line[len - 1] != '\n') line[len++] = '\n';
    // One write per line (O_APPEND keeps lines whole between threads); a failure, such as
    // ENOSPC, loses the line and nothing else.
    ssize_t w;
    do {
      w = ::write(fd_, line, len);
    } while (w < 0 && errno == EINTR);
  }

 protected:
  rocksdb::Status CloseImpl() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return rocksdb::Status::OK();
  }

 private:
  int fd_;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> OpenInfoLog(const std::string& dir) {
  std::error_code ec;
  const std::filesystem::path log = std::filesystem::path(dir) / "LOG";
  if (std::filesystem::exists(log, ec)) {
    struct timeval now;
    gettimeofday(&now, nullptr);
    const long long micros = static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_usec;
    std::filesystem::rename(log, std::filesystem::path(dir) / ("LOG.old." + std::to_string(micros)),
                            ec);
  }
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  return std::make_shared<FdLogger>(fd);
}

}  // namespace ricochet::storage
