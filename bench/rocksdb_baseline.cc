// The raw RocksDB ceiling for postbacks: N threads each loop on db->Write(sync=true) of one batch
// shaped like the commit of one conversion (storage::Store::CommitConversions for a conversion
// with two beneficiaries and one outgoing postback), so RocksDB's own group commit merges
// concurrent writers into shared WAL fsyncs. bench/postback.sh compares Ricochet's postback
// rate with this.
//
//   rocksdb_baseline --db DIR [--threads 64] [--seconds 10]
//
// Prints one line: "RESULT writes=<n> seconds=<s> writes_per_s=<rate>".
// The DB options are the server's (storage/src/store.cc): same column families, memtable size,
// compression and background jobs. Merges are written as plain Puts of the same sizes.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace {

// Value sizes of one conversion commit, as encoded by storage/src/codec.cc (see the `bytes`
// counters of bench/storage/codec_bench.cc).
constexpr size_t kConversionBytes = 254;
constexpr size_t kLedgerEntryBytes = 138;  // two entries: tier 1 and tier 2
constexpr size_t kOutboxBytes = 320;
constexpr size_t kBalanceBytes = 24;  // [pending, approved, paid]
constexpr size_t kCounterRowBytes = 80;
constexpr size_t kMoneyBytes = 16;
constexpr size_t kCountBytes = 8;

const char* const kCfNames[] = {"default",  "conversions", "conversion_keys", "ledger",
                                "balances", "counters",    "outbox"};
enum Cf {
  kDefault,
  kConversions,
  kConversionKeys,
  kLedger,
  kBalances,
  kCounters,
  kOutbox,
};

struct Flags {
  std::string db;
  int threads = 64;
  double seconds = 10;
};

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(
      stderr,
      "rocksdb_baseline: %s\nusage: rocksdb_baseline --db DIR [--threads N] [--seconds S]\n", msg);
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--db") {
      f.db = v;
    } else if (a == "--threads") {
      f.threads = std::atoi(v);
    } else if (a == "--seconds") {
      f.seconds = std::atof(v);
    } else {
      Usage(("unknown flag " + a).c_str());
    }
  }
  if (f.db.empty()) Usage("--db is required");
  if (f.threads < 1 || f.threads > 4096) Usage("--threads must be 1..4096");
  if (!(f.seconds > 0)) Usage("--seconds must be > 0");
  return f;
}

void Check(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "rocksdb_baseline: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

std::string Filler(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    s[i] = static_cast<char>(seed >> 56);
  }
  return s;
}

std::string BigEndian64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1u << 20;
  db_options.keep_log_file_num = 5;
  db_options.max_total_wal_size = 256u << 20;
  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(128u << 20);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kCfNames) {
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    rocksdb::ColumnFamilyOptions o;
    o.write_buffer_size = 32u << 20;
    o.compression = rocksdb::kLZ4Compression;
    o.bottommost_compression = rocksdb::kZSTD;
    o.level_compaction_dynamic_level_bytes = true;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    descriptors.emplace_back(name, o);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  rocksdb::DB* raw = nullptr;
  Check(rocksdb::DB::Open(db_options, flags.db, descriptors, &cfs, &raw), "open");
  std::unique_ptr<rocksdb::DB> db(raw);

  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> stop{false};
  std::vector<uint64_t> counts(flags.threads, 0);
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < flags.threads; ++t) {
    threads.emplace_back([&, t] {
      const std::string affiliate = "affiliate-" + std::to_string(t % 16);
      const std::string parent = "parent-" + std::to_string(t % 4);
      const std::string conversion = Filler(kConversionBytes, t + 1);
      const std::string entry = Filler(kLedgerEntryBytes, t + 101);
      const std::string outbox = Filler(kOutboxBytes, t + 201);
      const std::string balance = Filler(kBalanceBytes, t + 301);
      const std::string row = Filler(kCounterRowBytes, t + 401);
      const std::string money = Filler(kMoneyBytes, t + 501);
      const std::string count = Filler(kCountBytes, t + 601);
      const std::string day = BigEndian64(20'415).substr(4);
      rocksdb::WriteOptions wo;
      wo.sync = true;
      rocksdb::WriteBatch batch;
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t n = next_id.fetch_add(1, std::memory_order_relaxed);
        char id[32];
        std::snprintf(id, sizeof(id), "cv_%016llx", static_cast<unsigned long long>(n));
        char order[48];
        std::snprintf(order, sizeof(order), "ORDER-%d-%llu", t, static_cast<unsigned long long>(n));
        batch.Clear();
        Check(batch.Put(cfs[kConversions], id, conversion), "put");
        Check(batch.Put(cfs[kConversionKeys], std::string("o\0offer-1\0", 10) + order, id), "put");
        Check(batch.Put(cfs[kOutbox], std::string(1, '\0') + "ob" + (id + 2), outbox), "put");
        Check(batch.Put(cfs[kLedger], BigEndian64(2 * n), entry), "put");
        Check(batch.Put(cfs[kLedger], BigEndian64(2 * n + 1), entry), "put");
        Check(batch.Put(cfs[kBalances], affiliate + std::string("\0USD", 4), balance), "put");
        Check(batch.Put(cfs[kBalances], parent + std::string("\0USD", 4), balance), "put");
        const std::string row_key = "C" + day + "offer-1" + '\0' + affiliate + '\0' + "sub";
        Check(batch.Put(cfs[kCounters], row_key, row), "put");
        Check(batch.Put(cfs[kCounters],
                        "M" + day + "offer-1" + '\0' + affiliate + std::string("\0sub\0USD", 8),
                        money),
              "put");
        Check(batch.Put(cfs[kCounters], "D" + day + "offer-1", count), "put");
        Check(batch.Put(cfs[kCounters], "V" + day + "offer-1" + '\0' + affiliate, count), "put");
        Check(db->Write(wo, &batch), "write");
        ++counts[t];
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  stop.store(true);
  for (std::thread& th : threads) th.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  for (rocksdb::ColumnFamilyHandle* h : cfs) Check(db->DestroyColumnFamilyHandle(h), "close cf");
  Check(db->Close(), "close");
  std::printf("RESULT writes=%llu seconds=%.3f writes_per_s=%.1f\n",
              static_cast<unsigned long long>(total), elapsed, total / elapsed);
  return 0;
}
