#ifndef RICOCHET_STORAGE_SRC_CRC32C_H_
#define RICOCHET_STORAGE_SRC_CRC32C_H_

// RocksDB's CRC32C on the CPU's crc32 instruction.
//
// Debian builds RocksDB for every x86-64, so without SSE4.2: RocksDB computes each CRC32C (every
// WAL record, and block checksums of type kCRC32c) with its table-driven Slow_CRC32, about a
// tenth of the click writer's CPU at saturation (docs/performance.md). RocksDB is linked
// statically, and every binary that links storage/ links with
// --wrap=rocksdb::crc32c::Extend (mangled; storage/CMakeLists.txt): RocksDB's calls then reach
// Crc32cExtend below, which runs the crc32 instruction where the CPU has it and RocksDB's own
// function where it does not. Both compute the same CRC32C (Castagnoli), so files written
// either way read back either way.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ricochet::storage {

// What RocksDB's crc32c::Extend runs in this process: "sse4.2" or "table" (RocksDB's own).
std::string_view Crc32cImplementation();

// RocksDB's crc32c::Extend: the CRC32C of `data` continued from `crc` (the CRC of what came
// before it, 0 for none).
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n);

// RocksDB's own crc32c::Extend, whatever this process runs (for tests and benchmarks).
uint32_t RocksDbCrc32cExtend(uint32_t crc, const char* data, size_t n);

}  // namespace ricochet::storage

#endif  // RICOCHET_STORAGE_SRC_CRC32C_H_
