// conversions, report, ledger, balances, payouts. Amounts are printed as the server spells them;
// the only arithmetic (a payout run's total) is exact, on micro-units.
#include <algorithm>
#include <fstream>
#include <map>

#include "attribution/money.h"
#include "boost/json/serialize.hpp"
#include "verbs.h"

namespace ricochet::ctl {
namespace json = boost::json;
namespace {

// --- conversions

Subject ConversionSubject(const std::string& id) {
  return {"conversion " + id,
          "conversion ids (cv_...) are in the postback answer and in ricochetctl ledger"};
}

void ConversionGet(Context& c) {
  const std::string& id = c.operands[0];
  std::string target = "/api/conversions/" + UrlEncode(id);
  HttpReply reply = SendRaw(c, "GET", target);
  if (reply.status != 200) FailFromReply(c, "GET", target, reply, ConversionSubject(id));
  EmitObject(c, reply.body, ParseReply(reply));
}

void ChangeStatus(Context& c, const char* status) {
  const std::string& id = c.operands[0];
  std::string target = "/api/conversions/" + UrlEncode(id) + "/status";
  json::object body;
  body["status"] = status;
  if (std::optional<std::string> reason = c.args.Get("reason")) body["reason"] = *reason;
  HttpReply reply = SendRaw(c, "POST", target, json::serialize(body));
  if (reply.status != 200) FailFromReply(c, "POST", target, reply, ConversionSubject(id));
  EmitObject(c, reply.body, ParseReply(reply));
}

void Approve(Context& c) { ChangeStatus(c, "approved"); }
void Reject(Context& c) { ChangeStatus(c, "rejected"); }
void Reverse(Context& c) { ChangeStatus(c, "reversed"); }

// --- report

constexpr const char* kGroupKeys[] = {"day", "offer", "affiliate", "sub1"};
constexpr const char* kCounts[] = {
    "clicks",      "unique_clicks", "duplicate_clicks", "bot_clicks", "rate_limited_clicks",
    "conversions", "approved",      "pending",          "rejected",   "reversed"};

void Report(Context& c) {
  std::string target = "/api/report";
  AddQueryFlag(c, &target, "from", "from");
  AddQueryFlag(c, &target, "to", "to");
  AddQueryFlag(c, &target, "group-by", "group_by");
  AddQueryFlag(c, &target, "offer", "offer");
  AddQueryFlag(c, &target, "affiliate", "affiliate");
  AddQueryFlag(c, &target, "sub1", "sub1");
  HttpReply reply = SendRaw(c, "GET", target);
  if (reply.status != 200) FailFromReply(c, "GET", target, reply, {"the report query", ""});
  json::value v = ParseReply(reply);
  const json::array& rows = ArrayField(v, "rows");
  // Group columns: those the rows carry, else those asked for (an empty report keeps its shape).
  std::vector<std::string> keys;
  std::string asked = "," + c.args.Get("group-by").value_or("day") + ",";
  asked.erase(std::remove(asked.begin(), asked.end(), ' '), asked.end());
  for (const char* k : kGroupKeys) {
    bool present = rows.empty() ? asked.find("," + std::string(k) + ",") != std::string::npos
                                : rows[0].is_object() && rows[0].get_object().contains(k);
    if (present) keys.push_back(k);
  }
  // Money columns: one per currency seen, revenue then payout.
  std::set<std::string> currencies;
  for (const json::value& row : rows) {
    for (const char* side : {"revenue", "payout"}) {
      const json::value* m = row.is_object() ? row.get_object().if_contains(side) : nullptr;
      if (m != nullptr && m->is_object())
        for (const auto& [cur, amount] : m->get_object()) currencies.emplace(cur);
    }
  }
  Table t;
  t.columns = keys;
  for (const char* k : kCounts) t.columns.push_back(k);
  for (const char* side : {"revenue", "payout"})
    for (const std::string& cur : currencies) t.columns.push_back(std::string(side) + "_" + cur);
  for (const json::value& row : rows) {
    if (!row.is_object()) continue;
    const json::object& o = row.get_object();
    std::vector<std::string> cells;
    for (const std::string& k : keys) cells.push_back(o.contains(k) ? Cell(o.at(k)) : "");
    for (const char* k : kCounts) cells.push_back(o.contains(k) ? Cell(o.at(k)) : "");
    for (const char* side : {"revenue", "payout"}) {
      const json::value* m = o.if_contains(side);
      for (const std::string& cur : currencies) {
        const json::value* amount =
            m != nullptr && m->is_object() ? m->get_object().if_contains(cur) : nullptr;
        cells.push_back(amount == nullptr ? "" : Cell(*amount));
      }
    }
    t.rows.push_back(std::move(cells));
  }
  Emit(c, reply.body, t);
}

// --- ledger and balances

void Ledger(Context& c) {
  std::string target = "/api/ledger";
  AddQueryFlag(c, &target, "affiliate", "affiliate");
  AddQueryFlag(c, &target, "from", "from");
  AddQueryFlag(c, &target, "to", "to");
  GetList(
      c, target, "the ledger query", "entries",
      {"id", "time", "conversion_id", "affiliate", "tier", "kind", "amount", "currency", "status"});
}

void Balances(Context& c) {
  const std::string& aff = c.operands[0];
  std::string target = "/api/balances/" + UrlEncode(aff);
  HttpReply reply = SendRaw(c, "GET", target);
  if (reply.status != 200) {
    FailFromReply(c, "GET", target, reply,
                  {"affiliate " + aff, "list affiliates with ricochetctl affiliates list"});
  }
  json::value v = ParseReply(reply);
  Table t;
  t.columns = {"currency", "pending", "approved", "paid"};
  if (v.is_object()) {
    for (const auto& [cur, b] : v.get_object()) {
      std::vector<std::string> row = {std::string(cur)};
      for (const char* k : {"pending", "approved", "paid"}) {
        const json::value* x = b.is_object() ? b.get_object().if_contains(k) : nullptr;
        row.push_back(x == nullptr ? "" : Cell(*x));
      }
      t.rows.push_back(std::move(row));
    }
  }
  Emit(c, reply.body, t);
}

// --- payouts

// The exact sum of the items' amounts, with the currency's decimals; "" if one is unreadable.
std::string Total(const json::value& payout) {
  const json::object* o = payout.if_object();
  if (o == nullptr) return "";
  const json::value* items = o->if_contains("items");
  const json::value* cur = o->if_contains("currency");
  if (items == nullptr || !items->is_array() || cur == nullptr || !cur->is_string()) return "";
  attribution::Micros sum = 0;
  for (const json::value& item : items->get_array()) {
    const json::value* amount =
        item.is_object() ? item.get_object().if_contains("amount") : nullptr;
    if (amount == nullptr || !amount->is_string()) return "";
    absl::StatusOr<attribution::Micros> m = attribution::ParseDecimal(amount->get_string());
    if (!m.ok()) return "";
    std::optional<attribution::Micros> next = attribution::CheckedAdd(sum, *m);
    if (!next) return "";
    sum = *next;
  }
  int decimals = attribution::CurrencyExponent(std::string(cur->get_string())).value_or(2);
  return attribution::FormatMicros(sum, decimals);
}

Subject PayoutSubject(const std::string& id) {
  return {"payout " + id, "list payout runs with ricochetctl payouts list"};
}

// One payout run: a key/value block, a blank line, then its items (table); or its items as
// CSV in the server's payout CSV columns; or the JSON as is.
void EmitPayout(const Context& c, const std::string& raw, const json::value& p) {
  const json::object* o = p.if_object();
  const json::value* items_v = o == nullptr ? nullptr : o->if_contains("items");
  json::array items =
      items_v != nullptr && items_v->is_array() ? items_v->get_array() : json::array();
  std::string currency = o != nullptr && o->contains("currency") ? Cell(o->at("currency")) : "";
  Table t;
  t.columns = {"affiliate", "amount", "currency", "entries"};
  for (const json::value& item : items) {
    const json::object* i = item.if_object();
    if (i == nullptr) continue;
    auto field = [&](const char* k) { return i->contains(k) ? Cell(i->at(k)) : ""; };
    t.rows.push_back({field("affiliate"), field("amount"), currency, field("entries")});
  }
  if (c.format != Format::kTable) {
    Emit(c, raw, t);
    return;
  }
  Table head;
  head.columns = {"key", "value"};
  for (const char* k : {"id", "time", "currency", "min_amount"}) {
    if (o != nullptr && o->contains(k)) head.rows.push_back({k, Cell(o->at(k))});
  }
  head.rows.push_back({"affiliates", std::to_string(items.size())});
  head.rows.push_back({"total", Total(p)});
  std::string text = RenderTable(head);
  c.out << text.substr(text.find('\n') + 1) << "\n";  // no KEY/VALUE header over the summary
  c.out << RenderTable(t);
}

void PayoutCreate(Context& c) {
  std::optional<std::string> currency = c.args.Get("currency");
  if (!currency) {
    throw Failure{kExitUsage,
                  "payouts create needs --currency CODE, such as --currency USD (one "
                  "run pays one currency)"};
  }
  json::object body;
  body["currency"] = *currency;
  if (std::optional<std::string> min = c.args.Get("min-amount")) body["min_amount"] = *min;
  HttpReply reply = SendRaw(c, "POST", "/api/payouts", json::serialize(body));
  if (reply.status != 200) {
    FailFromReply(c, "POST", "/api/payouts", reply, {"the payout run", ""});
  }
  // The answer is the run as stored (what `payouts get` prints).
  EmitPayout(c, reply.body, ParseReply(reply));
}

void PayoutList(Context& c) {
  HttpReply reply = SendRaw(c, "GET", "/api/payouts");
  if (reply.status != 200) FailFromReply(c, "GET", "/api/payouts", reply, {"payout runs", ""});
  json::value v = ParseReply(reply);
  const json::array& runs = ArrayField(v, "payouts");
  Table t;
  t.columns = {"id", "time", "currency", "min_amount", "affiliates", "total"};
  for (const json::value& run : runs) {
    const json::object* o = run.if_object();
    if (o == nullptr) continue;
    auto field = [&](const char* k) { return o->contains(k) ? Cell(o->at(k)) : ""; };
    // The server sums each run; an older one sends the items instead.
    std::string affiliates = field("affiliates"), total = field("total");
    if (const json::value* items = o->if_contains("items"); items != nullptr && items->is_array()) {
      if (affiliates.empty()) affiliates = std::to_string(items->get_array().size());
      if (total.empty()) total = Total(run);
    }
    t.rows.push_back(
        {field("id"), field("time"), field("currency"), field("min_amount"), affiliates, total});
  }
  Emit(c, reply.body, t);
}

void PayoutGet(Context& c) {
  const std::string& id = c.operands[0];
  std::string target = "/api/payouts/" + UrlEncode(id);
  HttpReply reply = SendRaw(c, "GET", target);
  if (reply.status != 200) FailFromReply(c, "GET", target, reply, PayoutSubject(id));
  EmitPayout(c, reply.body, ParseReply(reply));
}

void PayoutCsv(Context& c) {
  const std::string& id = c.operands[0];
  if (c.format == Format::kJson) {
    throw Failure{kExitUsage,
                  "payouts csv prints CSV; for JSON use ricochetctl payouts get " + id + " --json"};
  }
  std::string target = "/api/payouts/" + UrlEncode(id) + ".csv";
  HttpReply reply = SendRaw(c, "GET", target);
  if (reply.status != 200) FailFromReply(c, "GET", target, reply, PayoutSubject(id));
  if (std::optional<std::string> path = c.args.Get("output"); path && *path != "-") {
    std::ofstream file(*path, std::ios::binary | std::ios::trunc);
    file << reply.body;
    file.close();
    if (!file) {
      throw Failure{kExitUsage, "cannot write " + *path + "; choose a writable --output path"};
    }
    c.err << "wrote " << *path << " (" << reply.body.size() << " bytes)\n";
    return;
  }
  c.out << reply.body;
}

}  // namespace

void AddMoneyVerbs(std::vector<Verb>* verbs) {
  const std::string reason_help =
      "Options:\n  --reason TEXT  why; stored on the conversion as its reason (at most 256 "
      "bytes)\n";
  verbs->push_back(
      {.group = "conversions",
       .name = "get",
       .usage = "ID",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Show a conversion: status, reason, amount, commissions per beneficiary.",
       .help = "Example:\n  ricochetctl conversions get cv_AAABogc2_9gAAAAC\n",
       .run = ConversionGet});
  verbs->push_back(
      {.group = "conversions",
       .name = "approve",
       .usage = "ID [--reason TEXT]",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Approve a pending conversion: its commissions move from pending to approved.",
       .help = reason_help +
               "\nAllowed: pending -> approved; otherwise exit code 5 (bad_transition). "
               "Approving\nan approved conversion changes nothing.\n\n"
               "Example:\n  ricochetctl conversions approve cv_AAABogc2_9gAAAAC\n",
       .options = {"reason"},
       .run = Approve});
  verbs->push_back(
      {.group = "conversions",
       .name = "reject",
       .usage = "ID [--reason TEXT]",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Reject a pending conversion: its pending commissions are taken back.",
       .help = reason_help +
               "\nAllowed: pending -> rejected; otherwise exit code 5 (bad_transition).\n\n"
               "Example:\n  ricochetctl conversions reject cv_AAABogc2_9gAAAAC --reason fraud\n",
       .options = {"reason"},
       .run = Reject});
  verbs->push_back(
      {.group = "conversions",
       .name = "reverse",
       .usage = "ID [--reason TEXT]",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Reverse an approved (or paid) conversion: a negative reversal entry.",
       .help = reason_help +
               "\nAllowed: approved -> reversed. After a payout, approved goes negative until\n"
               "the next payout nets it off.\n\n"
               "Example:\n  ricochetctl conversions reverse cv_AAABogc2_9gAAAAC --reason refund\n",
       .options = {"reason"},
       .run = Reverse});
  verbs->push_back(
      {.group = "report",
       .usage =
           "[--from DATE] [--to DATE] [--group-by KEYS] [--offer ID] [--affiliate ID] [--sub1 S]",
       .summary = "Clicks by class, conversions by status, revenue and payout per currency.",
       .help = "Options:\n"
               "  --from DATE, --to DATE  inclusive UTC dates, YYYY-MM-DD (default today)\n"
               "  --group-by KEYS         comma list of day, offer, affiliate, sub1 (default day)\n"
               "  --offer ID              only this offer\n"
               "  --affiliate ID          only this affiliate\n"
               "  --sub1 S                only this sub1 ('' = clicks without one)\n\n"
               "Money columns are revenue_<CUR> and payout_<CUR>, one per currency that "
               "appears.\n\n"
               "Example:\n  ricochetctl report --from 2026-11-01 --to 2026-11-30 "
               "--group-by day,offer --affiliate aff-7\n",
       .options = {"from", "to", "group-by", "offer", "affiliate", "sub1"},
       .run = Report});
  verbs->push_back(
      {.group = "ledger",
       .usage = "[--affiliate ID] [--from DATE] [--to DATE]",
       .summary = "Ledger entries in chain order: commissions, adjustments, reversals, payouts.",
       .help = "Options:\n"
               "  --affiliate ID          only this affiliate's entries\n"
               "  --from DATE, --to DATE  inclusive UTC dates, YYYY-MM-DD (default: all)\n\n"
               "The table leaves out the hashes; --csv and --json have hash and prev_hash.\n\n"
               "Example:\n  ricochetctl ledger --affiliate aff-7 --from 2026-11-01 --csv > "
               "aff-7.csv\n",
       .options = {"affiliate", "from", "to"},
       .run = Ledger});
  verbs->push_back(
      {.group = "balances",
       .usage = "AFFILIATE",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "An affiliate's pending, approved and paid balance in every currency.",
       .help = "Exit code 4 for an affiliate that is unknown and has no balances.\n\n"
               "Example:\n  ricochetctl balances aff-7\n",
       .run = Balances});
  verbs->push_back(
      {.group = "payouts",
       .name = "create",
       .usage = "--currency CODE [--min-amount AMOUNT]",
       .summary = "Pay every approved balance in CODE of at least AMOUNT; prints the run.",
       .help = "Options:\n"
               "  --currency CODE      the currency to pay (required)\n"
               "  --min-amount AMOUNT  skip affiliates whose approved balance is smaller "
               "(default 0)\n\n"
               "The run is recorded at once in the ledger (approved -> paid); there is no undo.\n"
               "Export it for the bank with ricochetctl payouts csv ID.\n\n"
               "Example:\n  ricochetctl payouts create --currency USD --min-amount 50\n",
       .options = {"currency", "min-amount"},
       .run = PayoutCreate});
  verbs->push_back({.group = "payouts",
                    .name = "list",
                    .summary = "List payout runs with their totals, oldest first.",
                    .help = "Columns: ID TIME CURRENCY MIN_AMOUNT AFFILIATES TOTAL.\n\n"
                            "Example:\n  ricochetctl payouts list\n",
                    .run = PayoutList});
  verbs->push_back({.group = "payouts",
                    .name = "get",
                    .usage = "ID",
                    .min_operands = 1,
                    .max_operands = 1,
                    .summary = "Show one payout run and what it paid to whom.",
                    .help = "Example:\n  ricochetctl payouts get po_AAABogc_AAAAAAAB\n",
                    .run = PayoutGet});
  verbs->push_back(
      {.group = "payouts",
       .name = "csv",
       .usage = "ID [--output FILE]",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "The run's CSV (affiliate,amount,currency,entries) as the server makes it.",
       .help = "Options:\n  --output FILE  write it to FILE instead of stdout\n\n"
               "Example:\n  ricochetctl payouts csv po_AAABogc_AAAAAAAB --output "
               "payout-2026-11.csv\n",
       .options = {"output"},
       .run = PayoutCsv});
}

}  // namespace ricochet::ctl
