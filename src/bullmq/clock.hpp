// Wall-clock milliseconds since the Unix epoch, the time base of every BullMQ
// script argument (Node passes Date.now()).
#pragma once

#include <chrono>
#include <cstdint>

namespace bullmq {

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace bullmq
