#include "engine/log.h"

#include <unistd.h>

#include <chrono>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/json/serialize.hpp"
#include "boost/json/string.hpp"

namespace ricochet::engine {
namespace {
std::string_view LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string(s));
}
}  // namespace

LogLevel Logger::ParseLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

void Logger::Log(LogLevel level, std::string_view message,
                 std::initializer_list<Field> fields) const {
  if (!Enabled(level)) return;
  std::string line = "{\"ts\":\"";
  line += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += "\",\"msg\":";
  AppendJsonString(line, message);
  for (const Field& f : fields) {
    line += ',';
    AppendJsonString(line, f.first);
    line += ':';
    AppendJsonString(line, f.second);
  }
  line += "}\n";
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

void FailureRun::Succeeded(const Logger& log, std::string_view message,
                           std::string_view count_field) {
  if (count_ == 0) return;
  log.Warn(message, {{count_field, std::to_string(count_)}});
  count_ = 0;
}

}  // namespace ricochet::engine
