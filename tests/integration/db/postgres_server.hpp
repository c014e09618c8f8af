// Test support: a throwaway PostgreSQL 15 server for integration tests.
//
// The constructor runs initdb in a fresh temporary directory, picks a free
// loopback port and starts postgres as the `postgres` user (through
// `runuser -u postgres --` when running as root), waiting for readiness with
// a bounded pg_isready poll. The destructor stops the server by its data
// directory / postmaster pid and deletes the directory. stop() and start()
// let a test take the database away and bring it back on the same port.
#pragma once

#include <string>
#include <vector>

namespace testsupport {

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Creates a database and returns its postgresql:// URL.
  std::string create_database(const std::string& name);
  // URL of a database on this server.
  std::string url(const std::string& database) const;

  // Immediate shutdown (like a crash); start() brings it back (same port).
  void stop();
  void start();
  bool running() const { return running_; }
  int port() const { return port_; }

  // One server shared by the tests of this process (started on first use).
  static PostgresServer& shared();
  // A fresh, uniquely named database on the shared server, for one test.
  static std::string fresh_database_url(const std::string& prefix = "t");

 private:
  int run(const std::vector<std::string>& argv, bool as_postgres) const;
  std::string log_tail() const;
  int read_postmaster_pid() const;

  std::string dir_;
  std::string data_dir_;
  std::string bin_dir_ = "/usr/lib/postgresql/15/bin";
  int port_ = 0;
  bool running_ = false;
};

}  // namespace testsupport
