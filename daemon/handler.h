// What the server asks of the service behind it. The server owns sockets, framing, limits,
// hello, stats and shutdown; everything else ("compile", later "run", "warmup") goes to a
// RequestHandler.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace tpjit {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;

  // Merged into the hello reply's "capabilities". "requests" lists the request types the
  // handler serves (the server adds hello, stats, shutdown); other types are then refused as
  // unknown_request before reaching handle(). Without a "requests" list every other type is
  // forwarded. Called on the event-loop thread: must be cheap and never block.
  virtual nlohmann::json capabilities() const = 0;

  // Serves one request; body is a JSON object. Called on a worker-pool thread, concurrently
  // with other calls: must be thread-safe. An exception becomes an errc::kInternal reply.
  virtual Result<nlohmann::json> handle(const std::string& type, const nlohmann::json& body) = 0;

  // An object merged into the stats reply. Called on the event-loop thread: cheap, no blocking.
  virtual nlohmann::json stats() const = 0;
};

}  // namespace tpjit
