// Record encodings of the conversion commit and the click batch: what the writer threads spend
// per record before RocksDB sees it. The `bytes` counter is the encoded size, which
// bench/rocksdb_baseline.cc copies for its batch shape.
#include "benchmark/benchmark.h"
#include "codec.h"
#include "storage/conversions.h"
#include "storage/records.h"

namespace ricochet::storage {
namespace {

LedgerEntry SampleEntry() {
  LedgerEntry e;
  e.seq = 1'234'567;
  e.conversion_id = "cv_---0cVSrZRZ----0";
  e.affiliate = "affiliate-1234";
  e.tier = 1;
  e.kind = attribution::LedgerKind::kCommission;
  e.amount = 4'499'000;
  e.currency = "USD";
  e.status = attribution::ConversionStatus::kApproved;
  e.time_ms = 1'763'000'000'000;
  ChainLedgerEntry(&e, kGenesisHash);
  return e;
}

ConversionRecord SampleConversion() {
  ConversionRecord c;
  c.id = "cv_---0cVSrZRZ----0";
  c.idempotency_key = std::string("o") + '\0' + "offer-1" + '\0' + "ORDER-7f3a9c-000123";
  c.offer = "offer-1";
  c.affiliate = "affiliate-1234";
  c.click_id = "AQGiBwkcMQAAZvggCihxfqmn4JBuqUEu";
  c.sub1 = "campaign-summer";
  c.event = "sale";
  c.order_id = "ORDER-7f3a9c-000123";
  c.currency = "USD";
  c.amount = 19'990'000;
  c.has_amount = true;
  c.time_ms = 1'763'000'000'000;
  c.click_time_ms = c.time_ms - 60'000;
  c.updated_ms = c.time_ms;
  c.commissions = {{"affiliate-1234", 1, 4'499'000}, {"parent-aff", 2, 500'000}};
  return c;
}

void BM_EncodeLedgerEntry(benchmark::State& state) {
  LedgerEntry e = SampleEntry();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string v = codec::EncodeLedgerEntry(e);
    bytes = v.size();
    benchmark::DoNotOptimize(v);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodeLedgerEntry);

// Canonical encoding plus SHA-256 over the previous hash: the per-entry cost of the chain.
void BM_ChainLedgerEntry(benchmark::State& state) {
  LedgerEntry e = SampleEntry();
  std::string head = kGenesisHash;
  for (auto _ : state) {
    ++e.seq;
    head = ChainLedgerEntry(&e, head);
    benchmark::DoNotOptimize(head);
  }
}
BENCHMARK(BM_ChainLedgerEntry);

void BM_DecodeLedgerEntry(benchmark::State& state) {
  LedgerEntry e = SampleEntry();
  std::string key = codec::LedgerKey(e.seq);
  std::string value = codec::EncodeLedgerEntry(e);
  LedgerEntry out;
  for (auto _ : state) benchmark::DoNotOptimize(codec::DecodeLedgerEntry(key, value, &out));
}
BENCHMARK(BM_DecodeLedgerEntry);

void BM_EncodeConversion(benchmark::State& state) {
  ConversionRecord c = SampleConversion();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string v = codec::EncodeConversion(c);
    bytes = v.size();
    benchmark::DoNotOptimize(v);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodeConversion);

void BM_EncodeOutbox(benchmark::State& state) {
  OutboxEntry o;
  o.id = "ob_---0cVSrZRZ----0";
  o.conversion_id = "cv_---0cVSrZRZ----0";
  o.affiliate = "affiliate-1234";
  o.url =
      "https://postback.affiliate-network.example/track/conversion?clickid="
      "AQGiBwkcMQAAZvggCihxfqmn4JBuqUEu&payout=4.50&amount=19.99&currency=USD&event=sale&status="
      "approved&order=ORDER-7f3a9c-000123&event_id=ob_---0cVSrZRZ----0";
  o.created_ms = o.next_attempt_ms = 1'763'000'000'000;
  size_t bytes = 0;
  for (auto _ : state) {
    std::string v = codec::EncodeOutbox(o);
    bytes = v.size();
    benchmark::DoNotOptimize(v);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodeOutbox);

void BM_EncodeClick(benchmark::State& state) {
  ClickRecord c;
  c.click_id = "AQGiBwkcMQAAZvggCihxfqmn4JBuqUEu";
  c.time_ms = 1'763'000'000'000;
  c.offer = "offer-1";
  c.affiliate = "affiliate-1234";
  c.subs = {"campaign-summer", "adset-42", "", "", ""};
  c.source = "facebook";
  c.client_ip = "203.0.113.77";
  c.user_agent =
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36";
  c.visitor_id = "rcySpwheVYgRyRGDqChujg";
  c.referer = "https://news.example.org/article/123";
  size_t bytes = 0;
  for (auto _ : state) {
    std::string v = codec::EncodeClick(c);
    bytes = v.size();
    benchmark::DoNotOptimize(v);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodeClick);

}  // namespace
}  // namespace ricochet::storage
