// The `conformance` processor set: small processors with fixed, documented
// behaviour (echo, sleep, burn-cpu, fail, flaky, progress, log, delay,
// sum-children, rate-limit, spawn-children, … and the `conformance-linear`
// backoff)
// so that anyone can check the worker's BullMQ protocol behaviour from the
// outside with Node's bullmq. Stateless; registered by job name.
#pragma once

#include "bullmq/processor.hpp"

namespace processing {

// Registers every conformance processor; unknown names stay unregistered so
// the worker fails them as `unknown job name: NAME`.
void register_conformance_processors(bullmq::ProcessorRegistry& registry);

}  // namespace processing
