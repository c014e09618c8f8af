// The one way this project includes Boost.Asio. Boost 1.74's awaitable.hpp
// uses std::exchange without including <utility>, which GCC 12 in C++20 mode
// rejects; including <utility> first fixes it. Never include Asio directly.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

namespace bullmq {
namespace asio = boost::asio;
using asio::awaitable;
}  // namespace bullmq
