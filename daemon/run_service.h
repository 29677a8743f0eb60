// The "run" request: compile a graph's plan for the local GPUs' arch through the compile
// service, then execute each fused region on the GPU workers (daemon/workers.h), one rank per
// GPU, with inputs from a seed or .npy files, outputs to .npy, and, with "check", the unfused
// reference. docs/protocol.md ("run") has the body, the reply, the .npy layout and the errors.
//
// Composition: the run service wraps the compile service. It answers "run" itself and hands
// every other type to `compile_service`; capabilities and stats are the compile service's plus
// its own. tpjitd serves the run service (which must not outlive compile_service).
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "daemon/handler.h"
#include "daemon/service.h"
#include "daemon/workers.h"

namespace tpjit {

inline constexpr const char* kErrWorldMismatch = "world_size_mismatch";
inline constexpr const char* kErrBadInput = "bad_input";  // a missing or mis-shaped .npy input

std::unique_ptr<RequestHandler> make_run_service(const DaemonConfig& config,
                                                 daemon::WorkerPoolConfig workers,
                                                 RequestHandler& compile_service);

}  // namespace tpjit
