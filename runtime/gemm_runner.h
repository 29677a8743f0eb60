// Launching a generated GEMM (codegen's GemmSpec + its cubin) with GemmArgs per the Kernel ABI
// (templates/gemm_args.cuh) and codegen's launch_shape. TMA variants (sm90_wgmma,
// sm100_tcgen05) get their two tensor maps encoded here, their persistent grid capped at the
// clusters the GPU holds at once, and the cluster launch attribute. Kernels with split_k > 1
// get the K split chosen per launch (codegen::split_for) and a workspace per stream.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <memory>
#include <span>

#include "codegen/spec.h"
#include "runtime/driver.h"
#include "runtime/module.h"
#include "templates/gemm_args.cuh"
#include "util/result.h"

namespace tpjit::runtime {

struct LaunchOptions {
  // > 0: persistent variants launch at most this many CTAs (rounded down to a whole number of
  // clusters, at least one cluster), leaving SMs free for a kernel beside it (NCCL's, during
  // an overlapped collective). Non-persistent variants ignore it: their CTAs are short-lived
  // and the block scheduler interleaves them with others anyway.
  int max_ctas = 0;
  // sm90_wgmma with args.local_shard > 0: that shard's hook_shard_rows rows of A, row stride
  // lda, read from here instead of from args.a (the all-gather's one launch: no copy of its own
  // shard into the gathered buffer).
  const void* a_local = nullptr;
};

// Whether `a` uses any overlap hook (templates/overlap_hooks.cuh): only sm90_wgmma kernels
// take them, and their launches never split K.
bool has_hooks(const GemmArgs& a);

// A generated GEMM loaded into the current context. Move-only (owns its Module).
class GemmKernel {
 public:
  // Loads `cubin` (compiled from generate(spec)) and looks up kernel_name(spec); raises the
  // dynamic shared memory limit when the tiles need more than 48 KiB; for persistent variants
  // asks the occupancy API once how many clusters fit (kErrCuda if none does).
  static Result<GemmKernel> load(const Driver& d, const codegen::GemmSpec& spec,
                                 std::span<const uint8_t> cubin);

  // Checks `args` against the spec (alignment, leading dims, pointers the epilogue needs)
  // before any launch and launches it on `stream` for args.m rows; kUnsupportedShape or
  // kBadRequest on bad arguments. Asynchronous: a fault inside the kernel shows up at the next
  // synchronization. Thread-safe. args.workspace, tile_counters and split_k are set here.
  // Split-K launches use a workspace kept per stream: launches on one stream run in order, so
  // they may share it; a grown workspace first waits for the stream (kErrCuda if memory runs
  // out). The context that was current at launch must be current when this kernel is dropped.
  Status launch(const GemmArgs& args, CUstream stream, const LaunchOptions& opts = {}) const;

  const codegen::GemmSpec& spec() const { return spec_; }
  const Function& function() const { return fn_; }
  // Clusters (CTAs for cluster_m == 1) resident at once; 0 for non-persistent variants.
  int max_active_clusters() const { return max_clusters_; }
  // CTAs resident at once (clusters x cluster size); 0 for non-persistent variants.
  int max_resident_ctas() const;

 private:
  struct MapCache;  // the last tensor maps encoded, per operand; split-K workspaces per stream
  GemmKernel(const Driver* d, codegen::GemmSpec spec, Module m, Function f, int max_clusters);
  Status check_args(const GemmArgs& args) const;
  Status launch_tma(const GemmArgs& args, const codegen::LaunchShape& sh, CUstream stream,
                    const LaunchOptions& opts) const;
  // Points a->workspace and a->tile_counters at stream's buffers, grown to `split` slices.
  Status attach_split_workspace(GemmArgs* a, int split, CUstream stream) const;
  const Driver* d_;
  codegen::GemmSpec spec_;
  Module module_;
  Function fn_;
  int max_clusters_ = 0;
  std::shared_ptr<MapCache> maps_;  // heap: keeps GemmKernel movable (it holds a mutex)
};

}  // namespace tpjit::runtime
