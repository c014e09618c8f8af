// Error types of the database layer that callers must tell apart.
//
// DatabaseUnavailable: PostgreSQL cannot be reached or dropped the connection
// (connect refused, connection lost, server shutting down, no free pooled
// connection in time). It is transient: the pipeline's processors turn it into
// "dependency down" (no attempt spent; the worker waits for the database).
// Every other pqxx error (constraint violations, bad SQL) keeps its pqxx type.
// Retryable in the project's one classification (common/classified_error.hpp).
#pragma once

#include <string>

#include "common/classified_error.hpp"

namespace db {

class DatabaseUnavailable : public common::ClassifiedError {
 public:
  explicit DatabaseUnavailable(const std::string& message)
      : common::ClassifiedError(message, common::Retry::kRetryable) {}
};

}  // namespace db
