#include "ctl/cli.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>

#include "absl/strings/str_split.h"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "verbs.h"

namespace ricochet::ctl {
namespace json = boost::json;
namespace {

constexpr char kDefaultServer[] = "127.0.0.1:8081";

constexpr char kTopHelp[] = R"(ricochetctl: the admin client of a Ricochet tracking server.

Usage: ricochetctl <command> [<verb>] [arguments] [options]

Commands:
  offers       list, get, create, update or replace offers
  affiliates   list, get, create, update or replace affiliates
  clicks       look a click up by id
  conversions  get a conversion; approve, reject or reverse it
  report       clicks, conversions and money by day, offer, affiliate, sub1
  ledger       ledger entries: commissions, adjustments, reversals, payouts
  balances     an affiliate's pending, approved and paid balances
  payouts      pay approved balances; list, show and export payout runs
  outbox       outgoing affiliate postbacks: list, dead letters, retry
  backup       write a RocksDB checkpoint on the server, with progress
  verify       check the ledger's hash chain and balances (online, or offline on a data dir)
  stats        the server's figures
  audit        the audit trail: every admin call that may have changed something
  help         help on a command: ricochetctl help payouts create

Global options (anywhere on the line):
  --server ADDR      the admin listener: host:port or http://host:port[/prefix]
                     (else $RICOCHET_SERVER, else 127.0.0.1:8081)
  --token TOKEN      the admin token (else --token-file, else $RICOCHET_ADMIN_TOKEN)
  --token-file FILE  read the token from the first line of FILE (keeps it out of `ps`)
  --operator NAME    who you are, for the server's audit trail
                     (else $RICOCHET_OPERATOR, else $USER)
  --json             print the server's JSON answer as it is
  --csv              print CSV (a header line, then one record per line)
  --timeout SECONDS  give up when the server has not answered in time
                     (default 30; backup and verify 3600; 0 waits forever)
  -h, --help         help on the command before it
  --version          print ricochetctl's version

Exit codes: 0 ok, 1 verify found problems, 2 usage, 3 auth, 4 not found,
5 rejected by the server (bad input), 6 server error or unreachable.
Manual: docs/ricochetctl.md.
)";

constexpr char kGlobalFooter[] =
    "Global options: --server ADDR, --token TOKEN, --token-file FILE, --operator NAME,\n"
    "--json, --csv, --timeout SECONDS (see ricochetctl --help).\n";

const char* const kGlobalOptions[] = {"server", "token",   "token-file", "operator", "json",
                                      "csv",    "timeout", "help",       "version"};

std::vector<Verb> AllVerbs() {
  std::vector<Verb> verbs;
  AddConfigVerbs(&verbs);
  AddMoneyVerbs(&verbs);
  AddOpsVerbs(&verbs);
  // The order of the top-level help.
  constexpr std::string_view kOrder[] = {"offers", "affiliates", "clicks",  "conversions", "report",
                                         "ledger", "balances",   "payouts", "outbox",      "backup",
                                         "verify", "stats",      "audit"};
  auto rank = [&](const Verb& v) {
    return std::find(std::begin(kOrder), std::end(kOrder), v.group) - std::begin(kOrder);
  };
  std::stable_sort(verbs.begin(), verbs.end(),
                   [&](const Verb& a, const Verb& b) { return rank(a) < rank(b); });
  return verbs;
}

std::string VerbWords(const Verb& v) { return v.name.empty() ? v.group : v.group + " " + v.name; }

std::string VerbHelp(const Verb& v) {
  std::string s = "Usage: ricochetctl " + VerbWords(v);
  if (!v.usage.empty()) s += " " + v.usage;
  s += "\n\n" + v.summary + "\n";
  if (!v.help.empty()) s += "\n" + v.help;
  if (s.back() != '\n') s += '\n';
  s += "\n";
  s += kGlobalFooter;
  return s;
}

std::string GroupHelp(const std::vector<Verb>& verbs, const std::string& group) {
  std::string s = "Usage: ricochetctl " + group + " <verb> ...\n\nVerbs:\n";
  size_t width = 0;
  for (const Verb& v : verbs)
    if (v.group == group) width = std::max(width, v.name.size() + 1 + v.usage.size());
  for (const Verb& v : verbs) {
    if (v.group != group) continue;
    std::string head = v.name + " " + v.usage;
    s += "  " + head + std::string(width - head.size() + 2, ' ') + v.summary + "\n";
  }
  s += "\nHelp on one verb: ricochetctl " + group + " <verb> --help\n";
  return s;
}

std::string Join(const std::vector<std::string>& words, std::string_view sep) {
  std::string s;
  for (const std::string& w : words) {
    if (!s.empty()) s += sep;
    s += w;
  }
  return s;
}

std::string Trim(std::string s) {
  size_t end = s.find_last_not_of(" \t\r\n");
  s.erase(end == std::string::npos ? 0 : end + 1);
  size_t begin = s.find_first_not_of(" \t");
  return begin == std::string::npos ? "" : s.substr(begin);
}

std::string ReasonHint(std::string_view reason) {
  static constexpr std::pair<std::string_view, std::string_view> kHints[] = {
      {"bad_json", "the body must be one JSON object; check the --file content"},
      {"bad_id", "ids are 1 to 64 characters of A-Z a-z 0-9 _ -"},
      {"bad_url",
       "URLs must be absolute http:// or https:// URLs without spaces or control characters"},
      {"bad_status", "status is active or paused; default_status is approved, pending or rejected"},
      {"bad_number",
       "counts are whole numbers; money and percents are decimal strings such as \"2.50\""},
      {"bad_currency", "use a three-letter ISO 4217 code such as USD"},
      {"bad_field", "check the field's type and length in docs/api.md"},
      {"bad_parent", "an affiliate cannot be its own ancestor; choose another --parent"},
      {"bad_click_id",
       "a click id is the 32-character cid from the tracking redirect or the rc_cid cookie"},
      {"bad_date", "dates are YYYY-MM-DD (UTC), and --from must not be after --to"},
      {"bad_group_by", "--group-by takes a comma list of day, offer, affiliate and sub1"},
      {"bad_transition",
       "allowed changes are pending -> approved or rejected, and approved -> reversed"},
      {"bad_amount", "amounts are decimal strings such as 50.00"},
      {"bad_state", "--state is pending, delivered or dead"},
      {"bad_reason", "--reason takes at most 256 bytes of text without control characters"},
      {"path_exists", "a checkpoint never overwrites: choose a new directory name"},
      {"bad_path", "the backup path must be an absolute path on the server's machine"},
      {"in_flight", "an attempt is under way; look again with ricochetctl outbox get ID"},
      {"method_not_allowed",
       "this ricochetctl and the server disagree about the API; use matching versions"},
  };
  for (const auto& [r, hint] : kHints)
    if (r == reason) return std::string(hint);
  return "fix the input and retry";
}

}  // namespace

std::set<std::string, std::less<>> ValueOptions() {
  return {"server",
          "token",
          "token-file",
          "timeout",
          "file",
          "name",
          "url",
          "fallback-url",
          "status",
          "currency",
          "attribution",
          "lookback-days",
          "dedupe-window-s",
          "max-clicks-per-ip-per-minute",
          "daily-conversion-cap",
          "min-ctit-s",
          "default-status",
          "postback-token",
          "allow-pixel",
          "cpa",
          "cps",
          "parent",
          "postback-url",
          "reason",
          "from",
          "to",
          "group-by",
          "offer",
          "affiliate",
          "sub1",
          "min-amount",
          "output",
          "state",
          "data",
          "operator",
          "after",
          "before",
          "limit",
          "order",
          "actor",
          "method",
          "path"};
}

Endpoint Context::Server() const {
  std::string source = "--server";
  std::optional<std::string> text = args.Get("server");
  if (!text) {
    text = env.server;
    source = "RICOCHET_SERVER";
  }
  if (!text) {
    text = kDefaultServer;
    source = "the default server";
  }
  std::string error;
  std::optional<Endpoint> ep = ParseServer(*text, &error);
  if (!ep) throw Failure{kExitUsage, source + ": " + error};
  return *ep;
}

std::string Context::Token() const {
  if (std::optional<std::string> t = args.Get("token")) {
    if (t->empty()) {
      throw Failure{kExitAuth,
                    "--token is empty; pass the server's --admin-token value, or leave --token "
                    "out to use RICOCHET_ADMIN_TOKEN"};
    }
    return *t;
  }
  if (std::optional<std::string> file = args.Get("token-file")) {
    std::ifstream in(*file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      throw Failure{kExitUsage, "cannot read --token-file " + *file +
                                    "; give a readable file whose first line is the token"};
    }
    line = Trim(line);
    if (line.empty()) {
      throw Failure{kExitAuth, "the first line of --token-file " + *file +
                                   " is empty; put the server's admin token there"};
    }
    return line;
  }
  if (env.token) return *env.token;
  throw Failure{kExitAuth,
                "no admin token; pass --token TOKEN or --token-file FILE, or set "
                "RICOCHET_ADMIN_TOKEN (the value of the server's --admin-token)"};
}

std::string Context::Operator() const {
  auto usable = [](const std::string& name) {
    return !name.empty() && name.size() <= 64 &&
           std::all_of(name.begin(), name.end(), [](char ch) { return ch >= 0x20 && ch < 0x7f; });
  };
  std::string source = "--operator";
  std::optional<std::string> name = args.Get("operator");
  if (!name) {
    name = env.operator_name;
    source = "RICOCHET_OPERATOR";
  }
  if (name) {
    if (!usable(*name)) {
      throw Failure{kExitUsage, source +
                                    " takes 1 to 64 printable ASCII characters, such as a login "
                                    "name or an e-mail address"};
    }
    return *name;
  }
  return env.user && usable(*env.user) ? *env.user : "";
}

void AddQueryFlag(const Context& c, std::string* target, std::string_view flag,
                  std::string_view name) {
  std::optional<std::string> v = c.args.Get(flag);
  if (!v) return;
  *target += target->find('?') == std::string::npos ? '?' : '&';
  *target += std::string(name) + "=" + UrlEncode(*v);
}

Timeouts Context::TimeoutsOr(std::chrono::milliseconds default_answer) const {
  Timeouts t;
  t.answer = default_answer;
  if (std::optional<std::string> text = args.Get("timeout")) {
    double seconds = -1;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
    if (ec != std::errc() || end != text->data() + text->size() || !(seconds >= 0) ||
        seconds > 1e7) {
      throw Failure{kExitUsage,
                    "--timeout takes seconds, such as 30 or 2.5 (0 waits forever); "
                    "got \"" +
                        *text + "\""};
    }
    t.answer = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    if (t.answer.count() == 0 && seconds > 0) t.answer = std::chrono::milliseconds(1);
    if (t.answer.count() > 0 && t.answer < t.connect) t.connect = t.answer;
  }
  return t;
}

HttpReply SendRaw(const Context& c, std::string_view method, const std::string& target,
                  const std::string& body,
                  std::optional<std::chrono::milliseconds> answer_timeout) {
  Endpoint ep = c.Server();
  HttpRequest req{std::string(method), target, c.Token(), c.Operator(), body};
  absl::StatusOr<HttpReply> reply =
      Send(ep, req, c.TimeoutsOr(answer_timeout.value_or(std::chrono::seconds(30))));
  if (reply.ok()) return *std::move(reply);
  std::string what(reply.status().message());
  switch (reply.status().code()) {
    case absl::StatusCode::kDeadlineExceeded:
      throw Failure{kExitServer,
                    what + "; the server may be overloaded or stuck: check it, or raise --timeout"};
    case absl::StatusCode::kInternal:
      throw Failure{kExitServer, what + "; is " + ep.Display() +
                                     " the admin listener (the server's --admin-listen)?"};
    default:
      throw Failure{kExitServer, what +
                                     "; is ricochet running there? Point --server or "
                                     "RICOCHET_SERVER at its --admin-listen address (default " +
                                     kDefaultServer + ")"};
  }
}

void FailFromReply(const Context& c, std::string_view method, const std::string& target,
                   const HttpReply& reply, const Subject& subject) {
  std::string reason, message, field, extra;
  boost::system::error_code ec;
  json::value body = json::parse(reply.body, ec);
  if (!ec && body.is_object()) {
    for (const auto& [k, v] : body.get_object()) {
      std::string text = Cell(v);
      if (k == "reason") {
        reason = text;
      } else if (k == "message") {
        message = text;
      } else if (k == "field") {
        field = text;
      } else if (!v.is_object() && !v.is_array()) {
        extra += ", " + std::string(k) + " " + text;
      }
    }
  }
  const int status = reply.status;
  std::string detail = std::to_string(status) + (reason.empty() ? "" : " " + reason);
  if (!field.empty()) detail += " in " + field;
  if (!message.empty()) detail += ": " + message;
  detail += extra;
  if (status == 401) {
    throw Failure{kExitAuth,
                  "the server refused the admin token (" + detail +
                      "); check --token or RICOCHET_ADMIN_TOKEN: it must equal the server's "
                      "--admin-token"};
  }
  if (status == 404) {
    if (reason == "not_found" || reason.empty()) {
      throw Failure{kExitNotFound,
                    "the server has no route " + std::string(method) + " " + target + " (" +
                        detail +
                        "); point --server at the admin listener (the server's --admin-listen, "
                        "default 127.0.0.1:8081), or upgrade the server if it predates this "
                        "command"};
    }
    throw Failure{kExitNotFound,
                  subject.what + " not found (" + detail + "); " +
                      (subject.if_missing.empty() ? "check the id" : subject.if_missing)};
  }
  if (status >= 400 && status < 500) {
    throw Failure{kExitRejected, "the server rejected " + subject.what + " (" + detail + "); " +
                                     ReasonHint(reason)};
  }
  if (status == 503 && reason == "shutting_down") {
    throw Failure{kExitServer,
                  "the server is shutting down (" + detail + "); retry when it is back"};
  }
  if (status >= 500) {
    throw Failure{kExitServer, "the server failed on " + subject.what + " (" + detail +
                                   "); its log says why (a storage error, a full disk); fix that "
                                   "and retry"};
  }
  throw Failure{kExitServer, "unexpected answer HTTP " + std::to_string(status) + " to " +
                                 std::string(method) + " " + target + "; is " +
                                 c.Server().Display() + " the admin listener?"};
}

json::value ParseReply(const HttpReply& reply) {
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (ec) {
    throw Failure{kExitServer, "the server's answer is not JSON (" + ec.message() +
                                   "); is --server the admin listener of a ricochet server?"};
  }
  return v;
}

json::value Call(const Context& c, std::string_view method, const std::string& target,
                 const Subject& subject, const std::string& body) {
  HttpReply reply = SendRaw(c, method, target, body);
  if (reply.status < 200 || reply.status > 299) FailFromReply(c, method, target, reply, subject);
  return ParseReply(reply);
}

void Emit(const Context& c, const std::string& raw_json, const Table& table) {
  switch (c.format) {
    case Format::kJson:
      c.out << raw_json;
      if (raw_json.empty() || raw_json.back() != '\n') c.out << '\n';
      break;
    case Format::kCsv:
      c.out << RenderCsv(table);
      break;
    case Format::kTable:
      c.out << RenderTable(table);
      break;
  }
}

void EmitObject(const Context& c, const std::string& raw_json, const json::value& v) {
  Emit(c, raw_json, KeyValueTable(v));
}

json::value GetList(const Context& c, const std::string& target, const std::string& what,
                    std::string_view key, const std::vector<std::string>& columns) {
  HttpReply reply = SendRaw(c, "GET", target);
  if (reply.status != 200) FailFromReply(c, "GET", target, reply, {what, ""});
  json::value v = ParseReply(reply);
  const json::array& items = ArrayField(v, key);
  Emit(c, reply.body, ObjectsTable(items, c.format == Format::kCsv ? AllKeys(items) : columns));
  return v;
}

std::vector<std::string> AllKeys(const json::array& items) {
  std::vector<std::string> keys;
  std::set<std::string, std::less<>> seen;
  for (const json::value& item : items) {
    if (!item.is_object()) continue;
    for (const auto& [k, v] : item.get_object()) {
      if (seen.insert(std::string(k)).second) keys.emplace_back(k);
    }
  }
  return keys;
}

const json::array& ArrayField(const json::value& v, std::string_view key) {
  const json::value* a = v.is_object() ? v.get_object().if_contains(key) : nullptr;
  if (a == nullptr || !a->is_array()) {
    throw Failure{kExitServer, "the server's answer has no \"" + std::string(key) +
                                   "\" list; use matching versions of ricochetctl and ricochet"};
  }
  return a->get_array();
}

int Run(const std::vector<std::string>& words, const Environment& env, std::ostream& out,
        std::ostream& err) {
  auto usage_error = [&](const std::string& what, const std::string& todo) {
    err << "ricochetctl: " << what << "; " << todo << "\n";
    return static_cast<int>(kExitUsage);
  };
  std::string error;
  std::optional<Args> parsed = ParseArgs(words, ValueOptions(), &error);
  if (!parsed) return usage_error(error, "see ricochetctl --help");
  const Args& args = *parsed;
  if (args.Has("version")) {
    out << "ricochetctl " << RICOCHET_VERSION << "\n";
    return kExitOk;
  }
  const std::vector<Verb> verbs = AllVerbs();
  std::vector<std::string> operands = args.operands;
  bool help = args.Has("help");
  if (!operands.empty() && operands[0] == "help") {
    operands.erase(operands.begin());
    help = true;
  }
  if (operands.empty()) {
    if (help) {
      out << kTopHelp;
      return kExitOk;
    }
    err << kTopHelp;
    return usage_error("no command given", "pick one of the commands above");
  }
  std::vector<std::string> groups;
  for (const Verb& v : verbs)
    if (groups.empty() || groups.back() != v.group) groups.push_back(v.group);
  const std::string group = operands[0];
  if (std::find(groups.begin(), groups.end(), group) == groups.end()) {
    std::string guess = Suggest(group, groups);
    return usage_error("unknown command \"" + group + "\"" +
                           (guess.empty() ? "" : " (did you mean \"" + guess + "\"?)"),
                       "the commands are " + Join(groups, ", ") + "; see ricochetctl --help");
  }
  const Verb* verb = nullptr;
  std::vector<std::string> names;
  for (const Verb& v : verbs) {
    if (v.group != group) continue;
    if (v.name.empty()) verb = &v;
    names.push_back(v.name);
  }
  size_t consumed = 1;
  if (verb == nullptr) {
    if (operands.size() < 2) {
      if (help) {
        out << GroupHelp(verbs, group);
        return kExitOk;
      }
      err << GroupHelp(verbs, group);
      return usage_error("\"" + group + "\" needs a verb: " + Join(names, ", "),
                         "for example ricochetctl " + group + " " + names[0]);
    }
    for (const Verb& v : verbs)
      if (v.group == group && v.name == operands[1]) verb = &v;
    if (verb == nullptr) {
      std::string guess = Suggest(operands[1], names);
      return usage_error(
          "unknown verb \"" + operands[1] + "\" for " + group +
              (guess.empty() ? "" : " (did you mean \"" + guess + "\"?)"),
          "the verbs are " + Join(names, ", ") + "; see ricochetctl " + group + " --help");
    }
    consumed = 2;
  }
  const std::string words_of_verb = VerbWords(*verb);
  if (help) {
    out << VerbHelp(*verb);
    return kExitOk;
  }
  std::vector<std::string> allowed(std::begin(kGlobalOptions), std::end(kGlobalOptions));
  allowed.insert(allowed.end(), verb->options.begin(), verb->options.end());
  for (const std::string& name : args.order) {
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string guess = Suggest(name, allowed);
    return usage_error("unknown option --" + name + " for " + words_of_verb +
                           (guess.empty() ? "" : " (did you mean --" + guess + "?)"),
                       "see ricochetctl " + words_of_verb + " --help");
  }
  std::vector<std::string> rest(operands.begin() + static_cast<std::ptrdiff_t>(consumed),
                                operands.end());
  if (rest.size() < verb->min_operands || rest.size() > verb->max_operands) {
    std::string needed;  // the operand words of the usage line: "ID", "PATH"
    for (absl::string_view w : absl::StrSplit(verb->usage, ' ')) {
      if (w.empty() || w[0] == '[' || w[0] == '(' || w[0] == '-') break;
      needed += (needed.empty() ? "" : " ") + std::string(w);
    }
    std::string what = rest.size() < verb->min_operands
                           ? words_of_verb + " needs " + needed
                           : "too many arguments for " + words_of_verb + " (\"" +
                                 rest[verb->max_operands] + "\" and after)";
    return usage_error(what, "usage: ricochetctl " + words_of_verb + " " + verb->usage);
  }
  if (args.Has("json") && args.Has("csv")) {
    return usage_error("--json and --csv exclude each other", "pick one");
  }
  Context ctx{args, rest, Format::kTable, out, err, env, words_of_verb};
  if (args.Has("json")) ctx.format = Format::kJson;
  if (args.Has("csv")) ctx.format = Format::kCsv;
  try {
    verb->run(ctx);
    out.flush();
  } catch (const Failure& f) {
    out.flush();
    if (!f.message.empty()) err << "ricochetctl: " << f.message << "\n";
    return f.code;
  }
  return kExitOk;
}

}  // namespace ricochet::ctl
