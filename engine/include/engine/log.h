// Structured logs: one JSON object per line on stderr. Nothing on the click hot path logs by
// default; errors log once with their context.
#ifndef RICOCHET_ENGINE_LOG_H_
#define RICOCHET_ENGINE_LOG_H_

#include <cstdint>
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

// A run of failures logged as two lines, not one per failure: a full disk fails every batch.
// The caller logs the first failure itself, with its context, when Failed() says it is the
// first; Succeeded() ends the run with one warning that says how many there were. Not
// thread-safe: one per writer thread.
class FailureRun {
 public:
  // Adds `n` to the run (failed items: clicks dropped, answers refused). True when no run was
  // going on: the caller logs this failure.
  [[nodiscard]] bool Failed(uint64_t n) {
    const bool first = count_ == 0;
    count_ += n;
    return first;
  }
  // Ends a run: logs `message` at warning level with {count_field: how many}. Nothing when no
  // run was going on.
  void Succeeded(const Logger& log, std::string_view message, std::string_view count_field);

 private:
  uint64_t count_ = 0;
};

}  // namespace ricochet::engine

#endif  // RICOCHET_ENGINE_LOG_H_
