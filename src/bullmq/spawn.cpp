#include "bullmq/spawn.hpp"

#include <atomic>
#include <string>

#include "bullmq/logger.hpp"

namespace bullmq {
namespace {
std::atomic<std::uint64_t> g_escaped{0};
}  // namespace

void report_escaped_exception(const char* what, std::exception_ptr error) {
  g_escaped.fetch_add(1, std::memory_order_relaxed);
  std::string message;
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "a non-standard exception";
  }
  logger().error("coroutine.failed", "an exception escaped a background task; it has stopped",
                 {{"task", what}, {"error", message}});
}

std::uint64_t escaped_coroutine_exceptions() {
  return g_escaped.load(std::memory_order_relaxed);
}

}  // namespace bullmq
