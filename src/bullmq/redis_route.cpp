#include "bullmq/redis_route.hpp"

namespace bullmq {

awaitable<void> RedisRoute::verify(RedisConnection&, const RedisAddress&) {
  co_return;
}
void RedisRoute::unreachable(const RedisAddress&, const std::string&) {}
void RedisRoute::moved(int, const RedisAddress&) {}
void RedisRoute::demoted(const RedisAddress&) {}
void RedisRoute::attach(RedisConnection*) {}
void RedisRoute::detach(RedisConnection*) {}

}  // namespace bullmq
