#include "ctl_runner.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "boost/json/parse.hpp"
#include "catch2/catch.hpp"

namespace ricochet::testing {
namespace {

std::string ReadAll(int fd) {
  std::string s;
  lseek(fd, 0, SEEK_SET);
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

int TempFile() {
  char path[] = "/tmp/ricochetctl-test-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  unlink(path);
  return fd;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

}  // namespace

CtlResult RunCtl(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, const std::string& input) {
  int out_fd = TempFile(), err_fd = TempFile(), in_fd = TempFile();
  if (!input.empty() && write(in_fd, input.data(), input.size()) != ssize_t(input.size())) {
    throw std::runtime_error("write failed");
  }
  lseek(in_fd, 0, SEEK_SET);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    unsetenv("RICOCHET_SERVER");
    unsetenv("RICOCHET_ADMIN_TOKEN");
    unsetenv("RICOCHET_OPERATOR");
    unsetenv("USER");
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(RICOCHETCTL_BINARY));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(RICOCHETCTL_BINARY, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CtlResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadAll(out_fd);
  r.err = ReadAll(err_fd);
  close(out_fd);
  close(err_fd);
  close(in_fd);
  return r;
}

std::string AdminAddress(const Server& server) {
  return "127.0.0.1:" + std::to_string(server.admin_port());
}

CtlResult Ctl(const Server& server, std::vector<std::string> args) {
  args.insert(args.end(), {"--server", AdminAddress(server), "--token", kToken});
  return RunCtl(args);
}

std::vector<std::map<std::string, std::string>> ParseTable(const std::string& text) {
  std::vector<std::string> lines = Lines(text);
  std::vector<std::map<std::string, std::string>> rows;
  if (lines.empty()) return rows;
  const std::string& header = lines[0];
  std::vector<std::pair<size_t, std::string>> columns;  // start offset, name
  for (size_t i = 0; i < header.size();) {
    if (header[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = header.find(' ', i);
    if (end == std::string::npos) end = header.size();
    columns.emplace_back(i, header.substr(i, end - i));
    i = end;
  }
  for (size_t l = 1; l < lines.size(); ++l) {
    if (lines[l].empty()) continue;
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < columns.size(); ++c) {
      size_t start = columns[c].first;
      size_t end = c + 1 < columns.size() ? columns[c + 1].first : std::string::npos;
      std::string cell = start < lines[l].size() ? Trim(lines[l].substr(start, end - start)) : "";
      row[columns[c].second] = cell == "-" ? "" : cell;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::map<std::string, std::string> ParseKeyValue(const std::string& text) {
  std::map<std::string, std::string> kv;
  for (const auto& row : ParseTable(text)) kv[row.at("KEY")] = row.at("VALUE");
  return kv;
}

std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch == '"') {
      quoted = true;
      any = true;
    } else if (ch == ',') {
      record.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (ch == '\n') {
      record.push_back(std::move(field));
      field.clear();
      records.push_back(std::move(record));
      record.clear();
      any = false;
    } else if (ch != '\r') {
      field += ch;
      any = true;
    }
  }
  if (any) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<std::map<std::string, std::string>> ParseCsvRecords(const std::string& text) {
  std::vector<std::vector<std::string>> records = ParseCsv(text);
  std::vector<std::map<std::string, std::string>> out;
  if (records.empty()) return out;
  for (size_t r = 1; r < records.size(); ++r) {
    REQUIRE(records[r].size() == records[0].size());
    std::map<std::string, std::string> m;
    for (size_t i = 0; i < records[0].size(); ++i) m[records[0][i]] = records[r][i];
    out.push_back(std::move(m));
  }
  return out;
}

std::string MakeClick(const Server& s, const std::string& offer, const std::string& aff) {
  HttpResult r = s.Get("/c/" + offer + "?aff=" + aff);
  INFO(r.body);
  REQUIRE(r.status == 302);
  std::string loc = r.header("location");
  REQUIRE(loc.find("c=") != std::string::npos);
  return loc.substr(loc.find("c=") + 2, 32);
}

std::string MakeConversion(const Server& s, const std::string& click_id, const std::string& query) {
  HttpResult r = Http(s.public_port(), "GET", "/postback?cid=" + click_id + "&" + query);
  INFO(r.body);
  REQUIRE(r.status == 200);
  return std::string(boost::json::parse(r.body).at("conversion_id").as_string());
}

}  // namespace ricochet::testing
