// RocksDB's info log (the LOG file in the data directory), written so that a full disk cannot
// kill the process.
//
// RocksDB 7.8's own logger writes through a WritableFileWriter, which remembers a failed append
// and, in builds with assertions on (Debian's librocksdb7.8 is one), aborts the process on the
// next line it logs. On a full disk the first failed line is certain and the next one follows at
// once (RocksDB logs the error it has just met), so its logger turns "disk full" into a crash.
// This one writes each line with one write(2) and forgets failures: lines are lost while the
// disk is full, nothing else.
#ifndef RICOCHET_STORAGE_INFO_LOG_H_
#define RICOCHET_STORAGE_INFO_LOG_H_

#include <memory>
#include <string>

#include "rocksdb/env.h"

namespace ricochet::storage {

// Opens `dir`/LOG for appending, first renaming an existing LOG to LOG.old.<micros> as RocksDB
// does (RocksDB itself deletes the old ones beyond DBOptions::keep_log_file_num). Never fails: a
// LOG that cannot be opened (say `dir` does not exist yet) makes a logger that drops every line.
std::shared_ptr<rocksdb::Logger> OpenInfoLog(const std::string& dir);

}  // namespace ricochet::storage

#endif  // RICOCHET_STORAGE_INFO_LOG_H_
