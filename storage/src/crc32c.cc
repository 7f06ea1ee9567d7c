#include "crc32c.h"

#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#if defined(__x86_64__)
// The link option --wrap=SYMBOL sends every undefined reference to SYMBOL to __wrap_SYMBOL, and
// references to __real_SYMBOL to the original (storage/CMakeLists.txt adds it on x86-64 only).
extern "C" {
uint32_t __real__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data, size_t n);
uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data, size_t n);
}
#else
namespace rocksdb::crc32c {
uint32_t Extend(uint32_t crc, const char* data, size_t n);
}
#endif

namespace ricochet::storage {
namespace {

#if defined(__x86_64__)
// CRC32C with the SSE4.2 crc32 instruction: 8 bytes a step once aligned. Pre- and post-inverted
// as RocksDB's ExtendImpl is.
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const char* data, size_t n) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data);
  uint64_t l = crc ^ 0xffffffffu;
  for (; n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0; --n) {
    l = _mm_crc32_u8(static_cast<uint32_t>(l), *p++);
  }
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    l = _mm_crc32_u64(l, word);
  }
  for (; n > 0; --n) l = _mm_crc32_u8(static_cast<uint32_t>(l), *p++);
  return static_cast<uint32_t>(l) ^ 0xffffffffu;
}

const bool kSse42 = (__builtin_cpu_init(), __builtin_cpu_supports("sse4.2"));
#endif

}  // namespace

std::string_view Crc32cImplementation() {
#if defined(__x86_64__)
  if (kSse42) return "sse4.2";
#endif
  return "table";
}

uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n) {
#if defined(__x86_64__)
  if (kSse42) return ExtendSse42(crc, data, n);
#endif
  return RocksDbCrc32cExtend(crc, data, n);
}

uint32_t RocksDbCrc32cExtend(uint32_t crc, const char* data, size_t n) {
#if defined(__x86_64__)
  return __real__ZN7rocksdb6crc32c6ExtendEjPKcm(crc, data, n);
#else
  return rocksdb::crc32c::Extend(crc, data, n);
#endif
}

}  // namespace ricochet::storage

#if defined(__x86_64__)
uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(uint32_t crc, const char* data, size_t n) {
  return ricochet::storage::Crc32cExtend(crc, data, n);
}
#endif
