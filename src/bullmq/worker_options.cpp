#include "bullmq/worker_options.hpp"

namespace bullmq {

std::string WorkerOptions::validate() const {
  if (queue.empty()) return "queue name is required";
  if (queue.find(':') != std::string::npos) return "queue name '" + queue + "' may not contain ':'";
  if (prefix.empty()) return "prefix may not be empty";
  if (concurrency < 1) return "concurrency must be at least 1";
  if (lock_duration_ms < 1) return "lock duration must be a positive number of ms";
  if (lock_renew_time_ms < 0) return "lock renew time may not be negative";
  if (effective_lock_renew_time_ms() < 2) {
    return lock_renew_time_ms > 0 ? "lock renew time must be at least 2 ms"
                                  : "lock duration must be at least 4 ms (the lock is renewed "
                                    "every half of it unless a renew time is given)";
  }
  if (effective_lock_renew_time_ms() >= lock_duration_ms) {
    std::string message = "lock renew time (";
    message.append(std::to_string(effective_lock_renew_time_ms()))
        .append(" ms) must be shorter than the lock duration (")
        .append(std::to_string(lock_duration_ms))
        .append(" ms): the lock would lapse between renewals and every longer job would stall");
    return message;
  }
  if (stalled_interval_ms < 1) return "stalled interval must be a positive number of ms";
  if (max_stalled_count < 0) return "max stalled count may not be negative";
  if (!(drain_delay_s > 0)) return "drain delay must be positive";
  if (limiter && (limiter->max < 1 || limiter->duration_ms < 1)) {
    return "limiter needs both max >= 1 and duration >= 1 ms";
  }
  if (name.find_first_of(" \t\r\n") != std::string::npos) {
    return "worker name '" + name + "' may not contain spaces (Redis client names cannot)";
  }
  // Redis refuses client names with any byte outside '!'..'~'; the worker
  // would then run unlisted by Queue.getWorkers() and Bull Board.
  for (unsigned char c : name) {
    if (c < '!' || c > '~') {
      return "worker name '" + name +
             "' may only contain printable ASCII characters (Redis client names cannot hold "
             "others)";
    }
  }
  if (shutdown_timeout_ms && *shutdown_timeout_ms < 0)
    return "shutdown timeout may not be negative";
  if (metrics_max_data_points && *metrics_max_data_points < 1) {
    return "metrics max data points must be at least 1";
  }
  if (max_started_attempts && *max_started_attempts < 0)
    return "max started attempts may not be negative";
  if (processor_threads < 0) return "processor threads may not be negative";
  if (finish_connections < 0 || finish_connections > kMaxFinishConnections) {
    std::string message = "finish connections must be between 0 (automatic) and ";
    message.append(std::to_string(kMaxFinishConnections));
    return message;
  }
  return {};
}

}  // namespace bullmq
