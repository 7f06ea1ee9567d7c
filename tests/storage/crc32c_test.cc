#include "crc32c.h"

#include <cstdint>
#include <random>
#include <string>

#include "catch2/catch.hpp"

#if defined(__x86_64__)
extern "C" uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data,
                                                           size_t n);
#endif
namespace rocksdb::crc32c {
uint32_t Extend(uint32_t crc, const char* data, size_t n);
}

namespace ricochet::storage {
namespace {

uint32_t Value(const std::string& s) { return Crc32cExtend(0, s.data(), s.size()); }

TEST_CASE("crc32c gives the CRC-32C check values", "[crc32c]") {
  // The catalogue's check value and RFC 3720's (iSCSI) test vectors, B.4.
  CHECK(Value("123456789") == 0xE3069283u);
  CHECK(Value(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(Value(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  CHECK(Value(ascending) == 0x46DD794Eu);
  CHECK(Value(descending) == 0x113FDB5Cu);
  CHECK(Value("") == 0u);
}

TEST_CASE("crc32c matches RocksDB's own at every length, alignment and split", "[crc32c]") {
  std::mt19937_64 rng(7);
  std::string buf(300, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; offset + n <= buf.size(); ++n) {
      const char* p = buf.data() + offset;
      const uint32_t want = RocksDbCrc32cExtend(0, p, n);
      REQUIRE(Crc32cExtend(0, p, n) == want);
      // Continued from a prefix, as RocksDB continues a record's CRC from its type byte.
      const size_t split = n / 3;
      REQUIRE(Crc32cExtend(Crc32cExtend(0, p, split), p + split, n - split) == want);
      REQUIRE(Crc32cExtend(0x12345678u, p, n) == RocksDbCrc32cExtend(0x12345678u, p, n));
    }
  }
}

TEST_CASE("RocksDB's crc32c::Extend is this module's, on the crc32 instruction", "[crc32c]") {
#if defined(__x86_64__)
  // A call of rocksdb::crc32c::Extend from outside RocksDB's own file links to the wrapper, as
  // RocksDB's WAL writer's does (the --wrap link option of storage/CMakeLists.txt).
  CHECK(reinterpret_cast<void*>(&rocksdb::crc32c::Extend) ==
        reinterpret_cast<void*>(&__wrap__ZN7rocksdb6crc32c6ExtendEjPKcm));
  __builtin_cpu_init();
  CHECK(Crc32cImplementation() == (__builtin_cpu_supports("sse4.2") ? "sse4.2" : "table"));
#else
  CHECK(Crc32cImplementation() == "table");
#endif
  CHECK(rocksdb::crc32c::Extend(0, "123456789", 9) == 0xE3069283u);
}

}  // namespace
}  // namespace ricochet::storage
