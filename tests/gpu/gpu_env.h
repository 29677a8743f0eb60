// The GPU the tests run on, or the reason they skip. Loaded once per process.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "runtime/context.h"
#include "runtime/driver.h"

namespace tpjit::gpu_test {

struct GpuEnv {
  const runtime::Driver* driver = nullptr;
  std::optional<runtime::PrimaryContext> context;
  runtime::DeviceInfo info;
  std::string skip_reason;  // non-empty: no usable GPU
};

// Device 0 with its primary context current on the calling thread.
inline GpuEnv& gpu_env() {
  static GpuEnv env = [] {
    GpuEnv e;
    Result<const runtime::Driver*> d = runtime::Driver::load();
    if (!d.ok()) {
      e.skip_reason = d.error().message;
      return e;
    }
    e.driver = *d;
    Result<runtime::DeviceInfo> info = runtime::query_device(*e.driver, 0);
    if (!info.ok()) {
      e.skip_reason = info.error().message;
      return e;
    }
    e.info = *info;
    Result<runtime::PrimaryContext> ctx = runtime::PrimaryContext::retain(*e.driver, 0);
    if (!ctx.ok()) {
      e.skip_reason = ctx.error().message;
      return e;
    }
    e.context.emplace(std::move(ctx).value());
    return e;
  }();
  if (env.context) env.context->make_current();
  return env;
}

}  // namespace tpjit::gpu_test

// Skips the calling test with the reason when there is no usable GPU.
#define TPJIT_REQUIRE_GPU()                                                         \
  do {                                                                              \
    if (!::tpjit::gpu_test::gpu_env().skip_reason.empty())                          \
      GTEST_SKIP() << "no CUDA device: " << ::tpjit::gpu_test::gpu_env().skip_reason; \
  } while (0)
