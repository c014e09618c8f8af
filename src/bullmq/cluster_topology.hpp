// Redis Cluster: which master serves which slot. The map is read with
// CLUSTER SLOTS from any known node (the seeds, then every node the map
// named), when first needed and again whenever a connection found its node
// unreachable or demoted. A MOVED reply updates its slot at once and reads
// the whole map again in the background (a reshard moves many slots); for a
// few seconds the MOVED answer wins over a node whose map lags behind. Each queue's
// connections take a ClusterRoute for the queue's slot, so that queues whose
// hash tags live on different nodes are served by connections to those
// nodes. Owned by RedisTopology through shared_ptr; lives on the I/O thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bullmq/asio.hpp"
#include "bullmq/cluster_slots.hpp"
#include "bullmq/redis_options.hpp"
#include "bullmq/redis_route.hpp"

namespace bullmq {

class ClusterTopology final : public std::enable_shared_from_this<ClusterTopology> {
 public:
  ClusterTopology(asio::any_io_executor executor, RedisOptions options);

  // The route of connections serving keys of `slot`.
  std::shared_ptr<RedisRoute> route_for_slot(int slot);

  // The master serving `slot`, reading the map first if it is stale. Throws
  // ConnectionError when no node answers or none serves the slot.
  awaitable<RedisAddress> owner(int slot);
  void moved(int slot, const RedisAddress& target);
  // The map may be wrong (a node vanished or was demoted): read it again
  // before the next owner() answer.
  void mark_stale(const std::string& why);
  // Why the map could not be read (empty when it could).
  const std::string& problem() const { return problem_; }

 private:
  awaitable<void> refresh();
  awaitable<void> refresh_quietly();

  asio::any_io_executor executor_;
  RedisOptions options_;
  std::vector<RedisAddress> known_;       // nodes to ask, seeds first
  std::vector<RedisAddress> masters_;     // index → address
  std::vector<std::int16_t> slot_owner_;  // slot → index in masters_, -1 unknown
  struct Move {
    int slot;
    RedisAddress target;
    std::int64_t at_ms;
  };
  std::vector<Move> recent_moves_;  // MOVED answers of the last few seconds
  bool stale_ = true;
  bool refreshing_ = false;
  std::unique_ptr<asio::steady_timer> refreshed_;  // cancelled when a refresh ends
  std::string problem_;
};

}  // namespace bullmq
