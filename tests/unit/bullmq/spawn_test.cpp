#include "bullmq/spawn.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace bullmq;

TEST_CASE("an exception escaping a spawned coroutine is counted, not lost") {
  asio::io_context io;
  bool finished = false;
  const std::uint64_t before = escaped_coroutine_exceptions();
  spawn(
      io,
      []() -> awaitable<void> {
        if (true) throw std::runtime_error("against its design");
        co_return;
      },
      "test body");
  spawn(
      io,
      [&]() -> awaitable<void> {
        finished = true;
        co_return;
      },
      "well-behaved body");
  io.run();
  CHECK(finished);
  CHECK(escaped_coroutine_exceptions() == before + 1);
}
