#include "worker/gpu_session.h"

#include <algorithm>
#include <cstdio>

#include "runtime/stream.h"
#include "worker/protocol.h"
#include "worker/spec_parse.h"

namespace tpjit::worker {

using nlohmann::json;

Result<std::unique_ptr<GpuSession>> GpuSession::open(int ordinal,
                                                     const std::filesystem::path& cache_dir) {
  auto d = runtime::Driver::load();
  if (!d) return d.error();
  auto info = runtime::query_device(**d, ordinal);
  if (!info) return info.error();
  auto ctx = runtime::PrimaryContext::retain(**d, ordinal);
  if (!ctx) return ctx.error();
  int count = runtime::device_count(**d);
  return std::unique_ptr<GpuSession>(
      new GpuSession(*d, std::move(ctx).value(), *info, count, cache_dir));
}

json GpuSession::hello() const {
  return {{"device",
           {{"ordinal", info_.ordinal},
            {"name", info_.name},
            {"arch", info_.arch_name()},
            {"sm_count", info_.sm_count},
            {"memory_bytes", info_.total_memory}}},
          {"device_count", device_count_},
          {"nccl_version", runtime::nccl_version()},
          {"fake", false}};
}

Result<json> GpuSession::nccl_id() {
  auto id = runtime::nccl_unique_id();
  if (!id) return id.error();
  std::string hex;
  char two[3];
  for (uint8_t b : id->bytes) {
    std::snprintf(two, sizeof two, "%02x", b);
    hex += two;
  }
  return json{{"nccl_id", hex}};
}

Result<json> GpuSession::init_comm(const json& body) {
  const std::string hex = body.value("nccl_id", "");
  if (hex.size() != 2 * kNcclIdBytes)
    return make_error(errc::kBadRequest, "init_comm: nccl_id must be 256 hex digits", "nccl_id");
  runtime::NcclUniqueId id;
  for (int i = 0; i < kNcclIdBytes; ++i)
    id.bytes[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  executor_.reset();
  if (comm_) comm_->abort();
  comm_.reset();
  runtime::NcclOptions opts;
  opts.timeout = std::chrono::milliseconds(body.value("timeout_ms", int64_t{60000}));
  auto comm = runtime::NcclComm::init(id, body.value("world", 1), body.value("rank", 0), opts);
  if (!comm) return comm.error();
  comm_.emplace(std::move(comm).value());
  auto ex = runtime::OverlapExecutor::create(*d_, *comm_);
  if (!ex) return ex.error();
  executor_.emplace(std::move(ex).value());
  return json::object();
}

Result<const runtime::GemmKernel*> GpuSession::kernel(const json& gemm) {
  const std::string key = gemm.value("key", "");
  if (auto it = kernels_.find(key); it != kernels_.end()) return &it->second;
  auto spec = spec_from_json(gemm.value("spec", json()));
  if (!spec) return spec.error();
  auto cubin = cache_.lookup(key);
  if (!cubin)
    return make_error(errc::kInternal,
                      "kernel " + key + " is not in the cubin cache at " + cache_.dir().string() +
                          " (the worker reads the daemon's --cache-dir; was it evicted?)",
                      "gemms.key");
  auto k = runtime::GemmKernel::load(*d_, *spec, *cubin);
  if (!k) return k.error();
  return &kernels_.emplace(key, std::move(k).value()).first->second;
}

}  // namespace tpjit::worker
