#include "cache/tuning_store.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/cache/store_test_util.h"
#include "util/sha256.h"

namespace tpjit::cache {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_text;
using testing::write_text;
using TuningStoreOnDisk = testing::RecordStoreTest<TuningStore>;

TuningKey test_key() { return {"sm_90a", "sm90_wgmma", 5120, 8192, "tensor", "bfloat16", 4096}; }

TuningRecord test_record() {
  TuningRecord r;
  r.key = test_key();
  r.card = "NVIDIA H100 80GB HBM3";
  r.tile = {{"bm", 128}, {"bn", 192}, {"bk", 128}, {"stages", 5}, {"warps", 12}, {"cluster_m", 2}};
  r.ms = 0.2291;
  r.candidates = {{r.tile, 0.2291}, {{{"bm", 128}, {"bn", 256}}, 0.2405}};
  return r;
}

TEST(TuningStore, MBucketsArePowersOfTwoClamped) {
  EXPECT_EQ(tuning_m_bucket(0), kMinMBucket);
  EXPECT_EQ(tuning_m_bucket(1), 16);
  EXPECT_EQ(tuning_m_bucket(16), 16);
  EXPECT_EQ(tuning_m_bucket(17), 32);
  EXPECT_EQ(tuning_m_bucket(2048), 2048);
  EXPECT_EQ(tuning_m_bucket(2049), 4096);
  EXPECT_EQ(tuning_m_bucket(1 << 20), kMaxMBucket);
}

TEST_F(TuningStoreOnDisk, RoundTripKeepsEveryFieldAndStampsTime) {
  ASSERT_NO_FATAL_FAILURE(store_first(test_record(), "tuning"));
  auto got = store_.lookup(test_key());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->key, test_key());
  EXPECT_EQ(got->card, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(got->tile, test_record().tile);
  EXPECT_DOUBLE_EQ(got->ms, 0.2291);
  ASSERT_EQ(got->candidates.size(), 2u);
  EXPECT_DOUBLE_EQ(got->candidates[1].ms, 0.2405);
  EXPECT_EQ(got->tuned_at.size(), 20u) << got->tuned_at;  // 2026-11-26T12:00:00Z
  json doc = json::parse(read_text(store_.record_path(test_key())));
  EXPECT_EQ(doc["format"], "tpjit.tuning/1");
  EXPECT_EQ(doc["key_fields"]["m_bucket"], 4096);
}

TEST_F(TuningStoreOnDisk, LookupForAnotherCardMissesWithoutRemoving) {
  ASSERT_TRUE(store_.store(test_record()));
  EXPECT_TRUE(store_.lookup(test_key(), "NVIDIA H100 80GB HBM3"));
  EXPECT_FALSE(store_.lookup(test_key(), "NVIDIA H200"));
  EXPECT_TRUE(fs::exists(store_.record_path(test_key())));
}

TEST(TuningStore, EveryKeyFieldChangesTheKey) {
  const std::string base = TuningStore::key_hash(test_key());
  std::vector<TuningKey> keys(7, test_key());
  keys[0].arch = "sm_100a";
  keys[1].variant = "mma_sync";
  keys[2].n = 5128;
  keys[3].k = 8208;
  keys[4].scale = "row";
  keys[5].out = "float16";
  keys[6].m_bucket = 2048;
  std::set<std::string> seen{base};
  for (const auto& k : keys) EXPECT_TRUE(seen.insert(TuningStore::key_hash(k)).second);
}

TEST_F(TuningStoreOnDisk, TamperedRecordIsAMissAndRemoved) {
  expect_tampered_field_is_a_miss(test_record(), "ms", 0.001);  // faster than measured
}

TEST_F(TuningStoreOnDisk, TruncatedRecordIsAMissAndRemoved) {
  ASSERT_TRUE(store_.store(test_record()));
  const fs::path path = store_.record_path(test_key());
  const std::string text = read_text(path);
  write_text(path, text.substr(0, text.size() / 2));
  EXPECT_FALSE(store_.lookup(test_key()));
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(TuningStoreOnDisk, RecordUnderAnotherKeysNameIsAMissAndRemoved) {
  TuningKey other = test_key();
  other.n = 8192;
  TuningRecord r = test_record();
  r.key = other;
  ASSERT_TRUE(store_.store(r));
  fs::rename(store_.record_path(other), store_.record_path(test_key()));  // valid, misplaced
  EXPECT_FALSE(store_.lookup(test_key()));
  EXPECT_FALSE(fs::exists(store_.record_path(test_key())));
}

TEST(TuningStore, ParseNamesWhatIsWrong) {
  json doc = tuning_record_to_json(test_record());
  ASSERT_TRUE(tuning_record_from_json(doc));
  doc["format"] = "tpjit.tuning/2";
  doc.erase("checksum");
  doc["checksum"] = sha256_hex("x");
  auto r = tuning_record_from_json(doc);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::kBadRequest);
  EXPECT_NE(r.error().message.find("checksum"), std::string::npos);
}

}  // namespace
}  // namespace tpjit::cache
