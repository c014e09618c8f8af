// The one hand-off from the I/O thread to a thread pool and back: runs a
// blocking piece of work (a processor, a dependency check) on the pool and
// resumes the awaiting coroutine on its own executor with the result.
//
// `work` is passed by pointer and must live until the co_await ends (make it
// a local of the awaiting coroutine): GCC 12 destroys the captures of a
// lambda written inside a co_await expression twice, so nothing that owns
// memory may be captured there. The work must not throw (catch inside it).
#pragma once

#include <type_traits>
#include <utility>

#include "bullmq/asio.hpp"
#include "bullmq/blocking_pool.hpp"

namespace bullmq {

template <typename Work>
awaitable<std::invoke_result_t<Work&>> on_pool(BlockingPool& pool, Work* work) {
  using Result = std::invoke_result_t<Work&>;
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result)>(
      [&pool, work](auto handler) {
        pool.post([work, h = std::move(handler)]() mutable {
          Result result = (*work)();
          auto executor = asio::get_associated_executor(h);
          asio::post(executor, [h = std::move(h), r = std::move(result)]() mutable {
            std::move(h)(std::move(r));
          });
        });
      },
      asio::use_awaitable);
}

}  // namespace bullmq
