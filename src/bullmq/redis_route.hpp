// How a RedisConnection finds its server and learns that it moved. A route
// answers "where do I connect now?" before every connect, may check the
// server after the handshake (Sentinel: is it the master?), and hears back
// when a server was unreachable or a reply redirected a command (MOVED,
// READONLY, UNBLOCKED). Routes belong to a topology (Sentinel, Cluster) that
// outlives its connections; connections hold them by shared_ptr. A
// connection without a route talks to the one server of its RedisOptions.
// Everything runs on the I/O thread.
#pragma once

#include <string>

#include "bullmq/asio.hpp"
#include "bullmq/redis_options.hpp"

namespace bullmq {

class RedisConnection;

class RedisRoute {
 public:
  virtual ~RedisRoute() = default;

  // Where to connect now. May ask other servers; throws ConnectionError
  // when no address can be found (the connection retries with backoff).
  virtual awaitable<RedisAddress> locate() = 0;
  // After AUTH/SELECT on a fresh connection to `address`, before any queued
  // command: throw to reject the server (the connection then retries).
  virtual awaitable<void> verify(RedisConnection& connection, const RedisAddress& address);
  // `address` could not be reached, or was rejected by verify().
  virtual void unreachable(const RedisAddress& address, const std::string& why);
  // MOVED: `slot` lives on `target` now.
  virtual void moved(int slot, const RedisAddress& target);
  // READONLY / UNBLOCKED: the server at `address` is no longer a master.
  virtual void demoted(const RedisAddress& address);
  // Whether a connection on this route resends commands that were
  // redirected (MOVED, ASK, TRYAGAIN, READONLY, UNBLOCKED) instead of
  // returning those error replies.
  virtual bool follows_redirects() const { return true; }
  // A connection registers while it exists, so that a topology can tell it
  // to move (relocate) when the master changes.
  virtual void attach(RedisConnection* connection);
  virtual void detach(RedisConnection* connection);
};

// Always the same address; redirections are returned to the caller. For
// one-off queries (CLUSTER SLOTS, SENTINEL …) and ASK redirections.
class FixedRoute final : public RedisRoute {
 public:
  explicit FixedRoute(RedisAddress address) : address_(std::move(address)) {}
  awaitable<RedisAddress> locate() override { co_return address_; }
  bool follows_redirects() const override { return false; }

 private:
  RedisAddress address_;
};

}  // namespace bullmq
