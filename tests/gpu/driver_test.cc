// The Driver API layer: loading, device query, memory, streams, events, modules, tensor maps.
// Skips with the reason where no driver or GPU is present.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "runtime/memory.h"
#include "runtime/module.h"
#include "runtime/stream.h"
#include "runtime/tensor_map.h"
#include "tests/gpu/gpu_env.h"
#include "util/check.h"

namespace tpjit::runtime {
namespace {

using gpu_test::gpu_env;

TEST(Driver, LoadGivesADriverOrAPreciseError) {
  Result<const Driver*> d = Driver::load();
  if (!d.ok()) {
    EXPECT_TRUE(d.error().code == kErrNoDriver || d.error().code == kErrNoDevice);
    EXPECT_EQ(d.error().message.rfind("no CUDA driver: ", 0), 0u) << d.error().message;
    GTEST_SKIP() << "no CUDA device: " << d.error().message;
  }
  EXPECT_GE((*d)->version, 12000);
  EXPECT_EQ(Driver::load().value(), *d);  // one per process
}

TEST(Driver, QueriesTheDevice) {
  TPJIT_REQUIRE_GPU();
  const DeviceInfo& info = gpu_env().info;
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.sm_count, 0);
  EXPECT_GE(info.cc_major, 7);
  EXPECT_GT(info.total_memory, 0u);
  std::printf("device 0: %s, %s, %d SMs, %.1f GiB, smem opt-in %d B, L2 %d B\n",
              info.name.c_str(), info.arch_name().c_str(), info.sm_count,
              info.total_memory / double(1 << 30), info.max_smem_per_block_optin, info.l2_bytes);
  EXPECT_FALSE(query_device(*gpu_env().driver, 1 << 20).ok());
}

TEST(Driver, CopiesThroughDeviceMemoryOnAStream) {
  TPJIT_REQUIRE_GPU();
  const Driver& d = *gpu_env().driver;
  std::vector<uint8_t> src(1 << 20);
  std::iota(src.begin(), src.end(), uint8_t{7});
  DeviceBuffer a(d, src.size()), b(d, src.size());
  a.upload(src);
  b.fill(0xFF);
  Stream s(d);
  Event start(d), stop(d);
  start.record(s.get());
  TPJIT_CU(d, cuMemcpyDtoDAsync(b.get(), a.get(), src.size(), s.get()));
  stop.record(s.get());
  s.synchronize();
  EXPECT_GE(stop.elapsed_ms_since(start), 0.0f);
  std::vector<uint8_t> back(src.size());
  b.download(back);
  EXPECT_EQ(back, src);
  PinnedBuffer pinned(d, 64);
  EXPECT_NE(pinned.data(), nullptr);
  DeviceBuffer moved = std::move(a);  // the moved-from owner frees nothing
  EXPECT_EQ(a.get(), 0u);
  EXPECT_NE(moved.get(), 0u);
  EXPECT_THROW(moved.upload(src, 1), CheckError);  // out of bounds
}

TEST(Driver, RefusesABadCubinWithAnError) {
  TPJIT_REQUIRE_GPU();
  const std::vector<uint8_t> junk(256, 0x5A);
  Result<Module> m = Module::load(*gpu_env().driver, junk);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, kErrCuda);
  EXPECT_NE(m.error().message.find("cuModuleLoadData"), std::string::npos) << m.error().message;
}

TEST(Driver, EncodesTensorMapsAndRefusesBadOnes) {
  TPJIT_REQUIRE_GPU();
  const Driver& d = *gpu_env().driver;
  if (gpu_env().info.cc_major < 9) GTEST_SKIP() << "tensor maps need sm_90+";
  DeviceBuffer buf(d, 256 * 1024);
  TensorMap2d t{.rows = 256, .cols = 1024, .row_stride_bytes = 1024, .box_rows = 128,
                .box_cols = 128};
  EXPECT_TRUE(encode_tensor_map_2d(d, buf.data(), t).ok());
  t.row_stride_bytes = 1000;
  Result<CUtensorMap> bad = encode_tensor_map_2d(d, buf.data(), t);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, errc::kUnsupportedShape);
}

}  // namespace
}  // namespace tpjit::runtime
