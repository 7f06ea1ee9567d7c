// Key and value encodings of the column families. Internal to storage/.
#ifndef RICOCHET_STORAGE_CODEC_H_
#define RICOCHET_STORAGE_CODEC_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "storage/conversions.h"
#include "storage/records.h"

namespace ricochet::storage::codec {

void PutBigEndian64(std::string& out, uint64_t v);
void PutBigEndian32(std::string& out, uint32_t v);
uint64_t GetBigEndian64(const char* p);
uint32_t GetBigEndian32(const char* p);

void PutVarint32(std::string& out, uint32_t n);
// Appends a varint32 length and the bytes.
void PutLengthPrefixed(std::string& out, std::string_view s);

// Bounds-checked reader; every getter returns false past the end or on a malformed field.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool GetByte(uint8_t* v);
  bool GetFixed64(uint64_t* v);
  bool GetLengthPrefixed(std::string* s);
  bool GetVarint32(uint32_t* v);
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

// clicks: key = BE64(time_ms) + click_id; value = EncodeClick().
std::string ClickKey(int64_t time_ms, std::string_view click_id);
std::string EncodeClick(const ClickRecord& click);
// The same into `key` or `value`, replacing what it held (a buffer reused across clicks).
void ClickKey(int64_t time_ms, std::string_view click_id, std::string* key);
void EncodeClick(const ClickRecord& click, std::string* value);
bool DecodeClick(std::string_view key, std::string_view value, ClickRecord* click);

// click_dedupe: key = 16-byte XXH3-128; value = BE64(time_ms of the unique click).
// visitors: key = offer 0x00 visitor 0x00 BE64(time_ms); value = click id.
std::string VisitorKey(std::string_view offer, std::string_view visitor, int64_t time_ms);

// counters: key = 'C' BE32(day) offer 0x00 affiliate 0x00 sub1; value = packed LE int64s.
std::string CounterKey(int32_t day, std::string_view offer, std::string_view affiliate,
                       std::string_view sub1);
// The same into `key`, whose buffer is reused (the click writer builds one per click).
void CounterKey(int32_t day, std::string_view offer, std::string_view affiliate,
                std::string_view sub1, std::string* key);
bool DecodeCounterKey(std::string_view key, CounterRow* row);
// The day of a counters key that DecodeCounterKey accepts.
int32_t CounterKeyDay(std::string_view key);
std::string EncodeCounters(const int64_t* values, size_t n);
// Adds a packed operand into `acc` element-wise (growing it); false if the operand is corrupt.
bool AddCounters(std::string_view operand, std::string* acc);

int32_t DayFromMillis(int64_t ms);

// Report counter deltas by counters key, as the click writer sums them.
using CounterDeltas = absl::flat_hash_map<std::string, std::array<int64_t, kCounterFieldCount>>;
// counters, the counter journal: key = 'J' BE64(seq); value = EncodeCounterDeltas(): per row its
// length-prefixed counters key, a byte n, and its first n values as varint32 (those after n are
// 0). False if a value is outside [0, 2^32): a batch's counts never are.
inline constexpr std::string_view kJournalPrefix = "J";
std::string JournalKey(uint64_t seq);
bool DecodeJournalKey(std::string_view key, uint64_t* seq);
bool EncodeCounterDeltas(const CounterDeltas& rows, std::string* out);
// Adds the rows of an encoded journal entry into `rows`; false if it is corrupt or a sum
// overflows (`rows` may then hold part of the entry).
bool AddCounterDeltas(std::string_view value, CounterDeltas* rows);

// conversions: key = id; value = EncodeConversion().
std::string EncodeConversion(const ConversionRecord& c);
bool DecodeConversion(std::string_view value, ConversionRecord* c);

// ledger: key = BE64(seq); value = canonical bytes + prev_hash (32) + hash (32).
std::string LedgerKey(uint64_t seq);
std::string LedgerCanonical(const LedgerEntry& e);  // what the hash covers (after prev_hash)
std::string EncodeLedgerEntry(const LedgerEntry& e);
bool DecodeLedgerEntry(std::string_view key, std::string_view value, LedgerEntry* e);

// outbox: key = OutboxKey(state, id): a state byte, then the id (time-ordered), so each state
// is one contiguous range (the sender loads only pending ones); value = EncodeOutbox().
std::string OutboxKey(OutboxState state, std::string_view id);
std::string EncodeOutbox(const OutboxEntry& o);
bool DecodeOutbox(std::string_view value, OutboxEntry* o);

// payouts: key = id; value = EncodePayout().
std::string EncodePayout(const PayoutRecord& p);
bool DecodePayout(std::string_view value, PayoutRecord* p);

// balances: key = affiliate 0x00 currency; value = packed LE int64 [pending, approved, paid].
std::string BalanceKey(std::string_view affiliate, std::string_view currency);

// audit: two key kinds in one column family.
//   'R' BE64(time_ms) BE64(seq) -> EncodeAudit()  (the records, in time order)
//   'S' BE64(seq)               -> BE64(time_ms)  (where a seq's record is: cursors)
// Both are written in one batch. 'S' sorts after 'R', so the last key holds the last seq.
std::string AuditKey(int64_t time_ms, uint64_t seq);
std::string AuditSeqKey(uint64_t seq);
std::string EncodeAudit(const AuditRecord& a);
bool DecodeAudit(std::string_view key, std::string_view value, AuditRecord* a);

// More counter-CF record kinds (after 'C', so click scans stop before them):
//   'D' BE32(day) offer                      -> [non-rejected conversions] (daily cap)
//   'M' BE32(day) offer 0 aff 0 sub1 0 cur   -> [revenue, payout]
//   'V' BE32(month) offer 0 aff              -> [non-rejected conversions] (volume steps)
std::string DailyCountKey(int32_t day, std::string_view offer);
std::string MoneyKey(int32_t day, std::string_view offer, std::string_view affiliate,
                     std::string_view sub1, std::string_view currency);
bool DecodeMoneyKey(std::string_view key, MoneyRow* row);
std::string MonthCountKey(int32_t month, std::string_view offer, std::string_view affiliate);
// The i-th int64 of a packed little-endian counter value (caller checks the size).
int64_t PackedAt(std::string_view value, size_t i);
// First int64 of a packed counter value (0 for an empty value); false if corrupt.
bool FirstCounter(std::string_view value, int64_t* out);

}  // namespace ricochet::storage::codec

#endif  // RICOCHET_STORAGE_CODEC_H_
