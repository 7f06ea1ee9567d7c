#include "codec.h"

#include <cstring>

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

void PutLengthPrefixed(std::string& out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
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
  key.reserve(8 + click_id.size());
  PutBigEndian64(key, static_cast<uint64_t>(time_ms));
  key.append(click_id);
  return key;
}

std::string EncodeClick(const ClickRecord& c) {
  std::string out;
  out.reserve(64 + c.offer.size() + c.affiliate.size() + c.user_agent.size());
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
  return out;
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
  key.reserve(7 + offer.size() + affiliate.size() + sub1.size());
  key.push_back('C');
  // Offset so that days before 1970 would still sort correctly.
  PutBigEndian32(key, static_cast<uint32_t>(day) ^ 0x80000000u);
  key.append(offer);
  key.push_back('\0');
  key.append(affiliate);
  key.push_back('\0');
  key.append(sub1);
  return key;
}

bool DecodeCounterKey(std::string_view key, CounterRow* row) {
  if (key.size() < 7 || key[0] != 'C') return false;
  row->day = static_cast<int32_t>(GetBigEndian32(key.data() + 1) ^ 0x80000000u);
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

int32_t DayFromMillis(int64_t ms) {
  int64_t day = ms / 86'400'000;
  if (ms < 0 && ms % 86'400'000 != 0) --day;
  return static_cast<int32_t>(day);
}

}  // namespace ricochet::storage::codec
