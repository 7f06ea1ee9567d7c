// Structured logs: one JSON object per line on stderr. Nothing on the click hot path logs by
// default; errors log once with their context.
#ifndef RICOCHET_ENGINE_LOG_H_
#define RICOCHET_ENGINE_LOG_H_

#include <initializer_list>
#include <string_view>
#include <utility>

namespace ricochet::engine {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Thread-safe: each line is written with one write(2).
class Logger {
 public:
  using Field = std::pair<std::string_view, std::string_view>;
  explicit Logger(LogLevel min_level = LogLevel::kInfo) : min_level_(min_level) {}
  static LogLevel ParseLevel(std::string_view name);

  bool Enabled(LogLevel level) const { return level >= min_level_; }
  void Log(LogLevel level, std::string_view message,
           std::initializer_list<Field> fields = {}) const;
  void Info(std::string_view m, std::initializer_list<Field> f = {}) const {
    Log(LogLevel::kInfo, m, f);
  }
  void Warn(std::string_view m, std::initializer_list<Field> f = {}) const {
    Log(LogLevel::kWarn, m, f);
  }
  void Error(std::string_view m, std::initializer_list<Field> f = {}) const {
    Log(LogLevel::kError, m, f);
  }

 private:
  LogLevel min_level_;
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_LOG_H_
