// cmake/embed_headers.cmake must carry any bytes: quotes, ")\"" and raw-string ends, control
// and high bytes, an empty file.
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "codegen/generate.h"

namespace tpjit::codegen {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(EmbedHeaders, BytesSurviveExactly) {
  const auto& h = embedded_headers();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].name, "empty.cuh");  // sorted by name
  EXPECT_EQ(h[0].contents, "");
  EXPECT_EQ(h[1].name, "tricky.cuh");
  const std::string want = read_file(std::string(TPJIT_TEST_DATA_DIR) + "/tricky.cuh");
  ASSERT_GT(want.size(), 20u);
  EXPECT_EQ(h[1].contents, want);
}

}  // namespace
}  // namespace tpjit::codegen
