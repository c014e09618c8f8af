// Starting a coroutine nobody awaits. asio::detached silently drops an
// exception that escapes such a coroutine; spawn() reports it instead: one
// "coroutine.failed" error line naming what the coroutine was for, and a
// process-wide count (escaped_coroutine_exceptions(), exported as the
// bullmq_worker_coroutine_failures_total metric). The bodies are written not
// to throw; this is how one that does anyway gets noticed.
#pragma once

#include <cstdint>
#include <exception>
#include <utility>

#include "bullmq/asio.hpp"

namespace bullmq {

// Logs and counts an exception that escaped the coroutine `what`.
void report_escaped_exception(const char* what, std::exception_ptr error);
std::uint64_t escaped_coroutine_exceptions();

// The completion handler spawn() passes to co_spawn.
struct EscapeReporter {
  const char* what;  // a string literal: "worker main loop", …
  void operator()(std::exception_ptr error) const {
    if (error) report_escaped_exception(what, std::move(error));
  }
};

// `where` is an executor or an execution context; `body` an awaitable<void>
// or a callable returning one (as co_spawn takes them).
template <typename Where, typename Body>
void spawn(Where&& where, Body&& body, const char* what) {
  asio::co_spawn(std::forward<Where>(where), std::forward<Body>(body), EscapeReporter{what});
}

}  // namespace bullmq
