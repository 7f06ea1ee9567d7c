// offers and affiliates: list, get, create, update, put.
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "verbs.h"

namespace ricochet::ctl {
namespace json = boost::json;
namespace {

enum class Kind { kString, kNullable, kInt, kBool };

struct FieldFlag {
  const char* flag;
  const char* field;
  Kind kind;
};

constexpr FieldFlag kOfferFlags[] = {
    {"name", "name", Kind::kString},
    {"url", "url", Kind::kString},
    {"fallback-url", "fallback_url", Kind::kNullable},
    {"status", "status", Kind::kString},
    {"currency", "currency", Kind::kString},
    {"attribution", "attribution", Kind::kString},
    {"lookback-days", "lookback_days", Kind::kInt},
    {"dedupe-window-s", "dedupe_window_s", Kind::kInt},
    {"max-clicks-per-ip-per-minute", "max_clicks_per_ip_per_minute", Kind::kInt},
    {"daily-conversion-cap", "daily_conversion_cap", Kind::kInt},
    {"min-ctit-s", "min_ctit_s", Kind::kInt},
    {"default-status", "default_status", Kind::kString},
    {"postback-token", "postback_token", Kind::kNullable},
    {"allow-pixel", "allow_pixel", Kind::kBool},
};

constexpr FieldFlag kAffiliateFlags[] = {
    {"name", "name", Kind::kString},
    {"status", "status", Kind::kString},
    {"parent", "parent", Kind::kNullable},
    {"postback-url", "postback_url", Kind::kNullable},
};

constexpr char kOfferOptionsHelp[] = R"(Options:
  --file FILE                     a JSON offer object as in docs/api.md; - reads stdin
  --url URL                       the landing page (required); may hold macros: {click_id} ...
  --name TEXT                     a label for people
  --fallback-url URL              where paused offers and unknown affiliates go ('' for none)
  --status active|paused
  --currency CODE                 ISO 4217 (default USD)
  --attribution last_click|first_click
  --lookback-days N               days a click can still convert (default 30)
  --dedupe-window-s N             seconds a repeat click counts as duplicate (default 86400)
  --max-clicks-per-ip-per-minute N  0 = no limit
  --daily-conversion-cap N        0 = no cap
  --min-ctit-s N                  conversions sooner after the click stay pending (0 = off)
  --default-status approved|pending|rejected
  --postback-token TEXT           the advertiser's postback secret ('' for none)
  --allow-pixel true|false
  --cpa EVENT=AMOUNT              fixed commission per event, e.g. --cpa sale=2.50 (repeatable;
                                  EVENT= with no amount removes it)
  --cps EVENT=PERCENT             revenue share per event, e.g. --cps sale=10 (repeatable)
Money and percents are decimal strings, sent exactly as typed.
)";

constexpr char kAffiliateOptionsHelp[] = R"(Options:
  --file FILE            a JSON affiliate object as in docs/api.md; - reads stdin
  --name TEXT            a label for people
  --status active|paused a paused affiliate's links go to the offer's fallback (or 404)
  --parent ID            the affiliate one tier up, paid by the offer's tiers ('' for none)
  --postback-url URL     where conversions of this affiliate are posted ('' for none)
  --cpa EVENT=AMOUNT     override the offers' fixed commission for EVENT (repeatable)
  --cps EVENT=PERCENT    override the offers' revenue share for EVENT (repeatable)
Money and percents are decimal strings, sent exactly as typed.
)";

struct KindInfo {
  bool offers;
  std::string_view singular() const { return offers ? "offer" : "affiliate"; }
  std::string_view plural() const { return offers ? "offers" : "affiliates"; }
  std::string Path(std::string_view id = {}) const {
    std::string p = "/api/" + std::string(plural());
    if (!id.empty()) p += "/" + UrlEncode(id);
    return p;
  }
  Subject About(const std::string& id) const {
    return {std::string(singular()) + " " + id,
            "list them with ricochetctl " + std::string(plural()) + " list"};
  }
};

KindInfo KindOf(const Context& c) { return {c.command.rfind("offers", 0) == 0}; }

std::string ReadFile(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Failure{kExitUsage,
                  "cannot read --file " + path + "; give the path of a JSON object (- for stdin)"};
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json::object ParseObjectFile(const std::string& path, const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    throw Failure{kExitUsage, "--file " + path + " is not valid JSON (" + ec.message() +
                                  "); fix it (jq . " + path + " shows where)"};
  }
  if (!v.is_object()) {
    throw Failure{kExitUsage, "--file " + path + " must hold one JSON object {...}"};
  }
  return std::move(v.get_object());
}

json::value FlagValue(const std::string& flag, const std::string& text, Kind kind) {
  switch (kind) {
    case Kind::kString:
      return json::value(text);
    case Kind::kNullable:
      return text.empty() ? json::value(nullptr) : json::value(text);
    case Kind::kInt: {
      bool digits = !text.empty() && text.size() <= 18 &&
                    text.find_first_not_of("0123456789") == std::string::npos;
      if (!digits) {
        throw Failure{kExitUsage,
                      "--" + flag + " takes a whole number such as 30; got \"" + text + "\""};
      }
      return json::value(std::stoll(text));
    }
    case Kind::kBool:
      if (text == "true" || text == "yes" || text == "on" || text == "1") return json::value(true);
      if (text == "false" || text == "no" || text == "off" || text == "0") {
        return json::value(false);
      }
      throw Failure{kExitUsage, "--" + flag + " takes true or false; got \"" + text + "\""};
  }
  return nullptr;
}

// Applies --cpa / --cps EVENT=VALUE to obj.plan.events. Returns whether any was given.
bool ApplyRates(const Context& c, json::object* obj) {
  bool any = false;
  for (const auto& [flag, key] : {std::pair<const char*, const char*>{"cpa", "cpa"},
                                  std::pair<const char*, const char*>{"cps", "cps_percent"}}) {
    for (const std::string& spec : c.args.All(flag)) {
      size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw Failure{kExitUsage, std::string("--") + flag + " takes EVENT=VALUE, such as --" +
                                      flag + " sale=" + (key[1] == 'p' ? "2.50" : "10") +
                                      "; got \"" + spec + "\""};
      }
      std::string event = spec.substr(0, eq), value = spec.substr(eq + 1);
      json::value& plan = (*obj)["plan"];
      if (!plan.is_object()) plan = json::object();
      json::value& events = plan.get_object()["events"];
      if (!events.is_object()) events = json::object();
      json::value& rate = events.get_object()[event];
      if (!rate.is_object()) rate = json::object();
      if (value.empty()) {
        rate.get_object().erase(key);
        if (rate.get_object().empty()) events.get_object().erase(event);
      } else {
        rate.get_object()[key] = value;
      }
      any = true;
    }
  }
  return any;
}

// Applies the field flags and rates to obj; returns whether any flag was given.
bool ApplyFlags(const Context& c, json::object* obj) {
  bool any = false;
  auto apply = [&](const auto& table) {
    for (const FieldFlag& f : table) {
      if (std::optional<std::string> v = c.args.Get(f.flag)) {
        (*obj)[f.field] = FlagValue(f.flag, *v, f.kind);
        any = true;
      }
    }
  };
  if (KindOf(c).offers) {
    apply(kOfferFlags);
  } else {
    apply(kAffiliateFlags);
  }
  if (ApplyRates(c, obj)) any = true;
  return any;
}

void Store(const Context& c, const std::string& id, const std::string& body) {
  KindInfo k = KindOf(c);
  HttpReply reply = SendRaw(c, "PUT", k.Path(id), body);
  if (reply.status != 200) FailFromReply(c, "PUT", k.Path(id), reply, k.About(id));
  EmitObject(c, reply.body, ParseReply(reply));
}

void List(Context& c) {
  KindInfo k = KindOf(c);
  HttpReply reply = SendRaw(c, "GET", k.Path());
  if (reply.status != 200) FailFromReply(c, "GET", k.Path(), reply, {std::string(k.plural()), ""});
  json::value v = ParseReply(reply);
  const json::array& items = ArrayField(v, k.plural());
  Table t;
  if (c.format == Format::kCsv) {
    t = ObjectsTable(items, AllKeys(items));
  } else if (k.offers) {
    t = ObjectsTable(items, {"id", "name", "status", "currency", "default_status", "url"});
  } else {
    t = ObjectsTable(items, {"id", "name", "status", "parent", "postback_url"});
  }
  Emit(c, reply.body, t);
}

void Get(Context& c) {
  KindInfo k = KindOf(c);
  const std::string& id = c.operands[0];
  HttpReply reply = SendRaw(c, "GET", k.Path(id));
  if (reply.status != 200) FailFromReply(c, "GET", k.Path(id), reply, k.About(id));
  EmitObject(c, reply.body, ParseReply(reply));
}

void Create(Context& c) {
  KindInfo k = KindOf(c);
  const std::string& id = c.operands[0];
  HttpReply existing = SendRaw(c, "GET", k.Path(id));
  if (existing.status == 200) {
    throw Failure{kExitRejected, std::string(k.singular()) + " " + id +
                                     " already exists; change it with ricochetctl " +
                                     std::string(k.plural()) + " update " + id +
                                     " ..., or replace it whole with ricochetctl " +
                                     std::string(k.plural()) + " put " + id + " ..."};
  }
  if (existing.status != 404) FailFromReply(c, "GET", k.Path(id), existing, k.About(id));
  json::object obj;
  if (std::optional<std::string> file = c.args.Get("file")) {
    obj = ParseObjectFile(*file, ReadFile(*file));
  }
  ApplyFlags(c, &obj);
  Store(c, id, json::serialize(obj));
}

void Update(Context& c) {
  KindInfo k = KindOf(c);
  const std::string& id = c.operands[0];
  json::object changes;
  std::optional<std::string> file = c.args.Get("file");
  if (file) changes = ParseObjectFile(*file, ReadFile(*file));
  bool flags = ApplyFlags(c, &changes);
  if (!file && !flags) {
    throw Failure{kExitUsage,
                  "nothing to update; pass flags such as --status paused, or --file "
                  "FILE with the fields to change (see ricochetctl " +
                      c.command + " --help)"};
  }
  HttpReply current = SendRaw(c, "GET", k.Path(id));
  if (current.status == 404) {
    throw Failure{kExitNotFound, std::string(k.singular()) + " " + id +
                                     " does not exist; create it with ricochetctl " +
                                     std::string(k.plural()) + " create " + id +
                                     (k.offers ? " --url URL" : "") + " ..."};
  }
  if (current.status != 200) FailFromReply(c, "GET", k.Path(id), current, k.About(id));
  json::value stored = ParseReply(current);
  if (!stored.is_object()) throw Failure{kExitServer, "the server's answer is not an object"};
  json::object obj = std::move(stored.get_object());
  // A file replaces whole top-level fields; flags then change single fields and plan rates.
  if (file) {
    for (const auto& [key, value] : changes) obj[key] = value;
  }
  ApplyFlags(c, &obj);
  Store(c, id, json::serialize(obj));
}

void Put(Context& c) {
  const std::string& id = c.operands[0];
  std::optional<std::string> file = c.args.Get("file");
  json::object obj;
  std::string text;
  if (file) {
    text = ReadFile(*file);
    obj = ParseObjectFile(*file, text);
  }
  bool flags = ApplyFlags(c, &obj);
  if (!file && !flags) {
    throw Failure{kExitUsage,
                  "put replaces the whole object and needs --file FILE or flags (see "
                  "ricochetctl " +
                      c.command + " --help)"};
  }
  // Without flags the file goes out byte for byte: numbers keep their spelling.
  Store(c, id, flags ? json::serialize(obj) : text);
}

void AddKind(std::vector<Verb>* verbs, bool offers) {
  const std::string group = offers ? "offers" : "affiliates";
  const std::string one = offers ? "offer" : "affiliate";
  const std::string options = offers ? kOfferOptionsHelp : kAffiliateOptionsHelp;
  std::vector<std::string> flags = {"file", "cpa", "cps"};
  if (offers) {
    for (const FieldFlag& f : kOfferFlags) flags.push_back(f.flag);
  } else {
    for (const FieldFlag& f : kAffiliateFlags) flags.push_back(f.flag);
  }
  const std::string example_id = offers ? "spring" : "aff-7";
  const std::string example_create =
      offers ? "  ricochetctl offers create spring --name 'Spring sale' \\\n"
               "    --url 'https://shop.example.com/?cid={click_id}&s={sub1}' \\\n"
               "    --currency EUR --cpa sale=2.50 --cps sale=10\n"
             : "  ricochetctl affiliates create aff-7 --name 'Blog network' --parent aff-1 \\\n"
               "    --postback-url 'https://partner.example/pb?cid={click_id}&p={payout}'\n";
  verbs->push_back({.group = group,
                    .name = "list",
                    .summary = "List every " + one + ", sorted by id.",
                    .help = "Columns: " +
                            std::string(offers ? "ID NAME STATUS CURRENCY DEFAULT_STATUS URL"
                                               : "ID NAME STATUS PARENT POSTBACK_URL") +
                            ".\n--csv has every field (plan as JSON); --json prints {\"" + group +
                            "\": [...]}.\n\nExample:\n  ricochetctl " + group + " list --csv > " +
                            group + ".csv\n",
                    .run = List});
  verbs->push_back({.group = group,
                    .name = "get",
                    .usage = "ID",
                    .min_operands = 1,
                    .max_operands = 1,
                    .summary = "Show one " + one + ", every field (plan rates as plan.events...).",
                    .help = "Exit code 4 when there is no such " + one +
                            ".\n\nExample:\n  ricochetctl " + group + " get " + example_id +
                            " --json\n",
                    .run = Get});
  verbs->push_back(
      {.group = group,
       .name = "create",
       .usage = "ID [--file FILE] [flags]",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Create a new " + one + " from flags, a JSON file, or both (flags win).",
       .help = "Refuses (exit 5) when " + one +
               " ID exists: use update or put for that. Prints the stored " + one + ".\n\n" +
               options + "\nExample:\n" + example_create,
       .options = flags,
       .run = Create});
  verbs->push_back(
      {.group = group,
       .name = "update",
       .usage = "ID [--file FILE] [flags]",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Change some fields of an existing " + one + "; the rest stay as they are.",
       .help = "Reads the " + one +
               ", replaces the top-level fields found in --file, applies the flags, and stores "
               "the result.\n--cpa/--cps change one event's rate and keep the others. Exit code "
               "4 when there is no such " +
               one + ".\n\n" + options + "\nExample:\n  ricochetctl " + group + " update " +
               example_id + " --status paused\n",
       .options = flags,
       .run = Update});
  verbs->push_back(
      {.group = group,
       .name = "put",
       .usage = "ID (--file FILE | flags)",
       .min_operands = 1,
       .max_operands = 1,
       .summary = "Replace " + one + " ID whole, creating it if needed (PUT as in the API).",
       .help = "Fields left out take their defaults. Without flags the file is sent byte for "
               "byte.\n\n" +
               options + "\nExample:\n  ricochetctl " + group + " put " + example_id + " --file " +
               example_id + ".json\n",
       .options = flags,
       .run = Put});
}

}  // namespace

void AddConfigVerbs(std::vector<Verb>* verbs) {
  AddKind(verbs, true);
  AddKind(verbs, false);
}

}  // namespace ricochet::ctl
