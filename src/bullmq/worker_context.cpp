#include "bullmq/worker_context.hpp"

#include <future>

#include "bullmq/clock.hpp"
#include "bullmq/cluster_slots.hpp"
#include "bullmq/json.hpp"
#include "bullmq/redis_error_reply.hpp"

namespace bullmq {

template <typename F>
auto Worker::Context::on_io(F f) {
  // An inline processor runs on the I/O thread itself: waiting there for
  // the I/O thread would never end.
  if (worker_.io_.get_executor().running_in_this_thread()) {
    throw UnrecoverableError("processor '" + job().name +
                             "' runs inline (on the worker's I/O thread) and called its job "
                             "context; it must return false from runs_inline() to use its "
                             "context");
  }
  try {
    return asio::co_spawn(worker_.io_, std::move(f), asio::use_future).get();
  } catch (const ConnectionError& e) {
    throw DependencyUnavailable(kRedisDependency, e.what());
  } catch (const ServerError& e) {
    // Redis refusing writes (MISCONF, OOM, READONLY, …) is no more the
    // job's fault than Redis being down.
    if (blocks_claiming(error_kind_of_code(e.code())))
      throw DependencyUnavailable(kRedisDependency, e.what());
    throw;
  }
}

void Worker::Context::update_progress(std::string_view json) {
  if (!is_json(json)) throw std::invalid_argument("progress must be a JSON value");
  refuse_if_lock_lost("updateProgress");
  int rc = on_io([this, body = std::string(json)]() -> awaitable<int> {
    co_return co_await worker_.scripts_.update_progress(job().id, running_->token, body);
  });
  check_write(script_code(rc), "updateProgress");
}

void Worker::Context::log(std::string_view line) {
  refuse_if_lock_lost("addLog");
  auto rc = on_io([this, row = std::string(line)]() -> awaitable<std::int64_t> {
    co_return co_await worker_.scripts_.add_log(job().id, running_->token, row,
                                                job().opts.keep_logs);
  });
  check_write(script_code(rc), "addLog");
}

void Worker::Context::update_data(std::string_view json) {
  if (!is_json(json)) throw std::invalid_argument("job data must be JSON");
  refuse_if_lock_lost("updateData");
  int rc = on_io([this, body = std::string(json)]() -> awaitable<int> {
    co_return co_await worker_.scripts_.update_data(job().id, running_->token, body);
  });
  check_write(script_code(rc), "updateData");
}

void Worker::Context::move_to_delayed(std::chrono::milliseconds delay) {
  ScriptCode code = on_io([this, delay]() -> awaitable<ScriptCode> {
    auto result = co_await worker_.scripts_.move_to_delayed(
        job(), worker_.claim_options(running_->token), delay.count(), /*skip_attempt=*/true, {},
        /*fetch_next=*/false, now_ms());
    if (result.code == ScriptCode::kOk) worker_.locks_.untrack(job().id);
    co_return result.code;
  });
  if (code != ScriptCode::kOk) throw ScriptRefused(code, describe(code, job().id, "moveToDelayed"));
  throw DelayedError();
}

void Worker::Context::move_to_waiting_children() {
  bool moved = false;
  try {
    moved = on_io([this]() -> awaitable<bool> {
      const bool parked =
          co_await worker_.scripts_.move_to_waiting_children(job().id, running_->token, now_ms());
      if (parked) worker_.locks_.untrack(job().id);
      co_return parked;
    });
  } catch (const ScriptRefused& refused) {
    // Node's moveToWaitingChildren: a failed child (failParentOnFailure) ends the parent.
    if (refused.code() == ScriptCode::kFailedChildren) throw UnrecoverableError(refused.what());
    throw;
  }
  if (moved) throw WaitingChildrenError();
}

std::map<std::string, std::string> Worker::Context::children_values() {
  return hash(worker_.scripts_.keys().job_processed(job().id));
}

std::map<std::string, std::string> Worker::Context::ignored_children_failures() {
  return hash(worker_.scripts_.keys().job_failed(job().id));
}

// Node's job.moveToWait(token): back to wait, no attempt spent.
void Worker::Context::move_to_wait() {
  on_io([this]() -> awaitable<void> {
    co_await worker_.scripts_.move_job_from_active_to_wait(job().id, running_->token);
    worker_.locks_.untrack(job().id);
  });
  throw WaitingError();
}

// Node's worker.rateLimit(ms).
void Worker::Context::rate_limit(std::chrono::milliseconds duration) {
  if (duration.count() <= 0) {
    std::string message = "rate_limit: the duration must be at least 1 ms (got ";
    message += std::to_string(duration.count());
    message += ")";
    throw std::invalid_argument(message);
  }
  on_io([this, ms = duration.count()]() -> awaitable<void> {
    co_await worker_.scripts_.set_rate_limit(ms);
  });
}

// Node's Queue.add (with `parent` for a child of the running job).
std::string Worker::Context::add_job(const bullmq_worker::NewJob& spec) {
  const QueueKeys& own = worker_.scripts_.keys();
  QueueKeys target(own.prefix(), spec.queue.empty() ? own.queue() : spec.queue);
  if (worker_.cluster_ && key_slot(target.base()) != key_slot(own.base())) {
    throw std::invalid_argument("cannot add job '" + spec.name + "' to queue '" + target.queue() +
                                "': in Redis Cluster its keys live in another slot than queue '" +
                                own.queue() + "' (give both queue names the same {hash tag})");
  }
  std::optional<NewJobParent> parent;
  if (spec.as_child) parent = NewJobParent{job().id, own.queue_key()};
  // Traced: Node's "add <queue>.<name>" producer span, whose context the
  // new job carries on to its own consumer.
  std::unique_ptr<AddJobSpan> traced =
      running_->span ? running_->span->start_add(target.queue(), spec.name) : nullptr;
  try {
    const NewJobPlan plan =
        plan_new_job(spec, target, parent, now_ms(), traced ? traced->metadata() : std::string());
    std::string id = send_new_job(target, plan, spec.as_child);
    if (traced) traced->end(id);
    return id;
  } catch (const std::exception& e) {
    if (traced) traced->end({}, e.what());
    throw;
  }
}

bullmq_worker::Dependencies Worker::Context::dependencies() {
  return on_io([this]() -> awaitable<bullmq_worker::Dependencies> {
    co_return co_await worker_.scripts_.dependencies(job().id);
  });
}

bullmq_worker::DependencyCounts Worker::Context::dependency_counts() {
  return on_io([this]() -> awaitable<bullmq_worker::DependencyCounts> {
    co_return co_await worker_.scripts_.dependency_counts(job().id);
  });
}

void Worker::Context::remove_unprocessed_children() {
  refuse_if_lock_lost("removeUnprocessedChildren");
  int rc = on_io([this]() -> awaitable<int> {
    co_return co_await worker_.scripts_.remove_unprocessed_children(job().id, running_->token);
  });
  check_write(script_code(rc), "removeUnprocessedChildren");
}

bool Worker::Context::sleep_for(std::chrono::milliseconds duration) {
  std::unique_lock lock(running_->mutex);
  running_->wake.wait_for(lock, duration, [this] { return running_->cancelled.load(); });
  return !running_->cancelled.load();
}

// Runs the add script of `plan`; returns the new job's id.
std::string Worker::Context::send_new_job(const QueueKeys& target, const NewJobPlan& plan,
                                          bool child) {
  // A child joins the running job's dependencies: only while it is ours.
  std::optional<ParentLock> parent_lock;
  if (child) {
    refuse_if_lock_lost("addJob");
    parent_lock = ParentLock{worker_.scripts_.keys().job_lock(job().id), running_->token};
  }
  Reply reply = on_io([this, &target, &plan, &parent_lock]() -> awaitable<Reply> {
    co_return co_await worker_.scripts_.execute(add_job_call(target, plan, parent_lock));
  });
  if (reply.is_integer() && reply.integer < 0)
    throw std::runtime_error(add_job_error_message(static_cast<int>(reply.integer), plan));
  if (reply.is_integer()) return std::to_string(reply.integer);
  if (reply.is_string()) return reply.str;
  throw std::runtime_error("addJob on queue " + target.queue() + ": unexpected reply " +
                           reply.describe());
}

// BullMQ's updateProgress, addLog, updateData, removeUnprocessedChildren
// and add scripts do not look at the job's lock. A worker frozen (or
// stalled) past its lock duration that wakes up must not write into a job
// that another worker took over, or that was finished meanwhile: the
// worker sends their *IfLocked forms, which check the lock against this
// run's token in the same script as the write (a GET first would leave a
// window between the check and the write). A lock already known lost is
// refused here without a round trip.
void Worker::Context::refuse_if_lock_lost(const char* command) const {
  if (running_->lock_lost) throw not_owned(command);
}

// The reply of an *IfLocked write: -2 / -6 is the lock check refusing.
void Worker::Context::check_write(ScriptCode code, const char* command) const {
  if (is_lock_refusal(code)) throw not_owned(command, code);
  if (code != ScriptCode::kOk) throw ScriptRefused(code, describe(code, job().id, command));
}

ScriptRefused Worker::Context::not_owned(const char* command, ScriptCode code) const {
  std::string message = command;
  message += " refused: job ";
  message += job().id;
  message += " is no longer locked by this worker (its lock expired or was taken over)";
  return ScriptRefused(code, message);
}

std::map<std::string, std::string> Worker::Context::hash(std::string key) {
  auto entries =
      on_io([this, key]() -> awaitable<std::vector<std::pair<std::string, std::string>>> {
        co_return co_await worker_.scripts_.hash_entries(key);
      });
  return {entries.begin(), entries.end()};
}

}  // namespace bullmq
