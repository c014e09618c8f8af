#include "bullmq/redis_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include "bullmq/logger.hpp"
#include "bullmq/redis_error_reply.hpp"
#include "bullmq/retry_backoff.hpp"
#include "bullmq/spawn.hpp"
#include "bullmq/strings.hpp"

namespace bullmq {
namespace {

using namespace std::chrono_literals;
constexpr auto kDefaultConnectTimeout = 10s;
// How long a relocation waits for the replies already due before it drops
// the socket (those commands then fail with ConnectionError).
constexpr auto kRelocationDrain = 1s;
constexpr auto kTryAgainDelay = 50ms;
// A command redirected more often than this gets the last redirection as its
// reply: a slot map that keeps changing must not loop forever. TRYAGAIN
// lasts as long as a slot's keys are being migrated (seconds for a big
// queue), so it has a budget of its own: about 5 s.
constexpr int kMaxRedirects = 16;
constexpr int kMaxTryAgain = 100;

bool is_push_message(const Reply& reply) {
  if (!reply.is_array() || reply.elements.empty() || !reply.elements[0].is_string()) return false;
  const std::string& kind = reply.elements[0].str;
  return kind == "message" || kind == "pmessage";
}

}  // namespace

// A completion nobody waits for (idle PING, ASKING).
struct RedisConnection::Discard final : PendingBase {
  void complete(std::exception_ptr, Reply) override {}
};

// A completion that runs a function on the executor (an ASK redirection's
// reply goes back to the connection that sent it there).
struct RedisConnection::Forward final : PendingBase {
  Forward(asio::any_io_executor ex, std::function<void(std::exception_ptr, Reply)> f)
      : executor(std::move(ex)), fn(std::move(f)) {}
  void complete(std::exception_ptr error, Reply reply) override {
    asio::post(executor, [f = std::move(fn), error, r = std::move(reply)]() mutable {
      f(error, std::move(r));
    });
  }
  asio::any_io_executor executor;
  std::function<void(std::exception_ptr, Reply)> fn;
};

RedisConnection::RedisConnection(asio::any_io_executor executor, RedisOptions options,
                                 std::string role, std::shared_ptr<RedisRoute> route)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      role_(std::move(role)),
      route_(std::move(route)),
      redirects_(route_ && route_->follows_redirects()),
      retry_timer_(executor_),
      watchdog_(executor_),
      relocation_timer_(executor_),
      resend_timer_(executor_) {
  if (options_.tls.enabled) tls_context_ = make_tls_context(options_.tls);
  address_ = route_ ? RedisAddress{} : RedisAddress{options_.host, options_.port};
  if (route_) route_->attach(this);
}

RedisConnection::~RedisConnection() {
  if (state_ != State::kStopped) stop();
  if (route_) route_->detach(this);
}

std::string RedisConnection::endpoint() const {
  if (!route_ && !options_.unix_socket.empty()) return options_.unix_socket;
  if (address_.host.empty()) return {};
  return address_.describe();
}

std::chrono::milliseconds RedisConnection::connect_timeout() const {
  if (options_.timeout_ms > 0) return std::chrono::milliseconds(options_.timeout_ms);
  return kDefaultConnectTimeout;
}

void RedisConnection::start() {
  if (state_ != State::kIdle) return;
  state_ = State::kConnecting;
  // Held by shared_ptr: the coroutine keeps the connection alive until it ends.
  if (auto self = weak_from_this().lock()) {
    spawn(
        executor_, [self]() { return self->supervise(); }, "redis connection");
  } else {
    spawn(executor_, supervise(), "redis connection");
  }
}

void RedisConnection::stop() {
  state_ = State::kStopped;
  close_stream();
  retry_timer_.cancel();
  watchdog_.cancel();
  relocation_timer_.cancel();
  resend_timer_.cancel();
  out_buffer_.clear();
  fail_all(in_flight_, "connection closed");
  fail_all(queued_, "connection closed");
  fail_all(redirected_, "connection closed");
  if (ask_) {
    ask_->stop();
    ask_.reset();
  }
}

void RedisConnection::reset(const std::string& reason) {
  if (state_ == State::kStopped || std::holds_alternative<std::monostate>(stream_)) return;
  logger().warn("redis.reset", "dropping Redis connection: " + reason,
                {{"connection", role_}, {"node", endpoint()}});
  close_reason_ = reason;
  close_stream();
}

void RedisConnection::relocate(const std::string& reason) {
  begin_relocation(reason, false);
}

void RedisConnection::fail_all(PendingList& list, const std::string& why) {
  auto taken = std::move(list);
  list.clear();
  for (auto& p : taken) {
    p->complete(std::make_exception_ptr(ConnectionError("Redis " + role_ + " connection: " + why)),
                Reply{});
  }
}

bool RedisConnection::accept(std::unique_ptr<PendingBase>& pending) {
  if (state_ != State::kStopped) return true;
  pending->complete(std::make_exception_ptr(ConnectionError("Redis connection is closed")),
                    Reply{});
  return false;
}

void RedisConnection::submit_owned(std::string bytes, std::unique_ptr<PendingBase> pending,
                                   std::int64_t blocks_for_ms) {
  if (!accept(pending)) return;
  pending->blocks_for_ms = blocks_for_ms;
  if (redirects_) pending->bytes = bytes;
  if (out_buffer_.empty()) {
    out_buffer_ = std::move(bytes);
  } else {
    out_buffer_ += bytes;
  }
  queued_.push_back(std::move(pending));
  schedule_write();
}

void RedisConnection::submit(std::string_view head, std::string_view body,
                             std::unique_ptr<PendingBase> pending) {
  if (!accept(pending)) return;
  if (redirects_) {
    pending->bytes.reserve(head.size() + body.size());
    pending->bytes.append(head);
    pending->bytes.append(body);
  }
  out_buffer_.reserve(out_buffer_.size() + head.size() + body.size());
  out_buffer_ += head;
  out_buffer_ += body;
  queued_.push_back(std::move(pending));
  schedule_write();
}

void RedisConnection::close_stream() {
  ++generation_;
  boost::system::error_code ec;
  std::visit(
      [&](auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, std::unique_ptr<TlsStream>>) {
          if (s) s->lowest_layer().close(ec);
        } else if constexpr (!std::is_same_v<T, std::monostate>) {
          s.close(ec);
        }
      },
      stream_);
}

// A plain socket (TCP, Unix) is read without the failed read Asio starts
// with: after a read that left the socket empty (less than a full buffer),
// the next one waits for readiness first and then reads what is there (the
// socket is non-blocking, so a spurious readiness only sends it back to
// wait). After a full buffer, more is likely there already: read at once.
// Asio 1.74 re-arms the descriptor (epoll_ctl) for each such wait, so this
// trades the failed recv for that call: the same count of system calls per
// wake-up (strace at concurrency 1: epoll_wait, recvfrom, sendto, epoll_ctl).
template <typename Socket>
awaitable<std::size_t> RedisConnection::read_plain(Socket& socket, asio::mutable_buffer buffer) {
  for (;;) {
    if (socket_drained_) {
      co_await socket.async_wait(Socket::wait_read, asio::use_awaitable);
      boost::system::error_code ec;
      const std::size_t n = socket.read_some(buffer, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
      if (ec) throw boost::system::system_error(ec);
      socket_drained_ = n < buffer.size();
      co_return n;
    }
    const std::size_t n = co_await socket.async_read_some(buffer, asio::use_awaitable);
    socket_drained_ = n < buffer.size();
    co_return n;
  }
}

awaitable<std::size_t> RedisConnection::read_some(asio::mutable_buffer buffer) {
  if (auto* tcp = std::get_if<TcpSocket>(&stream_)) co_return co_await read_plain(*tcp, buffer);
  if (auto* tls = std::get_if<std::unique_ptr<TlsStream>>(&stream_))
    co_return co_await (*tls)->async_read_some(buffer, asio::use_awaitable);
  if (auto* unix_socket = std::get_if<UnixSocket>(&stream_))
    co_return co_await read_plain(*unix_socket, buffer);
  throw ConnectionError("Redis " + role_ + " connection is not open");
}

awaitable<void> RedisConnection::write_all(asio::const_buffer buffer) {
  if (auto* tcp = std::get_if<TcpSocket>(&stream_)) {
    co_await asio::async_write(*tcp, buffer, asio::use_awaitable);
  } else if (auto* tls = std::get_if<std::unique_ptr<TlsStream>>(&stream_)) {
    co_await asio::async_write(**tls, buffer, asio::use_awaitable);
  } else if (auto* unix_socket = std::get_if<UnixSocket>(&stream_)) {
    co_await asio::async_write(*unix_socket, buffer, asio::use_awaitable);
  } else {
    throw ConnectionError("Redis " + role_ + " connection is not open");
  }
}

// Nagle off (commands are small and latency-bound); keepalive with the
// configured idle time so that a peer that vanished without a FIN is found
// even on a connection that waits in BZPOPMIN.
void RedisConnection::set_socket_options(TcpSocket& socket) const {
  socket.set_option(asio::ip::tcp::no_delay(true));
  if (options_.keepalive_s <= 0) return;
  socket.set_option(asio::socket_base::keep_alive(true));
  const int fd = socket.native_handle();
  const int idle = options_.keepalive_s;
  const int interval = std::min(5, idle);
  const int count = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

namespace {

// A connect leaves a socket registered for write readiness (EPOLLOUT) for
// good, and Asio 1.74 re-arms the registration before every readiness wait
// (read_plain's async_wait): each re-arm then finds the socket writable and
// reports it at once, one useless epoll_wait return per read. The same
// descriptor registered afresh asks for reads only; a write that finds the
// send buffer full (async_write) adds write interest again, as it must.
template <typename Socket>
void register_for_reads_only(Socket& socket) {
  const auto protocol = socket.local_endpoint().protocol();
  const auto fd = socket.release();
  socket.assign(protocol, fd);
}

}  // namespace

awaitable<void> RedisConnection::open_stream() {
  if (!route_ && !options_.unix_socket.empty()) {
    stream_.emplace<UnixSocket>(executor_);
    auto& socket = std::get<UnixSocket>(stream_);
    co_await socket.async_connect(asio::local::stream_protocol::endpoint(options_.unix_socket),
                                  asio::use_awaitable);
    register_for_reads_only(socket);
    socket.non_blocking(true);  // read_plain and write_now never block the I/O thread
    socket_drained_ = false;
    co_return;
  }
  asio::ip::tcp::resolver resolver(executor_);
  auto endpoints = co_await resolver.async_resolve(address_.host, std::to_string(address_.port),
                                                   asio::use_awaitable);
  if (!options_.tls.enabled) {
    stream_.emplace<TcpSocket>(executor_);
    auto& socket = std::get<TcpSocket>(stream_);
    co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
    set_socket_options(socket);
    register_for_reads_only(socket);
    socket.non_blocking(true);  // read_plain and write_now never block the I/O thread
    socket_drained_ = false;
    co_return;
  }
  auto& tls = stream_.emplace<std::unique_ptr<TlsStream>>(
      std::make_unique<TlsStream>(executor_, *tls_context_));
  co_await asio::async_connect(tls->next_layer(), endpoints, asio::use_awaitable);
  set_socket_options(tls->next_layer());
  prepare_tls_stream(*tls, options_.tls, address_.host);
  boost::system::error_code ec;
  co_await tls->async_handshake(asio::ssl::stream_base::client,
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw ConnectionError(describe_tls_failure(*tls, ec, options_.tls, address_.host));
}

asio::mutable_buffer RedisConnection::room_for_reading() {
  const std::span<char> room = parser_.prepare(16 * 1024);
  return asio::buffer(room.data(), room.size());
}

awaitable<Reply> RedisConnection::read_reply() {
  for (;;) {
    if (auto reply = parser_.next()) co_return std::move(*reply);
    parser_.commit(co_await read_some(room_for_reading()));
  }
}

awaitable<std::vector<Reply>> RedisConnection::handshake_pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::string bytes;
  for (const auto& c : commands) format_command(c, bytes);
  co_return co_await handshake_encoded(bytes, commands.size());
}

awaitable<std::vector<Reply>> RedisConnection::handshake_encoded(std::string_view bytes,
                                                                 std::size_t count) {
  co_await write_all(asio::buffer(bytes));
  std::vector<Reply> replies;
  replies.reserve(count);
  for (std::size_t i = 0; i < count; ++i) replies.push_back(co_await read_reply());
  co_return std::move(replies);
}

awaitable<Reply> RedisConnection::handshake_command(std::vector<std::string> args) {
  std::vector<std::vector<std::string>> one;
  one.push_back(std::move(args));
  auto replies = co_await handshake_pipeline(one);
  co_return std::move(replies.front());
}

awaitable<void> RedisConnection::handshake() {
  if (!options_.password.empty()) {
    std::vector<std::string> auth = strings("AUTH");
    if (!options_.username.empty()) auth.push_back(options_.username);
    auth.push_back(options_.password);
    Reply r = co_await handshake_command(std::move(auth));
    if (r.is_error()) throw ServerError("Redis AUTH failed: " + r.str, /*retryable=*/true);
  }
  if (options_.db != 0) {
    Reply r = co_await handshake_command(strings("SELECT", std::to_string(options_.db)));
    if (r.is_error())
      throw ServerError("Redis SELECT " + std::to_string(options_.db) + " failed: " + r.str);
  }
  if (!client_name_.empty()) {
    Reply r = co_await handshake_command(strings("CLIENT", "SETNAME", client_name_));
    if (r.is_error()) {
      logger().warn("redis.setname_failed",
                    "CLIENT SETNAME refused; the worker will not be listed by Queue.getWorkers()",
                    {{"connection", role_}, {"error", r.str}});
    }
  }
  if (route_) co_await route_->verify(*this, address_);
  if (hook_) co_await hook_(*this);
}

void RedisConnection::deliver(Reply reply, AnsweredList& answered) {
  if (push_handler_ && is_push_message(reply)) {
    push_handler_(reply);
    return;
  }
  if (in_flight_.empty()) throw ProtocolError("Redis sent a reply nobody asked for");
  auto pending = std::move(in_flight_.front());
  in_flight_.pop_front();
  last_progress_ = last_activity_ = Clock::now();
  if (reply.is_error() && redirects_ && follow_redirect(pending, reply, true)) return;
  answered.push_back({std::move(pending), std::move(reply)});
}

// The replies of one read are first all matched to their commands, and only
// then handed to their callers, in order and at once: a coroutine awaiting
// its reply resumes here rather than after a pass through the executor's
// queue (one pass of the event loop and one poll of the reactor fewer per
// reply). Matching first keeps in_flight_ true to what Redis still owes
// while the callers issue their next commands (the write policy reads it).
// A caller that stops, resets or relocates this connection meanwhile only
// closes the socket: the next read then fails and supervise() takes over.
awaitable<void> RedisConnection::read_loop() {
  AnsweredList answered;
  for (;;) {
    parser_.commit(co_await read_some(room_for_reading()));
    std::exception_ptr broken;  // a protocol error: the replies before it still count
    try {
      while (auto reply = parser_.next()) deliver(std::move(*reply), answered);
    } catch (...) {
      broken = std::current_exception();
    }
    {
      struct Delivering {  // cleared however the handlers end
        bool& flag;
        ~Delivering() { flag = false; }
      } delivering{delivering_};
      delivering_ = write_after_replies_;
      for (auto& a : answered) a.pending->complete_now(std::move(a.reply));
    }
    if (write_after_replies_) start_write();  // what those handlers sent, in one write
    answered.clear();
    if (broken) std::rethrow_exception(broken);
    if (relocating_ && in_flight_.empty()) co_return;  // drained: move on
  }
}

bool RedisConnection::follow_redirect(std::unique_ptr<PendingBase>& pending, const Reply& reply,
                                      bool in_read_loop) {
  if (pending->bytes.empty()) return false;
  const RedisErrorReply error = classify_error_reply(reply.str);
  if (error.kind == RedisErrorKind::kTryAgain) {
    if (pending->try_again >= kMaxTryAgain) return false;
    ++pending->try_again;
    resend_later(std::move(pending));
    return true;
  }
  if (pending->redirects >= kMaxRedirects) return false;
  switch (error.kind) {
    case RedisErrorKind::kMoved:
      ++pending->redirects;
      route_->moved(error.slot, error.target);
      if (!relocating_) {
        logger().info("redis.moved", "the queue's slot lives on another Cluster node; following",
                      {{"connection", role_},
                       {"node", endpoint()},
                       {"slot", error.slot},
                       {"to", error.target.describe()}});
      }
      redirected_.push_back(std::move(pending));
      begin_relocation("MOVED " + std::to_string(error.slot) + " " + error.target.describe(),
                       in_read_loop);
      return true;
    case RedisErrorKind::kAsk:
      send_asking(std::move(pending), error.target);
      return true;
    case RedisErrorKind::kReadOnly:
    case RedisErrorKind::kUnblocked:
      ++pending->redirects;
      route_->demoted(address_);
      redirected_.push_back(std::move(pending));
      begin_relocation(reply.str.substr(0, reply.str.find(' ')) + " from " + endpoint() +
                           ": it is no longer a master",
                       in_read_loop);
      return true;
    default:
      return false;
  }
}

// ASK: this one command goes to `target`, preceded by ASKING, on a side
// connection kept for the next ASK to the same node (a migration asks many).
void RedisConnection::send_asking(std::unique_ptr<PendingBase> pending,
                                  const RedisAddress& target) {
  ++pending->redirects;
  if (!ask_ || !(ask_target_ == target)) {
    if (ask_) ask_->stop();
    ask_ = std::make_shared<RedisConnection>(executor_, options_, role_ + " (ASK)",
                                             std::make_shared<FixedRoute>(target));
    ask_target_ = target;
    ask_->set_fail_fast(true);
    ask_->start();
  }
  ask_->submit_owned("*1\r\n$6\r\nASKING\r\n", std::make_unique<Discard>(), 0);
  std::string bytes = pending->bytes;
  const std::int64_t blocks = pending->blocks_for_ms;
  auto holder = std::make_shared<std::unique_ptr<PendingBase>>(std::move(pending));
  auto forward = std::make_unique<Forward>(
      executor_,
      [this, alive = std::weak_ptr<int>(alive_), holder](std::exception_ptr error, Reply reply) {
        std::unique_ptr<PendingBase> p = std::move(*holder);
        if (!p) return;
        if (!alive.expired() && state_ != State::kStopped && !error && reply.is_error() &&
            follow_redirect(p, reply, false)) {
          return;
        }
        p->complete(error, std::move(reply));
      });
  ask_->submit_owned(std::move(bytes), std::move(forward), blocks);
}

// TRYAGAIN: a slot is half migrated (some of the keys moved); the same
// command on the same connection works once the migration step is done.
void RedisConnection::resend_later(std::unique_ptr<PendingBase> pending) {
  redirected_.push_back(std::move(pending));
  if (resend_armed_) return;
  resend_armed_ = true;
  resend_timer_.expires_after(kTryAgainDelay);
  resend_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired()) return;
        resend_armed_ = false;
        if (state_ != State::kReady || relocating_) return;  // the next connect sends them
        requeue_redirected();
        schedule_write();
      });
}

void RedisConnection::requeue_redirected() {
  if (redirected_.empty()) return;
  std::string bytes;
  for (const auto& p : redirected_) bytes += p->bytes;
  bytes += out_buffer_;
  out_buffer_ = std::move(bytes);
  for (auto it = redirected_.rbegin(); it != redirected_.rend(); ++it)
    queued_.push_front(std::move(*it));
  redirected_.clear();
}

void RedisConnection::cut_for_relocation() {
  // A blocking command may not answer for seconds; the new server gets it.
  PendingList keep;
  for (auto& p : in_flight_) {
    if (p->blocks_for_ms > 0 && !p->bytes.empty()) {
      redirected_.push_back(std::move(p));
    } else {
      keep.push_back(std::move(p));
    }
  }
  in_flight_ = std::move(keep);
  close_stream();
}

void RedisConnection::begin_relocation(const std::string& reason, bool in_read_loop) {
  if (state_ == State::kConnecting && !in_read_loop) {
    // Waiting out a reconnect backoff (the old master died): the route now
    // knows where to go, so go now.
    retry_timer_.cancel();
    return;
  }
  if (state_ != State::kReady || relocating_) return;  // the next connect asks the route anyway
  relocating_ = true;
  relocation_reason_ = reason;
  logger().log(fail_fast_ ? LogLevel::kDebug : LogLevel::kInfo, "redis.relocating",
               "moving this connection to another Redis server",
               {{"connection", role_}, {"node", endpoint()}, {"reason", reason}});
  const bool only_blocking = std::all_of(in_flight_.begin(), in_flight_.end(), [](const auto& p) {
    return p->blocks_for_ms > 0 && !p->bytes.empty();
  });
  if (!in_read_loop && only_blocking) {
    cut_for_relocation();
    return;
  }
  relocation_timer_.expires_after(kRelocationDrain);
  relocation_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_),
                                generation = generation_](boost::system::error_code ec) {
    if (ec || alive.expired() || generation != generation_ || !relocating_) return;
    cut_for_relocation();
  });
}

// The write policy follows what Redis has of ours. With nothing awaiting a
// reply Redis has room: the command goes out at once, and Redis works on it
// while the handlers of the same batch of replies run. With replies awaited
// Redis is busy: the commands those handlers issue are gathered and go out
// in one write, posted behind the handlers already queued. One write per
// batch means fewer sendto calls and bigger batches for Redis, which then
// wakes us less often; the eager first write keeps Redis from idling while
// the worker handles a batch, for one more write per batch (README,
// Benchmark, has the figures before and after). With write_after_replies_
// (set_write_after_replies) the handlers of a read's replies queue only, and
// the read loop writes what they sent once they have all run.
// A write under way takes the next batch itself when it completes.
void RedisConnection::schedule_write() {
  if (writing_ || flush_posted_ || state_ != State::kReady || relocating_) return;
  if (delivering_) return;  // the read loop writes once its replies' handlers have run
  if (in_flight_.empty()) {
    start_write();
    return;
  }
  flush_posted_ = true;
  asio::post(executor_, [this, generation = generation_] {
    flush_posted_ = false;
    if (generation == generation_) start_write();
  });
}

void RedisConnection::start_write() {
  if (writing_ || out_buffer_.empty() || state_ != State::kReady || relocating_) return;
  writing_ = true;
  write_batch_.clear();
  write_batch_.swap(out_buffer_);
  const auto now = Clock::now();
  if (in_flight_.empty()) last_progress_ = now;
  last_activity_ = now;
  for (auto& p : queued_) in_flight_.push_back(std::move(p));
  queued_.clear();
  const std::uint64_t generation = generation_;
  auto on_written = [this, generation](boost::system::error_code ec, std::size_t) {
    writing_ = false;
    if (generation != generation_) return;  // the socket was replaced meanwhile
    if (ec) {
      close_stream();  // the read loop reports the loss
      return;
    }
    release_large_write_batch();
    start_write();  // what was queued while this write was under way
  };
  auto buffer = asio::buffer(write_batch_);
  // A plain socket takes the batch at once when its send buffer has room
  // (nearly always): written in place, no completion to run later.
  std::size_t written = 0;
  if (auto* tcp = std::get_if<TcpSocket>(&stream_)) {
    written = write_now(*tcp, buffer);
  } else if (auto* unix_socket = std::get_if<UnixSocket>(&stream_)) {
    written = write_now(*unix_socket, buffer);
  }
  if (written == write_batch_.size()) {
    writing_ = false;  // nothing was queued meanwhile: this ran synchronously
    release_large_write_batch();
    return;
  }
  buffer += written;
  if (auto* tcp = std::get_if<TcpSocket>(&stream_)) {
    asio::async_write(*tcp, buffer, std::move(on_written));
  } else if (auto* tls = std::get_if<std::unique_ptr<TlsStream>>(&stream_)) {
    asio::async_write(**tls, buffer, std::move(on_written));
  } else if (auto* unix_socket = std::get_if<UnixSocket>(&stream_)) {
    asio::async_write(*unix_socket, buffer, std::move(on_written));
  } else {
    writing_ = false;
  }
}

// A batch buffer grown for a large write (a job's 1 MiB return value) is let
// go once written, as the parser's read buffer is once read: out_buffer_ and
// write_batch_ trade buffers on every write, so each would otherwise keep the
// largest batch's capacity for the connection's lifetime.
void RedisConnection::release_large_write_batch() {
  constexpr std::size_t kKeepWriteCapacity = 256 * 1024;
  if (write_batch_.capacity() > kKeepWriteCapacity) std::string().swap(write_batch_);
}

// Writes what the socket takes without blocking; 0 on an error (the
// asynchronous write that follows meets it and reports it).
template <typename Socket>
std::size_t RedisConnection::write_now(Socket& socket, asio::const_buffer buffer) {
  boost::system::error_code ec;
  const std::size_t n = socket.write_some(buffer, ec);
  return ec ? 0 : n;
}

void RedisConnection::arm_watchdog() {
  if (options_.timeout_ms <= 0) return;
  const auto period =
      std::chrono::milliseconds(std::max<std::int64_t>(50, options_.timeout_ms / 4));
  watchdog_.expires_after(period);
  watchdog_.async_wait([this, alive = std::weak_ptr<int>(alive_),
                        generation = generation_](boost::system::error_code ec) {
    if (ec || alive.expired() || generation != generation_ || state_ != State::kReady) return;
    on_watchdog();
  });
}

// The deadline: the oldest command written has been waiting since the last
// reply (or since it was written onto an idle link); past the timeout plus
// its blocking time, the server is taken for gone. An idle link is probed.
void RedisConnection::on_watchdog() {
  const auto now = Clock::now();
  const auto timeout = std::chrono::milliseconds(options_.timeout_ms);
  if (!in_flight_.empty()) {
    const auto allowed = timeout + std::chrono::milliseconds(in_flight_.front()->blocks_for_ms);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_progress_);
    if (waited > allowed) {
      const std::string why = "no reply from Redis in " + std::to_string(waited.count()) +
                              " ms (--redis-timeout " + std::to_string(options_.timeout_ms) +
                              " ms)";
      logger().log(fail_fast_ ? LogLevel::kDebug : LogLevel::kWarn, "redis.timeout",
                   "Redis stopped answering; rebuilding the connection",
                   {{"connection", role_}, {"node", endpoint()}, {"error", why}});
      close_reason_ = why;
      close_stream();
      return;
    }
  } else if (queued_.empty() && !relocating_ && now - last_activity_ >= timeout / 2) {
    submit_owned("*1\r\n$4\r\nPING\r\n", std::make_unique<Discard>(), 0);
  }
  arm_watchdog();
}

awaitable<void> RedisConnection::supervise() {
  unsigned failures = 0;
  bool was_ready = false;
  const LogLevel info = fail_fast_ ? LogLevel::kDebug : LogLevel::kInfo;
  const LogLevel warn = fail_fast_ ? LogLevel::kDebug : LogLevel::kWarn;
  while (state_ != State::kStopped) {
    state_ = State::kConnecting;
    parser_.reset();
    if (relocating_) {
      relocating_ = false;
      relocation_timer_.cancel();
      // A slot map in flux can bounce a connection between nodes: pause a
      // little between relocations that follow each other closely.
      const auto now = Clock::now();
      if (now - last_relocation_ < 1s) {
        retry_timer_.expires_after(100ms);
        boost::system::error_code ec;
        co_await retry_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (state_ == State::kStopped) break;
      }
      last_relocation_ = now;
    }
    const std::uint64_t generation = ++generation_;
    asio::steady_timer guard(executor_);
    std::string error;
    try {
      if (route_) address_ = co_await route_->locate();
      if (state_ == State::kStopped) break;
      guard.expires_after(connect_timeout());
      guard.async_wait([this, generation](boost::system::error_code ec) {
        if (!ec && generation_ == generation && state_ == State::kConnecting) {
          close_reason_ = "no answer within " + std::to_string(connect_timeout().count()) +
                          " ms while connecting (--redis-timeout)";
          close_stream();
        }
      });
      co_await open_stream();
      try {
        co_await handshake();
      } catch (const boost::system::system_error& e) {
        // A TLS 1.3 server checks the client certificate after the client's
        // side of the handshake: its refusal comes with the first reply.
        if (auto* tls = std::get_if<std::unique_ptr<TlsStream>>(&stream_)) {
          throw ConnectionError(describe_tls_failure(**tls, e.code(), options_.tls, address_.host));
        }
        throw;
      }
      guard.cancel();
      if (state_ == State::kStopped) break;
      state_ = State::kReady;
      last_error_.clear();
      last_progress_ = last_activity_ = Clock::now();
      if (failures > 0 || was_ready) ++reconnects_;
      logger().log(info, "redis.connected", "connected to Redis",
                   {{"connection", role_},
                    {"redis", options_.describe()},
                    {"node", endpoint()},
                    {"reconnects", static_cast<long long>(reconnects_)}});
      failures = 0;
      was_ready = true;
      requeue_redirected();
      start_write();  // commands queued while the link was down
      arm_watchdog();
      co_await read_loop();  // returns only to relocate
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!close_reason_.empty()) {
      // The guard, the watchdog or reset() closed the socket: say why (a TLS
      // handshake cut short says it in its own words).
      if (error.rfind("TLS handshake", 0) != 0) error = close_reason_;
      close_reason_.clear();
    }
    guard.cancel();
    watchdog_.cancel();
    if (state_ == State::kStopped) break;
    const bool lost = state_ == State::kReady;
    state_ = State::kConnecting;
    close_stream();
    if (relocating_) {
      fail_all(in_flight_,
               "lost while moving to another Redis server (" + relocation_reason_ + ")");
      continue;
    }
    if (error.empty()) error = "connection closed";
    last_error_ = error;
    fail_all(in_flight_, "lost while the command was in flight (" + error + ")");
    if (route_) route_->unreachable(address_, error);
    if (fail_fast_) {
      state_ = State::kStopped;
      out_buffer_.clear();
      fail_all(redirected_, error);
      fail_all(queued_, error);
      break;
    }
    if (lost) {
      logger().log(warn, "redis.connection_lost", "lost the connection to Redis; reconnecting",
                   {{"connection", role_}, {"node", endpoint()}, {"error", error}});
    } else if (failures == 0) {
      logger().log(warn, "redis.connect_failed", "cannot connect to Redis; retrying with backoff",
                   {{"connection", role_},
                    {"redis", options_.describe()},
                    {"node", endpoint()},
                    {"error", error}});
    }
    retry_timer_.expires_after(retry_backoff(failures++));
    boost::system::error_code ec;
    co_await retry_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  close_stream();
}

awaitable<Reply> query_once(asio::any_io_executor executor, const RedisOptions& options,
                            const RedisAddress& address, std::vector<std::string> args,
                            std::string role) {
  auto connection = std::make_shared<RedisConnection>(executor, options, std::move(role),
                                                      std::make_shared<FixedRoute>(address));
  connection->set_fail_fast(true);
  connection->start();
  std::exception_ptr error;
  Reply reply;
  try {
    reply = co_await connection->command(std::move(args));
  } catch (...) {
    error = std::current_exception();
  }
  connection->stop();
  if (error) std::rethrow_exception(error);
  co_return reply;
}

}  // namespace bullmq
