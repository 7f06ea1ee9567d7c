// Internal to ricochetctl: the verb table, the per-run context, and the helpers that every verb
// uses to call the API and print. A verb reports failure by throwing Failure; Run catches it,
// prints "ricochetctl: <message>" and exits with its code. Nothing else throws past a verb.
#ifndef RICOCHET_CTL_VERBS_H_
#define RICOCHET_CTL_VERBS_H_

#include <chrono>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "boost/json/value.hpp"
#include "ctl/args.h"
#include "ctl/cli.h"
#include "ctl/http_client.h"
#include "ctl/output.h"

namespace ricochet::ctl {

// A failed run: the exit code and "<what happened>; <what to do>".
struct Failure {
  int code;
  std::string message;
};

struct Context {
  const Args& args;
  std::vector<std::string> operands;  // after the group and verb words
  Format format = Format::kTable;
  std::ostream& out;
  std::ostream& err;
  const Environment& env;
  std::string command;  // "offers list", for messages

  // The admin listener and token, from flags, then the environment, then defaults. Throw
  // Failure (usage for a bad --server, auth for a missing token).
  Endpoint Server() const;
  std::string Token() const;
  // Who is at the keyboard, for the server's audit trail (X-Ricochet-Operator): --operator,
  // else RICOCHET_OPERATOR, else USER; "" when none is usable. Throws Failure (usage) for an
  // --operator or RICOCHET_OPERATOR that is not 1 to 64 printable ASCII characters.
  std::string Operator() const;
  // --timeout, else `default_answer`.
  Timeouts TimeoutsOr(std::chrono::milliseconds default_answer) const;
};

// What a request is about, for messages: "offer spring", and what to do on a 404.
struct Subject {
  std::string what;
  std::string if_missing;
};

// Appends "name=<value of --flag>" (percent-encoded) to the target's query when the flag is
// given.
void AddQueryFlag(const Context& c, std::string* target, std::string_view flag,
                  std::string_view name);

// Sends the request. Throws Failure when the server cannot be reached.
HttpReply SendRaw(const Context& c, std::string_view method, const std::string& target,
                  const std::string& body = "",
                  std::optional<std::chrono::milliseconds> answer_timeout = std::nullopt);
// Throws the Failure that a non-2xx answer means (401 -> auth, 404 -> not found, other
// 4xx -> rejected, else server), quoting the server's reason, field and message.
[[noreturn]] void FailFromReply(const Context& c, std::string_view method,
                                const std::string& target, const HttpReply& reply,
                                const Subject& subject);
// Parses a JSON answer; throws Failure (server) when it is not JSON.
boost::json::value ParseReply(const HttpReply& reply);
// SendRaw, then FailFromReply unless 2xx, then ParseReply.
boost::json::value Call(const Context& c, std::string_view method, const std::string& target,
                        const Subject& subject, const std::string& body = "");

// Prints `raw_json` (--json), `table` as CSV (--csv) or as an aligned table.
void Emit(const Context& c, const std::string& raw_json, const Table& table);
// Prints one object: raw JSON, or its flattened key/value rows.
void EmitObject(const Context& c, const std::string& raw_json, const boost::json::value& v);

// GETs a listing and prints the array at `key`: a table of `columns`, CSV with every field, or
// the JSON answer as it is. Throws Failure for a non-200 answer (about `what`) or a missing
// array. Returns the parsed answer.
boost::json::value GetList(const Context& c, const std::string& target, const std::string& what,
                           std::string_view key, const std::vector<std::string>& columns);

// Every key of the objects in `items`, in first-seen order (the CSV columns of a listing).
std::vector<std::string> AllKeys(const boost::json::array& items);
// The array at `key` of an answer object; throws Failure (server) when it is missing.
const boost::json::array& ArrayField(const boost::json::value& v, std::string_view key);

// One verb: `ricochetctl <group> [<name>] <operands> [options]`.
struct Verb {
  std::string group{};
  std::string name{};   // "" for a group that is itself the verb (report, stats, ...)
  std::string usage{};  // operands and options after the verb words
  size_t min_operands = 0;
  size_t max_operands = 0;
  std::string summary{};               // one line
  std::string help{};                  // paragraphs, the verb's options, examples
  std::vector<std::string> options{};  // accepted besides the global ones
  void (*run)(Context&) = nullptr;
};

// Options that take a value, whatever the verb.
std::set<std::string, std::less<>> ValueOptions();

void AddConfigVerbs(std::vector<Verb>* verbs);  // offers, affiliates
void AddMoneyVerbs(std::vector<Verb>* verbs);   // conversions, report, ledger, balances, payouts
void AddOpsVerbs(std::vector<Verb>* verbs);     // clicks, outbox, backup, verify, stats, audit

}  // namespace ricochet::ctl

#endif  // RICOCHET_CTL_VERBS_H_
