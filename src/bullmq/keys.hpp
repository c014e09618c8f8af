// Redis key names of one queue, as BullMQ lays them out: `<prefix>:<queue>:<suffix>`
// and job keys `<prefix>:<queue>:<jobId>`. A value type; build once per queue.
#pragma once

#include <string>
#include <string_view>

namespace bullmq {

class QueueKeys {
 public:
  // Every key name is built once here: they are used on every job.
  QueueKeys(std::string prefix, std::string queue)
      : prefix_(std::move(prefix)),
        queue_(std::move(queue)),
        base_(prefix_ + ":" + queue_ + ":"),
        wait_(key("wait")),
        active_(key("active")),
        paused_(key("paused")),
        prioritized_(key("prioritized")),
        priority_counter_(key("pc")),
        delayed_(key("delayed")),
        completed_(key("completed")),
        failed_(key("failed")),
        waiting_children_(key("waiting-children")),
        stalled_(key("stalled")),
        stalled_check_(key("stalled-check")),
        limiter_(key("limiter")),
        marker_(key("marker")),
        meta_(key("meta")),
        events_(key("events")),
        id_(key("id")),
        repeat_(key("repeat")),
        metrics_completed_(key("metrics:completed")),
        metrics_failed_(key("metrics:failed")) {}

  const std::string& prefix() const { return prefix_; }
  const std::string& queue() const { return queue_; }
  // `<prefix>:<queue>:` with the trailing colon: the "prefix" script argument.
  const std::string& base() const { return base_; }
  // `<prefix>:<queue>`: what flows call the queue key.
  std::string queue_key() const { return prefix_ + ":" + queue_; }

  std::string key(std::string_view suffix) const { return base_ + std::string(suffix); }
  const std::string& wait() const { return wait_; }
  const std::string& active() const { return active_; }
  const std::string& paused() const { return paused_; }
  const std::string& prioritized() const { return prioritized_; }
  const std::string& priority_counter() const { return priority_counter_; }
  const std::string& delayed() const { return delayed_; }
  const std::string& completed() const { return completed_; }
  const std::string& failed() const { return failed_; }
  const std::string& waiting_children() const { return waiting_children_; }
  const std::string& stalled() const { return stalled_; }
  const std::string& stalled_check() const { return stalled_check_; }
  const std::string& limiter() const { return limiter_; }
  const std::string& marker() const { return marker_; }
  const std::string& meta() const { return meta_; }
  const std::string& events() const { return events_; }
  const std::string& id() const { return id_; }
  const std::string& repeat() const { return repeat_; }
  std::string metrics(std::string_view target) const {
    return key("metrics:" + std::string(target));
  }
  const std::string& metrics_completed() const { return metrics_completed_; }
  const std::string& metrics_failed() const { return metrics_failed_; }

  std::string job(std::string_view job_id) const { return base_ + std::string(job_id); }
  std::string job_lock(std::string_view job_id) const { return job(job_id) + ":lock"; }
  std::string job_logs(std::string_view job_id) const { return job(job_id) + ":logs"; }
  std::string job_dependencies(std::string_view job_id) const {
    return job(job_id) + ":dependencies";
  }
  std::string job_processed(std::string_view job_id) const { return job(job_id) + ":processed"; }
  std::string job_failed(std::string_view job_id) const { return job(job_id) + ":failed"; }
  std::string job_unsuccessful(std::string_view job_id) const {
    return job(job_id) + ":unsuccessful";
  }

  // The name Node gives a worker's blocking connection, which is how
  // Queue.getWorkers() finds workers: `<prefix>:<base64(queue)>[:w:<name>]`.
  std::string worker_client_name(std::string_view worker_name) const;

 private:
  std::string prefix_;
  std::string queue_;
  std::string base_;
  std::string wait_;
  std::string active_;
  std::string paused_;
  std::string prioritized_;
  std::string priority_counter_;
  std::string delayed_;
  std::string completed_;
  std::string failed_;
  std::string waiting_children_;
  std::string stalled_;
  std::string stalled_check_;
  std::string limiter_;
  std::string marker_;
  std::string meta_;
  std::string events_;
  std::string id_;
  std::string repeat_;
  std::string metrics_completed_;
  std::string metrics_failed_;
};

// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);

}  // namespace bullmq
