// A small tmpfs mounted on a fresh temporary directory, for tests that fill a disk. Mounting
// needs root (CAP_SYS_ADMIN); where it is refused, ok() is false and reason() says why, so the
// test can skip visibly. Unmounted on destruction, whatever happened.
#ifndef RICOCHET_TESTS_TMPFS_MOUNT_H_
#define RICOCHET_TESTS_TMPFS_MOUNT_H_

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "catch2/catch.hpp"
#include "temp_dir.h"

namespace ricochet::testing {

class TmpfsMount {
 public:
  explicit TmpfsMount(uint64_t megabytes) {
    const std::string options = "size=" + std::to_string(megabytes) + "m,mode=0700";
    if (::mount("tmpfs", path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      reason_ = "mount -t tmpfs -o " + options + " " + path() + ": " + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~TmpfsMount() {  // then dir_ removes the (now empty) mount point
    if (mounted_ && ::umount(path().c_str()) != 0) {
      ::umount2(path().c_str(), MNT_DETACH);  // still busy: detach now, freed when unused
    }
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool ok() const { return mounted_; }
  const std::string& reason() const { return reason_; }
  const std::string& path() const { return dir_.path(); }
  std::string filler() const { return path() + "/zz-filler"; }

  // Appends to the filler file until the file system refuses more (ENOSPC), in ever smaller
  // pieces, so that not even a page is left. Returns the bytes added. Call again after the
  // program under test freed something, to take that too.
  uint64_t Fill() const {
    int fd = ::open(filler().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return 0;
    static const std::string chunk(1 << 20, 'x');
    uint64_t total = 0;
    for (size_t size : {size_t{1} << 20, size_t{4096}, size_t{1}}) {
      for (;;) {
        ssize_t n = ::write(fd, chunk.data(), size);
        if (n <= 0) break;
        total += static_cast<uint64_t>(n);
      }
    }
    ::close(fd);
    return total;
  }
  // Fills again every 20 ms for `d`. RocksDB frees some space of its own after a write fails
  // (the preallocated tail of a WAL it leaves, a half-written table file); without this, a
  // resume could succeed on a disk that is meant to stay full.
  void KeepFull(std::chrono::milliseconds d) const {
    for (auto end = std::chrono::steady_clock::now() + d; std::chrono::steady_clock::now() < end;) {
      Fill();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // Deletes the filler: the space is free again at once.
  void Unfill() const { ::unlink(filler().c_str()); }
  uint64_t AvailableBytes() const {
    struct statvfs st;
    if (::statvfs(path().c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

 private:
  TempDir dir_;  // the mount point
  std::string reason_;
  bool mounted_ = false;
};

// For the first lines of a test: false, with a Catch2 warning saying why the test is skipped,
// when the tmpfs could not be mounted.
inline bool MountedOrSkip(const TmpfsMount& mnt) {
  if (mnt.ok()) return true;
  // tools/test.sh sets this when it runs as root: there a skip would hide a broken test.
  const char* required = std::getenv("RICOCHET_REQUIRE_DISKFULL");
  if (required != nullptr && std::string(required) == "1") {
    FAIL("RICOCHET_REQUIRE_DISKFULL=1 but the tmpfs could not be mounted: " << mnt.reason());
  }
  WARN("SKIPPED [diskfull]: cannot mount a tmpfs (needs root): " << mnt.reason());
  return false;
}

}  // namespace ricochet::testing

#endif  // RICOCHET_TESTS_TMPFS_MOUNT_H_
