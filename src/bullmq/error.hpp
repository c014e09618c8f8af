// Errors raised by the BullMQ client library. Every error says whether trying
// again later can succeed (retryable: the connection dropped, Redis is
// loading) or not (permanent: a bad reply, a script error), in the
// classification the database and extraction layers share
// (common/classified_error.hpp), and carries the context it happened in
// (queue, job id, script) in its message.
#pragma once

#include <string>

#include "common/classified_error.hpp"

namespace bullmq {

class Error : public common::ClassifiedError {
 public:
  Error(const std::string& message, bool retryable)
      : common::ClassifiedError(
            message, retryable ? common::Retry::kRetryable : common::Retry::kPermanent) {}
};

// The connection to Redis is down or was lost while a command was in flight:
// whether the command ran is unknown.
class ConnectionError : public Error {
 public:
  explicit ConnectionError(std::string message) : Error(std::move(message), true) {}
};

// Redis answered with an error reply (e.g. a Lua runtime error). `code` is
// the reply's first word ("ERR", "MISCONF", "OOM", …) when known.
class ServerError : public Error {
 public:
  explicit ServerError(std::string message, bool retryable = false, std::string code = {})
      : Error(std::move(message), retryable), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// A reply did not have the shape the protocol promises.
class ProtocolError : public Error {
 public:
  explicit ProtocolError(std::string message) : Error(std::move(message), false) {}
};

}  // namespace bullmq
