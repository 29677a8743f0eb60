#include "bench/overlap_ranks.h"

#include <algorithm>
#include <barrier>
#include <exception>
#include <string>
#include <thread>

#include "util/check.h"

namespace tpjit::bench {

using runtime::Driver;

void ok_or_throw(const Status& s) {
  if (!s.ok()) throw CheckError(s.error().message);
}

void on_ranks(std::vector<Rank>& ranks, const std::function<void(Rank&)>& fn) {
  std::vector<std::string> errors(ranks.size());
  std::vector<std::thread> threads;
  for (size_t r = 0; r < ranks.size(); ++r)
    threads.emplace_back([&, r] {
      try {
        if (ranks[r].ctx) ranks[r].ctx->make_current();
        fn(ranks[r]);
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (size_t r = 0; r < ranks.size(); ++r)
    if (!errors[r].empty()) throw CheckError("rank " + std::to_string(r) + ": " + errors[r]);
}

double time_op(std::vector<Rank>& ranks, int warmup, int iters,
               const std::function<void(Rank&, int)>& op) {
  const Driver& drv = *Driver::load().value();
  std::barrier sync(static_cast<std::ptrdiff_t>(ranks.size()));
  std::vector<std::vector<double>> us(ranks.size());
  on_ranks(ranks, [&](Rank& r) {
    std::vector<runtime::Event> start, stop;
    for (int i = 0; i < iters; ++i) {
      start.emplace_back(drv);
      stop.emplace_back(drv);
    }
    for (int i = 0; i < warmup + iters; ++i) {
      r.stream->synchronize();
      sync.arrive_and_wait();
      if (i >= warmup) start[i - warmup].record(r.stream->get());
      op(r, i);
      if (i >= warmup) stop[i - warmup].record(r.stream->get());
    }
    r.stream->synchronize();
    ok_or_throw(r.comm->check());
    for (int i = 0; i < iters; ++i) us[r.rank].push_back(1e3 * stop[i].elapsed_ms_since(start[i]));
  });
  std::vector<double> worst(iters, 0);
  for (const auto& v : us)
    for (int i = 0; i < iters; ++i) worst[i] = std::max(worst[i], v[i]);
  std::nth_element(worst.begin(), worst.begin() + iters / 2, worst.end());
  return worst[iters / 2];
}

std::vector<Rank> open_ranks(const Driver& drv, int nccl_max_ctas,
                             const std::vector<int>& sm_reserves, std::vector<int>* comm_of) {
  std::vector<Rank> ranks(kWorld);
  const runtime::NcclUniqueId id = runtime::nccl_unique_id().value();
  for (int r = 0; r < kWorld; ++r) ranks[r].rank = r;
  comm_of->assign(sm_reserves.size(), 0);  // reserve 0 shares the default communicator
  std::vector<runtime::NcclOptions> comm_opts(1);
  comm_opts[0].max_ctas = nccl_max_ctas;
  for (size_t i = 0; i < sm_reserves.size(); ++i)
    if (sm_reserves[i] > 0) {
      (*comm_of)[i] = int(comm_opts.size());
      comm_opts.emplace_back().max_ctas = sm_reserves[i];
    }
  std::vector<runtime::NcclUniqueId> ids{id};
  for (size_t c = 1; c < comm_opts.size(); ++c) ids.push_back(runtime::nccl_unique_id().value());
  on_ranks(ranks, [&](Rank& r) {
    r.ctx.emplace(runtime::PrimaryContext::retain(drv, r.rank).value());
    r.ctx->make_current();
    for (size_t c = 0; c < comm_opts.size(); ++c) {
      r.comms.push_back(runtime::NcclComm::init(ids[c], kWorld, r.rank, comm_opts[c]).value());
      r.execs.push_back(runtime::OverlapExecutor::create(drv, r.comms.back()).value());
    }
    r.comm = &r.comms[0];
    r.exec = &r.execs[0];
    r.stream.emplace(drv);
    r.lt.emplace();
    r.lt_ws.emplace(drv, kLtWorkspace);
    float sc[kScaleB + 1] = {0.75f};
    sc[kScaleB] = 0.5f;
    r.scales.emplace(drv, sizeof(sc));
    r.scales->upload({reinterpret_cast<const uint8_t*>(sc), sizeof(sc)});
  });
  return ranks;
}

void close_ranks(std::vector<Rank>& ranks) {
  on_ranks(ranks, [&](Rank& r) {
    r.scales.reset();
    r.lt_ws.reset();
    r.lt.reset();
    r.stream.reset();
    r.exec = nullptr;
    r.execs.clear();
    for (runtime::NcclComm& c : r.comms) ok_or_throw(c.destroy());
    r.comm = nullptr;
  });
}

}  // namespace tpjit::bench
