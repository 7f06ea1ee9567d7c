// Rendering of admin API answers: aligned text tables, RFC 4180 CSV, and flattening of JSON
// objects into key/value rows. Pure functions; money stays the decimal string the server sent.
#ifndef RICOCHET_CTL_OUTPUT_H_
#define RICOCHET_CTL_OUTPUT_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "boost/json/value.hpp"

namespace ricochet::ctl {

enum class Format { kTable, kJson, kCsv };

// Rows of cells under named columns. Column names are the API's JSON field names; tables show
// them upper-cased, CSV as they are.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

// Columns left-aligned, two spaces apart, header upper-cased, one line per row. Widths count
// UTF-8 code points; control characters in cells become spaces so a row stays one line. Empty
// cells show as "-".
std::string RenderTable(const Table& table);

// A header line with the column names, then one record per line (RFC 4180 quoting, "\n" line
// ends like the server's payout CSV). Fields with a comma, quote, CR or LF are quoted. A text field
// that a spreadsheet would run as a formula (starting with = + - @ tab or CR, and not a plain
// number) gets a leading apostrophe.
std::string RenderCsv(const Table& table);
std::string CsvField(std::string_view field);

// One cell: a string as is, null as "", integers and booleans as JSON spells them, other
// numbers in their shortest decimal form (1.5), and objects or arrays as compact JSON.
std::string Cell(const boost::json::value& v);

// Flattens nested objects into dotted keys and arrays into indexed ones
// ({"a":{"b":1},"c":[{"d":2}]} -> a.b=1, c.0.d=2), in document order. Empty objects and
// arrays stay as one row ("{}", "[]").
std::vector<std::pair<std::string, std::string>> Flatten(const boost::json::value& v);

// A two-column table ("key", "value") of Flatten(v).
Table KeyValueTable(const boost::json::value& v);

// One row per object of `items`, one cell per column (a missing field is "").
Table ObjectsTable(const boost::json::array& items, const std::vector<std::string>& columns);

}  // namespace ricochet::ctl

#endif  // RICOCHET_CTL_OUTPUT_H_
