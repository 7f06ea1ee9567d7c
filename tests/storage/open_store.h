// Opens a Store on `path` for a storage test, failing the test case when it cannot.
#ifndef RICOCHET_TESTS_STORAGE_OPEN_STORE_H_
#define RICOCHET_TESTS_STORAGE_OPEN_STORE_H_

#include <memory>
#include <string>

#include "catch2/catch.hpp"
#include "storage/store.h"

namespace ricochet::storage {

inline std::unique_ptr<Store> OpenStore(const StoreOptions& o) {
  absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

inline std::unique_ptr<Store> OpenStore(const std::string& path, int retention_days = 90) {
  StoreOptions o;
  o.path = path;
  o.retention_days = retention_days;
  return OpenStore(o);
}

}  // namespace ricochet::storage

#endif  // RICOCHET_TESTS_STORAGE_OPEN_STORE_H_
