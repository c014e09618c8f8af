// round-trip-floor: what one blocking request/reply round trip to Redis costs the client. At
// concurrency 1 a worker makes one such round trip per job, and the kernel's cost of sleeping in
// recv() and waking up when the reply arrives is a floor under its CPU per job that no client can
// go below. This measures it with the smallest client there is: PING / +PONG over plain sockets,
// one at a time ("blocking"), and 100 per write ("pipelined": the wake-up amortised). With
// --server-us U it also measures the round trip to a server that works U µs on each request (an
// EVAL busy loop, calibrated here): a worker's request is a script that keeps Redis busy for tens
// of µs, and the longer both sides idle meanwhile, the more a wake-up costs on some machines.
// With --idle-claim MARKER WAIT ACTIVE it plays the bare path of an idle worker instead, until it
// is stopped: blocked in BZPOPMIN on MARKER, and as soon as that returns a member, RPOPLPUSH WAIT
// ACTIVE on a second connection, then back to BZPOPMIN: the two wake-ups (Redis waking the
// client, the client waking Redis) that an idle worker's add -> active latency cannot go below.
// With --in-flight N --connections K --server-us U it plays the bare path of a busy worker at
// concurrency N: N requests of U µs of server work kept in flight over K connections, each reply
// answered at once by the next request on its connection, and reports how much of the time Redis
// was busy (its CPU over the wall time): the Redis-bound limit's fraction that a client with no
// work of its own reaches on this machine, the floor under a worker's at that concurrency.
// A benchmark probe for scripts/bench.sh (see scripts/bench/README.md), not part of the product.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
// A loop of ARGV[1] additions in Lua: server work that grows with its argument.
constexpr std::string_view kBusyScript =
    "local x = 0 for i = 1, tonumber(ARGV[1]) do x = x + i end return 1";
constexpr long kBatch = 100;
constexpr long kCalibrationIterations = 20000;
constexpr std::string_view kFlags[] = {
    "--host",      "--port",       "--unix",      "--count",       "--warmup", "--json",
    "--server-us", "--idle-claim", "--in-flight", "--connections", "-h",       "--help"};
constexpr const char* kUsage =
    "usage: round-trip-floor [--host H] [--port P] [--unix PATH] [--count N] [--warmup W]\n"
    "                        [--server-us U] [--json]\n"
    "       round-trip-floor [--host H] [--port P] [--unix PATH] --idle-claim MARKER WAIT ACTIVE\n"
    "       round-trip-floor [--host H] [--port P] [--unix PATH] [--count N] [--json]\n"
    "                        --in-flight N [--connections K] --server-us U\n"
    "  defaults: --host 127.0.0.1 --port 6379 --count 20000 --warmup 1000 --server-us 0 (off)\n";

// Exit status 1: Redis unreachable or misbehaving; 2: bad flags (the usage follows).
[[noreturn]] void Die(int status, const std::string& message) {
  std::fprintf(stderr, "round-trip-floor: %s\n%s", message.c_str(), status == 2 ? kUsage : "");
  std::exit(status);
}

struct Options {
  std::string host = "127.0.0.1";
  long port = 6379;
  std::string unix_path;
  long count = 20000;
  long warmup = 1000;
  long server_us = 0;
  bool json = false;
  std::string marker, wait, active;  // --idle-claim
  long in_flight = 0;                // --in-flight (0: off)
  long connections = 1;
  std::string Endpoint() const {
    return unix_path.empty() ? host + ":" + std::to_string(port) : unix_path;
  }
};

long ParseNumber(std::string_view flag, std::string_view text, long min, long max) {
  long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    Die(2, std::string(flag) + " needs an integer from " + std::to_string(min) + " to " +
               std::to_string(max) + ", got '" + std::string(text) + "'");
  }
  return value;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) Die(2, std::string(flag) + " needs a value");
      return argv[++i];
    };
    // A lookup in a list, not a search for " " + flag + " " in one string: GCC 12 reports a
    // -Wrestrict false positive on that concatenation at -O2 and above.
    if (std::find(std::begin(kFlags), std::end(kFlags), flag) == std::end(kFlags)) {
      Die(2, "unknown option '" + std::string(flag) + "'");
    }
    if (flag == "-h" || flag == "--help") std::exit(std::fputs(kUsage, stdout) < 0);
    if (flag == "--host") o.host = value();
    if (flag == "--port") o.port = ParseNumber(flag, value(), 1, 65535);
    if (flag == "--unix") o.unix_path = value();
    if (flag == "--count") o.count = ParseNumber(flag, value(), 1, 1000000000);
    if (flag == "--warmup") o.warmup = ParseNumber(flag, value(), 0, 1000000000);
    if (flag == "--server-us") o.server_us = ParseNumber(flag, value(), 0, 100000);
    if (flag == "--json") o.json = true;
    if (flag == "--in-flight") o.in_flight = ParseNumber(flag, value(), 1, 10000);
    if (flag == "--connections") o.connections = ParseNumber(flag, value(), 1, 64);
    if (flag == "--idle-claim") {
      o.marker = value();
      o.wait = value();
      o.active = value();
      if (o.marker.empty() || o.wait.empty() || o.active.empty())
        Die(2, "--idle-claim needs three non-empty keys");
    }
  }
  if (o.in_flight > 0 && o.server_us == 0) Die(2, "--in-flight needs --server-us");
  if (o.connections > std::max(o.in_flight, 1L)) Die(2, "--connections may not exceed --in-flight");
  if (o.host.empty()) Die(2, "--host must not be empty");
  if (o.unix_path.size() >= sizeof(sockaddr_un{}.sun_path)) Die(2, "--unix path is too long");
  for (unsigned char ch : o.Endpoint()) {  // printed as is in the JSON
    if (ch < 0x20 || ch == '"' || ch == '\\') Die(2, "--host/--unix: no quotes or backslashes");
  }
  return o;
}

int Connect(const Options& o) {
  sockaddr_un unix_addr{};
  addrinfo unix_ai{}, hints{};
  addrinfo* list = &unix_ai;
  if (!o.unix_path.empty()) {
    unix_addr.sun_family = AF_UNIX;
    std::memcpy(unix_addr.sun_path, o.unix_path.data(), o.unix_path.size());
    unix_ai.ai_family = AF_UNIX;
    unix_ai.ai_socktype = SOCK_STREAM;
    unix_ai.ai_addr = reinterpret_cast<sockaddr*>(&unix_addr);
    unix_ai.ai_addrlen = sizeof unix_addr;
  } else {
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(o.host.c_str(), std::to_string(o.port).c_str(), &hints, &list);
    if (rc != 0) Die(1, "cannot resolve " + o.host + ": " + gai_strerror(rc));
  }
  int fd = -1;
  std::string error;
  for (addrinfo* ai = list; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      error = std::strerror(errno);
      if (fd >= 0) close(fd);
      fd = -1;
    }
  }
  if (list != &unix_ai) freeaddrinfo(list);
  if (fd < 0) Die(1, "cannot connect to Redis at " + o.Endpoint() + ": " + error);
  int one = 1;
  if (o.unix_path.empty() && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    Die(1, std::string("setsockopt(TCP_NODELAY): ") + std::strerror(errno));
  }
  timeval timeout{10, 0};  // a Redis that stops answering is an error, not a hang
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

// A RESP command from its arguments.
std::string Command(std::initializer_list<std::string_view> args) {
  // Appended piece by piece: GCC 12 reports a -Wrestrict false positive on
  // "literal" + std::string at -O2 and above.
  std::string out;
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

// The busy loop of `iterations` additions, and its reply.
std::string BusyCommand(long iterations) {
  return Command({"EVAL", kBusyScript, "0", std::to_string(iterations)});
}
constexpr std::string_view kBusyReply = ":1";

// Writes n copies of one command (n <= kBatch) in one send, then reads until n replies have
// arrived, each a single line that must be `reply`.
class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) { Use(std::string(kPing), "+PONG"); }
  ~Connection() { close(fd_); }

  void Use(const std::string& command, std::string_view reply) {
    command_size_ = command.size();
    commands_.clear();
    for (long i = 0; i < kBatch; ++i) commands_ += command;
    reply_ = reply;
  }

  void RoundTrip(long n) {
    for (std::string_view out(commands_.data(), command_size_ * n); !out.empty();) {
      ssize_t sent = send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
      if (sent < 0 && errno != EINTR) Die(1, std::string("send: ") + std::strerror(errno));
      if (sent > 0) out.remove_prefix(sent);
    }
    while (n > 0) {
      size_t eol = buffer_.find("\r\n", pos_);
      if (eol != std::string::npos) {
        std::string_view line(buffer_.data() + pos_, eol - pos_);
        if (line != reply_) {
          Die(1, "unexpected reply from Redis: '" + std::string(line.substr(0, 200)) +
                     "' (expected " + reply_ + ")");
        }
        pos_ = eol + 2;
        --n;
        continue;
      }
      if (buffer_.size() - pos_ > 4096) Die(1, "unexpected reply from Redis (no CRLF)");
      ssize_t got = recv(fd_, chunk_, sizeof chunk_, 0);
      if (got == 0) Die(1, "Redis closed the connection");
      if (got < 0 && errno == EAGAIN) Die(1, "no reply from Redis within 10 s");
      if (got < 0 && errno != EINTR) Die(1, std::string("recv: ") + std::strerror(errno));
      if (got > 0) buffer_.append(chunk_, got);
    }
    if (pos_ == buffer_.size()) buffer_.clear(), pos_ = 0;
  }

 private:
  int fd_;
  std::string commands_;
  std::size_t command_size_ = 0;
  std::string reply_;
  std::string buffer_;
  size_t pos_ = 0;
  char chunk_[16384];
};

// Times in µs and context switch counts: since an arbitrary origin (Now), or per PING (Measure).
struct Figures {
  double wall, user, sys, thread, voluntary, involuntary;
};

Figures Now() {
  timespec wall{}, thread{};
  rusage usage{};
  clock_gettime(CLOCK_MONOTONIC, &wall);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &thread);
  getrusage(RUSAGE_SELF, &usage);
  auto ns = [](const timespec& t) { return t.tv_sec * 1e6 + t.tv_nsec / 1e3; };
  auto us = [](const timeval& t) { return t.tv_sec * 1e6 + t.tv_usec; };
  return Figures(ns(wall), us(usage.ru_utime), us(usage.ru_stime), ns(thread),
                 static_cast<double>(usage.ru_nvcsw), static_cast<double>(usage.ru_nivcsw));
}

// Sends `warmup` (not counted) and then `count` PINGs, `per_write` at a time.
Figures Measure(Connection& c, long warmup, long count, long per_write) {
  auto run = [&](long n) {
    for (long done = 0; done < n; done += per_write) c.RoundTrip(std::min(per_write, n - done));
  };
  run(warmup);
  Figures a = Now();
  run(count);
  Figures b = Now();
  double n = count;
  return Figures((b.wall - a.wall) / n, (b.user - a.user) / n, (b.sys - a.sys) / n,
                 (b.thread - a.thread) / n, (b.voluntary - a.voluntary) / n,
                 (b.involuntary - a.involuntary) / n);
}

void Print(bool json, const std::string& what, const Figures& f) {
  const char* format =
      json ? "\"%s\":{\"wallUs\":%.3f,\"cpuUs\":%.3f,\"userUs\":%.3f,\"sysUs\":%.3f,"
             "\"threadCpuUs\":%.3f,\"voluntaryCtxSwitches\":%.4f,\"involuntaryCtxSwitches\":%.4f}"
           : "%s: wall %.1f µs, CPU %.2f µs (user %.2f, sys %.2f; thread %.2f), "
             "%.3f voluntary / %.3f involuntary ctx switches\n";
  std::printf(format, what.c_str(), f.wall, f.user + f.sys, f.user, f.sys, f.thread, f.voluntary,
              f.involuntary);
}

}  // namespace

// The server's time per busy-loop request of `iterations`: the wall time per command when they
// are pipelined (the server is then the bottleneck), less that of a PING.
double ServerUs(Connection& c, long iterations, double ping_pipelined_wall, long count) {
  c.Use(BusyCommand(iterations), kBusyReply);
  return Measure(c, kBatch, count, kBatch).wall - ping_pipelined_wall;
}

// How many iterations make the server work `server_us` µs per request.
long Calibrate(Connection& c, long server_us, double ping_pipelined_wall) {
  const double per_iteration =
      ServerUs(c, kCalibrationIterations, ping_pipelined_wall, 500) / kCalibrationIterations;
  if (!(per_iteration > 0)) Die(1, "could not time the busy loop on the server");
  return std::max(1L, static_cast<long>(server_us / per_iteration + 0.5));
}

// Appends what one blocking recv() gets (nothing if a signal interrupted it).
void RecvMore(int fd, std::string& buffer) {
  char chunk[4096];
  ssize_t got = recv(fd, chunk, sizeof chunk, 0);
  if (got == 0) Die(1, "Redis closed the connection");
  if (got < 0 && errno == EINTR) return;
  if (got < 0) Die(1, std::string("recv: ") + std::strerror(errno));
  buffer.append(chunk, static_cast<std::size_t>(got));
}

// Reads one RESP reply (simple, error, integer, bulk, or an array of those) from `fd` into
// `buffer`, blocking; returns its first line. Enough for BZPOPMIN and RPOPLPUSH.
std::string ReadReply(int fd, std::string& buffer, std::string* whole = nullptr) {
  std::size_t pos = 0;
  long lines_due = 1;
  std::string first;
  while (lines_due > 0) {
    const std::size_t eol = buffer.find("\r\n", pos);
    if (eol == std::string::npos) {
      RecvMore(fd, buffer);
      continue;
    }
    const std::string_view line(buffer.data() + pos, eol - pos);
    if (first.empty()) first = line;
    if (line.empty()) Die(1, "unexpected empty line from Redis");
    --lines_due;
    long n = 0;
    if (line[0] == '*' || line[0] == '$')
      std::from_chars(line.data() + 1, line.data() + line.size(), n);
    if (line[0] == '*' && n > 0) lines_due += n;
    if (line[0] == '$' && n >= 0) {
      // The bulk's bytes and their CRLF, which may themselves contain CRLF.
      while (buffer.size() < eol + 2 + static_cast<std::size_t>(n) + 2) RecvMore(fd, buffer);
      pos = eol + 2 + static_cast<std::size_t>(n) + 2;
      continue;
    }
    pos = eol + 2;
  }
  if (whole) whole->assign(buffer, 0, pos);
  buffer.erase(0, pos);
  return first;
}

void SendAll(int fd, std::string_view out) {
  while (!out.empty()) {
    ssize_t sent = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno != EINTR) Die(1, std::string("send: ") + std::strerror(errno));
    if (sent > 0) out.remove_prefix(static_cast<std::size_t>(sent));
  }
}

// The idle worker's bare path, until killed (see the top of the file). BZPOPMIN blocks for up
// to 5 s at a time; the socket's 10 s receive timeout stays above that.
[[noreturn]] void IdleClaim(const Options& o) {
  const int blocking = Connect(o);
  const int commands = Connect(o);
  const std::string wait_marker = Command({"BZPOPMIN", o.marker, "5"});
  const std::string claim = Command({"RPOPLPUSH", o.wait, o.active});
  std::string blocking_in, commands_in;
  std::printf("idle-claim: waiting on %s\n", o.marker.c_str());
  std::fflush(stdout);
  for (;;) {
    SendAll(blocking, wait_marker);
    const std::string reply = ReadReply(blocking, blocking_in);
    if (reply == "*-1") continue;  // timed out: wait again
    if (reply[0] == '-') Die(1, "BZPOPMIN: " + reply);
    SendAll(commands, claim);
    const std::string claimed = ReadReply(commands, commands_in);
    if (claimed[0] == '-') Die(1, "RPOPLPUSH: " + claimed);
  }
}

// Redis's CPU time so far (used_cpu_sys + used_cpu_user, seconds), asked on `fd`.
double RedisCpuS(int fd, std::string& buffer) {
  SendAll(fd, Command({"INFO", "cpu"}));
  std::string info;
  if (ReadReply(fd, buffer, &info)[0] != '$') Die(1, "INFO cpu: unexpected reply");
  double total = 0;
  for (std::string_view field : {"used_cpu_sys:", "used_cpu_user:"}) {
    const std::size_t at = info.find(field);
    if (at == std::string::npos) Die(1, "INFO cpu has no " + std::string(field));
    total += std::strtod(info.c_str() + at + field.size(), nullptr);
  }
  return total;
}

// The busy worker's bare path (see the top of the file): `o.in_flight` busy-loop requests of
// `iterations` kept in flight over `o.connections` connections; after `o.warmup` replies, Redis's
// CPU and the wall time are read, again after `o.count` more.
// `n` copies of `request`, to send in one write.
std::string Burst(const std::string& request, long n) {
  std::string out;
  out.reserve(request.size() * static_cast<std::size_t>(n));
  for (long j = 0; j < n; ++j) out += request;
  return out;
}

[[noreturn]] void InFlight(const Options& o, long iterations, double server_us) {
  const std::string request = BusyCommand(iterations);
  std::vector<pollfd> fds;
  std::vector<std::string> pending_in(static_cast<std::size_t>(o.connections));
  for (long i = 0; i < o.connections; ++i) fds.push_back({Connect(o), POLLIN, 0});
  const int control = Connect(o);
  std::string control_in;
  for (long i = 0; i < o.connections; ++i) {  // N / K each, the first N % K one more
    const long share = o.in_flight / o.connections + (i < o.in_flight % o.connections ? 1 : 0);
    SendAll(fds[static_cast<std::size_t>(i)].fd, Burst(request, share));
  }
  long replies = 0;
  const long total = o.warmup + o.count;
  double cpu0 = 0, redis0 = 0;
  Figures start{};
  auto mark_start = [&] {  // after the warm-up's replies (at once without one)
    redis0 = RedisCpuS(control, control_in);
    start = Now();
    cpu0 = start.user + start.sys;
  };
  if (o.warmup == 0) mark_start();
  char chunk[65536];
  while (replies < total) {
    if (poll(fds.data(), fds.size(), 10000) <= 0) Die(1, "no reply from Redis within 10 s");
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      const ssize_t got = recv(fds[i].fd, chunk, sizeof chunk, MSG_DONTWAIT);
      if (got == 0) Die(1, "Redis closed the connection");
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        Die(1, std::string("recv: ") + std::strerror(errno));
      }
      std::string& in = pending_in[i];
      in.append(chunk, static_cast<std::size_t>(got));
      long answered = 0;
      std::size_t pos = 0;
      for (std::size_t eol; (eol = in.find("\r\n", pos)) != std::string::npos; pos = eol + 2) {
        if (std::string_view(in.data() + pos, eol - pos) != kBusyReply)
          Die(1, "unexpected reply from Redis: '" +
                     in.substr(pos, std::min<std::size_t>(eol - pos, 200)) + "'");
        ++answered;
      }
      in.erase(0, pos);
      SendAll(fds[i].fd, Burst(request, answered));
      const long before = replies;
      replies += answered;
      if (before < o.warmup && replies >= o.warmup) mark_start();
    }
  }
  const double redis1 = RedisCpuS(control, control_in);
  const Figures end = Now();
  const double wall_s = (end.wall - start.wall) / 1e6;
  const double counted = static_cast<double>(replies - o.warmup);
  const double busy = (redis1 - redis0) / wall_s;
  const double client_cpu_us = (end.user + end.sys - cpu0) / counted;
  if (o.json) {
    std::printf(
        "{\"inFlight\":%ld,\"connections\":%ld,\"serverUs\":%.3f,\"iterations\":%ld,"
        "\"requests\":%.0f,\"requestsPerS\":%.1f,\"redisCpuUsPerRequest\":%.3f,"
        "\"redisBusyFraction\":%.4f,\"clientCpuUsPerRequest\":%.3f}\n",
        o.in_flight, o.connections, server_us, iterations, counted, counted / wall_s,
        (redis1 - redis0) * 1e6 / counted, busy, client_cpu_us);
  } else {
    std::printf(
        "%ld requests in flight on %ld connections, %.1f µs of server work each: %.0f requests/s, "
        "Redis busy %.3f of the time (%.1f µs of its CPU per request), client CPU %.2f µs per "
        "request\n",
        o.in_flight, o.connections, server_us, counted / wall_s, busy,
        (redis1 - redis0) * 1e6 / counted, client_cpu_us);
  }
  std::exit(0);
}

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  if (!o.marker.empty()) IdleClaim(o);
  Connection connection(Connect(o));
  if (o.in_flight > 0) {
    const double ping_pipelined = Measure(connection, kBatch, 2000, kBatch).wall;
    const long iterations = Calibrate(connection, o.server_us, ping_pipelined);
    InFlight(o, iterations, ServerUs(connection, iterations, ping_pipelined, 1000));
  }
  Figures blocking = Measure(connection, o.warmup, o.count, 1);
  Figures pipelined = Measure(connection, o.warmup, o.count, kBatch);
  long iterations = 0;
  double server_us = 0;
  const long busy_count = o.count / 4 + 1;  // each takes several times a PING's time
  Figures busy{};
  if (o.server_us > 0) {
    iterations = Calibrate(connection, o.server_us, pipelined.wall);
    server_us = ServerUs(connection, iterations, pipelined.wall, 1000);  // leaves it in use
    busy = Measure(connection, o.warmup / 10, busy_count, 1);
  }
  std::string transport = o.unix_path.empty() ? "tcp" : "unix";
  if (o.json) {
    std::printf(
        "{\"transport\":\"%s\",\"endpoint\":\"%s\",\"count\":%ld,\"warmup\":%ld,\"batch\":%ld,",
        transport.c_str(), o.Endpoint().c_str(), o.count, o.warmup, kBatch);
    Print(true, "blocking", blocking);
    std::printf(",");
    Print(true, "pipelined", pipelined);
    if (o.server_us > 0) {
      std::printf(
          ",\"serverWork\":{\"targetUs\":%ld,\"iterations\":%ld,\"serverUs\":%.3f,\"count\":%ld,",
          o.server_us, iterations, server_us, busy_count);
      Print(true, "blocking", busy);
      std::printf("}");
    }
    std::printf("}\n");
  } else {
    std::string where = transport + " " + o.Endpoint() + ", " + std::to_string(o.count) + " PINGs";
    Print(false, "blocking  (" + where + ", one at a time), per round trip", blocking);
    Print(false, "pipelined (" + where + ", " + std::to_string(kBatch) + " per write), per command",
          pipelined);
    if (o.server_us > 0) {
      Print(false,
            "busy server (EVAL of " + std::to_string(iterations) + " additions, " +
                std::to_string(server_us).substr(0, 6) + " µs of server time, one at a time), " +
                "per round trip",
            busy);
    }
  }
  return 0;
}
