#include "engine/url_template.h"

#include "catch2/catch.hpp"

namespace ricochet::engine {

TEST_CASE("templates substitute encoded macro values", "[macros]") {
  UrlTemplate t = UrlTemplate::Parse(
      "https://x.example/"
      "p?c={click_id}&t={transaction_id}&s={sub1}&u={unknown}&e={sub2}&{&}&{source}");
  MacroValues v{};
  v[size_t(Macro::kClickId)] = "ID";
  v[size_t(Macro::kSub1)] = "a b&c=d\r\n";
  v[size_t(Macro::kSource)] = "fb";
  CHECK(t.Render(v) == "https://x.example/p?c=ID&t=ID&s=a%20b%26c%3Dd%0D%0A&u={unknown}&e=&{&}&fb");
  CHECK(t.text().find("{click_id}") != std::string::npos);

  UrlTemplate plain = UrlTemplate::Parse("https://x.example/");
  CHECK(plain.Render(v) == "https://x.example/");
  UrlTemplate all = UrlTemplate::Parse(
      "{offer_id}|{aff_id}|{sub3}|{sub4}|{sub5}|{timestamp}|{random}|{visitor_id}|{event}|{amount}|"
      "{payout}|{currency}|{status}|{conversion_id}|{order_id}");
  MacroValues w{};
  for (size_t i = 0; i < w.size(); ++i) w[i] = "v";
  CHECK(all.Render(w) == "v|v|v|v|v|v|v|v|v|v|v|v|v|v|v");
  CHECK(UrlTemplate().empty());
}

}  // namespace ricochet::engine
