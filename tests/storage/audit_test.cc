// The audit trail's column family: seq and time order, cursors, reopening, the codec.
#include <string>
#include <vector>

#include "catch2/catch.hpp"
#include "codec.h"
#include "open_store.h"
#include "storage/store.h"
#include "temp_dir.h"

namespace ricochet::storage {
namespace {

AuditRecord Call(int64_t time_ms, std::string method, std::string target, int status) {
  AuditRecord a;
  a.time_ms = time_ms;
  a.method = std::move(method);
  a.target = std::move(target);
  a.status = status;
  a.actor = "admin";
  a.client_ip = "127.0.0.1";
  return a;
}

// seq of every record ScanAudit visits in `range`.
std::vector<uint64_t> Seqs(Store& store, const AuditRange& range) {
  std::vector<uint64_t> out;
  REQUIRE(store
              .ScanAudit(range,
                         [&](const AuditRecord& a) {
                           out.push_back(a.seq);
                           return true;
                         })
              .ok());
  return out;
}

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 20'000 * kDay;  // 2024-10-04T00:00:00Z

}  // namespace

TEST_CASE("audit records get 1, 2, 3 ... and never go back in time", "[store][audit]") {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  std::vector<AuditRecord> written;
  for (auto [t, method] : std::vector<std::pair<int64_t, std::string>>{
           {kT0 + 10, "PUT"}, {kT0 + 20, "POST"}, {kT0 + 5, "DELETE"}, {kT0 + kDay, "PATCH"}}) {
    AuditRecord a = Call(t, method, "/api/x", 200);
    REQUIRE(store->AppendAudit(&a).ok());
    written.push_back(a);
  }
  CHECK(written[0].seq == 1);
  CHECK(written[1].seq == 2);
  CHECK(written[2].seq == 3);
  CHECK(written[3].seq == 4);
  // The clock went back for the third: it keeps the second's time.
  CHECK(written[2].time_ms == kT0 + 20);
  CHECK(written[3].time_ms == kT0 + kDay);

  std::vector<AuditRecord> read;
  REQUIRE(store
              ->ScanAudit({},
                          [&](const AuditRecord& a) {
                            read.push_back(a);
                            return true;
                          })
              .ok());
  CHECK(read == written);

  CHECK(Seqs(*store, {.newest_first = true}) == std::vector<uint64_t>{4, 3, 2, 1});
  CHECK(Seqs(*store, {.after_seq = 2}) == std::vector<uint64_t>{3, 4});
  CHECK(Seqs(*store, {.after_seq = 4}).empty());
  CHECK(Seqs(*store, {.after_seq = 99}).empty());
  CHECK(Seqs(*store, {.before_seq = 3}) == std::vector<uint64_t>{1, 2});
  CHECK(Seqs(*store, {.before_seq = 3, .newest_first = true}) == std::vector<uint64_t>{2, 1});
  CHECK(Seqs(*store, {.before_seq = 1}).empty());
  CHECK(Seqs(*store, {.after_seq = 1, .before_seq = 4}) == std::vector<uint64_t>{2, 3});
  CHECK(Seqs(*store, {.after_seq = 1, .before_seq = 2}).empty());
  // Time bounds: the first day holds 1..3, the next day 4.
  CHECK(Seqs(*store, {.from_ms = kT0, .to_ms = kT0 + kDay - 1}) == std::vector<uint64_t>{1, 2, 3});
  CHECK(Seqs(*store, {.from_ms = kT0 + kDay}) == std::vector<uint64_t>{4});
  CHECK(Seqs(*store, {.from_ms = kT0 + 15, .to_ms = kT0 + 20, .newest_first = true}) ==
        std::vector<uint64_t>{3, 2});
  CHECK(Seqs(*store, {.from_ms = kT0 + 15, .after_seq = 2}) == std::vector<uint64_t>{3, 4});
  CHECK(Seqs(*store, {.to_ms = kT0 + 20, .before_seq = 3, .newest_first = true}) ==
        std::vector<uint64_t>{2, 1});
  CHECK(Seqs(*store, {.from_ms = kT0 + 2 * kDay}).empty());
  // fn returning false stops the scan.
  int visited = 0;
  REQUIRE(store->ScanAudit({}, [&](const AuditRecord&) { return ++visited < 2; }).ok());
  CHECK(visited == 2);
}

TEST_CASE("the audit trail survives a reopen and continues its seq", "[store][audit]") {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path());
    for (int i = 0; i < 3; ++i) {
      AuditRecord a = Call(kT0 + 100, "PUT", "/api/offers/o" + std::to_string(i), 200);
      REQUIRE(store->AppendAudit(&a).ok());
    }
    REQUIRE(store->Close().ok());
  }
  auto store = OpenStore(dir.path());
  AuditRecord a = Call(kT0 + 50, "POST", "/api/backup", 400);  // an earlier clock after restart
  REQUIRE(store->AppendAudit(&a).ok());
  CHECK(a.seq == 4);
  CHECK(a.time_ms == kT0 + 100);
  std::vector<std::string> targets;
  REQUIRE(store
              ->ScanAudit({},
                          [&](const AuditRecord& r) {
                            targets.push_back(r.target);
                            return true;
                          })
              .ok());
  CHECK(targets == std::vector<std::string>{"/api/offers/o0", "/api/offers/o1", "/api/offers/o2",
                                            "/api/backup"});
}

TEST_CASE("audit records round-trip and reject damaged encodings", "[codec][audit]") {
  AuditRecord a = Call(kT0 + 7, "PUT", "/api/offers/spring?token=REDACTED", 400);
  a.seq = 42;
  a.reason = "bad_url";
  a.actor = "unauthenticated";
  a.operator_name = "alice";
  a.user_agent = "ricochetctl/0.1.0";
  a.body_bytes = 17;
  a.body_sha256 = std::string(32, '\xab');
  const std::string key = codec::AuditKey(a.time_ms, a.seq);
  const std::string value = codec::EncodeAudit(a);
  AuditRecord back;
  REQUIRE(codec::DecodeAudit(key, value, &back));
  CHECK(back == a);
  // Keys order by time, then seq; the seq index sorts after every record.
  CHECK(codec::AuditKey(kT0, 9) < codec::AuditKey(kT0, 10));
  CHECK(codec::AuditKey(kT0, 99) < codec::AuditKey(kT0 + 1, 1));
  CHECK(codec::AuditKey(INT64_MAX, UINT64_MAX) < codec::AuditSeqKey(0));
  for (size_t n = 0; n < value.size(); ++n) {
    INFO("truncated to " << n);
    CHECK_FALSE(codec::DecodeAudit(key, value.substr(0, n), &back));
  }
  CHECK_FALSE(codec::DecodeAudit(key, value + "x", &back));
  CHECK_FALSE(codec::DecodeAudit(key.substr(1), value, &back));
  CHECK_FALSE(codec::DecodeAudit(codec::AuditSeqKey(42), value, &back));
  std::string bad_format = value;
  bad_format[0] = 9;
  CHECK_FALSE(codec::DecodeAudit(key, bad_format, &back));
}

}  // namespace ricochet::storage
