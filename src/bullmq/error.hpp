// Errors raised by the BullMQ client library. Every error says whether trying
// again later can succeed (retryable: the connection dropped, Redis is
// loading) or not (permanent: a bad reply, a script error), and carries the
// context it happened in (queue, job id, script) in its message.
#pragma once

#include <stdexcept>
#include <string>

namespace bullmq {

class Error : public std::runtime_error {
 public:
  Error(std::string message, bool retryable)
      : std::runtime_error(std::move(message)), retryable_(retryable) {}
  bool retryable() const { return retryable_; }

 private:
  bool retryable_;
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
