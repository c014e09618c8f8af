// Error types of the database layer that callers must tell apart.
//
// DatabaseUnavailable: PostgreSQL cannot be reached or dropped the connection
// (connect refused, connection lost, server shutting down, no free pooled
// connection in time). It is transient: the pipeline's processors turn it into
// "dependency down" (no attempt spent; the worker waits for the database).
// Every other pqxx error (constraint violations, bad SQL) keeps its pqxx type.
#pragma once

#include <stdexcept>
#include <string>

namespace db {

class DatabaseUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace db
