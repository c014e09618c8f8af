// Redis Sentinel: finds the master of a monitored group and keeps every data
// connection on it. It asks the sentinels (in order, the last one that
// answered first) for the master's address, checks with ROLE after each
// connect that the server really is the master, listens on every sentinel
// for +switch-master (and +promoted-slave, which the failover's leader
// publishes earlier) and then moves every attached connection to the new
// master at once, so that nothing more is written to the old one: the old
// master stays writable, answering ROLE master, until the sentinels convert
// it seconds later, and what it accepts meanwhile is lost. For the same
// reason a sentinel that still names the old master after a switch is not
// believed for a minute. READONLY or UNBLOCKED from a server that used to be
// the master (reported by the connection) makes it ask again.
//
// It is the RedisRoute of all data connections (one master for all queues).
// Owned by RedisTopology through shared_ptr; lives on the I/O thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bullmq/asio.hpp"
#include "bullmq/redis_connection.hpp"
#include "bullmq/redis_options.hpp"
#include "bullmq/redis_route.hpp"

namespace bullmq {

class SentinelTopology final : public RedisRoute,
                               public std::enable_shared_from_this<SentinelTopology> {
 public:
  SentinelTopology(asio::any_io_executor executor, RedisOptions options);

  // Starts listening for master switches.
  void start();
  void stop();

  awaitable<RedisAddress> locate() override;
  awaitable<void> verify(RedisConnection& connection, const RedisAddress& address) override;
  void unreachable(const RedisAddress& address, const std::string& why) override;
  void demoted(const RedisAddress& address) override;
  void attach(RedisConnection* connection) override;
  void detach(RedisConnection* connection) override;

  // The master in use, if known.
  const std::optional<RedisAddress>& master() const { return master_; }
  // Why no master is known (empty when one is).
  const std::string& problem() const { return problem_; }
  std::uint64_t switches() const { return switches_; }

 private:
  awaitable<void> subscribe(RedisConnection& connection);
  // Asks the sentinels in turn; the first that knows the master wins and is
  // asked first next time. Throws ConnectionError when none answers.
  awaitable<RedisAddress> ask_sentinels();
  void on_message(const Reply& message);
  // The sentinels named `to` the master: move every connection there.
  void switch_master(const RedisAddress& to, const std::string& why);
  awaitable<void> recheck();

  asio::any_io_executor executor_;
  RedisOptions options_;           // for the data nodes
  RedisOptions sentinel_options_;  // for the sentinels: their credentials, no database
  std::vector<RedisAddress> sentinels_;
  // A master the sentinels switched away from, and until when (steady ms)
  // an answer naming it is taken for a sentinel that has not caught up.
  std::optional<RedisAddress> old_master_;
  std::int64_t old_master_until_ms_ = 0;
  std::optional<RedisAddress> master_;
  std::string problem_;
  std::uint64_t switches_ = 0;
  std::vector<RedisConnection*> attached_;
  std::vector<std::shared_ptr<RedisConnection>> subscribers_;  // one per sentinel
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace bullmq
