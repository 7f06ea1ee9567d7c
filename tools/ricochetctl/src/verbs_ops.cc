// clicks, outbox, backup, verify (online and offline), stats, audit.
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "boost/json/serialize.hpp"
#include "storage/store.h"
#include "verbs.h"

namespace ricochet::ctl {
namespace json = boost::json;
using std::chrono::steady_clock;
namespace {

// Long enough for a checkpoint or a full ledger scan of a large database.
constexpr std::chrono::milliseconds kSlowAnswer = std::chrono::hours(1);

void GetObject(Context& c, const std::string& target, const Subject& subject) {
  HttpReply reply = SendRaw(c, "GET", target);
  if (reply.status != 200) FailFromReply(c, "GET", target, reply, subject);
  EmitObject(c, reply.body, ParseReply(reply));
}

// --- clicks

void ClickGet(Context& c) {
  const std::string& id = c.operands[0];
  GetObject(c, "/api/clicks/" + UrlEncode(id),
            {"click " + id,
             "the click may have been dropped or expired (retention_days), or never recorded"});
}

// --- outbox

void ListOutbox(Context& c, const std::string& state) {
  std::string target = "/api/outbox?state=" + UrlEncode(state);
  GetList(c, target, "the outbox query", "entries",
          {"id", "state", "attempts", "affiliate", "conversion_id", "next_attempt", "last_error",
           "url"});
}

void OutboxList(Context& c) { ListOutbox(c, c.args.Get("state").value_or("pending")); }
void OutboxDead(Context& c) { ListOutbox(c, "dead"); }

void OutboxGet(Context& c) {
  const std::string& id = c.operands[0];
  GetObject(c, "/api/outbox/" + UrlEncode(id),
            {"outbox entry " + id, "list entries with ricochetctl outbox list --state STATE"});
}

void OutboxRetry(Context& c) {
  const std::string& id = c.operands[0];
  std::string target = "/api/outbox/" + UrlEncode(id) + "/retry";
  HttpReply reply = SendRaw(c, "POST", target, "{}");
  if (reply.status != 200) {
    FailFromReply(c, "POST", target, reply,
                  {"outbox entry " + id, "list entries with ricochetctl outbox dead-letters"});
  }
  EmitObject(c, reply.body, ParseReply(reply));
}

// --- backup

// Prints "backup: N s elapsed" on stderr once a second until stopped: one redrawn line on a
// terminal, else one line per second (for logs).
class Ticker {
 public:
  Ticker(std::ostream& err, bool redraw) : err_(err), redraw_(redraw) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Ticker() { Stop(); }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool ticked() const { return ticks_ > 0; }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (int s = 1;; ++s) {
      if (cv_.wait_until(lock, start_ + std::chrono::seconds(s), [this] { return done_; })) return;
      ticks_ = s;
      if (redraw_) {
        err_ << "\rbackup: " << s << " s elapsed" << std::flush;
      } else {
        err_ << "backup: " << s << " s elapsed\n" << std::flush;
      }
    }
  }

  std::ostream& err_;
  const bool redraw_;
  const steady_clock::time_point start_ = steady_clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  int ticks_ = 0;      // written by the ticker thread, read after Stop()
  std::thread thread_;
};

void Backup(Context& c) {
  const std::string& path = c.operands[0];
  if (path.empty() || path[0] != '/') {
    throw Failure{kExitUsage,
                  "the backup PATH is a new directory on the server's machine and must be "
                  "absolute, such as /var/backups/ricochet/2026-11-23; got \"" +
                      path + "\""};
  }
  const bool progress =
      !c.args.Has("no-progress") && (c.args.Has("progress") || c.env.stderr_is_tty);
  json::object body;
  body["path"] = path;
  const auto start = steady_clock::now();
  if (progress) {
    c.err << "backup: writing a checkpoint to " << path << " on " << c.Server().Display() << "\n"
          << std::flush;
  }
  HttpReply reply;
  {
    std::optional<Ticker> ticker;
    if (progress) ticker.emplace(c.err, c.env.stderr_is_tty);
    try {
      reply = SendRaw(c, "POST", "/api/backup", json::serialize(body), kSlowAnswer);
    } catch (const Failure&) {
      if (ticker) {
        ticker->Stop();
        if (ticker->ticked() && c.env.stderr_is_tty) c.err << "\n";
      }
      throw;
    }
    if (ticker) {
      ticker->Stop();
      if (ticker->ticked() && c.env.stderr_is_tty) c.err << "\n";
    }
  }
  if (reply.status != 200) {
    FailFromReply(c, "POST", "/api/backup", reply,
                  {"the backup to " + path, "check the path on the server"});
  }
  json::value v = ParseReply(reply);
  if (progress) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - start);
    c.err << "backup: done in " << ms.count() / 1000 << "." << (ms.count() % 1000) / 100 << " s\n";
  }
  EmitObject(c, reply.body, v);
}

// --- verify

json::object OfflineVerify(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Failure{kExitNotFound,
                  "no directory " + dir + "; pass the server's --data directory to --data"};
  }
  if (!fs::exists(fs::path(dir) / "CURRENT", ec)) {
    throw Failure{kExitNotFound, dir +
                                     " holds no Ricochet database (no CURRENT file); pass the "
                                     "server's --data directory to --data"};
  }
  storage::StoreOptions options;
  options.path = dir;
  // No compactions while inspecting: the retention filter cannot drop anything the server keeps.
  options.inspect_only = true;
  options.block_cache_bytes = 16u << 20;
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::Store::Open(options);
  if (!store.ok()) {
    std::string msg(store.status().message());
    if (absl::StrContains(absl::AsciiStrToLower(msg), "lock")) {
      throw Failure{kExitServer, "the database in " + dir +
                                     " is in use: a running server holds its lock (" + msg +
                                     "); verify it online with ricochetctl verify (add --server "
                                     "ADDR), or stop the server first"};
    }
    throw Failure{kExitServer, "cannot open the database in " + dir + " (" + msg +
                                   "); check the path, its permissions and the disk"};
  }
  absl::StatusOr<storage::VerifyReport> report = (*store)->VerifyLedger();
  absl::Status closed = (*store)->Close();
  if (!report.ok()) {
    throw Failure{kExitServer, "reading the ledger in " + dir + " failed (" +
                                   std::string(report.status().message()) +
                                   "); the database may be damaged: restore a backup"};
  }
  if (!closed.ok()) {
    throw Failure{kExitServer, "closing the database in " + dir + " failed (" +
                                   std::string(closed.message()) + "); check the disk"};
  }
  json::array problems;
  for (const std::string& p : report->problems) problems.push_back(json::value(p));
  json::object out;
  out["ok"] = report->ok();
  out["entries"] = report->entries;
  out["balances"] = report->balances_checked;
  out["problems"] = std::move(problems);
  return out;
}

void Verify(Context& c) {
  json::value report;
  std::string raw;
  if (std::optional<std::string> dir = c.args.Get("data")) {
    report = OfflineVerify(*dir);
    raw = json::serialize(report);
  } else {
    HttpReply reply = SendRaw(c, "GET", "/api/verify", "", kSlowAnswer);
    // 409 is the answer "the ledger has problems", not a refusal.
    if (reply.status != 200 && reply.status != 409) {
      FailFromReply(c, "GET", "/api/verify", reply, {"the ledger check", ""});
    }
    report = ParseReply(reply);
    if (reply.status == 409 && !(report.is_object() && report.get_object().contains("ok"))) {
      FailFromReply(c, "GET", "/api/verify", reply, {"the ledger check", ""});
    }
    raw = reply.body;
  }
  EmitObject(c, raw, report);
  const json::value* ok = report.is_object() ? report.get_object().if_contains("ok") : nullptr;
  if (ok == nullptr || !ok->is_bool()) {
    throw Failure{kExitServer,
                  "the verify answer has no \"ok\"; use matching versions of "
                  "ricochetctl and ricochet"};
  }
  if (!ok->get_bool()) {
    const json::value* problems = report.get_object().if_contains("problems");
    size_t n = problems != nullptr && problems->is_array() ? problems->get_array().size() : 0;
    throw Failure{kExitProblems,
                  "verify found " + std::to_string(n) +
                      " problem(s) in the ledger; stop payouts, keep the data directory as it "
                      "is, and compare with the latest backup (docs/operations.md)"};
  }
}

// --- stats

void Stats(Context& c) { GetObject(c, "/api/stats", {"the server's figures", ""}); }

// --- audit

void Audit(Context& c) {
  std::string target = "/api/audit";
  for (std::string_view flag :
       {"from", "to", "after", "before", "limit", "order", "actor", "method", "status", "path"}) {
    AddQueryFlag(c, &target, flag, flag);
  }
  json::value v = GetList(
      c, target, "the audit query", "records",
      {"seq", "time", "actor", "operator", "client_ip", "method", "path", "status", "reason"});
  const json::array& records = v.get_object().at("records").get_array();
  const json::value* more = v.get_object().if_contains("more");
  if (c.format != Format::kJson && more != nullptr && more->is_bool() && more->get_bool() &&
      !records.empty()) {
    const bool newest_first = c.args.Get("order").value_or("asc") == "desc";
    c.err << "audit: more records match; continue with "
          << (newest_first ? "--before " : "--after ")
          << Cell(records.back().get_object().at("seq")) << "\n";
  }
}

}  // namespace

void AddOpsVerbs(std::vector<Verb>* verbs) {
  verbs->push_back(
      {.group = "clicks",
       .name = "get",
       .usage = "CLICK_ID",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Show a recorded click: time, offer, affiliate, subs, class, visitor.",
       .help = "CLICK_ID is the 32-character cid of the tracking redirect (also the rc_cid\n"
               "cookie). Exit code 5 for an id this server did not issue, 4 for one it has no\n"
               "row for.\n\n"
               "Example:\n  ricochetctl clicks get AQGiBwm4BgAArwyjEc4TMMKoJHD0TcP2\n",
       .run = ClickGet});
  verbs->push_back(
      {.group = "outbox",
       .name = "list",
       .usage = "[--state pending|delivered|dead]",
       .summary = "List outgoing affiliate postbacks in one state (default pending), oldest first.",
       .help = "Options:\n  --state STATE  pending (default), delivered or dead\n\n"
               "Example:\n  ricochetctl outbox list --state delivered --csv\n",
       .options = {"state"},
       .run = OutboxList});
  verbs->push_back(
      {.group = "outbox",
       .name = "get",
       .usage = "ID",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Show one outbox entry: URL, state, attempts, last status and error.",
       .help = "Example:\n  ricochetctl outbox get ob_AAABogc_AAAAAAAB\n",
       .run = OutboxGet});
  verbs->push_back({.group = "outbox",
                    .name = "dead-letters",
                    .summary = "List postbacks that gave up after their last attempt (state dead).",
                    .help = "Send one again with ricochetctl outbox retry ID.\n\n"
                            "Example:\n  ricochetctl outbox dead-letters\n",
                    .run = OutboxDead});
  verbs->push_back(
      {.group = "outbox",
       .name = "retry",
       .usage = "ID",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Send an outbox entry again now, with a fresh count of attempts.",
       .help = "A dead letter goes back to pending. Exit code 5 (in_flight) while an attempt\n"
               "is under way.\n\nExample:\n  ricochetctl outbox retry ob_AAABogc_AAAAAAAB\n",
       .run = OutboxRetry});
  verbs->push_back(
      {.group = "backup",
       .usage = "PATH [--progress | --no-progress]",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Write a consistent RocksDB checkpoint of the live database to PATH on the "
                  "server.",
       .help = "PATH is an absolute path on the server's machine that must not exist yet; put it\n"
               "on the same filesystem as the data directory so that files are hard-linked, not\n"
               "copied. While waiting, the seconds elapsed are shown on stderr when it is a\n"
               "terminal.\n\n"
               "Options:\n"
               "  --progress     show progress on stderr even when it is not a terminal\n"
               "  --no-progress  never show progress\n\n"
               "Restore: stop the server, move the data directory aside, copy the checkpoint in\n"
               "its place, run ricochetctl verify --data DIR, start the server.\n\n"
               "Example:\n  ricochetctl backup /var/backups/ricochet/$(date +%F)\n",
       .options = {"progress", "no-progress"},
       .run = Backup});
  verbs->push_back(
      {.group = "verify",
       .usage = "[--data DIR]",
       .summary = "Check the ledger: every entry's hash chain, every balance against the entries.",
       .help = "Online (default) the server checks its live database. Offline, --data DIR opens\n"
               "a stopped server's data directory (or a backup) directly; a running server's\n"
               "directory is locked, and ricochetctl says so.\n\n"
               "Options:\n  --data DIR  check this data directory instead of asking the server\n\n"
               "Exit code 0 when everything agrees, 1 when problems were found (they are "
               "listed).\n\n"
               "Examples:\n  ricochetctl verify\n  ricochetctl verify --data /var/lib/ricochet\n",
       .options = {"data"},
       .run = Verify});
  verbs->push_back(
      {.group = "audit",
       .usage = "[--from DATE] [--to DATE] [--after SEQ] [--before SEQ] [--limit N] "
                "[--order asc|desc] [--actor A] [--method M] [--status S] [--path P]",
       .summary = "The audit trail: every admin call that may have changed something, refused "
                  "ones too.",
       .help = "One record per call with a method other than GET and HEAD under /api: when, who\n"
               "(actor admin or unauthenticated, the operator name the client sent, client_ip),\n"
               "what (method, path with secrets redacted, body_bytes, body_sha256) and the\n"
               "result (status, reason). Oldest first; at most --limit records (default 1000).\n\n"
               "Options:\n"
               "  --from DATE, --to DATE  inclusive UTC dates, YYYY-MM-DD (default: all)\n"
               "  --after SEQ             records after this seq (the next page)\n"
               "  --before SEQ            records before this seq\n"
               "  --limit N               1 to 10000 (default 1000)\n"
               "  --order asc|desc        oldest (default) or newest first\n"
               "  --actor A               admin or unauthenticated\n"
               "  --method M              PUT, POST, DELETE, ... as sent\n"
               "  --status S              a status such as 401, or a class such as 4xx\n"
               "  --path P                one object and what is under it: /api/offers/spring\n\n"
               "When more records match than were printed, stderr says which --after (or\n"
               "--before) continues. The table leaves out user_agent, body_bytes and\n"
               "body_sha256; --csv and --json have them.\n\n"
               "Examples:\n"
               "  ricochetctl audit --order desc --limit 20\n"
               "  ricochetctl audit --path /api/offers/spring --from 2026-11-01\n"
               "  ricochetctl audit --actor unauthenticated --csv > refused.csv\n",
       .options = {"from", "to", "after", "before", "limit", "order", "actor", "method", "status",
                   "path"},
       .run = Audit});
  verbs->push_back({.group = "stats",
                    .summary = "The server's figures (queues, storage, counts) as key/value rows.",
                    .help = "Nested figures are flattened with dots (rocksdb.wal_syncs).\n\n"
                            "Example:\n  ricochetctl stats --json\n",
                    .run = Stats});
}

}  // namespace ricochet::ctl
