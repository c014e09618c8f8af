// bullmq-worker processor SDK: the public view of a claimed job.
//
// A plain value the worker fills before it calls a Processor and does not
// change while the processor runs. Thread-safety: like any value type, it may
// be read from several threads at once; it is the caller's to copy if it must
// outlive Processor::process.
#pragma once

#include <cstdint>
#include <string>

namespace bullmq_worker {

struct Job {
  std::string queue;  // queue name, without the key prefix
  std::string id;
  std::string name;
  std::string data = "{}";       // JSON text, exactly as the producer stored it
  std::string opts_json = "{}";  // the job's options as JSON text (Node's JobsOptions)
  std::string parent_key;        // full key of the flow parent ("bull:q:id"), or empty

  std::int64_t timestamp_ms = 0;     // when the job was created (ms since the epoch)
  std::int64_t processed_on_ms = 0;  // when this run claimed it
  int attempts_made = 0;             // finished runs before this one (Node's attemptsMade)
  int attempts_started = 0;          // runs started, this one included

  // 1-based number of this run: Node's `job.attemptsMade + 1`.
  int attempt() const { return attempts_made + 1; }
};

}  // namespace bullmq_worker
