#include "runtime/gemm_runner.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "codegen/variant.h"
#include "runtime/memory.h"
#include "util/check.h"

#include "runtime/tensor_map.h"

namespace tpjit::runtime {
namespace {

Error bad_args(const std::string& what) {
  return make_error(errc::kBadRequest, "gemm launch: " + what, "runtime.gemm");
}

Error bad_shape(const std::string& what) {
  return make_error(errc::kUnsupportedShape, "gemm launch: " + what, "runtime.gemm");
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

constexpr uint32_t kTmaBoxK = 128;  // one 128-byte swizzle row of e4m3 per box row

// An operand's encoded maps, least recently used replaced first. One kernel serves the same
// shape in every layer of a model (80 weight tensors for Llama-3-70B's qkv), so it keeps one
// map per buffer it has seen recently rather than only the last; a hit skips the encode.
struct CachedMap {
  const void* base = nullptr;
  uint64_t rows = 0, stride = 0;
  uint64_t used = 0;  // MapSet::clock at the last hit
  CUtensorMap map{};
};

struct MapSet {
  static constexpr size_t kCapacity = 128;
  std::vector<CachedMap> maps;
  uint64_t clock = 0;

  // The cached map of (base, rows, stride), or nullptr.
  const CUtensorMap* find(const void* base, uint64_t rows, uint64_t stride) {
    for (CachedMap& m : maps)
      if (m.base == base && m.rows == rows && m.stride == stride) {
        m.used = ++clock;
        return &m.map;
      }
    return nullptr;
  }
  const CUtensorMap* add(const void* base, uint64_t rows, uint64_t stride, const CUtensorMap& map) {
    CachedMap entry{base, rows, stride, ++clock, map};
    if (maps.size() < kCapacity) {
      maps.push_back(entry);
      return &maps.back().map;
    }
    auto oldest = std::min_element(maps.begin(), maps.end(),
                                   [](const CachedMap& x, const CachedMap& y) { return x.used < y.used; });
    *oldest = entry;
    return &oldest->map;
  }
};

}  // namespace

// Split-K buffers of one stream: fp32 partials and one counter per output tile.
struct SplitBuffers {
  DeviceBuffer partials, counters;
};

struct GemmKernel::MapCache {
  std::mutex mu;
  MapSet a, b;
  std::map<CUstream, SplitBuffers> split;
};

GemmKernel::GemmKernel(const Driver* d, codegen::GemmSpec spec, Module m, Function f,
                       int max_clusters)
    : d_(d),
      spec_(std::move(spec)),
      module_(std::move(m)),
      fn_(std::move(f)),
      max_clusters_(max_clusters),
      maps_(std::make_shared<MapCache>()) {}

Result<GemmKernel> GemmKernel::load(const Driver& d, const codegen::GemmSpec& spec,
                                    std::span<const uint8_t> cubin) {
  if (Status s = codegen::check_spec(spec); !s.ok()) return s.error();
  Result<Module> m = Module::load(d, cubin);
  if (!m.ok()) return m.error();
  Result<Function> f = m->function(codegen::kernel_name(spec));
  if (!f.ok()) return f.error();
  const codegen::LaunchShape shape = codegen::launch_shape(spec, 1);
  if (shape.smem_bytes > codegen::kDefaultSmemLimit) {
    TPJIT_CU_RETURN(d, cuFuncSetAttribute(f->get(),
                                          CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                          static_cast<int>(shape.smem_bytes)));
  }
  int max_clusters = 0;
  if (shape.persistent) {
    // Depends on the function, block, shared memory and cluster size only: asked once here.
    // The grid must be a multiple of the cluster; one cluster is enough for the query.
    CUlaunchConfig c{};
    c.gridDimX = shape.cluster_x;
    c.gridDimY = c.gridDimZ = 1;
    c.blockDimX = shape.block_x;
    c.blockDimY = c.blockDimZ = 1;
    c.sharedMemBytes = shape.smem_bytes;
    CUlaunchAttribute attr{};
    attr.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attr.value.clusterDim.x = shape.cluster_x;
    attr.value.clusterDim.y = attr.value.clusterDim.z = 1;
    c.attrs = &attr;
    c.numAttrs = 1;
    TPJIT_CU_RETURN(d, cuOccupancyMaxActiveClusters(&max_clusters, f->get(), &c));
    if (max_clusters < 1)
      return make_error(kErrCuda,
                        "kernel " + codegen::kernel_name(spec) +
                            ": no cluster of " + std::to_string(shape.cluster_x) +
                            " CTAs fits on this GPU (" + std::to_string(shape.smem_bytes) +
                            " bytes of shared memory, " + std::to_string(shape.block_x) +
                            " threads each)",
                        "runtime.gemm");
  }
  return GemmKernel(&d, spec, std::move(m).value(), std::move(f).value(), max_clusters);
}

bool has_hooks(const GemmArgs& a) {
  return a.first_m_block != 0 || a.a_ready || a.c_ready || a.tile_done || a.own_d || a.own_c ||
         a.own_end != a.own_begin || a.hook_group_mc != 0 || a.local_shard != 0;
}

Status GemmKernel::check_args(const GemmArgs& a) const {
  const int64_t n = spec_.n, k = spec_.k;
  const codegen::LaunchShape shape = codegen::launch_shape(spec_, 0);
  const int64_t max_m = shape.persistent ? int64_t{1} << 30 : int64_t{65535} * spec_.tile.bm;
  if (a.m < 0 || a.m > max_m) {
    return bad_shape("m=" + std::to_string(a.m) + " outside [0, " + std::to_string(max_m) +
                     "] for this kernel");
  }
  if (!a.a || !a.b || !a.d || !a.scale_a || !a.scale_b) return bad_args("null a, b, d or scale");
  // The 16-byte copies (cp.async or TMA) need these; a caller can fall back to no kernel of
  // ours for data laid out otherwise, so they are a shape problem, not a bad request.
  if (!aligned16(a.a) || !aligned16(a.b))
    return bad_shape("a and b must be 16-byte aligned (the copies move 16-byte chunks)");
  if (a.lda < k || a.lda % 16 != 0 || a.ldb < k || a.ldb % 16 != 0) {
    return bad_shape("lda=" + std::to_string(a.lda) + " and ldb=" + std::to_string(a.ldb) +
                     " must be >= k=" + std::to_string(k) + " and multiples of 16 bytes");
  }
  if (a.ldd < n || a.d_row_offset < 0) return bad_args("ldd must be >= n; d_row_offset >= 0");
  if (spec_.bias != (a.bias != nullptr)) return bad_args("bias pointer must match spec.bias");
  if ((a.c || a.own_c) && !spec_.accumulate)
    return bad_args("a c pointer needs a kernel with spec.accumulate");
  if ((a.c || a.own_c) && a.ldc < n) return bad_args("ldc must be >= n");
  if (has_hooks(a)) {
    if (!codegen::find_variant(spec_.variant)->overlap_hooks)
      return bad_args("overlap hooks (a_ready, c_ready, tile_done, own rows, first_m_block) "
                      "need a variant that takes them (sm90_wgmma), not " + spec_.variant);
    const int64_t m_blocks = (a.m + spec_.tile.bm - 1) / spec_.tile.bm;
    if (a.first_m_block < 0 || (a.m > 0 && a.first_m_block >= m_blocks) ||
        a.first_m_block % spec_.tile.cluster_m != 0)
      return bad_args("first_m_block must be a multiple of the cluster within [0, M tiles)");
    const bool flags = a.a_ready || a.c_ready || a.tile_done;
    if (flags && (a.hook_shard_rows < 1 || a.hook_chunk_rows < 1 || a.hook_stride < 1))
      return bad_args("hook_shard_rows, hook_chunk_rows and hook_stride must be >= 1");
    if (a.own_end < a.own_begin || (a.own_end > a.own_begin && !a.own_d))
      return bad_args("own rows need own_d and own_begin <= own_end");
    if (a.hook_group_mc < 0 || a.hook_group_mc > 16)
      return bad_args("hook_group_mc must be within [0, 16]");
    if (a.local_shard < 0 ||
        (a.local_shard > 0 &&
         (a.hook_shard_rows < 1 || a.hook_shard_rows % spec_.tile.bm != 0 ||
          int64_t{a.local_shard} * a.hook_shard_rows > a.m)))
      return bad_args("local_shard must be 0, or name a shard of hook_shard_rows rows (a "
                      "multiple of the tile's " + std::to_string(spec_.tile.bm) +
                      ") within M, with LaunchOptions::a_local");
  }
  return ok_status();
}

int GemmKernel::max_resident_ctas() const {
  return max_clusters_ * static_cast<int>(codegen::launch_shape(spec_, 0).cluster_x);
}

Status GemmKernel::launch(const GemmArgs& args, CUstream stream, const LaunchOptions& opts) const {
  if (Status s = check_args(args); !s.ok()) return s;
  const codegen::LaunchShape sh = codegen::launch_shape(spec_, args.m);
  if (args.local_shard > 0 && !opts.a_local)
    return bad_args("local_shard needs LaunchOptions::a_local (the shard's rows)");
  if (sh.tensor_maps) return launch_tma(args, sh, stream, opts);
  LaunchConfig cfg;
  cfg.grid = {sh.grid_x, sh.grid_y, sh.grid_z};
  cfg.block = {sh.block_x, sh.block_y, sh.block_z};
  cfg.dynamic_smem_bytes = sh.smem_bytes;
  cfg.stream = stream;
  GemmArgs local = args;  // cuLaunchKernelEx copies the bytes during the call
  void* params[] = {&local};
  fn_.launch(cfg, params);
  return ok_status();
}

// The TMA templates' contract (templates/gemm_fp8_sm90.cuh header): UINT8 maps of rank 2,
// 128-byte swizzle, 256-byte L2 promotion, zero fill out of bounds; A is [m, K] with boxes of
// {128, bm}, B is [N, K] with boxes of {128, bn / cluster_m} (each CTA of a cluster loads its
// share of the B tile and multicasts it).
Status GemmKernel::launch_tma(const GemmArgs& args, const codegen::LaunchShape& sh,
                              CUstream stream, const LaunchOptions& opts) const {
  if (args.m == 0) return ok_status();  // no rows: nothing to write, no map of 0 rows
  const int max_ctas = sh.persistent ? opts.max_ctas : 0;
  const codegen::TileConfig& t = spec_.tile;
  const bool local_map = codegen::find_variant(spec_.variant)->overlap_hooks;  // a third map
  CUtensorMap ma, mb, ml;
  {
    std::lock_guard lock(maps_->mu);
    auto encode = [&](MapSet& set, const void* base, uint64_t rows, int64_t stride,
                      uint32_t box_rows, CUtensorMap* out) -> Status {
      if (const CUtensorMap* hit = set.find(base, rows, uint64_t(stride))) {
        *out = *hit;
        return ok_status();
      }
      TensorMap2d desc{.rows = rows,
                       .cols = static_cast<uint64_t>(spec_.k),
                       .row_stride_bytes = static_cast<uint64_t>(stride),
                       .box_rows = box_rows,
                       .box_cols = kTmaBoxK};
      Result<CUtensorMap> m = encode_tensor_map_2d(*d_, base, desc);
      if (!m.ok()) return m.error();
      *out = *set.add(base, rows, uint64_t(stride), *m);
      return ok_status();
    };
    if (Status s = encode(maps_->a, args.a, uint64_t(args.m), args.lda, uint32_t(t.bm), &ma);
        !s.ok())
      return s;
    if (Status s = encode(maps_->b, args.b, uint64_t(spec_.n), args.ldb,
                          uint32_t(t.bn / t.cluster_m), &mb);
        !s.ok())
      return s;
    ml = ma;
    if (local_map && args.local_shard > 0)
      if (Status s = encode(maps_->a, opts.a_local, uint64_t(args.hook_shard_rows), args.lda,
                            uint32_t(t.bm), &ml);
          !s.ok())
        return s;
  }
  LaunchConfig cfg;
  unsigned clusters = static_cast<unsigned>(max_clusters_);
  if (max_ctas > 0)  // whole clusters only; one at least, so the launch always makes progress
    clusters = std::max(1u, std::min(clusters, static_cast<unsigned>(max_ctas) / sh.cluster_x));
  const unsigned cap = sh.cluster_x * clusters;
  cfg.grid = {std::min(sh.grid_x, cap), 1, 1};
  cfg.block = {sh.block_x, 1, 1};
  cfg.dynamic_smem_bytes = sh.smem_bytes;
  cfg.stream = stream;
  cfg.cluster = {sh.cluster_x, 1, 1};
  GemmArgs local = args;
  // Hooked launches wait on other GPUs inside tiles: every tile must be one unit, so that a
  // CTA never waits with work another rank needs still queued behind it (no split K).
  local.split_k = has_hooks(args) ? 1 : codegen::split_for(spec_, args.m, static_cast<int>(cap));
  local.workspace = nullptr;
  local.tile_counters = nullptr;
  if (local.split_k > 1) {
    if (Status s = attach_split_workspace(&local, local.split_k, stream); !s.ok()) return s;
    cfg.grid.x = std::min(static_cast<unsigned>(codegen::output_tiles(spec_, args.m)) *
                              static_cast<unsigned>(local.split_k),
                          cap);
  }
  void* params[] = {&ma, &mb, &ml, &local};
  if (!local_map) params[2] = &local;  // sm100: (A, B, args)
  fn_.launch(cfg, params);
  return ok_status();
}

Status GemmKernel::attach_split_workspace(GemmArgs* a, int split, CUstream stream) const {
  const codegen::TileConfig& t = spec_.tile;
  const size_t tiles = static_cast<size_t>(codegen::output_tiles(spec_, a->m));
  const size_t partial_bytes = static_cast<size_t>(split) * tiles * t.bm * t.bn * sizeof(float);
  const size_t counter_bytes = tiles * sizeof(unsigned);
  std::lock_guard lock(maps_->mu);
  SplitBuffers& b = maps_->split[stream];
  if (b.partials.size() < partial_bytes || b.counters.size() < counter_bytes) {
    // Earlier launches on this stream may still read the old buffers.
    TPJIT_CU_RETURN(*d_, cuStreamSynchronize(stream));
    try {
      b.partials = DeviceBuffer(*d_, std::max(partial_bytes, b.partials.size()));
      b.counters = DeviceBuffer(*d_, std::max(counter_bytes, b.counters.size()));
      b.counters.fill_async(0, stream);  // the kernel leaves them zero after every launch
    } catch (const CheckError& e) {
      b = SplitBuffers{};
      return make_error(kErrCuda,
                        "split-K workspace of " + std::to_string(partial_bytes) +
                            " bytes for kernel " + codegen::kernel_name(spec_) +
                            " could not be allocated: " + e.what(),
                        "runtime.gemm");
    }
  }
  a->workspace = static_cast<float*>(b.partials.data());
  a->tile_counters = static_cast<unsigned*>(b.counters.data());
  return ok_status();
}

}  // namespace tpjit::runtime
