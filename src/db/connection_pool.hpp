// A bounded, thread-safe pool of PostgreSQL connections (libpqxx 6.4).
//
// Used only from processor threads, never from the I/O thread. The pool owns
// its connections; callers borrow one for the length of a transaction through
// transact(), which commits on success and rolls back on any exception.
// Connections are opened lazily (at most max_connections at once) and a
// connection found broken is dropped and replaced. Connection failures surface
// as db::DatabaseUnavailable; other pqxx errors keep their type.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <pqxx/connection>
#include <pqxx/transaction>

#include "db/errors.hpp"

namespace db {

struct PoolOptions {
  std::size_t max_connections = 4;
  // How long transact() waits for a free connection before giving up with
  // DatabaseUnavailable.
  std::chrono::milliseconds acquire_timeout{10'000};
};

class ConnectionPool {
 public:
  // `url`: a libpq connection string or postgresql:// URL. Does not connect.
  explicit ConnectionPool(std::string url, PoolOptions options = {});
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Runs fn(pqxx::work&) in one transaction on a pooled connection and
  // commits it; returns what fn returns. If a connection taken from the idle
  // list turns out broken before the commit, the pool drops its idle
  // connections and runs fn once more on a fresh connection, so fn must touch
  // nothing but the transaction. Throws DatabaseUnavailable when PostgreSQL
  // is unreachable (also when the connection broke during COMMIT: the
  // outcome is then unknown and the caller retries idempotently).
  template <class Fn>
  auto transact(Fn&& fn) {
    using Result = std::invoke_result_t<Fn&, pqxx::work&>;
    if constexpr (std::is_void_v<Result>) {
      run([&](pqxx::work& tx) { fn(tx); });
    } else {
      std::optional<Result> out;
      run([&](pqxx::work& tx) { out.emplace(fn(tx)); });
      return std::move(*out);
    }
  }

  // Opens a connection outside the pool (e.g. for migrations, which hold a
  // session-level advisory lock). Throws DatabaseUnavailable.
  std::unique_ptr<pqxx::connection> open_dedicated() const;

  std::size_t open_connections() const;
  std::size_t idle_connections() const;

 private:
  struct Borrowed {
    std::unique_ptr<pqxx::connection> connection;
    bool reused = false;
  };
  Borrowed acquire();
  void give_back(std::unique_ptr<pqxx::connection> connection, bool broken);
  void drop_idle();
  void run(const std::function<void(pqxx::work&)>& body);

  const std::string url_;
  const PoolOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_ = 0;  // idle + borrowed
};

// Opens a connection to `url`, mapping failures to DatabaseUnavailable.
std::unique_ptr<pqxx::connection> connect(const std::string& url);

// True for SQLSTATEs that mean "the server is going away or unreachable"
// (class 08, 53, 57P01-57P03) rather than a problem with the statement.
bool is_unavailable_sqlstate(const std::string& sqlstate);

}  // namespace db
