// The contract between the worker and a command processor's program, as
// pure functions (no process, no I/O): the job document written to the
// program's stdin, the requests it may send on fd 3 and their replies, and
// how the end of a run (exit status, stdout, requests made) becomes the
// job's outcome. Documented in the README ("Command processors"); owned by
// the command processors.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "bullmq_worker/job.hpp"
#include "bullmq_worker/job_context.hpp"

namespace processing {

// Exit status that fails the job without retrying (sysexits' EX_DATAERR).
inline constexpr int kUnrecoverableExitCode = 65;

// The JSON document on the program's stdin: id, name, queue, data, opts,
// attemptsMade, attemptsStarted, attempt, timestamp, processedOn, parentKey,
// parent {id, queueKey} and childrenValues. `data`, `opts` and the children's
// values are embedded as JSON (as a string if a producer stored invalid JSON).
std::string job_document(const bullmq_worker::Job& job,
                         const std::map<std::string, std::string>& children_values);

enum class CommandOp {
  progress,                     // {value: any JSON}
  log,                          // {line: string}
  update_data,                  // {data: any JSON}
  delay,                        // {ms}          ends the run
  wait,                         // {}            ends the run
  waiting_children,             // {}            ends the run when it parks the job
  rate_limit,                   // {ms}          ends the run
  add_job,                      // {name, data?, opts?, queue?, child?}
  dependencies,                 // {}
  dependency_counts,            // {}
  children_values,              // {}
  ignored_children_failures,    // {}
  remove_unprocessed_children,  // {}
  fail,                         // {message, unrecoverable?}  ends the run
};

struct CommandRequest {
  CommandOp op = CommandOp::progress;
  std::string json;               // progress value, new data (JSON text)
  std::string text;               // log line, fail message
  std::int64_t ms = 0;            // delay, rate-limit
  bool unrecoverable = false;     // fail
  bullmq_worker::NewJob new_job;  // add-job
};

// Parses one request line (without its '\n'). Throws std::invalid_argument
// with a message fit for the error reply.
CommandRequest parse_request(std::string_view line);

// Reply lines, each ending in '\n'.
std::string reply_ok();
std::string reply_error(std::string_view message);
std::string reply_job_id(std::string_view id);  // {"ok":true,"id":"…"}
std::string reply_parked(bool parked);          // {"ok":true,"parked":…}
std::string reply_dependencies(const bullmq_worker::Dependencies& dependencies);
std::string reply_counts(const bullmq_worker::DependencyCounts& counts);
// {"ok":true,"<field>":{key: value}}; values are JSON when `values_are_json`.
std::string reply_map(std::string_view field, const std::map<std::string, std::string>& values,
                      bool values_are_json);

// How a run moved its job away from active, by request.
enum class CommandMove { none, delayed, wait, waiting_children, rate_limited };

// What is known once the program is gone.
struct RunFacts {
  bool exited = false;  // then exit_code, else signal (0 when neither is known)
  int exit_code = 0;
  int signal = 0;
  bool timed_out = false;
  bool cancelled = false;  // lock lost or shutdown deadline: terminated
  std::string overflow;    // what exceeded its bound, when something did
  std::string stdout_text;
  std::string stderr_tail;  // the last bytes of stderr
  CommandMove move = CommandMove::none;
  std::optional<std::string> fail_message;  // a `fail` request
  bool fail_unrecoverable = false;
  std::int64_t timeout_ms = 0;    // for messages
  std::uint64_t cpu_seconds = 0;  // for messages
};

enum class OutcomeKind { completed, failed, unrecoverable, moved, cancelled };

struct Outcome {
  OutcomeKind kind = OutcomeKind::failed;
  std::string text;  // completed: the return value (JSON); else a message
  CommandMove move = CommandMove::none;
};

// In this order: a move made by request; termination for a lost lock or the
// shutdown; a `fail` request; the timeout; an output bound; a signal
// (SIGXCPU: the CPU limit); exit 65 (unrecoverable); exit 0 (stdout is the
// return value: empty is null, not JSON is a failure); any other status.
Outcome decide_outcome(const RunFacts& facts);

// The last lines of stderr worth showing as a failed reason (at most 5
// lines, 2000 bytes), or empty.
std::string stderr_reason(std::string_view stderr_tail);

}  // namespace processing
