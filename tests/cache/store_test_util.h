// Shared by the tests of the JSON record stores (TuningStore, OverlapStore): a store over a
// fresh cache directory, a record file's raw text, and the checks every such store must pass.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/util/temp_dir.h"

namespace tpjit::cache::testing {

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

template <class Store>
class RecordStoreTest : public ::testing::Test {
 protected:
  // Stores r into the empty store: a miss before, then the file <folder>/<key hash>.json.
  template <class Record>
  void store_first(const Record& r, const char* folder) {
    EXPECT_FALSE(store_.lookup(r.key));  // no record folder yet
    ASSERT_TRUE(store_.store(r));
    EXPECT_EQ(store_.record_path(r.key),
              dir_.path() / folder / (Store::key_hash(r.key) + ".json"));
  }

  // Stores r, then sets `field` of its file to value behind the checksum's back: the lookup
  // must miss and remove the file.
  template <class Record>
  void expect_tampered_field_is_a_miss(const Record& r, const std::string& field,
                                       const nlohmann::json& value) {
    ASSERT_TRUE(store_.store(r));
    const std::filesystem::path path = store_.record_path(r.key);
    nlohmann::json doc = nlohmann::json::parse(read_text(path));
    doc[field] = value;
    write_text(path, doc.dump());
    EXPECT_FALSE(store_.lookup(r.key));
    EXPECT_FALSE(std::filesystem::exists(path));
  }

  tpjit::testing::TempDir dir_;
  Store store_{dir_.path()};
};

}  // namespace tpjit::cache::testing
