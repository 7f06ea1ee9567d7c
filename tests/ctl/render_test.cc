// The ctl library without a server: --server parsing, argument splitting, suggestions, and the
// table, CSV and flattening renderers.
#include "boost/json/parse.hpp"
#include "catch2/catch.hpp"
#include "ctl/args.h"
#include "ctl/http_client.h"
#include "ctl/output.h"

namespace ricochet::ctl {
namespace json = boost::json;
namespace {

Endpoint MustParse(const std::string& text) {
  std::string error;
  std::optional<Endpoint> ep = ParseServer(text, &error);
  INFO(text << ": " << error);
  REQUIRE(ep.has_value());
  return *ep;
}

std::string ParseError(const std::string& text) {
  std::string error;
  std::optional<Endpoint> ep = ParseServer(text, &error);
  REQUIRE_FALSE(ep.has_value());
  return error;
}

}  // namespace

TEST_CASE("--server takes host:port, a bare host, IPv6 and http:// URLs", "[ctl][unit]") {
  Endpoint a = MustParse("127.0.0.1:8081");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == "8081");
  CHECK(a.base_path.empty());
  CHECK(a.Display() == "127.0.0.1:8081");

  CHECK(MustParse("admin.internal").port == "8081");
  Endpoint url = MustParse("http://admin.internal");
  CHECK(url.host == "admin.internal");
  CHECK(url.port == "80");

  Endpoint full = MustParse("HTTP://10.0.0.5:9000/ricochet/");
  CHECK(full.host == "10.0.0.5");
  CHECK(full.port == "9000");
  CHECK(full.base_path == "/ricochet");
  CHECK(full.Display() == "10.0.0.5:9000/ricochet");
  CHECK(MustParse("http://h:1/").base_path.empty());

  Endpoint v6 = MustParse("[::1]:8081");
  CHECK(v6.host == "::1");
  CHECK(v6.port == "8081");
  CHECK(v6.Display() == "[::1]:8081");
  CHECK(MustParse("http://[::1]").port == "80");

  CHECK(ParseError("https://x:1").find("http://") != std::string::npos);
  CHECK(ParseError("::1:8081").find("brackets") != std::string::npos);
  CHECK(ParseError("host:0").find("port") != std::string::npos);
  CHECK(ParseError("host:65536").find("port") != std::string::npos);
  CHECK(ParseError("host:80x").find("port") != std::string::npos);
  CHECK(ParseError("host:").find("port") != std::string::npos);
  CHECK(ParseError(":8081").find("no host") != std::string::npos);
  CHECK(ParseError("host:1/api").find("http://") != std::string::npos);
  CHECK(ParseError("http://h:1/x?y").find("query") != std::string::npos);
  CHECK(ParseError("ftp://h:1").find("scheme") != std::string::npos);
  CHECK(ParseError("http://u:p@h:1").find("--token") != std::string::npos);
}

TEST_CASE("arguments: options anywhere, = or a separate value, -- ends options", "[ctl][unit]") {
  std::set<std::string, std::less<>> with_value = {"server", "from", "cpa"};
  std::string error;
  std::optional<Args> a = ParseArgs({"--json", "report", "--from=2026-01-01", "x", "--cpa",
                                     "sale=1", "--cpa", "lead=2", "-h", "--", "--not-an-option"},
                                    with_value, &error);
  REQUIRE(a.has_value());
  CHECK(a->operands == std::vector<std::string>{"report", "x", "--not-an-option"});
  CHECK(a->Has("json"));
  CHECK(a->Has("help"));
  CHECK(a->Get("from") == "2026-01-01");
  CHECK(a->All("cpa") == std::vector<std::string>{"sale=1", "lead=2"});
  CHECK(a->Get("cpa") == "lead=2");  // the last one wins for single-valued options
  CHECK_FALSE(a->Get("server").has_value());

  // A value may start with a dash, and may be empty.
  a = ParseArgs({"--from", "-1", "--server="}, with_value, &error);
  REQUIRE(a.has_value());
  CHECK(a->Get("from") == "-1");
  CHECK(a->Get("server") == "");

  CHECK_FALSE(ParseArgs({"--from"}, with_value, &error).has_value());
  CHECK(error == "--from needs a value");
  CHECK_FALSE(ParseArgs({"--json=1"}, with_value, &error).has_value());
  CHECK(error == "--json takes no value");
  CHECK_FALSE(ParseArgs({"-x"}, with_value, &error).has_value());
  CHECK(error ==
        "unknown option -x (options are spelled --name; an argument that starts with - "
        "goes after --)");
}

TEST_CASE("suggestions for typos", "[ctl][unit]") {
  CHECK(EditDistance("kitten", "sitting") == 3);
  CHECK(Suggest("ofers", {"offers", "affiliates"}) == "offers");
  CHECK(Suggest("group_by", {"group-by", "from"}) == "group-by");
  CHECK(Suggest("zzz", {"offers", "affiliates"}).empty());
}

TEST_CASE("tables: aligned by code points, sanitised, empty cells as -", "[ctl][unit]") {
  Table t;
  t.columns = {"id", "name", "amount"};
  t.rows = {{"a", "Café", "10.00"}, {"bb", "line\nbreak", ""}};
  CHECK(RenderTable(t) ==
        "ID  NAME        AMOUNT\n"
        "a   Café        10.00\n"
        "bb  line break  -\n");
  Table empty;
  empty.columns = {"id", "name"};
  CHECK(RenderTable(empty) == "ID  NAME\n");
}

TEST_CASE("CSV: RFC 4180 quoting and no spreadsheet formulas", "[ctl][unit]") {
  CHECK(CsvField("plain") == "plain");
  CHECK(CsvField("a,b") == "\"a,b\"");
  CHECK(CsvField("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(CsvField("two\nlines") == "\"two\nlines\"");
  CHECK(CsvField("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"");
  CHECK(CsvField("@cmd") == "'@cmd");
  CHECK(CsvField("+1 555") == "'+1 555");
  CHECK(CsvField("-10.00") == "-10.00");  // a negative amount stays a number
  CHECK(CsvField("-5") == "-5");
  CHECK(CsvField("-") == "'-");
  Table t;
  t.columns = {"affiliate", "amount"};
  t.rows = {{"a1", "10.00"}, {"a,2", ""}};
  CHECK(RenderCsv(t) == "affiliate,amount\na1,10.00\n\"a,2\",\n");
}

TEST_CASE("flattening: dotted keys, indexed arrays, exact number spelling", "[ctl][unit]") {
  json::value v = json::parse(
      R"({"id":"x","n":3,"ok":true,"none":null,"plan":{"events":{"sale":{"cpa":"2.50"}}},)"
      R"("items":[{"a":"1.00"},{"a":"2.00"}],"tags":[],"obj":{},"big":18446744073709551615})");
  std::vector<std::pair<std::string, std::string>> rows = Flatten(v);
  std::vector<std::pair<std::string, std::string>> want = {{"id", "x"},
                                                           {"n", "3"},
                                                           {"ok", "true"},
                                                           {"none", ""},
                                                           {"plan.events.sale.cpa", "2.50"},
                                                           {"items.0.a", "1.00"},
                                                           {"items.1.a", "2.00"},
                                                           {"tags", "[]"},
                                                           {"obj", "{}"},
                                                           {"big", "18446744073709551615"}};
  CHECK(rows == want);
  CHECK(Cell(json::value(1.5)) == "1.5");
  CHECK(Cell(json::value(0.25)) == "0.25");
  CHECK(Cell(json::value(-3)) == "-3");
  Table kv = KeyValueTable(json::parse(R"({"a":{"b":1}})"));
  CHECK(kv.columns == std::vector<std::string>{"key", "value"});
  CHECK(kv.rows == std::vector<std::vector<std::string>>{{"a.b", "1"}});
}

TEST_CASE("UrlEncode keeps only unreserved characters", "[ctl][unit]") {
  CHECK(UrlEncode("a-b_c.d~E9") == "a-b_c.d~E9");
  CHECK(UrlEncode("a/b?c d&é") == "a%2Fb%3Fc%20d%26%C3%A9");
}

}  // namespace ricochet::ctl
