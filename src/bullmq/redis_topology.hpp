// The Redis a process talks to, as its RedisOptions describe it: one server,
// a Sentinel group or a Cluster. Gives each queue's connections their route
// (none for one server; the Sentinel master; the Cluster node of the queue's
// slot), refuses at start a queue whose keys would span Cluster slots, and
// says what stands in the way when no server can be found. One per process,
// created and used on the I/O thread; outlives every Worker.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bullmq/asio.hpp"
#include "bullmq/redis_options.hpp"
#include "bullmq/redis_route.hpp"

namespace bullmq {

class SentinelTopology;
class ClusterTopology;

class RedisTopology {
 public:
  RedisTopology(asio::any_io_executor executor, RedisOptions options);
  ~RedisTopology();
  RedisTopology(const RedisTopology&) = delete;
  RedisTopology& operator=(const RedisTopology&) = delete;

  const RedisOptions& options() const { return options_; }

  // Starts what runs beside the connections (the Sentinel listener).
  void start();
  void stop();

  // The route for connections serving the keys of a queue whose keys all
  // start with `prefix:queue:`; null for a single server.
  std::shared_ptr<RedisRoute> route_for_queue(std::string_view prefix, std::string_view queue);

  // Why a queue cannot be served (in Cluster mode: keys spanning slots), or
  // nullopt.
  std::optional<std::string> check_queue(std::string_view prefix, std::string_view queue) const;

  // What keeps the topology from naming a server (no sentinel answers, the
  // slot map cannot be read), or empty.
  std::string problem() const;
  // Sentinel: the master in use ("host:port"), or empty.
  std::string current_master() const;

 private:
  RedisOptions options_;
  std::shared_ptr<SentinelTopology> sentinel_;
  std::shared_ptr<ClusterTopology> cluster_;
};

}  // namespace bullmq
