// Redis key names of one queue, as BullMQ lays them out: `<prefix>:<queue>:<suffix>`
// and job keys `<prefix>:<queue>:<jobId>`. A value type; build once per queue.
#pragma once

#include <string>
#include <string_view>

namespace bullmq {

class QueueKeys {
 public:
  QueueKeys(std::string prefix, std::string queue)
      : prefix_(std::move(prefix)), queue_(std::move(queue)), base_(prefix_ + ":" + queue_ + ":") {}

  const std::string& prefix() const { return prefix_; }
  const std::string& queue() const { return queue_; }
  // `<prefix>:<queue>:` with the trailing colon: the "prefix" script argument.
  const std::string& base() const { return base_; }
  // `<prefix>:<queue>`: what flows call the queue key.
  std::string queue_key() const { return prefix_ + ":" + queue_; }

  std::string key(std::string_view suffix) const { return base_ + std::string(suffix); }
  std::string wait() const { return key("wait"); }
  std::string active() const { return key("active"); }
  std::string paused() const { return key("paused"); }
  std::string prioritized() const { return key("prioritized"); }
  std::string priority_counter() const { return key("pc"); }
  std::string delayed() const { return key("delayed"); }
  std::string completed() const { return key("completed"); }
  std::string failed() const { return key("failed"); }
  std::string waiting_children() const { return key("waiting-children"); }
  std::string stalled() const { return key("stalled"); }
  std::string stalled_check() const { return key("stalled-check"); }
  std::string limiter() const { return key("limiter"); }
  std::string marker() const { return key("marker"); }
  std::string meta() const { return key("meta"); }
  std::string events() const { return key("events"); }
  std::string id() const { return key("id"); }
  std::string repeat() const { return key("repeat"); }
  std::string metrics(std::string_view target) const { return key("metrics:" + std::string(target)); }

  std::string job(std::string_view job_id) const { return base_ + std::string(job_id); }
  std::string job_lock(std::string_view job_id) const { return job(job_id) + ":lock"; }
  std::string job_logs(std::string_view job_id) const { return job(job_id) + ":logs"; }
  std::string job_dependencies(std::string_view job_id) const { return job(job_id) + ":dependencies"; }
  std::string job_processed(std::string_view job_id) const { return job(job_id) + ":processed"; }
  std::string job_failed(std::string_view job_id) const { return job(job_id) + ":failed"; }
  std::string job_unsuccessful(std::string_view job_id) const { return job(job_id) + ":unsuccessful"; }

  // The name Node gives a worker's blocking connection, which is how
  // Queue.getWorkers() finds workers: `<prefix>:<base64(queue)>[:w:<name>]`.
  std::string worker_client_name(std::string_view worker_name) const;

 private:
  std::string prefix_;
  std::string queue_;
  std::string base_;
};

// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);

}  // namespace bullmq
