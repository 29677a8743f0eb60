// How tpjitd instances on several hosts (or several on one host, each owning one GPU) agree on
// one NCCL unique id: rank 0 listens on TCP HOST:PORT and hands the id to every other rank.
// IPv4 only. Grammar (integers big-endian):
//   hello  := "TPJR" version:u32 rank:u32 world:u32             (rank r > 0 -> rank 0)
//   answer := "TPJR" version:u32 status:u32 id:256 hex bytes     (rank 0 -> rank r)
//   status := 0 ok | 1 version mismatch | 2 world mismatch | 3 rank out of range or repeated
// A hello with a bad magic, version or rank is answered (when it can be) and dropped, and
// rank 0 keeps waiting. Every step has the caller's deadline; past it: kErrRendezvous naming
// the ranks that never came. Each communicator (the first, and each one after a fault) does
// one exchange.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "util/result.h"

namespace tpjit::daemon {

inline constexpr uint32_t kRendezvousVersion = 1;

struct RendezvousAddress {
  std::string host;  // dotted IPv4, or "localhost"
  uint16_t port = 0;
};

// "127.0.0.1:29500" -> {host, port}; kBadRequest otherwise.
Result<RendezvousAddress> parse_rendezvous(const std::string& text);

// Rank 0: listens on address until world - 1 distinct ranks have fetched `id`.
Status rendezvous_publish(const RendezvousAddress& address, int world, const std::string& id,
                          std::chrono::milliseconds timeout);

// Rank r > 0: connects (retrying every 100 ms while nobody listens) and returns the id.
Result<std::string> rendezvous_fetch(const RendezvousAddress& address, int rank, int world,
                                     std::chrono::milliseconds timeout);

}  // namespace tpjit::daemon
