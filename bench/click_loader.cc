// Preloads a data directory with synthetic clicks through storage::Store::WriteClicks, the same
// call the click writer makes, for the data-scale benchmark (bench/datascale.sh).
//
//   click_loader --data DIR --clicks N [--batch 20000] [--offer ID] [--affiliate ID]
//                [--offers 50] [--affiliates 1000] [--days 30]
//                [--dedupe-window-s 86400] [--lookback-days 30]
//
// Clicks are spread evenly over the last `days` days, oldest first, as a server that has been
// running that long would have written them. Ids are unique 32-character strings laid out like
// real click ids (version, time, partition, nonce, an unchecked MAC); offers, affiliates, sub
// ids, IPs and User-Agents vary; about 85% are unique clicks and take a dedupe slot. `--offer`
// and `--affiliate` name the pair the benchmark then clicks, so its dedupe lookups hit the
// same key space. Prints "RESULT clicks=<n> seconds=<s> clicks_per_s=<rate>".
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "attribution/click.h"
#include "flags.h"
#include "storage/records.h"
#include "storage/store.h"

namespace {

using ricochet::storage::ClickRecord;

struct Flags {
  std::string data;
  int64_t clicks = 0;
  int64_t batch = 20'000;
  std::string offer = "bench";
  std::string affiliate = "bench-aff";
  int offers = 50;
  int affiliates = 1000;
  int days = 30;
  // The index horizons the server sets for its offers (Store::SetIndexHorizons); the defaults
  // are an offer's defaults, those of the benchmark's demo offer.
  int64_t dedupe_window_s = 86'400;
  int64_t lookback_days = 30;
};

using ricochet::bench::ForEachFlag;
using ricochet::bench::ParseCount;
using ricochet::bench::Usage;

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  ForEachFlag(argc, argv, [&f](const std::string& a, const char* v) {
    if (a == "--data") {
      f.data = v;
    } else if (a == "--clicks") {
      f.clicks = ParseCount(a, v, 1, 10'000'000'000);
    } else if (a == "--batch") {
      f.batch = ParseCount(a, v, 1, 1'000'000);
    } else if (a == "--offer") {
      f.offer = v;
    } else if (a == "--affiliate") {
      f.affiliate = v;
    } else if (a == "--offers") {
      f.offers = static_cast<int>(ParseCount(a, v, 1, 1'000'000));
    } else if (a == "--affiliates") {
      f.affiliates = static_cast<int>(ParseCount(a, v, 1, 10'000'000));
    } else if (a == "--days") {
      f.days = static_cast<int>(ParseCount(a, v, 1, 3650));
    } else if (a == "--dedupe-window-s") {
      f.dedupe_window_s = ParseCount(a, v, 0, 366 * 86'400);
    } else if (a == "--lookback-days") {
      f.lookback_days = ParseCount(a, v, 1, 3650);
    } else {
      Usage("unknown flag " + a);
    }
  });
  if (f.data.empty()) Usage("--data is required");
  if (f.clicks == 0) Usage("--clicks is required");
  return f;
}

// splitmix64: fast, and good enough to vary synthetic fields.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
};

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(const uint8_t* p, size_t n) {
  std::string out;
  out.reserve((n * 4 + 2) / 3);
  for (size_t i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    for (int k = 18; k >= 0; k -= 6) out.push_back(kBase64Url[(v >> k) & 63]);
  }
  return out;  // callers pass multiples of 3 bytes
}

// 24 bytes like a real id: version 1, BE48 time, partition 0, 56-bit nonce = the click's
// sequence number (so ids are unique), 8 random bytes where the MAC would be.
std::string ClickId(int64_t time_ms, uint64_t seq, Rng& rng) {
  uint8_t b[24] = {1};
  for (int i = 0; i < 6; ++i) b[1 + i] = static_cast<uint8_t>(uint64_t(time_ms) >> (40 - 8 * i));
  for (int i = 0; i < 7; ++i) b[9 + i] = static_cast<uint8_t>(seq >> (48 - 8 * i));
  uint64_t mac = rng.Next();
  for (int i = 0; i < 8; ++i) b[16 + i] = static_cast<uint8_t>(mac >> (8 * i));
  return Base64Url(b, sizeof(b));
}

std::string RandomIp(Rng& rng) {
  uint64_t v = rng.Next();
  return std::to_string(1 + (v & 0xff) % 223) + "." + std::to_string((v >> 8) & 0xff) + "." +
         std::to_string((v >> 16) & 0xff) + "." + std::to_string(1 + ((v >> 24) & 0xff) % 254);
}

const char* const kUserAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.6045.163 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
};
const char* const kBotAgent =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const char* const kSources[] = {"facebook", "google", "tiktok", "newsletter", "", ""};

struct Generator {
  const Flags& flags;
  int64_t first_ms;
  double step_ms;
  Rng rng;

  std::vector<ClickRecord> Batch(int64_t from, int64_t n) {
    std::vector<ClickRecord> out(n);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = from + k;
      ClickRecord& c = out[k];
      c.time_ms = first_ms + static_cast<int64_t>(i * step_ms) +
                  static_cast<int64_t>(rng.Below(static_cast<uint64_t>(step_ms) + 1));
      c.click_id = ClickId(c.time_ms, static_cast<uint64_t>(i), rng);
      const uint64_t o = rng.Below(flags.offers);
      c.offer = o == 0 ? flags.offer : "offer-" + std::to_string(o);
      const uint64_t a = rng.Below(flags.affiliates);
      c.affiliate = a == 0 ? flags.affiliate : "aff-" + std::to_string(a);
      c.subs[0] = "s" + std::to_string(rng.Below(2000));
      c.subs[1] = "adset-" + std::to_string(rng.Below(100));
      c.source = kSources[rng.Below(std::size(kSources))];
      c.client_ip = RandomIp(rng);
      uint8_t vid[18];
      for (uint8_t& b : vid) b = static_cast<uint8_t>(rng.Next());
      c.visitor_id = Base64Url(vid, sizeof(vid)).substr(0, 22);
      c.referer = "https://site-" + std::to_string(rng.Below(5000)) + ".example.com/article";
      const uint64_t roll = rng.Below(100);
      using ricochet::attribution::ClickClass;
      if (roll < 4) {
        c.klass = ClickClass::kBot;
        c.user_agent = kBotAgent;
      } else {
        c.user_agent = kUserAgents[rng.Below(std::size(kUserAgents))];
        c.klass = roll < 5    ? ClickClass::kRateLimited
                  : roll < 15 ? ClickClass::kDuplicate
                              : ClickClass::kUnique;
      }
      c.attributable = rng.Below(100) != 0;
      if (c.klass == ClickClass::kUnique) {
        c.dedupe_key =
            ricochet::attribution::MakeDedupeKey(c.offer, c.affiliate, c.client_ip, c.user_agent);
      }
    }
    return out;
  }
};

}  // namespace

const ricochet::bench::Program ricochet::bench::kProgram = {
    "click_loader",
    "--data DIR --clicks N [--batch N] [--offer ID] [--affiliate ID] [--offers N] "
    "[--affiliates N] [--days N] [--dedupe-window-s S] [--lookback-days N]"};

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  ricochet::storage::StoreOptions options;
  options.path = flags.data;
  absl::StatusOr<std::unique_ptr<ricochet::storage::Store>> store =
      ricochet::storage::Store::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "click_loader: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  // As the server does: compactions drop the dedupe slots and visitor entries that no offer's
  // window reaches, so the database looks like one a server wrote over `days` days.
  (*store)->SetIndexHorizons(flags.dedupe_window_s, flags.lookback_days * 86'400);

  const auto start = std::chrono::steady_clock::now();
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const int64_t span_ms = int64_t{flags.days} * 86'400'000;
  Generator gen{flags, now_ms - span_ms, static_cast<double>(span_ms) / flags.clicks,
                Rng{static_cast<uint64_t>(now_ms)}};

  // Generate the next batch on a second thread while this one writes the current one.
  auto make = [&](int64_t from) {
    return std::async(std::launch::async, [&gen, &flags, from] {
      return gen.Batch(from, std::min(flags.batch, flags.clicks - from));
    });
  };
  std::future<std::vector<ClickRecord>> next = make(0);
  int64_t written = 0;
  int64_t next_report = flags.clicks / 10;
  while (written < flags.clicks) {
    std::vector<ClickRecord> batch = next.get();
    const int64_t after = written + static_cast<int64_t>(batch.size());
    if (after < flags.clicks) next = make(after);
    if (absl::Status s = (*store)->WriteClicks(batch); !s.ok()) {
      std::fprintf(stderr, "click_loader: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    written = after;
    if (written >= next_report && written < flags.clicks) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "click_loader: %lld clicks, %.0f/s\n", static_cast<long long>(written),
                   written / s);
      next_report += flags.clicks / 10;
    }
  }
  if (absl::Status s = (*store)->Close(); !s.ok()) {
    std::fprintf(stderr, "click_loader: close: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("RESULT clicks=%lld seconds=%.3f clicks_per_s=%.1f\n",
              static_cast<long long>(written), seconds, written / seconds);
  return 0;
}
