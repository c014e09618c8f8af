/* bullmq-worker processor SDK: the C boundary between the worker and a plugin.
 *
 * A plugin is a shared object loaded by `bullmq-worker run --plugin PATH.so`.
 * It exports one function, `bullmq_worker_plugin`, returning a bwk_plugin
 * whose `api_version` the worker checks before it calls anything else: a
 * plugin built for another major version is refused at start (exit 2).
 *
 * Only C types cross this boundary, so a plugin does not have to be built by
 * the worker's compiler or against its C++ library, nor be written in C++.
 * C++ plugins do not use this header directly: bullmq_worker/plugin.hpp wraps
 * it (BULLMQ_WORKER_PLUGIN) in the classes of processor.hpp.
 *
 * Ownership: every pointer passed across is borrowed for the duration of the
 * call, except the `state` pointers a plugin registers (processors,
 * dependency checks, backoff strategies), which the worker keeps until it
 * exits and then hands to their `destroy` function. Strings are (pointer,
 * size) pairs, not NUL-terminated. Output goes through bwk_out sinks that
 * copy what they are given.
 *
 * Threads: `init` runs once on the main thread before any job. A processor's
 * `process` runs on processing threads, several at once; the context
 * functions must be called from the thread running `process`. Backoff
 * strategies run on the worker's I/O thread; dependency checks on processing
 * threads. */
#ifndef BULLMQ_WORKER_PLUGIN_ABI_H
#define BULLMQ_WORKER_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of this header. Additions within a
 * version go at the end of bwk_context_ops and bwk_host, whose `size` field
 * tells the other side what it has. */
#define BULLMQ_WORKER_PLUGIN_API_VERSION 1
#define BULLMQ_WORKER_PLUGIN_SYMBOL "bullmq_worker_plugin"

typedef struct bwk_str {
  const char* data;
  size_t size;
} bwk_str;

/* A sink for output: `append` copies `size` bytes into `state`. */
typedef struct bwk_out {
  void* state;
  void (*append)(void* state, const char* data, size_t size);
} bwk_out;

/* How a call or a job ended. */
typedef enum bwk_status {
  BWK_OK = 0,
  BWK_FAILED = 1,                 /* an error: a failed attempt unless handled */
  BWK_UNRECOVERABLE = 2,          /* fail the job now, whatever attempts remain */
  BWK_DEPENDENCY_UNAVAILABLE = 3, /* a dependency is down (its name in bwk_error.dependency) */
  BWK_RATE_LIMITED = 4,           /* back to wait, no attempt spent */
  BWK_DELAYED = 5,                /* the job was moved to delayed */
  BWK_WAITING_CHILDREN = 6,       /* the job was parked until its children finish */
  BWK_WAITING = 7                 /* the job was moved back to wait */
} bwk_status;

typedef struct bwk_error {
  bwk_out message;
  bwk_out dependency; /* BWK_DEPENDENCY_UNAVAILABLE only */
} bwk_error;

typedef struct bwk_job {
  bwk_str queue;
  bwk_str id;
  bwk_str name;
  bwk_str data;       /* JSON */
  bwk_str opts_json;  /* JSON */
  bwk_str parent_key; /* empty without a flow parent */
  int64_t timestamp_ms;
  int64_t processed_on_ms;
  int32_t attempts_made;
  int32_t attempts_started;
} bwk_job;

typedef struct bwk_new_job {
  bwk_str name;
  bwk_str data;  /* JSON */
  bwk_str opts;  /* JSON object of Node's JobsOptions */
  bwk_str queue; /* empty: the running job's queue */
  int32_t as_child;
} bwk_new_job;

/* Kinds of bwk_context_ops.dependencies entries. */
typedef enum bwk_dependency_kind {
  BWK_DEPENDENCY_PROCESSED = 0,   /* key, return value JSON */
  BWK_DEPENDENCY_UNPROCESSED = 1, /* key */
  BWK_DEPENDENCY_FAILED = 2,      /* key */
  BWK_DEPENDENCY_IGNORED = 3      /* key, failed reason */
} bwk_dependency_kind;

typedef void (*bwk_entry_fn)(void* state, int32_t kind, bwk_str key, bwk_str value);

/* What a running processor may do with its job: JobContext (job_context.hpp)
 * in C. Each returns a bwk_status and describes an error in `error`. */
typedef struct bwk_context_ops {
  uint32_t size; /* sizeof(bwk_context_ops) of the worker */
  int32_t (*update_progress)(void* context, bwk_str json, bwk_error* error);
  int32_t (*log)(void* context, bwk_str line, bwk_error* error);
  int32_t (*update_data)(void* context, bwk_str json, bwk_error* error);
  /* BWK_DELAYED once moved. */
  int32_t (*move_to_delayed)(void* context, int64_t delay_ms, bwk_error* error);
  /* BWK_WAITING once moved. */
  int32_t (*move_to_wait)(void* context, bwk_error* error);
  /* BWK_OK when no child is pending, BWK_WAITING_CHILDREN once parked. */
  int32_t (*move_to_waiting_children)(void* context, bwk_error* error);
  int32_t (*rate_limit)(void* context, int64_t duration_ms, bwk_error* error);
  int32_t (*add_job)(void* context, const bwk_new_job* job, bwk_out* id, bwk_error* error);
  /* Calls `entry` once per child (kinds: bwk_dependency_kind). */
  int32_t (*dependencies)(void* context, bwk_entry_fn entry, void* state, bwk_error* error);
  /* counts: processed, unprocessed, failed, ignored. */
  int32_t (*dependency_counts)(void* context, int64_t counts[4], bwk_error* error);
  /* `entry` with kind BWK_DEPENDENCY_PROCESSED / BWK_DEPENDENCY_IGNORED. */
  int32_t (*children_values)(void* context, bwk_entry_fn entry, void* state, bwk_error* error);
  int32_t (*ignored_children_failures)(void* context, bwk_entry_fn entry, void* state,
                                       bwk_error* error);
  int32_t (*remove_unprocessed_children)(void* context, bwk_error* error);
  int32_t (*cancelled)(void* context);                   /* 1 or 0 */
  int32_t (*sleep_for)(void* context, int64_t duration_ms); /* 0 when cut short by cancellation */
} bwk_context_ops;

#define BWK_PROCESSOR_RUNS_INLINE 1u

typedef struct bwk_processor {
  void* state;
  uint32_t flags; /* BWK_PROCESSOR_RUNS_INLINE */
  /* BWK_OK with the return value (JSON) in `result`, or how the job ended.
   * BWK_DELAYED / BWK_WAITING / BWK_WAITING_CHILDREN only after the context
   * call that moved the job. */
  int32_t (*process)(void* state, const bwk_job* job, void* context,
                     const bwk_context_ops* ops, bwk_out* result, bwk_error* error);
  void (*destroy)(void* state); /* may be NULL */
} bwk_processor;

/* BWK_OK with an empty `problem` when the dependency answers. */
typedef int32_t (*bwk_check_fn)(void* state, bwk_out* problem);
/* The delay in ms before the next attempt; negative: no retry. On an error,
 * sets *failed to 1 and describes it in `error`. */
typedef int64_t (*bwk_backoff_fn)(void* state, int32_t attempts_made, bwk_str type,
                                  bwk_str error_message, const bwk_job* job, int32_t* failed,
                                  bwk_out* error);

typedef enum bwk_log_level {
  BWK_LOG_DEBUG = 0,
  BWK_LOG_INFO = 1,
  BWK_LOG_WARN = 2,
  BWK_LOG_ERROR = 3
} bwk_log_level;

/* The worker's side, given to `init`. */
typedef struct bwk_host {
  uint32_t size;        /* sizeof(bwk_host) of the worker */
  uint32_t api_version; /* BULLMQ_WORKER_PLUGIN_API_VERSION of the worker */
  void* state;
  /* The plugin's configuration (--plugin-config NAME:KEY=VALUE or
   * NAME='{json}'): key/value pairs, and the JSON text when given as JSON
   * (its top-level scalars are also among the pairs). */
  const bwk_str* config_keys;
  const bwk_str* config_values;
  size_t config_count;
  bwk_str config_json;
  /* Registration; each may fail (a job name taken by another plugin, …). */
  int32_t (*add_processor)(void* host, bwk_str job_name, const bwk_processor* processor,
                           bwk_error* error);
  int32_t (*add_dependency)(void* host, bwk_str name, void* state, bwk_check_fn check,
                            void (*destroy)(void* state), bwk_error* error);
  int32_t (*add_backoff_strategy)(void* host, bwk_str type, void* state, bwk_backoff_fn delay,
                                  void (*destroy)(void* state), bwk_error* error);
  /* One structured log line, with the plugin's name. */
  void (*log)(void* host, int32_t level, bwk_str event, bwk_str message);
} bwk_host;

typedef struct bwk_plugin {
  uint32_t api_version; /* BULLMQ_WORKER_PLUGIN_API_VERSION the plugin was built with */
  const char* name;     /* for --plugin-config and the logs: [a-z0-9_-]+ */
  const char* version;  /* the plugin's own version */
  /* Registers the plugin's processors. BWK_OK, or an error (exit 1). */
  int32_t (*init)(const bwk_host* host, bwk_error* error);
} bwk_plugin;

typedef const bwk_plugin* (*bwk_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* BULLMQ_WORKER_PLUGIN_ABI_H */
