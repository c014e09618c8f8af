// Whether trying again later can succeed: the one classification of errors
// shared by the core (bullmq::Error, for Redis), the database layer
// (db::DatabaseUnavailable) and extraction (processing::ExtractionError).
//
// Retryable: the cause lies outside the request (a connection dropped, a
// server restarting, storage not mounted) and may go away. Permanent: the
// request or its input is wrong and will stay so. What a retryable error then
// does is the catcher's decision: the worker resends a job's outcome, the
// document pipeline reports a dependency down (no attempt spent) or fails
// the attempt. Header-only; depends on nothing of the project.
#pragma once

#include <stdexcept>
#include <string>

namespace common {

enum class Retry { kPermanent, kRetryable };

class ClassifiedError : public std::runtime_error {
 public:
  ClassifiedError(const std::string& message, Retry retry)
      : std::runtime_error(message), retry_(retry) {}
  Retry retry() const { return retry_; }
  bool retryable() const { return retry_ == Retry::kRetryable; }

 private:
  Retry retry_;
};

}  // namespace common
