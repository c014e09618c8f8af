#include "postgres_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <pqxx/connection>
#include <pqxx/nontransaction>

namespace testsupport {
namespace {

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a loopback port");
  }
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

bool is_root() {
  return ::geteuid() == 0;
}

// Polls `ready` every 50 ms until it holds or `limit` passes.
template <class Pred>
bool poll_until(Pred ready, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

PostgresServer::PostgresServer() {
  char pattern[] = "/tmp/bullmq-pg-XXXXXX";
  if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  data_dir_ = dir_ + "/data";
  if (is_root()) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw) throw std::runtime_error("no postgres user to run PostgreSQL as");
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot chown " + dir_ + ": " + std::strerror(errno));
    }
  }
  port_ = free_loopback_port();
  if (run({bin_dir_ + "/initdb", "-D", data_dir_, "-U", "postgres", "-A", "trust", "-E", "UTF8",
           "--locale=C", "--no-sync", "--no-instructions"},
          true) != 0) {
    throw std::runtime_error("initdb failed:\n" + log_tail());
  }
  start();
}

PostgresServer::~PostgresServer() {
  try {
    if (running_) stop();
  } catch (...) {
    const int pid = read_postmaster_pid();
    if (pid > 0) ::kill(pid, SIGQUIT);
  }
  if (!std::getenv("KEEP_PG_DIR")) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

int PostgresServer::run(const std::vector<std::string>& argv, bool as_postgres) const {
  std::vector<std::string> full;
  if (as_postgres && is_root()) full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  const std::string log = dir_ + "/commands.log";
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (::chdir(dir_.c_str()) != 0) _exit(126);
    std::vector<char*> args;
    for (auto& a : full) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string PostgresServer::log_tail() const {
  std::string text;
  for (const char* name : {"/commands.log", "/postgres.log"}) {
    std::ifstream in(dir_ + name);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    if (s.size() > 3000) s = s.substr(s.size() - 3000);
    text += std::string("--- ") + name + "\n" + s;
  }
  return text;
}

int PostgresServer::read_postmaster_pid() const {
  std::ifstream in(data_dir_ + "/postmaster.pid");
  int pid = 0;
  in >> pid;
  return pid;
}

void PostgresServer::start() {
  const std::string options = "-p " + std::to_string(port_) + " -k " + dir_ +
                              " -c listen_addresses=127.0.0.1"
                              // fsync off survives a process crash (pg_ctl -m
                              // immediate); synchronous_commit stays on so
                              // committed rows are never lost by stop().
                              " -c fsync=off"
                              " -c full_page_writes=off"
                              " -c max_connections=100";
  if (run({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-l", dir_ + "/postgres.log", "-o", options, "-W",
           "start"},
          true) != 0) {
    throw std::runtime_error("pg_ctl start failed:\n" + log_tail());
  }
  const bool ready = poll_until(
      [&] {
        return run({bin_dir_ + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", std::to_string(port_),
                    "-t", "1"},
                   false) == 0;
      },
      std::chrono::seconds(60));
  if (!ready) throw std::runtime_error("postgres did not become ready:\n" + log_tail());
  running_ = true;
}

void PostgresServer::stop() {
  const int pid = read_postmaster_pid();
  running_ = false;
  if (run({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-m", "immediate", "-t", "30", "stop"}, true) ==
      0) {
    return;
  }
  if (pid > 0) {
    ::kill(pid, SIGQUIT);
    const bool gone = poll_until([&] { return ::kill(pid, 0) != 0; }, std::chrono::seconds(30));
    if (!gone) throw std::runtime_error("postgres (pid " + std::to_string(pid) + ") did not stop");
  }
}

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::create_database(const std::string& name) {
  pqxx::connection admin(url("postgres"));
  pqxx::nontransaction tx(admin);
  tx.exec("CREATE DATABASE " + tx.quote_name(name) + " STRATEGY FILE_COPY");
  return url(name);
}

PostgresServer& PostgresServer::shared() {
  static PostgresServer server;
  return server;
}

std::string PostgresServer::fresh_database_url(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  return shared().create_database(prefix + "_" + std::to_string(::getpid()) + "_" +
                                  std::to_string(++counter));
}

}  // namespace testsupport
