#include "cache/overlap_store.h"

#include <gtest/gtest.h>

#include "tests/cache/store_test_util.h"

namespace tpjit::cache {
namespace {
using nlohmann::json;
using testing::read_text;
using OverlapStoreOnDisk = testing::RecordStoreTest<OverlapStore>;

OverlapKey test_key() { return {"gemm_reduce_scatter", 2, 8192, 4096, "tensor", 4096}; }

OverlapRecord test_record() {
  OverlapRecord r;
  r.key = test_key();
  r.card = "NVIDIA H100 80GB HBM3";
  r.fused = true;
  r.chunks = 2;
  r.sm_reserve = 16;
  r.transport = "ce_chunked";
  r.fused_us = 301.5;
  r.unfused_us = 389.25;
  r.limit_us = 290.0;
  return r;
}

TEST_F(OverlapStoreOnDisk, RoundTripKeepsEveryFieldAndStampsTime) {
  ASSERT_NO_FATAL_FAILURE(store_first(test_record(), "overlap"));
  auto got = store_.lookup(test_key());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->key, test_key());
  EXPECT_EQ(got->card, "NVIDIA H100 80GB HBM3");
  EXPECT_TRUE(got->fused);
  EXPECT_EQ(got->chunks, 2);
  EXPECT_EQ(got->sm_reserve, 16);
  EXPECT_EQ(got->transport, "ce_chunked");
  EXPECT_DOUBLE_EQ(got->fused_us, 301.5);
  EXPECT_DOUBLE_EQ(got->unfused_us, 389.25);
  EXPECT_DOUBLE_EQ(got->limit_us, 290.0);
  EXPECT_EQ(got->measured_at.size(), 20u);  // 2026-11-26T18:40:00Z
  EXPECT_EQ(got->measured_at.back(), 'Z');
}

TEST_F(OverlapStoreOnDisk, UnfusedChoiceAndCardFilter) {
  OverlapRecord r = test_record();
  r.fused = false;
  ASSERT_TRUE(store_.store(r));
  auto got = store_.lookup(test_key(), "NVIDIA H100 80GB HBM3");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->fused);
  EXPECT_EQ(json::parse(read_text(store_.record_path(test_key())))["choice"], "unfused");
  EXPECT_FALSE(store_.lookup(test_key(), "NVIDIA H200"));  // another card's record: a miss
}

TEST_F(OverlapStoreOnDisk, CublasltChoiceRoundTrips) {
  OverlapRecord r = test_record();
  r.fused = false;
  r.cublaslt = true;
  ASSERT_TRUE(store_.store(r));
  auto got = store_.lookup(test_key());
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->fused);
  EXPECT_TRUE(got->cublaslt);
  EXPECT_EQ(json::parse(read_text(store_.record_path(test_key())))["choice"], "unfused_cublaslt");
}

TEST_F(OverlapStoreOnDisk, KeysSeparateKindWorldSizeAndBucket) {
  ASSERT_TRUE(store_.store(test_record()));
  OverlapKey other = test_key();
  other.kind = "all_gather_gemm";
  EXPECT_FALSE(store_.lookup(other));
  other = test_key();
  other.world_size = 4;
  EXPECT_FALSE(store_.lookup(other));
  other = test_key();
  other.m_bucket = 8192;
  EXPECT_FALSE(store_.lookup(other));
  EXPECT_TRUE(store_.lookup(test_key()));
}

TEST_F(OverlapStoreOnDisk, TamperedRecordIsAMissAndRemoved) {
  expect_tampered_field_is_a_miss(test_record(), "fused_us", 1.0);
}

TEST(OverlapStore, ParseNamesWhatIsWrong) {
  json doc = overlap_record_to_json(test_record());
  ASSERT_TRUE(overlap_record_from_json(doc));
  json bad_choice = doc;
  bad_choice["choice"] = "maybe";
  auto r = overlap_record_from_json(bad_choice);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("checksum"), std::string::npos);
  // A correctly checksummed record with a bad field: the field is named.
  OverlapRecord zero = test_record();
  zero.chunks = 0;
  r = overlap_record_from_json(overlap_record_to_json(zero));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("chunks >= 1"), std::string::npos);
  OverlapRecord kind = test_record();
  kind.key.kind = "unfused";
  r = overlap_record_from_json(overlap_record_to_json(kind));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("kind must be"), std::string::npos);
  r = overlap_record_from_json(json::array());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a JSON object"), std::string::npos);
}

}  // namespace
}  // namespace tpjit::cache
