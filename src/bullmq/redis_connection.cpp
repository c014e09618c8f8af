#include "bullmq/redis_connection.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "bullmq/logger.hpp"
#include "bullmq/strings.hpp"
#include "bullmq/tls_setup.hpp"

namespace bullmq {
namespace {

using namespace std::chrono_literals;
constexpr auto kConnectTimeout = 10s;
constexpr auto kMinBackoff = 100ms;
constexpr auto kMaxBackoff = 5s;

std::chrono::milliseconds backoff_for(unsigned attempt) {
  auto base = kMinBackoff * (1u << std::min(attempt, 10u));
  auto capped = std::min<std::chrono::milliseconds>(base, kMaxBackoff);
  static thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped.count() * jitter(rng)));
}

}  // namespace

RedisConnection::RedisConnection(asio::any_io_executor executor, RedisOptions options,
                                 std::string role)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      role_(std::move(role)),
      retry_timer_(executor_) {
  read_buffer_.resize(64 * 1024);
  if (options_.tls.enabled) tls_context_ = make_tls_context(options_.tls);
}

RedisConnection::~RedisConnection() {
  if (state_ != State::kStopped) stop();
}

void RedisConnection::start() {
  if (state_ != State::kIdle) return;
  state_ = State::kConnecting;
  asio::co_spawn(executor_, supervise(), asio::detached);
}

void RedisConnection::stop() {
  state_ = State::kStopped;
  close_stream();
  retry_timer_.cancel();
  out_buffer_.clear();
  fail_all(in_flight_, "connection closed");
  fail_all(queued_, "connection closed");
}

void RedisConnection::reset(const std::string& reason) {
  if (state_ == State::kStopped || std::holds_alternative<std::monostate>(stream_)) return;
  logger().warn("redis.reset", "dropping Redis connection: " + reason, {{"connection", role_}});
  close_stream();
}

void RedisConnection::fail_all(std::deque<std::unique_ptr<PendingBase>>& list,
                               const std::string& why) {
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

void RedisConnection::enqueue(const std::vector<std::string>& args,
                              std::unique_ptr<PendingBase> pending) {
  if (!accept(pending)) return;
  format_command(args, out_buffer_);
  queued_.push_back(std::move(pending));
  schedule_write();
}

void RedisConnection::enqueue_encoded(std::string bytes, std::unique_ptr<PendingBase> pending) {
  if (!accept(pending)) return;
  if (out_buffer_.empty()) {
    out_buffer_ = std::move(bytes);
  } else {
    out_buffer_ += bytes;
  }
  queued_.push_back(std::move(pending));
  schedule_write();
}

void RedisConnection::enqueue_parts(std::string_view head, std::string_view body,
                                    std::unique_ptr<PendingBase> pending) {
  if (!accept(pending)) return;
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

awaitable<std::size_t> RedisConnection::read_some(asio::mutable_buffer buffer) {
  if (auto* tcp = std::get_if<TcpSocket>(&stream_))
    co_return co_await tcp->async_read_some(buffer, asio::use_awaitable);
  if (auto* tls = std::get_if<std::unique_ptr<TlsStream>>(&stream_))
    co_return co_await (*tls)->async_read_some(buffer, asio::use_awaitable);
  if (auto* unix_socket = std::get_if<UnixSocket>(&stream_))
    co_return co_await unix_socket->async_read_some(buffer, asio::use_awaitable);
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

awaitable<void> RedisConnection::open_stream() {
  if (!options_.unix_socket.empty()) {
    stream_.emplace<UnixSocket>(executor_);
    co_await std::get<UnixSocket>(stream_).async_connect(
        asio::local::stream_protocol::endpoint(options_.unix_socket), asio::use_awaitable);
    co_return;
  }
  asio::ip::tcp::resolver resolver(executor_);
  auto endpoints = co_await resolver.async_resolve(options_.host, std::to_string(options_.port),
                                                   asio::use_awaitable);
  auto tune = [](TcpSocket& s) {
    s.set_option(asio::ip::tcp::no_delay(true));
    s.set_option(asio::socket_base::keep_alive(true));
  };
  if (!options_.tls.enabled) {
    stream_.emplace<TcpSocket>(executor_);
    auto& socket = std::get<TcpSocket>(stream_);
    co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
    tune(socket);
    co_return;
  }
  auto& tls = stream_.emplace<std::unique_ptr<TlsStream>>(
      std::make_unique<TlsStream>(executor_, *tls_context_));
  co_await asio::async_connect(tls->next_layer(), endpoints, asio::use_awaitable);
  tune(tls->next_layer());
  prepare_tls_stream(*tls, options_.tls, options_.host);
  boost::system::error_code ec;
  co_await tls->async_handshake(asio::ssl::stream_base::client,
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw ConnectionError(describe_tls_failure(*tls, ec, options_.tls, options_.host));
}

awaitable<Reply> RedisConnection::read_reply() {
  for (;;) {
    if (auto reply = parser_.next()) co_return std::move(*reply);
    std::size_t n = co_await read_some(asio::buffer(read_buffer_));
    parser_.feed(std::string_view(read_buffer_.data(), n));
  }
}

awaitable<std::vector<Reply>> RedisConnection::handshake_pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::string bytes;
  for (const auto& c : commands) format_command(c, bytes);
  co_await write_all(asio::buffer(bytes));
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) replies.push_back(co_await read_reply());
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
  if (hook_) co_await hook_(*this);
}

awaitable<void> RedisConnection::read_loop() {
  for (;;) {
    std::size_t n = co_await read_some(asio::buffer(read_buffer_));
    parser_.feed(std::string_view(read_buffer_.data(), n));
    while (auto reply = parser_.next()) {
      if (in_flight_.empty()) throw ProtocolError("Redis sent a reply nobody asked for");
      auto pending = std::move(in_flight_.front());
      in_flight_.pop_front();
      pending->complete(nullptr, std::move(*reply));
    }
  }
}

// Commands issued by the handlers of one batch of replies go out together:
// the flush is posted behind the handlers already queued, so they all add
// to the buffer first. One write per batch instead of one per command means
// fewer sendto calls and bigger batches for Redis, which then wakes us less
// often (one reply batch per write). A write under way takes the next batch
// itself when it completes.
void RedisConnection::schedule_write() {
  if (writing_ || flush_posted_ || state_ != State::kReady) return;
  flush_posted_ = true;
  asio::post(executor_, [this, generation = generation_] {
    flush_posted_ = false;
    if (generation == generation_) start_write();
  });
}

void RedisConnection::start_write() {
  if (writing_ || out_buffer_.empty() || state_ != State::kReady) return;
  writing_ = true;
  write_batch_.clear();
  write_batch_.swap(out_buffer_);
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
    start_write();  // what was queued while this write was under way
  };
  auto buffer = asio::buffer(write_batch_);
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

awaitable<void> RedisConnection::supervise() {
  unsigned failures = 0;
  bool was_ready = false;
  std::string last_error;
  while (state_ != State::kStopped) {
    state_ = State::kConnecting;
    parser_.reset();
    const std::uint64_t generation = ++generation_;
    asio::steady_timer guard(executor_);
    guard.expires_after(kConnectTimeout);
    guard.async_wait([this, generation](boost::system::error_code ec) {
      if (!ec && generation_ == generation && state_ == State::kConnecting) close_stream();
    });
    try {
      co_await open_stream();
      co_await handshake();
      guard.cancel();
      if (state_ == State::kStopped) break;
      state_ = State::kReady;
      if (failures > 0 || was_ready) ++reconnects_;
      logger().info("redis.connected", "connected to Redis",
                    {{"connection", role_},
                     {"redis", options_.describe()},
                     {"reconnects", static_cast<long long>(reconnects_)}});
      failures = 0;
      was_ready = true;
      start_write();  // commands queued while the link was down
      co_await read_loop();
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    guard.cancel();
    if (state_ == State::kStopped) break;
    const bool lost = state_ == State::kReady;
    state_ = State::kConnecting;
    close_stream();
    fail_all(in_flight_, "lost while the command was in flight (" + last_error + ")");
    if (lost) {
      logger().warn("redis.connection_lost", "lost the connection to Redis; reconnecting",
                    {{"connection", role_}, {"error", last_error}});
    } else if (failures == 0) {
      logger().warn("redis.connect_failed", "cannot connect to Redis; retrying with backoff",
                    {{"connection", role_}, {"redis", options_.describe()}, {"error", last_error}});
    }
    retry_timer_.expires_after(backoff_for(failures++));
    boost::system::error_code ec;
    co_await retry_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  close_stream();
}

}  // namespace bullmq
