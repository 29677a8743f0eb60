// tpjit-worker: one GPU's process, started by tpjitd (daemon/workers.h) with
//   tpjit-worker --fd N --device ORDINAL --cache-dir DIR [--fake GPUS]
// It serves worker/protocol.h on descriptor N until shutdown or end of stream. A failed CUDA
// or NCCL call is answered with kErrGpu and then ends the process (status kExitGpuError): the
// daemon re-creates the workers and the communicator. --fake serves the protocol without a GPU
// (CPU tests of the supervisor), and adds the die/hang requests.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "ipc/message.h"
#include "runtime/driver.h"
#include "runtime/nccl.h"
#include "util/check.h"
#include "worker/channel.h"
#include "worker/gpu_session.h"
#include "worker/protocol.h"

namespace {

using namespace tpjit;
using nlohmann::json;

struct Args {
  int fd = -1, device = 0, fake_gpus = -1;
  std::string cache_dir;
};

bool parse(int argc, char** argv, Args* a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--fd") a->fd = std::atoi(v.c_str());
    else if (k == "--device") a->device = std::atoi(v.c_str());
    else if (k == "--cache-dir") a->cache_dir = v;
    else if (k == "--fake") a->fake_gpus = std::atoi(v.c_str());
    else return false;
  }
  return a->fd >= 0 && !a->cache_dir.empty() && argc % 2 == 1;
}

// The fake worker's answers: what a GPU worker would say, with no GPU.
Result<json> fake(const Args& a, const ipc::Request& r) {
  if (r.type == "hello")
    return json{{"device", {{"ordinal", a.device}, {"name", "fake GPU"}, {"arch", "sm_90"},
                            {"sm_count", 0}, {"memory_bytes", 0}}},
                {"device_count", a.fake_gpus}, {"fake", true}};
  if (r.type == "nccl_id") return json{{"nccl_id", std::string(256, 'a')}};
  if (r.type == "init_comm") return json::object();
  if (r.type == "run_region") {
    const bool fused = r.body.value("fused", true);
    const bool lt = r.body.value("gemm", "") == "cublaslt";
    return json{{"region", r.body.value("region", 0)}, {"rank", r.body.value("rank", 0)},
                {"iters", r.body.value("iters", 1)}, {"ms_median", 0.0},
                {"execution", fused ? "fused" : lt ? "unfused_cublaslt" : "unfused"},
                {"transport", fused ? "nccl" : "none"},
                {"outputs", json::array()}};
  }
  if (r.type == "die") {
    if (r.body.contains("signal")) std::raise(r.body["signal"].get<int>());
    std::_Exit(r.body.value("code", 1));
  }
  if (r.type == "hang")
    for (;;) ::pause();
  return make_error(errc::kUnknownRequest, "fake worker: no request '" + r.type + "'", "type");
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse(argc, argv, &args)) {
    std::fprintf(stderr,
                 "usage: tpjit-worker --fd N --device ORDINAL --cache-dir DIR [--fake GPUS]\n"
                 "(started by tpjitd; not meant to be run by hand)\n");
    return worker::kExitUsage;
  }
  std::signal(SIGPIPE, SIG_IGN);
  worker::Channel channel{UniqueFd(args.fd)};
  std::unique_ptr<worker::GpuSession> gpu;
  Error open_error;
  if (args.fake_gpus < 0) {
    auto s = worker::GpuSession::open(args.device, args.cache_dir);
    if (s) gpu = std::move(s).value();
    else open_error = s.error();
  }
  for (;;) {
    auto message = channel.receive();
    if (!message) return worker::kExitChannelLost;
    auto request = ipc::parse_request(*message);
    if (!request) {
      (void)channel.send(ipc::make_error_reply(ipc::request_id_of(*message), request.error()));
      continue;
    }
    const ipc::Request& r = *request;
    Result<json> reply = json::object();
    bool fatal = false;
    try {
      if (r.type == "shutdown") {
        (void)channel.send(ipc::make_ok_reply(r.id, json::object()));
        return worker::kExitOk;
      } else if (args.fake_gpus >= 0) {
        reply = fake(args, r);
      } else if (!gpu) {
        reply = open_error;  // answered to every request; the daemon reports it
      } else if (r.type == "hello") {
        reply = gpu->hello();
      } else if (r.type == "nccl_id") {
        reply = gpu->nccl_id();
      } else if (r.type == "init_comm") {
        reply = gpu->init_comm(r.body);
      } else if (r.type == "run_region") {
        reply = gpu->run_region(r.body);
      } else {
        reply = make_error(errc::kUnknownRequest, "tpjit-worker: no request '" + r.type + "'", "type");
      }
      if (!reply && gpu &&
          (reply.error().code == runtime::kErrCuda || reply.error().code == runtime::kErrNccl)) {
        fatal = true;
      }
    } catch (const std::exception& e) {
      reply = make_error(worker::kErrGpu, e.what(), "");
      fatal = true;
    }
    if (fatal) {
      Error e = reply.error();
      e.message = "device " + std::to_string(args.device) + ": " + e.message;
      e.code = worker::kErrGpu;
      (void)channel.send(ipc::make_error_reply(r.id, e));
      std::fflush(nullptr);
      std::_Exit(worker::kExitGpuError);  // the context may be poisoned: skip destructors
    }
    if (!channel.send(reply ? ipc::make_ok_reply(r.id, *reply)
                            : ipc::make_error_reply(r.id, reply.error())))
      return worker::kExitChannelLost;
  }
}
