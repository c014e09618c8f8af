#include "bullmq/worker.hpp"

#include "bullmq/worker_context.hpp"

#include <algorithm>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cstdio>

#include "bullmq/clock.hpp"
#include "bullmq/job_scheduler.hpp"
#include "bullmq/job_tracer.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/pool_handoff.hpp"
#include "bullmq/redis_error_reply.hpp"
#include "bullmq/retry_backoff.hpp"
#include "bullmq/script_catalog.hpp"
#include "bullmq/spawn.hpp"
#include "bullmq/strings.hpp"

namespace bullmq {
namespace {

using namespace std::chrono_literals;

int major_of(std::string_view version) {
  int major = 0;
  for (char c : version) {
    if (c < '0' || c > '9') break;
    major = major * 10 + (c - '0');
  }
  return major;
}

}  // namespace

Worker::Worker(asio::io_context& io, BlockingPool& pool, RedisTopology& redis,
               WorkerOptions options, const ProcessorRegistry& processors, DependencyGate* gate)
    : io_(io),
      pool_(pool),
      options_(std::move(options)),
      processors_(processors),
      gate_(gate),
      finish_rules_{options_.remove_on_complete, options_.remove_on_fail,
                    options_.max_started_attempts, &processors_},
      worker_id_(boost::uuids::to_string(boost::uuids::random_generator()())),
      cluster_(redis.options().mode == RedisMode::kCluster),
      commands_(io.get_executor(), redis.options(), "command",
                redis.route_for_queue(options_.prefix, options_.queue)),
      blocking_(io.get_executor(), redis.options(), "blocking",
                redis.route_for_queue(options_.prefix, options_.queue)),
      runner_(commands_),
      scripts_(runner_, QueueKeys(options_.prefix, options_.queue)),
      locks_(io.get_executor(), scripts_, options_.queue, options_.lock_duration_ms,
             options_.effective_lock_renew_time_ms(),
             [this](const std::string& id) { on_lock_lost(id); }),
      stalled_(io.get_executor(), scripts_, options_.queue, options_.stalled_interval_ms,
               options_.max_stalled_count,
               [this](const std::exception* error) {
                 if (closing_) return;
                 if (error) {
                   note_redis_error(*error);
                 } else {
                   note_redis_success();
                 }
               }),
      slot_signal_(io) {
  commands_.set_connect_hook(&ScriptRunner::load_all);
  blocking_.set_client_name(scripts_.keys().worker_client_name(options_.name));
  for (int i = 1; i < options_.effective_finish_connections(); ++i) {
    finish_lanes_.push_back(std::make_unique<FinishLane>(
        io.get_executor(), redis.options(), "finish " + std::to_string(i),
        redis.route_for_queue(options_.prefix, options_.queue)));
    finish_lanes_.back()->connection.set_connect_hook(&ScriptRunner::load_all);
  }
  command_connections_.push_back(&commands_);
  for (auto& lane : finish_lanes_) command_connections_.push_back(&lane->connection);
  if (command_connections_.size() > 1) {
    // Each connection's batch keeps Redis busy while the worker answers
    // another's: one write per batch of replies costs fewer system calls on
    // both sides (at concurrency 10, -14 % CPU per job and +14 % jobs/s in
    // an A/B; with a single connection the eager first write keeps Redis
    // busier instead).
    for (RedisConnection* c : command_connections_) c->set_write_after_replies(true);
  }
  slots_per_lane_.assign(command_connections_.size(), 0);
}

Worker::~Worker() = default;

void Worker::start() {
  started_ms_ = now_ms();
  for (RedisConnection* c : command_connections_) c->start();
  blocking_.start();
  if (!options_.skip_lock_renewal) locks_.start();
  spawn(io_, check_version(), "queue version check");
  if (!options_.skip_stalled_check) stalled_.start();
  spawn(io_, main_loop(), "worker main loop");
  logger().info("worker.started", "worker started",
                {{"queue", options_.queue},
                 {"prefix", options_.prefix},
                 {"concurrency", options_.concurrency},
                 {"worker_id", worker_id_},
                 {"name", options_.name},
                 {"bullmq", kBullmqVersion}});
}

Processor* Worker::find_processor(const std::string& job_name) const {
  Processor* processor = processors_.find(job_name);
  return processor ? processor : processors_.fallback();
}

std::string Worker::next_token() {
  return worker_id_ + ":" + std::to_string(++token_counter_);
}

ClaimOptions Worker::claim_options(const std::string& token) const {
  return ClaimOptions{token, options_.lock_duration_ms, options_.limiter, options_.name};
}

// ---- Claiming: wait on the marker, claim with moveToActive, start a slot.

awaitable<void> Worker::main_loop() {
  unsigned errors = 0;
  while (!closing_) {
    if (in_flight_ >= options_.concurrency) {
      slot_signal_.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await slot_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (limit_until_ms_ > 0) {
      const std::int64_t wait = limit_until_ms_ - now_ms();
      if (wait > 0 && in_flight_ > 0) {
        slot_signal_.expires_after(
            std::chrono::milliseconds(std::min(wait, options_.maximum_rate_limit_delay_ms)));
        boost::system::error_code ec;
        co_await slot_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) {  // waited the (capped) delay out, as Node's waitForRateLimit
          limit_until_ms_ = 0;
          drained_ = false;
        }
        continue;
      }
      if (wait > 0) co_await sleep_ms(std::min(wait, options_.maximum_rate_limit_delay_ms));
      limit_until_ms_ = 0;
      drained_ = false;
      continue;
    }
    if (gated()) {
      co_await gate_->wait_open();
      continue;
    }
    bool failed = false;
    try {
      ClaimResult claimed = co_await fetch();
      note_redis_success();
      errors = 0;
      if (!claimed.job) continue;
      if (closing_) {
        // The claim was already under way when the shutdown began.
        hand_back_unstarted(std::move(*claimed.job), claimed.token);
        continue;
      }
      stats_.last_claim_ms = now_ms();
      ++in_flight_;
      spawn(io_, run_slot(std::move(claimed.job), claimed.token), "job slot");
    } catch (const std::exception& e) {
      if (closing_) break;
      note_redis_error(e);
      const bool connection = dynamic_cast<const ConnectionError*>(&e) != nullptr;
      if (!connection || errors == 0) {
        logger().log(connection ? LogLevel::kWarn : LogLevel::kError, "worker.fetch_failed",
                     "could not claim a job; retrying",
                     {{"queue", options_.queue}, {"error", e.what()}});
      }
      ++errors;
      failed = true;
    }
    if (failed) co_await sleep_ms(retry_backoff(errors).count());
  }
  main_loop_done_ = true;
  maybe_finish_shutdown();
}

awaitable<ClaimResult> Worker::fetch() {
  if (drained_) {
    co_await wait_for_marker();
    if (closing_) co_return ClaimResult{};
    if (block_until_ms_ > 0 && block_until_ms_ - now_ms() >= 1) co_return ClaimResult{};
  }
  ClaimResult result = co_await scripts_.move_to_active(claim_options(next_token()), now_ms());
  apply_claim_hints(result);
  co_return std::move(result);
}

awaitable<void> Worker::wait_for_marker() {
  double timeout_s;
  const std::int64_t now = now_ms();
  if (block_until_ms_ > 0) {
    const std::int64_t d = block_until_ms_ - now;
    if (d <= 0) co_return;  // already due: claim now
    timeout_s = d < 1 ? 0.001 : std::min(static_cast<double>(d) / 1000.0, 10.0);
  } else {
    timeout_s = std::max(options_.drain_delay_s, 0.001);
  }
  block_until_ms_ = 0;
  char timeout_text[32];
  std::snprintf(timeout_text, sizeof timeout_text, "%.3f", timeout_s);

  // The connection's deadline allows for the blocking time: a link that
  // silently died is noticed --redis-timeout after BZPOPMIN should be back.
  Reply r = co_await blocking_.blocking_command(
      strings("BZPOPMIN", scripts_.keys().marker(), std::string(timeout_text)),
      static_cast<std::int64_t>(timeout_s * 1000));
  if (r.is_array() && r.elements.size() >= 3) {
    block_until_ms_ = static_cast<std::int64_t>(std::strtod(r.elements[2].str.c_str(), nullptr));
  } else if (r.is_error()) {
    const RedisErrorReply error = classify_error_reply(r.str);
    throw ServerError("BZPOPMIN on queue " + options_.queue + ": " + r.str,
                      retryable_error(error.kind), error.code);
  }
}

void Worker::apply_claim_hints(const ClaimResult& result) {
  const std::int64_t now = now_ms();
  limit_until_ms_ = result.rate_limit_ms > 0 ? now + result.rate_limit_ms : 0;
  block_until_ms_ = result.next_delayed_ms;
  drained_ = !result.job;
}

// ---- One slot: run the job, record its outcome, go on with the next job
// the finishing script claimed.

awaitable<void> Worker::run_slot(std::unique_ptr<Job> first, std::string token) {
  std::unique_ptr<Job> next = std::move(first);
  const std::size_t lane = take_finish_lane();
  Slot slot{claim_options(token), {}};
  while (next) {
    auto running = std::make_shared<RunningJob>();
    running->job = std::move(*next);
    running->token = token;
    running->finish_lane = lane;
    running->slot = &slot;
    struct SlotLink {  // the job may outlive this frame (Context copies): unlinked however it ends
      RunningJob& job;
      ~SlotLink() { job.slot = nullptr; }
    } slot_link{*running};
    running->started_ms = now_ms();
    next.reset();
    const Job& job = running->job;
    active_[job.id] = running;
    locks_.track(job.id, token, job.processed_on_ms ? job.processed_on_ms : running->started_ms);
    running->name_stats = &stats_.by_name[job.name];
    ++running->name_stats->claimed;
    maybe_recheck_version();
    if (tracer_) running->span = tracer_->start_job({job, worker_id_, options_.name});
    log_job(LogLevel::kDebug, "job.active", "job claimed", *running);

    if (!job.repeat_job_key.empty()) co_await schedule_next_iteration(scripts_, job, now_ms());

    // Decided without the processor, or run inline here (no coroutine frame
    // for the common case), or run on the pool.
    Outcome outcome;
    Processor* processor = find_processor(job.name);
    if (auto decided = outcome_without_running(job, options_.max_started_attempts)) {
      outcome = std::move(*decided);
    } else if (!processor || processor->runs_inline()) {
      outcome = run_processor(running, processor);
    } else {
      outcome = co_await run_on_pool(running, processor);
    }
    if (running->abandoned) {  // handed back; the slot was released then
      release_finish_lane(lane);
      co_return;
    }

    FinishResult finished;
    try {
      finished = co_await finish(*running, std::move(outcome));
    } catch (const std::exception& e) {
      ++stats_.finish_errors;
      log_job(LogLevel::kError, "job.finish_failed",
              "could not record the job's outcome; stalled-job recovery will retry it", *running,
              {{"error", e.what()}});
    }
    // A job the processor moved back to wait may already run again in another
    // slot under the same id: leave that run's lock and entry alone.
    if (auto it = active_.find(job.id); it != active_.end() && it->second == running) {
      locks_.untrack(job.id);
      active_.erase(it);
    }
    if (!finished.next && finished.asked_next && finished.code == ScriptCode::kOk) {
      // Asked for the next job and the queue had none (nor a delayed one):
      // drained, as Node's worker concludes, so the next claim waits on the
      // marker instead of asking moveToActive first.
      drained_ = true;
    }
    if (finished.next) {
      apply_claim_hints(*finished.next);
      if (finished.next->job && !closing_) {
        stats_.last_claim_ms = now_ms();
        next = std::move(finished.next->job);
      } else if (finished.next->job) {
        hand_back_unstarted(std::move(*finished.next->job), token);
      }
    }
  }
  release_finish_lane(lane);
  --in_flight_;
  notify_slot();
  maybe_finish_shutdown();
}

awaitable<Outcome> Worker::run_on_pool(const std::shared_ptr<RunningJob>& running,
                                       Processor* processor) {
  running->processing = true;
  RunningJob* raw = running.get();
  auto work = [this, raw, processor] { return run_processor(raw->shared_from_this(), processor); };
  Outcome outcome = co_await on_pool(pool_, &work);
  running->processing = false;
  if (running->abandoned) --abandoned_;
  co_return std::move(outcome);
}

Outcome Worker::run_processor(const std::shared_ptr<RunningJob>& running, Processor* processor) {
  const Job& job = running->job;
  if (!processor) {
    const std::string message = "unknown job name: " + job.name;
    return Outcome::failed(message, stack_entry("UnrecoverableError", message, job.name), true);
  }
  Context context(*this, running);
  // Two captures: std::function keeps them inline instead of allocating.
  return classify_run(job,
                      [processor, &context] { return processor->process(context.job(), context); });
}

awaitable<FinishResult> Worker::finish(RunningJob& running, Outcome outcome) {
  const Job& job = running.job;
  auto& name_stats = *running.name_stats;
  name_stats.observe(static_cast<double>(now_ms() - running.started_ms) / 1000.0);
  FinishPlan plan = plan_finish(job, std::move(outcome), finish_rules_);
  switch (plan.action) {
    case FinishPlan::Action::kBackToWait:
      ++name_stats.moved_by_processor;
      co_await hand_back_rate_limited(running);
      co_return FinishResult{};
    case FinishPlan::Action::kNothing: {
      ++name_stats.moved_by_processor;
      log_job(LogLevel::kInfo, "job.moved",
              "processor moved the job (delayed, back to wait or waiting for children)", running);
      if (running.span) {
        JobSpanEnd end;
        end.kind = JobSpanEnd::Kind::kMoved;
        end.finished_on_ms = now_ms();
        running.span->end(end);
      }
      co_return FinishResult{};
    }
    case FinishPlan::Action::kDefer:
      // Close the gate before the deferral is sent, so that it claims no next job.
      if (gate_ && plan.dependency != kRedisDependency)
        gate_->report_down(plan.dependency, plan.value);
      break;
    default:
      break;
  }
  // A job whose lock is known lost will not be recorded: its line waits for
  // Redis's answer. Every other outcome is logged before it is sent.
  const bool logged_ahead = !running.lock_lost;
  if (logged_ahead) log_outcome(running, plan);
  FinishResult result = co_await send_finish(running, plan);
  if (plan.action == FinishPlan::Action::kComplete) {
    if (auto failure = plan_after_refused_completion(job, result.code, finish_rules_)) {
      log_job(LogLevel::kWarn, "job.outcome_rejected",
              "Redis refused the completion; recording the attempt as failed: " +
                  describe(result.code, job.id, "moveToFinished"),
              running);
      plan = std::move(*failure);
      if (logged_ahead) log_outcome(running, plan);
      result = co_await send_finish(running, plan);
    }
  }
  confirm_outcome(running, plan, result, logged_ahead);
  if (running.span) end_span(running, plan, result);
  co_return std::move(result);
}

// Sends a finishing script; while Redis is unreachable, tries again with
// capped backoff. A retry never claims a next job: the first try may have
// run before the link dropped, and a second claim would strand a job.
awaitable<FinishResult> Worker::send_finish(RunningJob& running, const FinishPlan& plan) {
  bool fetch_next = claiming_allowed() && plan.action != FinishPlan::Action::kRetryNow;
  for (unsigned attempt = 0;; ++attempt) {
    std::string error;
    try {
      ScriptCall call = finish_call(running, plan, fetch_next);
      ScriptRunner& runner = finish_runner(running.finish_lane);
      running.finishing_elsewhere = running.finish_lane != 0;
      Reply reply = co_await runner.run(std::move(call));
      running.finishing_elsewhere = false;
      note_redis_success();
      FinishResult result = scripts_.decode_finish(std::move(reply));
      result.asked_next = fetch_next;
      co_return result;
    } catch (const Error& e) {
      running.finishing_elsewhere = false;
      note_redis_error(e);
      if (!e.retryable() || running.abandoned || stopped_ || giving_up_) throw;
      error = e.what();
    }
    if (attempt == 0) {
      log_job(LogLevel::kWarn, "job.finish_retry",
              "Redis unavailable while recording the job's outcome; retrying", running,
              {{"error", error}});
    }
    fetch_next = false;
    running.finish_resent = true;
    co_await sleep_ms(retry_backoff(attempt).count());
  }
}

std::size_t Worker::take_finish_lane() {
  const auto least = std::min_element(slots_per_lane_.begin(), slots_per_lane_.end());
  ++*least;
  return static_cast<std::size_t>(least - slots_per_lane_.begin());
}

void Worker::release_finish_lane(std::size_t lane) {
  --slots_per_lane_[lane];
}

ScriptRunner& Worker::finish_runner(std::size_t lane) {
  return lane == 0 ? runner_ : finish_lanes_[lane - 1]->runner;
}

ScriptCall Worker::finish_call(const RunningJob& running, const FinishPlan& plan,
                               bool fetch_next) const {
  std::optional<ClaimOptions> own_claim;  // a job finishing outside its slot builds its own
  if (!running.slot) own_claim = claim_options(running.token);
  const ClaimOptions& claim = running.slot ? running.slot->claim : *own_claim;
  using Action = FinishPlan::Action;
  switch (plan.action) {
    case Action::kComplete:
    case Action::kFail:
      return scripts_.move_to_finished_call(running.job, claim, plan.action == Action::kComplete,
                                            plan.value, plan.keep_jobs, plan.fields, fetch_next,
                                            options_.metrics_max_data_points, now_ms(),
                                            running.slot ? &running.slot->finish_options : nullptr);
    case Action::kRetryLater:
    case Action::kDefer:
      return scripts_.move_to_delayed_call(running.job, claim, plan.delay_ms,
                                           /*skip_attempt=*/plan.action == Action::kDefer,
                                           plan.fields, fetch_next, now_ms());
    case Action::kRetryNow:
      return scripts_.retry_job_call(running.job, running.token, plan.fields, now_ms());
    case Action::kNothing:
    case Action::kBackToWait:
      break;
  }
  throw std::logic_error(std::string("finish_call: no finishing script for ") + plan.script());
}

void Worker::log_outcome(const RunningJob& running, const FinishPlan& plan) {
  const long long duration_ms = now_ms() - running.started_ms;
  const auto delay_ms = static_cast<long long>(plan.delay_ms);
  switch (plan.action) {
    case FinishPlan::Action::kComplete:
      log_job(LogLevel::kInfo, "job.completed", "job completed", running,
              {{"duration_ms", duration_ms}});
      break;
    case FinishPlan::Action::kFail:
      log_job(LogLevel::kWarn, "job.failed", "job failed", running,
              {{"duration_ms", duration_ms},
               {"unrecoverable", plan.unrecoverable},
               {"error", plan.value}});
      break;
    case FinishPlan::Action::kRetryLater:
    case FinishPlan::Action::kRetryNow:
      log_job(LogLevel::kInfo, "job.retrying", "attempt failed; the job will run again", running,
              {{"duration_ms", duration_ms}, {"delay_ms", delay_ms}, {"error", plan.value}});
      break;
    case FinishPlan::Action::kDefer:
      log_job(LogLevel::kWarn, "job.deferred",
              "a dependency is unavailable; the job goes back to delayed without spending an "
              "attempt",
              running,
              {{"duration_ms", duration_ms},
               {"dependency", plan.dependency},
               {"delay_ms", delay_ms},
               {"error", plan.value}});
      break;
    case FinishPlan::Action::kNothing:
    case FinishPlan::Action::kBackToWait:
      break;
  }
}

void Worker::confirm_outcome(const RunningJob& running, const FinishPlan& plan,
                             const FinishResult& result, bool logged_ahead) {
  const Job& job = running.job;
  if (result.code != ScriptCode::kOk) {
    if (recorded_by_earlier_send(running.finish_resent, result.code)) {
      log_job(LogLevel::kWarn, "job.finish_unconfirmed",
              "the outcome was sent before the connection dropped and was most likely recorded "
              "then; the resend found the job already moved: " +
                  describe(result.code, job.id, plan.script()),
              running);
      return;
    }
    if (running.lock_reported_lost && is_lock_refusal(result.code)) {
      ++stats_.locks_lost;
      log_job(LogLevel::kError, "job.lock_lost_finishing",
              "lost the lock of a job whose outcome was being recorded; it was not written",
              running);
    }
    log_finish_error(job, result.code, plan.script());
    return;
  }
  if (!logged_ahead) log_outcome(running, plan);
  auto& name_stats = *running.name_stats;
  switch (plan.action) {
    case FinishPlan::Action::kComplete:
      ++name_stats.completed;
      break;
    case FinishPlan::Action::kFail:
      ++name_stats.failed;
      break;
    case FinishPlan::Action::kRetryLater:
    case FinishPlan::Action::kRetryNow:
      ++name_stats.retried;
      break;
    case FinishPlan::Action::kDefer:
      ++name_stats.deferred;
      break;
    case FinishPlan::Action::kNothing:
    case FinishPlan::Action::kBackToWait:
      break;
  }
}

void Worker::end_span(RunningJob& running, const FinishPlan& plan, const FinishResult& result) {
  using Kind = JobSpanEnd::Kind;
  JobSpanEnd end;
  end.value = plan.value;
  end.finished_on_ms = now_ms();
  end.attempts_made = running.job.attempts_made + (plan.spends_attempt() ? 1 : 0);
  switch (plan.action) {
    case FinishPlan::Action::kComplete:
      end.kind = Kind::kCompleted;
      break;
    case FinishPlan::Action::kFail:
      end.kind = Kind::kFailed;
      break;
    case FinishPlan::Action::kRetryLater:
    case FinishPlan::Action::kRetryNow:
      end.kind = Kind::kRetried;
      break;
    case FinishPlan::Action::kDefer:
    case FinishPlan::Action::kNothing:
    case FinishPlan::Action::kBackToWait:
      end.kind = Kind::kDeferred;
      break;
  }
  if (end.kind == Kind::kFailed || end.kind == Kind::kRetried) {
    end.stack = plan.stack;
    if (plan.unrecoverable && plan.stack.empty()) end.error_type = "UnrecoverableError";
  }
  if (result.code != ScriptCode::kOk) {
    std::string not_recorded = "the outcome was not recorded: ";
    not_recorded += describe(result.code, running.job.id, plan.script());
    end.kind = Kind::kNotRecorded;
    end.value = std::move(not_recorded);
  }
  running.span->end(end);
}

// Node's worker on a RateLimitError: the job goes back to wait without
// spending an attempt, and the worker claims nothing until the queue's rate
// limit expires (capped by maximumRateLimitDelay in the main loop).
awaitable<void> Worker::hand_back_rate_limited(RunningJob& running) {
  const Job& job = running.job;
  locks_.untrack(job.id);
  try {
    const std::int64_t ttl = co_await scripts_.move_job_from_active_to_wait(job.id, running.token);
    note_redis_success();
    limit_until_ms_ = ttl > 0 ? now_ms() + ttl : 0;
    log_job(LogLevel::kInfo, "job.rate_limited",
            "processor rate-limited the queue; the job is back in wait without spending an "
            "attempt",
            running, {{"rate_limit_ms", static_cast<long long>(ttl)}});
  } catch (const ScriptRefused& refused) {
    note_redis_success();
    log_finish_error(job, refused.code(), "moveJobFromActiveToWait");
  } catch (const std::exception& e) {
    note_redis_error(e);
    ++stats_.finish_errors;
    log_job(LogLevel::kError, "job.hand_back_failed",
            "could not move the rate-limited job back to wait; stalled-job recovery will", running,
            {{"error", e.what()}});
  }
}

void Worker::log_finish_error(const Job& job, ScriptCode code, const char* command) {
  ++stats_.finish_errors;
  logger().error("job.outcome_rejected",
                 "the job's outcome was not recorded: " + describe(code, job.id, command),
                 {{"queue", options_.queue},
                  {"job_id", job.id},
                  {"job_name", job.name},
                  {"attempt", job.attempt()}});
}

void Worker::log_job(LogLevel level, std::string_view event, std::string_view message,
                     const RunningJob& running, std::initializer_list<LogField> fields) const {
  Logger& log = logger();
  if (!log.enabled(level)) return;
  const Job& job = running.job;
  log.log(level, event, message,
          {{"queue", options_.queue},
           {"job_id", job.id},
           {"job_name", job.name},
           {"attempt", job.attempt()},
           LogField::unless_empty("trace_id", running.trace_id()),
           LogField::unless_empty("span_id", running.span_id())},
          fields);
}

// ---- Locks.

// The processor is still running (it is cancelled: job.lock_lost), the
// processor has returned and its outcome is being recorded (Redis will
// refuse it: job.lock_lost_finishing), the outcome is in flight on a finish
// lane (Redis's answer to it decides: confirm_outcome), or the job is no
// longer held here at all (nothing to do: lock.lost_after_release).
void Worker::on_lock_lost(const std::string& job_id) {
  auto it = active_.find(job_id);
  if (it != active_.end() && it->second->finishing_elsewhere) {
    // The renewal and the finish went out on different connections, so
    // Redis may have run the finish first (which releases the lock). The
    // finish's answer says which: a lock refusal there is the loss.
    it->second->lock_reported_lost = true;
    logger().debug("lock.gone_while_finishing",
                   "a lock renewal found the lock gone while the job's outcome is in flight on "
                   "another connection; the outcome's answer decides",
                   {{"queue", options_.queue}, {"job_id", job_id}});
    return;
  }
  ++stats_.locks_lost;
  if (it == active_.end()) {
    logger().debug("lock.lost_after_release",
                   "a lock reported lost belongs to a job this worker no longer holds",
                   {{"queue", options_.queue}, {"job_id", job_id}});
    return;
  }
  RunningJob& running = *it->second;
  running.lock_lost = true;
  if (running.processing) {
    running.cancel();
    log_job(LogLevel::kError, "job.lock_lost",
            "lost the lock of a running job; it is cancelled and its result will not be written",
            running);
  } else {
    log_job(LogLevel::kError, "job.lock_lost_finishing",
            "lost the lock of a job whose outcome is being recorded; it will not be written",
            running);
  }
}

// ---- Shutdown.

void Worker::shutdown(std::function<void()> on_stopped) {
  if (closing_) return;
  closing_ = true;
  on_stopped_ = std::move(on_stopped);
  logger().info("worker.closing", "stopping: no new jobs; waiting for running jobs",
                {{"queue", options_.queue}, {"active", static_cast<long long>(active_.size())}});
  blocking_.stop();  // breaks BZPOPMIN
  slot_signal_.cancel();
  if (gate_) gate_->wake_waiters();
  stalled_.stop();
  // With Redis unreachable and nothing to record, there is nothing to wait
  // for: fail the queued claim so the main loop ends.
  if (in_flight_ == 0) stop_unready_command_connections();
  if (options_.shutdown_timeout_ms) {
    deadline_ = std::make_unique<asio::steady_timer>(io_);
    deadline_->expires_after(std::chrono::milliseconds(*options_.shutdown_timeout_ms));
    deadline_->async_wait([this](boost::system::error_code ec) {
      if (!ec) abandon_running_jobs();
    });
  }
  maybe_finish_shutdown();
}

void Worker::hand_back_unstarted(Job job, std::string token) {
  ++in_flight_;
  spawn(
      io_,
      [this, id = std::move(job.id), token = std::move(token)]() -> awaitable<void> {
        try {
          co_await scripts_.move_job_from_active_to_wait(id, token);
          logger().info("job.handed_back", "claimed while stopping; handed back to the queue",
                        {{"queue", options_.queue}, {"job_id", id}});
        } catch (const std::exception& e) {
          logger().warn("job.hand_back_failed",
                        "could not hand the job back; stalled-job recovery will",
                        {{"queue", options_.queue}, {"job_id", id}, {"error", e.what()}});
        }
        --in_flight_;
        maybe_finish_shutdown();
      },
      "hand back an unstarted job");
}

void Worker::abandon_running_jobs() {
  giving_up_ = true;
  for (auto& [id, running] : active_) {
    if (!running->processing || running->abandoned) continue;
    running->abandoned = true;
    ++abandoned_;
    running->cancel();
    locks_.untrack(id);
    spawn(
        io_,
        [this, running]() -> awaitable<void> {
          try {
            co_await scripts_.move_job_from_active_to_wait(running->job.id, running->token);
            logger().warn("job.handed_back",
                          "shutdown deadline passed; job handed back to the queue",
                          {{"queue", options_.queue},
                           {"job_id", running->job.id},
                           {"job_name", running->job.name},
                           {"attempt", running->job.attempt()}});
          } catch (const ScriptRefused& refused) {
            log_finish_error(running->job, refused.code(), "moveJobFromActiveToWait");
          } catch (const std::exception& e) {
            logger().error(
                "job.hand_back_failed", "could not hand the job back; stalled-job recovery will",
                {{"queue", options_.queue}, {"job_id", running->job.id}, {"error", e.what()}});
          }
          active_.erase(running->job.id);
          --in_flight_;
          maybe_finish_shutdown();
        },
        "hand back an abandoned job");
  }
  // Past the deadline (or on a second signal), hand-backs and results that
  // cannot reach Redis are given up instead of waiting for it to return (a
  // finished job's result would otherwise keep the process alive): failing
  // the queued commands ends them, send_finish() no longer retries, and the
  // stalled check brings the jobs back once their locks expire.
  stop_unready_command_connections();
}

void Worker::stop_unready_command_connections() {
  for (RedisConnection* c : command_connections_)
    if (!c->ready()) c->stop();
}

void Worker::maybe_finish_shutdown() {
  if (!closing_ || stopped_ || in_flight_ > 0 || !main_loop_done_) return;
  stopped_ = true;
  locks_.stop();
  if (deadline_) deadline_->cancel();
  for (RedisConnection* c : command_connections_) c->stop();
  logger().info("worker.closed", "worker closed", {{"queue", options_.queue}});
  if (on_stopped_) asio::post(io_, std::move(on_stopped_));
}

// ---- The queue's version, its depth, and the health of the Redis link.

awaitable<void> Worker::check_version() {
  try {
    Reply r = co_await commands_.command(strings("HGET", scripts_.keys().meta(), "version"));
    if (!r.is_string()) co_return;  // no producer has registered yet: maybe_recheck_version()
    if (version_known_) co_return;  // another check got there first: warn once
    version_known_ = true;
    auto colon = r.str.rfind(':');
    std::string producer = colon == std::string::npos ? r.str : r.str.substr(colon + 1);
    if (major_of(producer) != major_of(kBullmqVersion)) {
      logger().warn(
          "queue.version_mismatch",
          "the queue's producer runs another BullMQ major version than this worker's scripts",
          {{"queue", options_.queue},
           {"producer_version", r.str},
           {"worker_scripts", kBullmqVersion}});
    }
  } catch (const std::exception& e) {
    logger().debug("queue.version_unknown", "could not read the queue's meta version",
                   {{"queue", options_.queue}, {"error", e.what()}});
  }
}

// A worker often starts before any producer has written the queue's meta
// version; the check at start then finds nothing. Until a version has been
// read, look again when jobs are claimed (the first claim, then at most every
// few seconds, so that queues without a meta version cost no extra round trip
// per job).
void Worker::maybe_recheck_version() {
  if (version_known_) return;
  const std::int64_t now = now_ms();
  if (version_checked_ms_ != 0 && now - version_checked_ms_ < 5000) return;
  version_checked_ms_ = now;
  spawn(io_, check_version(), "queue version check");
}

awaitable<QueueDepth> Worker::read_depth() {
  const QueueKeys& k = scripts_.keys();
  std::vector<Reply> replies;
  replies.push_back(co_await commands_.command(strings("LLEN", k.wait())));
  replies.push_back(co_await commands_.command(strings("ZCARD", k.prioritized())));
  replies.push_back(co_await commands_.command(strings("ZCARD", k.delayed())));
  replies.push_back(co_await commands_.command(strings("LLEN", k.active())));
  replies.push_back(co_await commands_.command(strings("ZCARD", k.waiting_children())));
  replies.push_back(co_await commands_.command(strings("ZCARD", k.completed())));
  replies.push_back(co_await commands_.command(strings("ZCARD", k.failed())));
  replies.push_back(co_await commands_.command(strings("HEXISTS", k.meta(), "paused")));
  for (const auto& r : replies) {
    if (!r.is_integer())
      throw ServerError("queue depth of " + options_.queue + ": " + r.describe());
  }
  Reply concurrency = co_await commands_.command(strings("HGET", k.meta(), "concurrency"));
  QueueDepth d;
  d.wait = replies[0].integer;
  d.prioritized = replies[1].integer;
  d.delayed = replies[2].integer;
  d.active = replies[3].integer;
  d.waiting_children = replies[4].integer;
  d.completed = replies[5].integer;
  d.failed = replies[6].integer;
  d.paused = replies[7].integer == 1;
  if (concurrency.is_string())
    d.global_concurrency = std::strtoll(concurrency.str.c_str(), nullptr, 10);
  co_return std::move(d);
}

std::string Worker::redis_connection_problem() const {
  auto problem = [](const RedisConnection& c) -> std::string {
    if (c.ready() || c.last_error().empty()) return {};
    const std::string where = c.endpoint();  // empty before a route named a server
    return where.empty() ? c.last_error() : where + ": " + c.last_error();
  };
  for (const RedisConnection* c : command_connections_)
    if (std::string p = problem(*c); !p.empty()) return p;
  return problem(blocking_);
}

bool Worker::redis_ready() const {
  return std::all_of(command_connections_.begin(), command_connections_.end(),
                     [](const RedisConnection* c) { return c->ready(); });
}

std::uint64_t Worker::redis_reconnects() const {
  std::uint64_t n = blocking_.reconnects();
  for (const RedisConnection* c : command_connections_) n += c->reconnects();
  return n;
}

void Worker::note_redis_error(const std::exception& e) {
  const auto* server = dynamic_cast<const ServerError*>(&e);
  if (!server) return;
  const RedisErrorKind kind = error_kind_of_code(server->code());
  if (!blocks_claiming(kind)) return;
  std::string reason = e.what();
  if (kind == RedisErrorKind::kMoved || kind == RedisErrorKind::kAsk)
    reason += " (a Redis Cluster node answered; a redis+cluster:// URL makes the worker follow it)";
  if (redis_refusal_.empty()) {
    redis_refusal_since_ms_ = now_ms();
    logger().error("worker.redis_refuses", "Redis refuses what the worker needs to claim jobs",
                   {{"queue", options_.queue}, {"error", reason}});
  }
  redis_refusal_ = std::move(reason);
}

void Worker::note_redis_success() {
  if (redis_refusal_.empty()) return;
  logger().info("worker.redis_accepts", "Redis accepts the worker's commands again",
                {{"queue", options_.queue},
                 {"refused_ms", static_cast<long long>(now_ms() - redis_refusal_since_ms_)}});
  redis_refusal_.clear();
  redis_refusal_since_ms_ = 0;
}

void Worker::notify_slot() {
  slot_signal_.cancel();
}

awaitable<void> Worker::sleep_ms(std::int64_t ms) {
  asio::steady_timer timer(io_);
  timer.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(ms, 0)));
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace bullmq
