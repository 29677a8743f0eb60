// How regions are cut into chunks (runtime/overlap_plan.h); no GPU needed.
#include <gtest/gtest.h>

#include "runtime/overlap_plan.h"

namespace tpjit::runtime {
namespace {

int64_t covered(const ChunkPlan& p) {
  int64_t rows = 0;
  for (int j = 0; j < p.chunks; ++j) {
    EXPECT_GT(p.rows(j), 0) << "chunk " << j;
    EXPECT_EQ(p.begin(j), rows) << "chunk " << j;
    rows += p.rows(j);
  }
  return rows;
}

TEST(OverlapPlan, RaggedLastChunk) {
  Result<ChunkPlan> p = plan_chunks(666, 2, 4);  // 333 rows per shard: 84, 84, 84, 81
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->shard_rows, 333);
  EXPECT_EQ(p->chunks, 4);
  EXPECT_EQ(p->chunk_rows, 84);
  EXPECT_EQ(p->rows(3), 81);
  EXPECT_EQ(covered(*p), 333);
}

TEST(OverlapPlan, MoreChunksThanRows) {
  Result<ChunkPlan> p = plan_chunks(6, 2, 4);  // 3 rows: 3 chunks of 1, none empty
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->chunks, 3);
  EXPECT_EQ(covered(*p), 3);
  Result<ChunkPlan> q = plan_chunks(10, 2, 4);  // 5 rows: 2, 2, 1
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->chunks, 3);
  EXPECT_EQ(covered(*q), 5);
}

TEST(OverlapPlan, EmptyAndExact) {
  Result<ChunkPlan> e = plan_chunks(0, 2, 4);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->chunks, 0);
  Result<ChunkPlan> x = plan_chunks(4096, 2, 2);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->chunks, 2);
  EXPECT_EQ(x->rows(1), 1024);
}

TEST(OverlapPlan, NotDivisibleIsAClearError) {
  Result<ChunkPlan> p = plan_chunks(667, 2, 1);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, errc::kNotDivisible);
  EXPECT_NE(p.error().message.find("M=667"), std::string::npos) << p.error().message;
  EXPECT_EQ(plan_chunks(8, 2, 0).error().code, errc::kBadRequest);
  EXPECT_EQ(plan_chunks(8, 0, 1).error().code, errc::kBadRequest);
}

TEST(OverlapPlan, ScaleFloatsPerRow) {
  EXPECT_EQ(scale_a_floats_per_row(fusion::ScaleMode::kTensor, 8192), 0);
  EXPECT_EQ(scale_a_floats_per_row(fusion::ScaleMode::kRow, 8192), 1);
  EXPECT_EQ(scale_a_floats_per_row(fusion::ScaleMode::kBlock, 272), 3);
}

}  // namespace
}  // namespace tpjit::runtime
