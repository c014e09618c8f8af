// A BullMQ worker for one queue, behaving as Node's Worker does: it waits on
// the queue marker, claims jobs with moveToActive, runs their processors on a
// processing thread pool (never on the I/O thread), keeps their locks alive,
// completes or fails them with BullMQ's attempts/backoff rules, and recovers
// stalled jobs. Everything talking to Redis runs on the io_context's thread.
//
// The Worker owns its Redis connections (commands, the blocking marker
// wait, and at higher concurrency a second connection for finishing
// scripts), its lock manager and its stalled checker. The io_context and
// the processing pool are the caller's and must outlive the Worker; so must
// the RedisTopology (which routes the connections to the right server), the
// ProcessorRegistry and the DependencyGate (shared by the workers of a
// process: while it is closed, no worker claims).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bullmq/asio.hpp"
#include "bullmq/blocking_pool.hpp"
#include "bullmq/dependency_gate.hpp"
#include "bullmq/finish_plan.hpp"
#include "bullmq/lock_manager.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/processor.hpp"
#include "bullmq/queue_scripts.hpp"
#include "bullmq/redis_connection.hpp"
#include "bullmq/redis_options.hpp"
#include "bullmq/redis_topology.hpp"
#include "bullmq/script_runner.hpp"
#include "bullmq/stalled_checker.hpp"
#include "bullmq/worker_options.hpp"
#include "bullmq/worker_stats.hpp"

namespace bullmq {

class JobTracer;

class Worker {
 public:
  // Without a gate, a job whose dependency is down still goes back without
  // spending an attempt, but the worker goes on claiming.
  Worker(asio::io_context& io, BlockingPool& pool, RedisTopology& redis, WorkerOptions options,
         const ProcessorRegistry& processors, DependencyGate* gate = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Connects and starts consuming. Call on the I/O thread.
  void start();
  // Graceful stop: no new claims; running jobs finish (their results are
  // written); with a shutdown timeout, jobs still running at the deadline are
  // handed back to the queue. `on_stopped` runs once everything is closed.
  void shutdown(std::function<void()> on_stopped);
  // Hands back every running job now (second signal, or the deadline).
  void abandon_running_jobs();

  // Traces every job claimed from now on (one span per job); null turns it
  // off. The tracer is the caller's and must outlive the Worker.
  void set_tracer(JobTracer* tracer) { tracer_ = tracer; }

  const WorkerOptions& options() const { return options_; }
  const WorkerStats& stats() const { return stats_; }
  // Stalled jobs this worker's checks moved back to wait (or failed).
  std::uint64_t stalled_recovered() const { return stalled_.recovered(); }
  // Jobs of this queue by state (plain reads on the command connection).
  awaitable<QueueDepth> read_depth();
  bool blocking_ready() const { return blocking_.ready(); }
  std::uint64_t redis_reconnects() const;
  std::uint64_t lock_renewals() const { return locks_.renewals(); }
  int in_flight() const { return in_flight_; }
  // When this worker last claimed a job (ms since epoch), or when it started.
  std::int64_t last_claim_ms() const {
    return stats_.last_claim_ms ? stats_.last_claim_ms : started_ms_;
  }
  bool rate_limited() const { return limit_until_ms_ > 0; }
  // Not claiming because a dependency of the processors is down.
  bool gated() const { return gate_ && !gate_->open(); }
  bool redis_ready() const;
  // Why a connection is down (the last connect error), or empty.
  std::string redis_connection_problem() const;
  // A Redis refusal that keeps this worker from claiming (MISCONF, OOM,
  // READONLY, NOPERM, …) seen on the last claim, marker wait, stalled check
  // or finish, until one of them succeeds again; empty when none.
  const std::string& redis_refusal() const { return redis_refusal_; }
  std::int64_t redis_refusal_since_ms() const { return redis_refusal_since_ms_; }
  std::size_t active_jobs() const { return active_.size(); }
  bool closing() const { return closing_; }
  // Processing threads still busy with jobs that were handed back.
  bool has_abandoned_processors() const { return abandoned_ > 0; }
  const std::string& worker_id() const { return worker_id_; }

 private:
  struct RunningJob;
  class Context;
  // What a slot keeps from one job to the next (run_slot owns it; its
  // running job points to it until the slot moves on).
  struct Slot {
    ClaimOptions claim;  // its token, and what its finishing scripts send to claim the next job
    PackedFinishOptions finish_options;
  };
  // A further command connection carrying finishing scripts, with its
  // script runner (WorkerOptions::finish_connections).
  struct FinishLane {
    FinishLane(asio::any_io_executor executor, const RedisOptions& options, std::string role,
               std::shared_ptr<RedisRoute> route)
        : connection(std::move(executor), options, std::move(role), std::move(route)),
          runner(connection) {}
    RedisConnection connection;
    ScriptRunner runner;
  };

  awaitable<void> main_loop();
  awaitable<ClaimResult> fetch();
  awaitable<void> wait_for_marker();
  // One running slot: runs the claimed job, finishes it, and goes on with
  // the next job its finishing script claimed, until there is none.
  awaitable<void> run_slot(std::unique_ptr<Job> first, std::string token);
  awaitable<Outcome> run_on_pool(const std::shared_ptr<RunningJob>& running, Processor* processor);
  // `processor` is the one registered for the job's name, or null (unknown name).
  Outcome run_processor(const std::shared_ptr<RunningJob>& running, Processor* processor);
  // Records the outcome in Redis as plan_finish() decides.
  awaitable<FinishResult> finish(RunningJob& running, Outcome outcome);
  ScriptCall finish_call(const RunningJob& running, const FinishPlan& plan, bool fetch_next) const;
  awaitable<FinishResult> send_finish(RunningJob& running, const FinishPlan& plan);
  // A slot keeps one connection for its finishing scripts (lane 0 is the
  // command connection): the least used when the slot starts. Keeping a
  // slot's commands on one connection keeps the lanes' batches apart, so
  // that Redis works on one while the worker handles the other.
  std::size_t take_finish_lane();
  void release_finish_lane(std::size_t lane);
  ScriptRunner& finish_runner(std::size_t lane);
  // Stops the command connections (commands_ and the lanes) that are down:
  // what waits on them fails instead of waiting for Redis to come back.
  void stop_unready_command_connections();
  // Written before the outcome is sent, so that a crash can never leave an
  // outcome recorded in Redis without its log line.
  void log_outcome(const RunningJob& running, const FinishPlan& plan);
  // After Redis answered: counts the outcome, or logs why it was not recorded.
  void confirm_outcome(const RunningJob& running, const FinishPlan& plan,
                       const FinishResult& result, bool logged_ahead);
  awaitable<void> hand_back_rate_limited(RunningJob& running);
  // Ends the job's span (if it has one) with the outcome Redis answered.
  void end_span(RunningJob& running, const FinishPlan& plan, const FinishResult& result);
  // One log line about a running job: its queue, id, name, attempt, trace
  // and span ids, then `fields`.
  void log_job(LogLevel level, std::string_view event, std::string_view message,
               const RunningJob& running, std::initializer_list<LogField> fields = {}) const;
  bool claiming_allowed() const { return !closing_ && !gated(); }
  awaitable<void> check_version();
  void maybe_recheck_version();
  void apply_claim_hints(const ClaimResult& result);
  void on_lock_lost(const std::string& job_id);
  void log_finish_error(const Job& job, ScriptCode code, const char* command);
  void notify_slot();
  void maybe_finish_shutdown();
  // A job claimed after the shutdown began goes straight back to the queue.
  void hand_back_unstarted(Job job, std::string token);
  std::string next_token();
  Processor* find_processor(const std::string& job_name) const;
  ClaimOptions claim_options(const std::string& token) const;
  awaitable<void> sleep_ms(std::int64_t ms);
  // Records `e` when it is a refusal that stops claiming; success clears it.
  void note_redis_error(const std::exception& e);
  void note_redis_success();

  // Constant after construction (read from any thread).
  asio::io_context& io_;
  BlockingPool& pool_;
  const WorkerOptions options_;
  const ProcessorRegistry& processors_;
  DependencyGate* const gate_;  // null: no gate
  const FinishRules finish_rules_;
  const std::string worker_id_;
  const bool cluster_ = false;  // Redis Cluster: jobs added to other queues must share the slot

  // What the worker owns to talk to Redis; used on the I/O thread only.
  RedisConnection commands_;
  RedisConnection blocking_;  // the marker wait (BZPOPMIN) only
  ScriptRunner runner_;
  std::vector<std::unique_ptr<FinishLane>> finish_lanes_;
  // commands_ and the lanes' connections, for what applies to each alike.
  std::vector<RedisConnection*> command_connections_;
  std::vector<int> slots_per_lane_;  // slots using each lane (0: commands_)
  QueueScripts scripts_;
  LockManager locks_;
  StalledChecker stalled_;

  // State of the I/O thread: read and written there only (the Context's
  // calls reach it through on_io, the HTTP probes run there too).
  JobTracer* tracer_ = nullptr;  // set before start()
  std::uint64_t token_counter_ = 0;
  std::int64_t started_ms_ = 0;
  // Claimed jobs by id, and slots in use (claimed jobs being processed or
  // finished, plus hand-backs under way).
  std::unordered_map<std::string, std::shared_ptr<RunningJob>> active_;
  int in_flight_ = 0;
  int abandoned_ = 0;  // handed back while their processor still runs
  // Claiming: the last claim found nothing (wait on the marker next), the
  // marker's due time, the queue's rate limit.
  bool drained_ = false;
  std::int64_t block_until_ms_ = 0;
  std::int64_t limit_until_ms_ = 0;
  // The queue's meta version has been read (and warned about, if it differs).
  bool version_known_ = false;
  std::int64_t version_checked_ms_ = 0;
  // Shutdown: no more claims; then stopped once nothing is in flight.
  bool closing_ = false;
  bool stopped_ = false;
  bool main_loop_done_ = false;
  // Set by abandon_running_jobs() (second signal, shutdown deadline): results
  // that cannot reach Redis are dropped instead of retried until it returns.
  bool giving_up_ = false;
  asio::steady_timer slot_signal_;
  std::unique_ptr<asio::steady_timer> deadline_;
  std::function<void()> on_stopped_;
  WorkerStats stats_;
  // A Redis refusal that stops claiming, and since when (redis_refusal()).
  std::string redis_refusal_;
  std::int64_t redis_refusal_since_ms_ = 0;
};

}  // namespace bullmq
