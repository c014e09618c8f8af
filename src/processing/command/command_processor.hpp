// The command processor: runs one program per job (`--command NAME=PROGRAM`)
// in its own process group under the sandbox's limits, hands it the job on
// stdin, serves its requests on fd 3 through the JobContext, and turns its
// exit into the job's outcome (command_protocol.hpp has the rules). Knows
// nothing of Redis. One instance serves every job of its name, several at
// once; each process() call owns its child until it is reaped.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "bullmq_worker/processor.hpp"
#include "processing/command/command_spec.hpp"

namespace processing {

class CommandProcessor final : public bullmq_worker::Processor {
 public:
  // Called for each line the program writes to stderr (valid UTF-8, cut to 2000 bytes;
  // at most 200 lines a run, then once more to say the rest is not logged).
  using StderrSink = std::function<void(const bullmq_worker::Job& job, std::string_view line)>;

  // `spec.program` must already be resolved (resolve_program).
  CommandProcessor(CommandSpec spec, CommandLimits limits, StderrSink stderr_sink);

  // Throws as the Processor contract says: UnrecoverableError, the errors
  // of the moves made by request, DependencyUnavailable when Redis could not
  // serve a request (the program is terminated first), std::runtime_error
  // for a failed attempt.
  std::string process(const bullmq_worker::Job& job, bullmq_worker::JobContext& context) override;

 private:
  CommandSpec spec_;
  CommandLimits limits_;
  StderrSink stderr_sink_;
};

}  // namespace processing
