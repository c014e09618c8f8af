#include "bullmq/cluster_topology.hpp"

#include <algorithm>

#include "bullmq/clock.hpp"
#include "bullmq/error.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/redis_connection.hpp"
#include "bullmq/spawn.hpp"
#include "bullmq/strings.hpp"

namespace bullmq {
namespace {

class ClusterRoute final : public RedisRoute {
 public:
  ClusterRoute(std::shared_ptr<ClusterTopology> topology, int slot)
      : topology_(std::move(topology)), slot_(slot) {}
  awaitable<RedisAddress> locate() override { return topology_->owner(slot_); }
  void unreachable(const RedisAddress& address, const std::string& why) override {
    topology_->mark_stale(address.describe() + " unreachable: " + why);
  }
  void moved(int slot, const RedisAddress& target) override { topology_->moved(slot, target); }
  void demoted(const RedisAddress& address) override {
    topology_->mark_stale(address.describe() + " is no longer a master");
  }

 private:
  std::shared_ptr<ClusterTopology> topology_;
  int slot_;
};

}  // namespace

ClusterTopology::ClusterTopology(asio::any_io_executor executor, RedisOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      known_(options_.seeds),
      slot_owner_(kClusterSlots, -1) {}

std::shared_ptr<RedisRoute> ClusterTopology::route_for_slot(int slot) {
  return std::make_shared<ClusterRoute>(shared_from_this(), slot);
}

void ClusterTopology::mark_stale(const std::string& why) {
  if (!stale_) {
    logger().debug("redis.cluster_map_stale", "reading the Cluster slot map again",
                   {{"reason", why}});
  }
  stale_ = true;
}

void ClusterTopology::moved(int slot, const RedisAddress& target) {
  if (slot < 0 || slot >= kClusterSlots) return;
  recent_moves_.push_back(Move{slot, target, now_ms()});
  if (!refreshing_) {
    auto self = shared_from_this();
    spawn(
        executor_, [self]() { return self->refresh_quietly(); }, "cluster slot map refresh");
  }
  auto it = std::find(masters_.begin(), masters_.end(), target);
  if (it == masters_.end()) {
    masters_.push_back(target);
    it = masters_.end() - 1;
  }
  slot_owner_[static_cast<std::size_t>(slot)] = static_cast<std::int16_t>(it - masters_.begin());
  if (std::find(known_.begin(), known_.end(), target) == known_.end()) known_.push_back(target);
}

awaitable<RedisAddress> ClusterTopology::owner(int slot) {
  if (stale_ || slot_owner_[static_cast<std::size_t>(slot)] < 0) co_await refresh();
  const auto index = slot_owner_[static_cast<std::size_t>(slot)];
  if (index < 0) {
    throw ConnectionError(
        "no Cluster master serves slot " + std::to_string(slot) +
        (problem_.empty() ? std::string(" (the cluster is incomplete)") : " (" + problem_ + ")"));
  }
  co_return masters_[static_cast<std::size_t>(index)];
}

awaitable<void> ClusterTopology::refresh_quietly() {
  try {
    co_await refresh();
  } catch (const std::exception&) {
    // problem_ says why; the next locate() tries again.
  }
}

// One refresh at a time; connections that need the map meanwhile wait for
// the one under way instead of asking the nodes again.
awaitable<void> ClusterTopology::refresh() {
  if (refreshing_) {
    auto waiting = refreshed_.get();
    boost::system::error_code ec;
    co_await waiting->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return;
  }
  refreshing_ = true;
  refreshed_ = std::make_unique<asio::steady_timer>(executor_);
  refreshed_->expires_at(asio::steady_timer::time_point::max());
  auto self = shared_from_this();  // the map outlives this refresh
  std::string errors;
  bool done = false;
  const std::vector<RedisAddress> nodes = known_;
  for (const RedisAddress& node : nodes) {
    try {
      Reply r = co_await query_once(executor_, options_, node, strings("CLUSTER", "SLOTS"),
                                    "cluster map");
      std::string error;
      if (r.is_error()) {
        errors += (errors.empty() ? "" : "; ") + node.describe() + " " + r.str;
        continue;
      }
      auto ranges = parse_cluster_slots(r, node, error);
      if (!ranges) {
        errors += (errors.empty() ? "" : "; ") + node.describe() + " " + error;
        continue;
      }
      masters_.clear();
      std::fill(slot_owner_.begin(), slot_owner_.end(), -1);
      for (const auto& range : *ranges) {
        auto it = std::find(masters_.begin(), masters_.end(), range.master);
        if (it == masters_.end()) {
          masters_.push_back(range.master);
          it = masters_.end() - 1;
        }
        const auto index = static_cast<std::int16_t>(it - masters_.begin());
        for (int s = range.first; s <= range.last; ++s)
          slot_owner_[static_cast<std::size_t>(s)] = index;
        if (std::find(known_.begin(), known_.end(), range.master) == known_.end())
          known_.push_back(range.master);
      }
      // A MOVED seen moments ago is newer than a map that may lag behind.
      const std::int64_t now = now_ms();
      std::erase_if(recent_moves_, [now](const Move& m) { return now - m.at_ms > 3000; });
      for (const Move& m : recent_moves_) {
        auto owner = std::find(masters_.begin(), masters_.end(), m.target);
        if (owner == masters_.end()) {
          masters_.push_back(m.target);
          owner = masters_.end() - 1;
        }
        slot_owner_[static_cast<std::size_t>(m.slot)] =
            static_cast<std::int16_t>(owner - masters_.begin());
      }
      // The node that answered is asked first next time.
      auto it = std::find(known_.begin(), known_.end(), node);
      if (it != known_.end()) std::rotate(known_.begin(), it, it + 1);
      done = true;
      break;
    } catch (const std::exception& e) {
      errors += (errors.empty() ? "" : "; ") + node.describe() + " " + e.what();
    }
  }
  if (done) {
    stale_ = false;
    problem_.clear();
  } else {
    problem_ = "no Cluster node answered CLUSTER SLOTS: " + errors;
  }
  refreshing_ = false;
  refreshed_->cancel();
  refreshed_.reset();
  if (!done) throw ConnectionError(problem_);
}

}  // namespace bullmq
