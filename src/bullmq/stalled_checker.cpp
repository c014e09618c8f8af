#include "bullmq/stalled_checker.hpp"

#include "bullmq/clock.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/spawn.hpp"

namespace bullmq {

StalledChecker::StalledChecker(asio::any_io_executor executor, StalledStore& store,
                               std::string queue, std::int64_t interval_ms, int max_stalled_count,
                               ResultHook on_result, Clock clock)
    : executor_(executor),
      store_(store),
      queue_(std::move(queue)),
      interval_ms_(interval_ms),
      max_stalled_count_(max_stalled_count),
      on_result_(std::move(on_result)),
      clock_(clock ? clock : &now_ms),
      timer_(executor) {}

void StalledChecker::start() {
  if (running_) return;
  running_ = true;
  spawn(executor_, run(), "stalled-job check loop");
}

void StalledChecker::stop() {
  running_ = false;
  timer_.cancel();
}

awaitable<std::int64_t> StalledChecker::check_once() {
  std::vector<std::string> ids;
  try {
    ids = co_await store_.move_stalled_jobs_to_wait(max_stalled_count_, interval_ms_, clock_());
  } catch (const std::exception& e) {
    if (on_result_) on_result_(&e);
    if (running_) {
      logger().warn("worker.stalled_check_failed", "stalled-job check failed; retrying in 5 s",
                    {{"queue", queue_}, {"error", e.what()}});
    }
    co_return kRetryAfterFailureMs;
  }
  if (on_result_) on_result_(nullptr);
  for (const auto& id : ids) {
    ++recovered_;
    logger().warn("job.stalled", "recovered a stalled job (its worker stopped renewing the lock)",
                  {{"queue", queue_}, {"job_id", id}});
  }
  co_return interval_ms_;
}

awaitable<void> StalledChecker::run() {
  while (running_) {
    const std::int64_t wait = co_await check_once();
    if (!running_) break;
    timer_.expires_after(std::chrono::milliseconds(wait));
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace bullmq
