// The worker's side of the processor contract. The contract itself is the
// public SDK (include/bullmq_worker/): Processor, JobContext, the public Job
// and the errors, named here in namespace bullmq for the core's own use.
// ProcessorRegistry holds what the processor sets and plugins registered.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "bullmq/job.hpp"
#include "bullmq_worker/processor.hpp"

namespace bullmq {

using bullmq_worker::BackoffStrategy;
using bullmq_worker::DelayedError;
using bullmq_worker::DependencyCheck;
using bullmq_worker::DependencyUnavailable;
using bullmq_worker::JobContext;
using bullmq_worker::Processor;
using bullmq_worker::RateLimitError;
using bullmq_worker::UnrecoverableError;
using bullmq_worker::WaitingChildrenError;
using bullmq_worker::WaitingError;

// Job name -> processor. Filled before the worker starts, read-only after.
class ProcessorRegistry {
 public:
  void add(std::string job_name, std::shared_ptr<Processor> processor) {
    processors_[std::move(job_name)] = std::move(processor);
  }
  // Null when no processor has that name.
  Processor* find(const std::string& job_name) const {
    auto it = processors_.find(job_name);
    return it == processors_.end() ? nullptr : it->second.get();
  }
  // Used when no processor matches: unknown names fail as unrecoverable
  // unless a fallback is set.
  void set_fallback(std::shared_ptr<Processor> processor) { fallback_ = std::move(processor); }
  Processor* fallback() const { return fallback_.get(); }

  // A dependency the processors may report as unavailable, with the check
  // that tells when it answers again (also run by the readiness probe).
  void add_dependency(std::string name, DependencyCheck check) {
    dependencies_[std::move(name)] = std::move(check);
  }
  // Name -> check; a name reported without a registered check is retried
  // after a back-off instead.
  const std::map<std::string, DependencyCheck>& dependencies() const { return dependencies_; }

  // A custom backoff type (job option `backoff: {type}`); unknown types fail
  // the job without retrying, as Node does.
  void add_backoff_strategy(std::string type, BackoffStrategy strategy) {
    backoff_strategies_[std::move(type)] = std::move(strategy);
  }
  // Null when no strategy has that type.
  const BackoffStrategy* find_backoff_strategy(const std::string& type) const {
    auto it = backoff_strategies_.find(type);
    return it == backoff_strategies_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, BackoffStrategy> backoff_strategies_;
  std::map<std::string, DependencyCheck> dependencies_;
  std::unordered_map<std::string, std::shared_ptr<Processor>> processors_;
  std::shared_ptr<Processor> fallback_;
};

}  // namespace bullmq
