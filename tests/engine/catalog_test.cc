#include "engine/catalog.h"

#include "boost/json/serialize.hpp"
#include "catch2/catch.hpp"

namespace ricochet::engine {

TEST_CASE("offers parse with defaults and round-trip through their stored form", "[catalog]") {
  Offer o;
  FieldError e;
  REQUIRE(ParseOffer("o1", R"({"url":"https://x.example/?c={click_id}"})", &o, &e));
  CHECK(o.id == "o1");
  CHECK(o.active);
  CHECK(o.currency == "USD");
  CHECK(o.attribution == Attribution::kLastClick);
  CHECK(o.lookback_days == 30);
  CHECK(o.dedupe_window_s == 86400);
  CHECK(o.max_clicks_per_ip_per_minute == 0);
  CHECK(o.default_status == ConversionStatus::kApproved);
  CHECK(o.allow_pixel);
  CHECK(o.fallback_url.empty());

  const char* full = R"({"name":"N","url":"https://x.example/","fallback_url":"https://f.example/",
    "status":"paused","currency":"jpy","attribution":"first_click","lookback_days":7,
    "dedupe_window_s":0,"max_clicks_per_ip_per_minute":5,"daily_conversion_cap":100,"min_ctit_s":10,
    "default_status":"pending","postback_token":"sek","allow_pixel":false,
    "plan":{"events":{"sale":{"cpa":"100","cps_percent":"5.25"},"lead":{"cpa":"0.5"}},
            "volume_steps":[{"min_conversions":10,"cpa":"150"}],"tiers":[{"cps_percent":"1"}]}})";
  Offer f;
  REQUIRE(ParseOffer("full", full, &f, &e));
  CHECK_FALSE(f.active);
  CHECK(f.currency == "JPY");
  CHECK(f.plan.events.at("sale").cpa == 100'000'000);
  CHECK(f.plan.events.at("sale").cps_percent == 5'250'000);
  CHECK(f.plan.volume_steps->at(0).min_conversions == 10);
  std::string stored = boost::json::serialize(OfferToJson(f));
  Offer again;
  REQUIRE(ParseOffer("full", stored, &again, &e));
  CHECK(boost::json::serialize(OfferToJson(again)) == stored);
  CHECK(again.plan == f.plan);
  CHECK(stored.find(R"("cpa":"100")") != std::string::npos);  // JPY has no decimals
}

TEST_CASE("affiliates parse and validate", "[catalog]") {
  Affiliate a;
  FieldError e;
  REQUIRE(ParseAffiliate(
      "a",
      R"({"name":"A","parent":"p","postback_url":"https://aff.example/pb?c={click_id}","plan":{"events":{"sale":{"cpa":"3"}}}})",
      &a, &e));
  CHECK(a.parent == "p");
  CHECK(a.plan->events.at("sale").cpa == 3'000'000);
  CHECK_FALSE(ParseAffiliate("a", R"({"parent":"a"})", &a, &e));
  CHECK(e.reason == "bad_parent");
  CHECK_FALSE(ParseAffiliate("a", R"({"parent":"bad id"})", &a, &e));
  CHECK(e.reason == "bad_id");
  CHECK_FALSE(ParseAffiliate("a", R"({"status":1})", &a, &e));
  CHECK(e.reason == "bad_status");
  CHECK_FALSE(ParseAffiliate("a b", "{}", &a, &e));
  CHECK(e.reason == "bad_id");
}

TEST_CASE("catalog snapshots: readers see a new version after publish", "[catalog]") {
  auto first = std::make_shared<Catalog>();
  CatalogHolder holder(first, 2);
  CHECK(holder.Current(0).FindOffer("o") == nullptr);
  const Catalog& held = holder.Current(1);  // slot 1 keeps this version alive
  auto next = std::make_shared<Catalog>(*holder.Snapshot());
  Offer o;
  FieldError e;
  REQUIRE(ParseOffer("o", R"({"url":"https://x.example/"})", &o, &e));
  next->offers["o"] = std::make_shared<const Offer>(o);
  holder.Publish(next);
  CHECK(held.FindOffer("o") == nullptr);
  REQUIRE(holder.Current(0).FindOffer("o") != nullptr);
  CHECK(holder.Current(0).FindOffer("o")->url.text() == "https://x.example/");
  CHECK(holder.Current(1).FindOffer(std::string_view("o")) != nullptr);
}

TEST_CASE("index horizons: the longest dedupe window and lookback among the offers", "[catalog]") {
  Catalog c;
  CHECK(c.DedupeHorizonSeconds() == 0);
  CHECK(c.VisitorHorizonSeconds() == 0);
  Offer a, b;
  FieldError e;
  REQUIRE(ParseOffer(
      "a", R"({"url":"https://x.example/","dedupe_window_s":3600,"lookback_days":45})", &a, &e));
  REQUIRE(ParseOffer(
      "b", R"({"url":"https://x.example/","dedupe_window_s":172800,"lookback_days":7})", &b, &e));
  c.offers["a"] = std::make_shared<const Offer>(a);
  CHECK(c.DedupeHorizonSeconds() == 3600);
  CHECK(c.VisitorHorizonSeconds() == 45 * 86400);
  c.offers["b"] = std::make_shared<const Offer>(b);
  CHECK(c.DedupeHorizonSeconds() == 172800);
  CHECK(c.VisitorHorizonSeconds() == 45 * 86400);
}

}  // namespace ricochet::engine
