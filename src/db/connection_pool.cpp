#include "db/connection_pool.hpp"

#include <pqxx/except>

namespace db {

std::unique_ptr<pqxx::connection> connect(const std::string& url) {
  try {
    return std::make_unique<pqxx::connection>(url);
  } catch (const pqxx::broken_connection& e) {
    throw DatabaseUnavailable(std::string("cannot connect to PostgreSQL: ") + e.what());
  }
}

bool is_unavailable_sqlstate(const std::string& sqlstate) {
  if (sqlstate.size() != 5) return false;
  const std::string cls = sqlstate.substr(0, 2);
  return cls == "08" || cls == "53" || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

namespace {

// Reads whatever the server sent meanwhile, without a query: a connection the
// server closed while it sat idle fails here instead of in BEGIN (where
// libpqxx 6.4 also leaks the failed result).
bool alive(pqxx::connection& connection) {
  if (!connection.is_open()) return false;
  try {
    connection.get_notifs();
    return connection.is_open();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

ConnectionPool::ConnectionPool(std::string url, PoolOptions options)
    : url_(std::move(url)), options_(options) {}

ConnectionPool::~ConnectionPool() = default;

std::unique_ptr<pqxx::connection> ConnectionPool::open_dedicated() const {
  return connect(url_);
}

std::size_t ConnectionPool::open_connections() const {
  std::lock_guard lock(mutex_);
  return open_;
}

std::size_t ConnectionPool::idle_connections() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

ConnectionPool::Borrowed ConnectionPool::acquire() {
  const std::size_t limit = options_.max_connections == 0 ? 1 : options_.max_connections;
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  std::unique_lock lock(mutex_);
  for (;;) {
    while (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      if (alive(*connection)) return {std::move(connection), true};
      --open_;  // died while idle (e.g. server restart): drop it, look again
    }
    if (open_ < limit) {
      ++open_;
      lock.unlock();
      try {
        return {connect(url_), false};
      } catch (...) {
        lock.lock();
        --open_;
        freed_.notify_one();
        throw;
      }
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= limit) {
      throw DatabaseUnavailable("no PostgreSQL connection became free within " +
                                std::to_string(options_.acquire_timeout.count()) + " ms");
    }
  }
}

void ConnectionPool::give_back(std::unique_ptr<pqxx::connection> connection, bool broken) {
  std::lock_guard lock(mutex_);
  if (broken || !connection->is_open()) {
    --open_;
    connection.reset();
  } else {
    idle_.push_back(std::move(connection));
  }
  freed_.notify_one();
}

void ConnectionPool::drop_idle() {
  std::lock_guard lock(mutex_);
  open_ -= idle_.size();
  idle_.clear();
  freed_.notify_all();
}

void ConnectionPool::run(const std::function<void(pqxx::work&)>& body) {
  for (int attempt = 0;; ++attempt) {
    Borrowed borrowed = acquire();
    try {
      {
        pqxx::work tx(*borrowed.connection);
        body(tx);
        tx.commit();
      }
      give_back(std::move(borrowed.connection), false);
      return;
    } catch (const pqxx::in_doubt_error& e) {
      give_back(std::move(borrowed.connection), true);
      drop_idle();
      throw DatabaseUnavailable(std::string("connection lost during COMMIT: ") + e.what());
    } catch (const pqxx::broken_connection& e) {
      give_back(std::move(borrowed.connection), true);
      drop_idle();
      // A pooled connection may have died while idle (server restart): one
      // more try on a fresh connection before reporting the outage.
      if (borrowed.reused && attempt == 0) continue;
      throw DatabaseUnavailable(std::string("PostgreSQL connection lost: ") + e.what());
    } catch (const pqxx::sql_error& e) {
      if (is_unavailable_sqlstate(e.sqlstate())) {
        give_back(std::move(borrowed.connection), true);
        drop_idle();
        if (borrowed.reused && attempt == 0) continue;
        throw DatabaseUnavailable(std::string("PostgreSQL unavailable: ") + e.what());
      }
      give_back(std::move(borrowed.connection), false);
      throw;
    } catch (...) {
      give_back(std::move(borrowed.connection), false);
      throw;
    }
  }
}

}  // namespace db
