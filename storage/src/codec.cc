#include "codec.h"

#include <cstring>

#include "attribution/calendar.h"

namespace ricochet::storage::codec {
namespace {
constexpr uint8_t kClickFormat = 1;
constexpr size_t kMaxCounterFields = 64;
}  // namespace

void PutBigEndian64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

void PutBigEndian32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint32_t GetBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void PutVarint32(std::string& out, uint32_t n) {
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

void PutLengthPrefixed(std::string& out, std::string_view s) {
  PutVarint32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

bool Reader::GetByte(uint8_t* v) {
  if (in_.empty()) return false;
  *v = static_cast<uint8_t>(in_[0]);
  in_.remove_prefix(1);
  return true;
}

bool Reader::GetFixed64(uint64_t* v) {
  if (in_.size() < 8) return false;
  *v = GetBigEndian64(in_.data());
  in_.remove_prefix(8);
  return true;
}

bool Reader::GetVarint32(uint32_t* v) {
  uint32_t result = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (in_.empty()) return false;
    uint8_t byte = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    result |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *v = result;
      return true;
    }
  }
  return false;
}

bool Reader::GetLengthPrefixed(std::string* s) {
  uint32_t n;
  if (!GetVarint32(&n) || in_.size() < n) return false;
  s->assign(in_.data(), n);
  in_.remove_prefix(n);
  return true;
}

std::string ClickKey(int64_t time_ms, std::string_view click_id) {
  std::string key;
  ClickKey(time_ms, click_id, &key);
  return key;
}

void ClickKey(int64_t time_ms, std::string_view click_id, std::string* key) {
  key->clear();
  PutBigEndian64(*key, static_cast<uint64_t>(time_ms));
  key->append(click_id);
}

std::string EncodeClick(const ClickRecord& c) {
  std::string out;
  out.reserve(64 + c.offer.size() + c.affiliate.size() + c.user_agent.size());
  EncodeClick(c, &out);
  return out;
}

void EncodeClick(const ClickRecord& c, std::string* value) {
  std::string& out = *value;
  out.clear();
  out.push_back(static_cast<char>(kClickFormat));
  out.push_back(static_cast<char>(c.klass));
  out.push_back(c.attributable ? 1 : 0);
  PutLengthPrefixed(out, c.offer);
  PutLengthPrefixed(out, c.affiliate);
  for (const std::string& s : c.subs) PutLengthPrefixed(out, s);
  PutLengthPrefixed(out, c.source);
  PutLengthPrefixed(out, c.client_ip);
  PutLengthPrefixed(out, c.user_agent);
  PutLengthPrefixed(out, c.visitor_id);
  PutLengthPrefixed(out, c.referer);
  if (c.dedupe_key) {
    out.push_back(1);
    out.append(reinterpret_cast<const char*>(c.dedupe_key->data()), c.dedupe_key->size());
  } else {
    out.push_back(0);
  }
}

bool DecodeClick(std::string_view key, std::string_view value, ClickRecord* c) {
  if (key.size() < 8) return false;
  c->time_ms = static_cast<int64_t>(GetBigEndian64(key.data()));
  c->click_id.assign(key.substr(8));
  Reader r(value);
  uint8_t format, klass, attributable, has_key;
  if (!r.GetByte(&format) || format != kClickFormat) return false;
  if (!r.GetByte(&klass) || !r.GetByte(&attributable)) return false;
  auto k = attribution::ClickClassFromByte(klass);
  if (!k) return false;
  c->klass = *k;
  c->attributable = attributable != 0;
  if (!r.GetLengthPrefixed(&c->offer) || !r.GetLengthPrefixed(&c->affiliate)) return false;
  for (std::string& s : c->subs) {
    if (!r.GetLengthPrefixed(&s)) return false;
  }
  if (!r.GetLengthPrefixed(&c->source) || !r.GetLengthPrefixed(&c->client_ip) ||
      !r.GetLengthPrefixed(&c->user_agent) || !r.GetLengthPrefixed(&c->visitor_id) ||
      !r.GetLengthPrefixed(&c->referer) || !r.GetByte(&has_key)) {
    return false;
  }
  if (has_key) {
    attribution::DedupeKey dk;
    for (uint8_t& b : dk) {
      if (!r.GetByte(&b)) return false;
    }
    c->dedupe_key = dk;
  } else {
    c->dedupe_key.reset();
  }
  return r.done();
}

std::string VisitorKey(std::string_view offer, std::string_view visitor, int64_t time_ms) {
  std::string key;
  key.reserve(offer.size() + visitor.size() + 10);
  key.append(offer);
  key.push_back('\0');
  key.append(visitor);
  key.push_back('\0');
  PutBigEndian64(key, static_cast<uint64_t>(time_ms));
  return key;
}

std::string CounterKey(int32_t day, std::string_view offer, std::string_view affiliate,
                       std::string_view sub1) {
  std::string key;
  CounterKey(day, offer, affiliate, sub1, &key);
  return key;
}

void CounterKey(int32_t day, std::string_view offer, std::string_view affiliate,
                std::string_view sub1, std::string* key) {
  key->clear();
  key->reserve(7 + offer.size() + affiliate.size() + sub1.size());
  key->push_back('C');
  // Offset so that days before 1970 would still sort correctly.
  PutBigEndian32(*key, static_cast<uint32_t>(day) ^ 0x80000000u);
  key->append(offer);
  key->push_back('\0');
  key->append(affiliate);
  key->push_back('\0');
  key->append(sub1);
}

int32_t CounterKeyDay(std::string_view key) {
  return static_cast<int32_t>(GetBigEndian32(key.data() + 1) ^ 0x80000000u);
}

bool DecodeCounterKey(std::string_view key, CounterRow* row) {
  if (key.size() < 7 || key[0] != 'C') return false;
  row->day = CounterKeyDay(key);
  std::string_view rest = key.substr(5);
  size_t a = rest.find('\0');
  if (a == std::string_view::npos) return false;
  size_t b = rest.find('\0', a + 1);
  if (b == std::string_view::npos) return false;
  row->offer.assign(rest.substr(0, a));
  row->affiliate.assign(rest.substr(a + 1, b - a - 1));
  row->sub1.assign(rest.substr(b + 1));
  return true;
}

std::string EncodeCounters(const int64_t* values, size_t n) {
  std::string out(n * 8, '\0');
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = static_cast<uint64_t>(values[i]);
    for (int b = 0; b < 8; ++b) out[i * 8 + b] = static_cast<char>((v >> (b * 8)) & 0xff);
  }
  return out;
}

bool AddCounters(std::string_view operand, std::string* acc) {
  if (operand.size() % 8 != 0 || operand.size() > kMaxCounterFields * 8) return false;
  if (acc->size() % 8 != 0 || acc->size() > kMaxCounterFields * 8) return false;
  if (acc->size() < operand.size()) acc->resize(operand.size(), '\0');
  for (size_t off = 0; off < operand.size(); off += 8) {
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 8; ++i) {
      a |= static_cast<uint64_t>(static_cast<uint8_t>((*acc)[off + i])) << (i * 8);
      b |= static_cast<uint64_t>(static_cast<uint8_t>(operand[off + i])) << (i * 8);
    }
    int64_t sum;
    if (__builtin_add_overflow(static_cast<int64_t>(a), static_cast<int64_t>(b), &sum)) {
      return false;
    }
    for (int i = 0; i < 8; ++i) {
      (*acc)[off + i] = static_cast<char>((static_cast<uint64_t>(sum) >> (i * 8)) & 0xff);
    }
  }
  return true;
}

int32_t DayFromMillis(int64_t ms) { return attribution::UtcDay(ms); }

std::string JournalKey(uint64_t seq) {
  std::string key(kJournalPrefix);
  PutBigEndian64(key, seq);
  return key;
}

bool DecodeJournalKey(std::string_view key, uint64_t* seq) {
  if (key.size() != kJournalPrefix.size() + 8 || !key.starts_with(kJournalPrefix)) return false;
  *seq = GetBigEndian64(key.data() + kJournalPrefix.size());
  return true;
}

bool EncodeCounterDeltas(const CounterDeltas& rows, std::string* out) {
  out->clear();
  out->reserve(rows.size() * 48);
  for (const auto& [key, values] : rows) {
    size_t n = values.size();
    while (n > 0 && values[n - 1] == 0) --n;
    PutLengthPrefixed(*out, key);
    out->push_back(static_cast<char>(n));
    for (size_t i = 0; i < n; ++i) {
      if (values[i] < 0 || values[i] > UINT32_MAX) return false;
      PutVarint32(*out, static_cast<uint32_t>(values[i]));
    }
  }
  return true;
}

bool AddCounterDeltas(std::string_view value, CounterDeltas* rows) {
  Reader r(value);
  std::string key;
  while (!r.done()) {
    uint8_t n;
    if (!r.GetLengthPrefixed(&key) || !r.GetByte(&n) || n > kCounterFieldCount) return false;
    std::array<int64_t, kCounterFieldCount>& row = (*rows)[key];
    for (size_t i = 0; i < n; ++i) {
      uint32_t v;
      if (!r.GetVarint32(&v) || __builtin_add_overflow(row[i], int64_t{v}, &row[i])) return false;
    }
  }
  return true;
}

namespace {
constexpr uint8_t kConversionFormat = 2;
constexpr uint8_t kLedgerFormat = 1;
constexpr uint8_t kAuditFormat = 1;

void PutI64(std::string& out, int64_t v) { PutBigEndian64(out, static_cast<uint64_t>(v)); }
bool GetI64(Reader& r, int64_t* v) {
  uint64_t u;
  if (!r.GetFixed64(&u)) return false;
  *v = static_cast<int64_t>(u);
  return true;
}
std::string PrefixKey(char kind, int32_t period) {
  std::string key(1, kind);
  PutBigEndian32(key, static_cast<uint32_t>(period) ^ 0x80000000u);
  return key;
}
}  // namespace

std::string EncodeConversion(const ConversionRecord& c) {
  std::string out;
  out.push_back(static_cast<char>(kConversionFormat));
  for (const std::string* f : {&c.id, &c.idempotency_key, &c.offer, &c.affiliate, &c.click_id,
                               &c.sub1, &c.event, &c.order_id, &c.currency, &c.note}) {
    PutLengthPrefixed(out, *f);
  }
  PutI64(out, c.amount);
  out.push_back(c.has_amount ? 1 : 0);
  out.push_back(static_cast<char>(c.status));
  out.push_back(static_cast<char>(c.reason));
  PutI64(out, c.time_ms);
  PutI64(out, c.click_time_ms);
  PutI64(out, c.updated_ms);
  PutI64(out, static_cast<int64_t>(c.commissions.size()));
  for (const Beneficiary& b : c.commissions) {
    PutLengthPrefixed(out, b.affiliate);
    PutI64(out, b.tier);
    PutI64(out, b.amount);
  }
  return out;
}

bool DecodeConversion(std::string_view value, ConversionRecord* c) {
  Reader r(value);
  uint8_t format, has_amount, status, reason;
  if (!r.GetByte(&format) || format != kConversionFormat) return false;
  for (std::string* f : {&c->id, &c->idempotency_key, &c->offer, &c->affiliate, &c->click_id,
                         &c->sub1, &c->event, &c->order_id, &c->currency, &c->note}) {
    if (!r.GetLengthPrefixed(f)) return false;
  }
  int64_t n;
  if (!GetI64(r, &c->amount) || !r.GetByte(&has_amount) || !r.GetByte(&status) ||
      !r.GetByte(&reason) || !GetI64(r, &c->time_ms) || !GetI64(r, &c->click_time_ms) ||
      !GetI64(r, &c->updated_ms) || !GetI64(r, &n)) {
    return false;
  }
  if (status > static_cast<uint8_t>(attribution::ConversionStatus::kPaid) ||
      reason > static_cast<uint8_t>(attribution::Reason::kInvalidAffiliate) || n < 0 || n > 16) {
    return false;
  }
  c->has_amount = has_amount != 0;
  c->status = static_cast<attribution::ConversionStatus>(status);
  c->reason = static_cast<attribution::Reason>(reason);
  c->commissions.resize(static_cast<size_t>(n));
  for (Beneficiary& b : c->commissions) {
    int64_t tier;
    if (!r.GetLengthPrefixed(&b.affiliate) || !GetI64(r, &tier) || !GetI64(r, &b.amount))
      return false;
    b.tier = static_cast<int>(tier);
  }
  return r.done();
}

std::string OutboxKey(OutboxState state, std::string_view id) {
  std::string key(1, static_cast<char>(state));
  key.append(id);
  return key;
}

std::string EncodeOutbox(const OutboxEntry& o) {
  std::string out;
  out.push_back(2);  // format
  for (const std::string* f : {&o.id, &o.conversion_id, &o.affiliate, &o.url, &o.last_error}) {
    PutLengthPrefixed(out, *f);
  }
  out.push_back(static_cast<char>(o.state));
  PutI64(out, o.attempts);
  PutI64(out, o.created_ms);
  PutI64(out, o.next_attempt_ms);
  PutI64(out, o.last_attempt_ms);
  PutI64(out, o.last_status);
  return out;
}

bool DecodeOutbox(std::string_view value, OutboxEntry* o) {
  Reader r(value);
  uint8_t format, state;
  if (!r.GetByte(&format) || format != 2) return false;
  for (std::string* f : {&o->id, &o->conversion_id, &o->affiliate, &o->url, &o->last_error}) {
    if (!r.GetLengthPrefixed(f)) return false;
  }
  int64_t last_status;
  if (!r.GetByte(&state) || state > 2 || !GetI64(r, &o->attempts) || !GetI64(r, &o->created_ms) ||
      !GetI64(r, &o->next_attempt_ms) || !GetI64(r, &o->last_attempt_ms) ||
      !GetI64(r, &last_status) || last_status < 0 || last_status > 999) {
    return false;
  }
  o->last_status = static_cast<int32_t>(last_status);
  o->state = static_cast<OutboxState>(state);
  return r.done();
}

std::string EncodePayout(const PayoutRecord& p) {
  std::string out;
  out.push_back(1);  // format
  PutLengthPrefixed(out, p.id);
  PutLengthPrefixed(out, p.currency);
  PutI64(out, p.min_amount);
  PutI64(out, p.time_ms);
  PutI64(out, static_cast<int64_t>(p.items.size()));
  for (const PayoutItem& i : p.items) {
    PutLengthPrefixed(out, i.affiliate);
    PutI64(out, i.amount);
    PutI64(out, i.entries);
  }
  return out;
}

bool DecodePayout(std::string_view value, PayoutRecord* p) {
  Reader r(value);
  uint8_t format;
  int64_t n;
  if (!r.GetByte(&format) || format != 1 || !r.GetLengthPrefixed(&p->id) ||
      !r.GetLengthPrefixed(&p->currency) || !GetI64(r, &p->min_amount) || !GetI64(r, &p->time_ms) ||
      !GetI64(r, &n) || n < 0 || static_cast<uint64_t>(n) > value.size()) {
    return false;
  }
  p->items.resize(static_cast<size_t>(n));
  for (PayoutItem& i : p->items) {
    if (!r.GetLengthPrefixed(&i.affiliate) || !GetI64(r, &i.amount) || !GetI64(r, &i.entries)) {
      return false;
    }
  }
  return r.done();
}

std::string LedgerKey(uint64_t seq) {
  std::string key;
  PutBigEndian64(key, seq);
  return key;
}

std::string LedgerCanonical(const LedgerEntry& e) {
  std::string out;
  out.push_back(static_cast<char>(kLedgerFormat));
  PutBigEndian64(out, e.seq);
  PutLengthPrefixed(out, e.conversion_id);
  PutLengthPrefixed(out, e.affiliate);
  PutI64(out, e.tier);
  out.push_back(static_cast<char>(e.kind));
  PutI64(out, e.amount);
  PutLengthPrefixed(out, e.currency);
  out.push_back(static_cast<char>(e.status));
  PutI64(out, e.time_ms);
  return out;
}

std::string EncodeLedgerEntry(const LedgerEntry& e) {
  return LedgerCanonical(e) + e.prev_hash + e.hash;
}

bool DecodeLedgerEntry(std::string_view key, std::string_view value, LedgerEntry* e) {
  if (key.size() != 8 || value.size() < 64) return false;
  std::string_view body = value.substr(0, value.size() - 64);
  Reader r(body);
  uint8_t format, kind, status;
  uint64_t seq;
  int64_t tier;
  if (!r.GetByte(&format) || format != kLedgerFormat || !r.GetFixed64(&seq) ||
      !r.GetLengthPrefixed(&e->conversion_id) || !r.GetLengthPrefixed(&e->affiliate) ||
      !GetI64(r, &tier) || !r.GetByte(&kind) || !GetI64(r, &e->amount) ||
      !r.GetLengthPrefixed(&e->currency) || !r.GetByte(&status) || !GetI64(r, &e->time_ms) ||
      !r.done()) {
    return false;
  }
  if (seq != GetBigEndian64(key.data()) || kind > 3 ||
      status > static_cast<uint8_t>(attribution::ConversionStatus::kPaid)) {
    return false;
  }
  e->seq = seq;
  e->tier = static_cast<int>(tier);
  e->kind = static_cast<attribution::LedgerKind>(kind);
  e->status = static_cast<attribution::ConversionStatus>(status);
  e->prev_hash.assign(value.substr(value.size() - 64, 32));
  e->hash.assign(value.substr(value.size() - 32));
  return true;
}

std::string AuditKey(int64_t time_ms, uint64_t seq) {
  std::string key(1, 'R');
  PutI64(key, time_ms);
  PutBigEndian64(key, seq);
  return key;
}

std::string AuditSeqKey(uint64_t seq) {
  std::string key(1, 'S');
  PutBigEndian64(key, seq);
  return key;
}

std::string EncodeAudit(const AuditRecord& a) {
  std::string out;
  out.push_back(static_cast<char>(kAuditFormat));
  for (const std::string* f : {&a.method, &a.target, &a.reason, &a.actor, &a.operator_name,
                               &a.client_ip, &a.user_agent, &a.body_sha256}) {
    PutLengthPrefixed(out, *f);
  }
  PutI64(out, a.status);
  PutBigEndian64(out, a.body_bytes);
  return out;
}

bool DecodeAudit(std::string_view key, std::string_view value, AuditRecord* a) {
  if (key.size() != 17 || key[0] != 'R') return false;
  a->time_ms = static_cast<int64_t>(GetBigEndian64(key.data() + 1));
  a->seq = GetBigEndian64(key.data() + 9);
  Reader r(value);
  uint8_t format;
  if (!r.GetByte(&format) || format != kAuditFormat) return false;
  for (std::string* f : {&a->method, &a->target, &a->reason, &a->actor, &a->operator_name,
                         &a->client_ip, &a->user_agent, &a->body_sha256}) {
    if (!r.GetLengthPrefixed(f)) return false;
  }
  int64_t status;
  if (!GetI64(r, &status) || !r.GetFixed64(&a->body_bytes) || status < 0 || status > 999 ||
      (!a->body_sha256.empty() && a->body_sha256.size() != 32)) {
    return false;
  }
  a->status = static_cast<int32_t>(status);
  return r.done();
}

std::string BalanceKey(std::string_view affiliate, std::string_view currency) {
  std::string key(affiliate);
  key.push_back('\0');
  key.append(currency);
  return key;
}

std::string DailyCountKey(int32_t day, std::string_view offer) {
  std::string key = PrefixKey('D', day);
  key.append(offer);
  return key;
}

std::string MoneyKey(int32_t day, std::string_view offer, std::string_view affiliate,
                     std::string_view sub1, std::string_view currency) {
  std::string key = PrefixKey('M', day);
  for (std::string_view part : {offer, affiliate, sub1}) {
    key.append(part);
    key.push_back('\0');
  }
  key.append(currency);
  return key;
}

bool DecodeMoneyKey(std::string_view key, MoneyRow* row) {
  if (key.size() < 8 || key[0] != 'M') return false;
  row->day = static_cast<int32_t>(GetBigEndian32(key.data() + 1) ^ 0x80000000u);
  std::string_view rest = key.substr(5);
  std::string* parts[4] = {&row->offer, &row->affiliate, &row->sub1, &row->currency};
  for (int i = 0; i < 3; ++i) {
    size_t z = rest.find('\0');
    if (z == std::string_view::npos) return false;
    parts[i]->assign(rest.substr(0, z));
    rest = rest.substr(z + 1);
  }
  parts[3]->assign(rest);
  return true;
}

std::string MonthCountKey(int32_t month, std::string_view offer, std::string_view affiliate) {
  std::string key = PrefixKey('V', month);
  key.append(offer);
  key.push_back('\0');
  key.append(affiliate);
  return key;
}

int64_t PackedAt(std::string_view value, size_t i) {
  uint64_t x = 0;
  for (size_t b = 0; b < 8; ++b) {
    x |= static_cast<uint64_t>(static_cast<uint8_t>(value[i * 8 + b])) << (b * 8);
  }
  return static_cast<int64_t>(x);
}

bool FirstCounter(std::string_view value, int64_t* out) {
  if (value.size() % 8 != 0) return false;
  *out = value.empty() ? 0 : PackedAt(value, 0);
  return true;
}

}  // namespace ricochet::storage::codec
