#include "bullmq/redis_topology.hpp"

#include "bullmq/cluster_slots.hpp"
#include "bullmq/cluster_topology.hpp"
#include "bullmq/sentinel_topology.hpp"

namespace bullmq {

RedisTopology::RedisTopology(asio::any_io_executor executor, RedisOptions options)
    : options_(std::move(options)) {
  switch (options_.mode) {
    case RedisMode::kSentinel:
      sentinel_ = std::make_shared<SentinelTopology>(executor, options_);
      break;
    case RedisMode::kCluster:
      cluster_ = std::make_shared<ClusterTopology>(executor, options_);
      break;
    case RedisMode::kStandalone:
      break;
  }
}

RedisTopology::~RedisTopology() {
  stop();
}

void RedisTopology::start() {
  if (sentinel_) sentinel_->start();
}

void RedisTopology::stop() {
  if (sentinel_) sentinel_->stop();
}

std::shared_ptr<RedisRoute> RedisTopology::route_for_queue(std::string_view prefix,
                                                           std::string_view queue) {
  if (sentinel_) return sentinel_;
  if (cluster_) {
    const std::string key = std::string(prefix) + ":" + std::string(queue) + ":";
    return cluster_->route_for_slot(key_slot(key));
  }
  return nullptr;
}

std::optional<std::string> RedisTopology::check_queue(std::string_view prefix,
                                                      std::string_view queue) const {
  if (!cluster_) return std::nullopt;
  return queue_hash_tag_problem(prefix, queue);
}

std::string RedisTopology::problem() const {
  if (sentinel_ && !sentinel_->master()) return sentinel_->problem();
  if (cluster_) return cluster_->problem();
  return {};
}

std::string RedisTopology::current_master() const {
  if (sentinel_ && sentinel_->master()) return sentinel_->master()->describe();
  return {};
}

}  // namespace bullmq
