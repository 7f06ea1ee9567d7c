#include "engine/postback_params.h"

#include "catch2/catch.hpp"

namespace ricochet::engine {

TEST_CASE("postback parameters from the query, with every alias", "[postback]") {
  struct Case {
    const char* query;
    const char* click_id;
  };
  for (const char* alias : {"click_id", "transaction_id", "cid", "clickid", "subid"}) {
    auto p = ParsePostbackParams(std::string(alias) + "=ABC", BodyKind::kNone, "");
    REQUIRE(p.ok());
    CHECK(p->click_id == "ABC");
  }
  auto p = ParsePostbackParams(
      "goal=lead&sale_amount=19.990&currency=eur&txid=o-1&status=pending&security_token=s3c&return="
      "OK",
      BodyKind::kNone, "");
  REQUIRE(p.ok());
  CHECK(p->event == "lead");
  CHECK(p->amount == "19.990");
  CHECK(p->currency == "eur");
  CHECK(p->order_id == "o-1");
  CHECK(p->status == "pending");
  CHECK(p->token == "s3c");
  CHECK(p->return_format == "OK");
  CHECK_FALSE(p->click_id.has_value());
  CHECK(ParsePostbackParams("sum=5", BodyKind::kNone, "")->amount == "5");
  CHECK(ParsePostbackParams("adv_sub=x", BodyKind::kNone, "")->order_id == "x");
  // Canonical beats alias whatever the order; an empty value is present but empty.
  auto q = ParsePostbackParams("cid=alias&click_id=canon&amount=", BodyKind::kNone, "");
  CHECK(q->click_id == "canon");
  CHECK(q->amount == "");
}

TEST_CASE("postback parameters from form and JSON bodies", "[postback]") {
  auto form = ParsePostbackParams("event=from-query&amount=1", BodyKind::kForm,
                                  "event=from-body&transaction_id=T%2B1&order_id=o+1");
  REQUIRE(form.ok());
  CHECK(form->event == "from-body");  // the body wins at equal rank
  CHECK(form->amount == "1");
  CHECK(form->click_id == "T+1");
  CHECK(form->order_id == "o 1");

  auto json = ParsePostbackParams(
      "", BodyKind::kJson,
      R"({"clickid":"C","amount":19.990,"sum":"7","currency":"USD","order_id":12345678901234567890,)"
      R"("nested":{"amount":"999"},"list":[1,2],"flag":true,"status":null,"event":"sale"})");
  REQUIRE(json.ok());
  CHECK(json->click_id == "C");
  CHECK(json->amount == "19.990");  // the literal, not a double
  CHECK(json->order_id == "12345678901234567890");
  CHECK(json->event == "sale");
  CHECK_FALSE(json->status.has_value());
  CHECK(ParsePostbackParams("", BodyKind::kJson, R"({"amount":1e5})")->amount ==
        "1e5");  // rejected later

  for (const char* bad : {"[1]", "\"x\"", "{", "{\"a\":1} x", "12", "not json"}) {
    INFO(bad);
    CHECK_FALSE(ParsePostbackParams("", BodyKind::kJson, bad).ok());
  }
  CHECK(BodyKindOf("application/json; charset=utf-8", "{}") == BodyKind::kJson);
  CHECK(BodyKindOf("application/vnd.api+json", "{}") == BodyKind::kJson);
  CHECK(BodyKindOf("application/x-www-form-urlencoded", "a=1") == BodyKind::kForm);
  CHECK(BodyKindOf("", "a=1") == BodyKind::kForm);
  CHECK(BodyKindOf("application/json", "") == BodyKind::kNone);
}

}  // namespace ricochet::engine
