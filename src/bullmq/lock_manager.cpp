#include "bullmq/lock_manager.hpp"

#include "bullmq/clock.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/spawn.hpp"

namespace bullmq {

LockManager::LockManager(asio::any_io_executor executor, LockStore& store, std::string queue,
                         std::int64_t lock_duration_ms, std::int64_t renew_time_ms,
                         LostHandler on_lost, Clock clock)
    : executor_(executor),
      store_(store),
      queue_(std::move(queue)),
      clock_(clock ? clock : &now_ms),
      lock_duration_ms_(lock_duration_ms),
      renew_time_ms_(renew_time_ms),
      on_lost_(std::move(on_lost)),
      timer_(executor) {}

void LockManager::start() {
  if (running_) return;
  running_ = true;
  spawn(executor_, run(), "lock renewal loop");
}

void LockManager::stop() {
  running_ = false;
  timer_.cancel();
}

void LockManager::track(const std::string& job_id, const std::string& token,
                        std::int64_t since_ms) {
  if (auto it = tracked_.find(job_id); it != tracked_.end()) {
    it->second = Entry{token, since_ms};
    return;
  }
  if (spare_.empty()) {
    tracked_.emplace(job_id, Entry{token, since_ms});
    return;
  }
  auto node = std::move(spare_.back());
  spare_.pop_back();
  node.key().assign(job_id);
  node.mapped().token.assign(token);
  node.mapped().renewed_at_ms = since_ms;
  tracked_.insert(std::move(node));
}

void LockManager::untrack(const std::string& job_id) {
  auto node = tracked_.extract(job_id);
  if (!node.empty() && spare_.size() < kMaxSpareNodes) spare_.push_back(std::move(node));
}

awaitable<void> LockManager::run() {
  const auto tick = std::chrono::milliseconds(std::max<std::int64_t>(renew_time_ms_ / 2, 1));
  while (running_) {
    timer_.expires_after(tick);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!running_) break;
    try {
      co_await renew_due();
    } catch (const std::exception& e) {
      logger().warn("lock.renew_failed", "could not renew job locks; will retry next tick",
                    {{"queue", queue_}, {"error", e.what()}});
    }
  }
}

awaitable<void> LockManager::renew_due() {
  const std::int64_t now = clock_();
  std::vector<std::string> ids;
  std::vector<std::string> tokens;
  for (const auto& [id, entry] : tracked_) {
    if (now - entry.renewed_at_ms > renew_time_ms_ / 2) {
      ids.push_back(id);
      tokens.push_back(entry.token);
    }
  }
  if (ids.empty()) co_return;
  auto failed = co_await store_.extend_locks(ids, tokens, lock_duration_ms_);
  std::unordered_map<std::string, bool> lost;
  for (auto& id : failed) lost[id] = true;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto it = tracked_.find(ids[i]);
    // A job may have finished while the call was in flight, or been re-claimed
    // with another token in a chained fetch.
    if (it == tracked_.end() || it->second.token != tokens[i]) continue;
    if (lost.count(ids[i])) {
      ++lost_;
      tracked_.erase(it);
      on_lost_(ids[i]);
    } else {
      ++renewals_;
      it->second.renewed_at_ms = now;
    }
  }
}

}  // namespace bullmq
