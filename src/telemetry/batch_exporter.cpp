#include "telemetry/batch_exporter.hpp"

#include <algorithm>

#include "bullmq/logger.hpp"
#include "telemetry/http_post.hpp"

namespace telemetry {
namespace {

using bullmq::logger;
using Clock = std::chrono::steady_clock;

// The OTLP spec's retryable answers; anything else but 2xx drops the batch.
bool retryable_status(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

constexpr int kMaxAttempts = 5;  // then the batch is given up
constexpr std::chrono::milliseconds kFirstBackoff{1000};
constexpr std::chrono::milliseconds kMaxBackoff{16000};

}  // namespace

BatchExporter::BatchExporter(ExporterConfig config, Emitter emitter)
    : config_(std::move(config)),
      emitter_(std::move(emitter)),
      poster_(std::make_unique<HttpPoster>(config_.endpoint, config_.headers, config_.ca_file)) {
  thread_ = std::thread([this] { run(); });
}

BatchExporter::~BatchExporter() {
  shutdown(std::chrono::milliseconds(0));
}

bool BatchExporter::enqueue(Span&& span) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= config_.max_queue_size) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(span));
    if (queue_.size() < config_.max_export_batch_size) return true;
  }
  wake_.notify_one();
  return true;
}

void BatchExporter::shutdown(std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    deadline_ = Clock::now() + deadline;
  }
  wake_.notify_all();
  {
    // An export under way when the deadline passes is cut short.
    std::unique_lock lock(mutex_);
    if (!wake_.wait_until(lock, deadline_, [this] { return done_; })) {
      lock.unlock();
      poster_->cancel();
    }
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (!queue_.empty()) {
    dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
    logger().warn("otel.spans_dropped", "shutdown deadline passed; spans not exported were dropped",
                  {{"spans", static_cast<long long>(queue_.size())}});
    queue_.clear();
  }
}

ExporterStats BatchExporter::stats() const {
  ExporterStats s;
  s.exported = exported_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  s.queued = queue_.size();
  return s;
}

bool BatchExporter::past_deadline() const {
  std::lock_guard lock(mutex_);
  return stopping_ && Clock::now() >= deadline_;
}

void BatchExporter::run() {
  struct Done {
    BatchExporter& exporter;
    ~Done() {
      {
        std::lock_guard lock(exporter.mutex_);
        exporter.done_ = true;
      }
      exporter.wake_.notify_all();
    }
  } done{*this};
  std::vector<Span> batch;
  batch.reserve(config_.max_export_batch_size);
  auto next_flush = Clock::now() + config_.schedule_delay;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_flush, [this] {
        return stopping_ || queue_.size() >= config_.max_export_batch_size;
      });
      if (stopping_ && (queue_.empty() || Clock::now() >= deadline_)) return;
      const bool due =
          stopping_ || queue_.size() >= config_.max_export_batch_size || Clock::now() >= next_flush;
      if (!due) continue;
      next_flush = Clock::now() + config_.schedule_delay;
      if (queue_.empty()) continue;
      const std::size_t n = std::min(queue_.size(), config_.max_export_batch_size);
      std::move(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n),
                std::back_inserter(batch));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    send(batch);
    batch.clear();
  }
}

void BatchExporter::send(std::vector<Span>& batch) {
  const std::string body = encode_export_request(emitter_, batch);
  auto backoff = kFirstBackoff;
  for (int attempt = 1;; ++attempt) {
    auto timeout = config_.timeout;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
        if (left.count() <= 0) break;
        timeout = std::min(timeout, left);
      }
    }
    PostResult r = poster_->post("application/json", body, timeout);
    if (r.status >= 200 && r.status < 300) {
      exported_.fetch_add(batch.size(), std::memory_order_relaxed);
      if (failing_) {
        failing_ = false;
        logger().info("otel.export_recovered", "the OTLP collector accepts spans again",
                      {{"endpoint", config_.endpoint.url}});
      }
      return;
    }
    const bool retry = r.status == 0 || retryable_status(r.status);
    std::string why = r.error;
    if (r.status != 0) {
      why = "HTTP ";
      why += std::to_string(r.status);
    }
    if (r.status != 0 && !r.body.empty()) {
      why += ": ";
      why += r.body;
    }
    if (!failing_) {
      failing_ = true;
      logger().warn("otel.export_failed",
                    retry ? "could not export spans; retrying with backoff (spans beyond the "
                            "queue bound are dropped meanwhile)"
                          : "the OTLP collector refused spans; the batch is dropped",
                    {{"endpoint", config_.endpoint.url},
                     {"spans", static_cast<long long>(batch.size())},
                     {"error", why}});
    }
    if (!retry || attempt >= kMaxAttempts) break;
    std::unique_lock lock(mutex_);
    // A shutdown ends the wait: the retries left are then bounded by its deadline.
    wake_.wait_for(lock, backoff, [this] { return stopping_; });
    if (stopping_ && Clock::now() >= deadline_) break;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  failed_.fetch_add(batch.size(), std::memory_order_relaxed);
}

}  // namespace telemetry
