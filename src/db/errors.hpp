// Error types of the database layer that callers must tell apart.
//
// DatabaseUnavailable: PostgreSQL cannot be reached or dropped the connection
// (connect refused, connection lost, server shutting down, no free pooled
// connection in time). It is transient: processors let it propagate as a
// normal failed attempt so that BullMQ's attempts/backoff apply. Every other
// pqxx error (constraint violations, bad SQL) keeps its pqxx type.
#pragma once

#include <stdexcept>
#include <string>

namespace db {

class DatabaseUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace db
