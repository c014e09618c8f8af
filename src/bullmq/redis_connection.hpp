// One connection to Redis, driven by the I/O thread's io_context: TCP, TLS
// (rediss://) or a Unix socket behind one code path, commands pipelined, and
// reconnection with capped exponential backoff owned here.
//
// Commands may be issued at any time from the I/O thread. While the link is
// down they wait and go out after the next successful connect and handshake;
// commands already written when the link drops fail with ConnectionError,
// since whether Redis ran them is unknown. Error replies are returned as
// Reply values of type kError, not thrown. All methods must be called on the
// connection's executor.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "bullmq/asio.hpp"
#include "bullmq/error.hpp"
#include "bullmq/redis_options.hpp"
#include "bullmq/reply.hpp"
#include "bullmq/resp.hpp"
#include "bullmq/tls_setup.hpp"

namespace bullmq {

class RedisConnection {
 public:
  // Runs on every (re)connect after AUTH/SELECT/CLIENT SETNAME and before any
  // queued command is sent; may use handshake_command(). Throwing aborts
  // this connection attempt (it is retried).
  using ConnectHook = std::function<awaitable<void>(RedisConnection&)>;

  RedisConnection(asio::any_io_executor executor, RedisOptions options, std::string role);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Best effort CLIENT SETNAME at each connect (errors are ignored, as some
  // managed Redis services refuse CLIENT commands).
  void set_client_name(std::string name) { client_name_ = std::move(name); }
  void set_connect_hook(ConnectHook hook) { hook_ = std::move(hook); }

  // Starts connecting (and reconnecting for as long as it is not stopped).
  void start();
  // Closes for good; every waiting command fails with ConnectionError.
  void stop();
  // Drops the current socket (e.g. a command got no answer in time); the
  // connection is then re-established as after any loss.
  void reset(const std::string& reason);

  bool ready() const { return state_ == State::kReady; }
  std::uint64_t reconnects() const { return reconnects_; }
  const std::string& role() const { return role_; }

  // Sends one command; completes with its reply.
  template <typename CompletionToken>
  auto async_command(std::vector<std::string> args, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::exception_ptr, Reply)>(
        [this](auto handler, std::vector<std::string> a) {
          enqueue(a, std::make_unique<Pending<decltype(handler)>>(std::move(handler)));
        },
        token, std::move(args));
  }
  awaitable<Reply> command(std::vector<std::string> args) {
    return async_command(std::move(args), asio::use_awaitable);
  }

  // Sends one command already encoded as RESP (see format_command); saves
  // building an argument vector on hot paths.
  template <typename CompletionToken>
  auto async_encoded(std::string resp, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::exception_ptr, Reply)>(
        [this](auto handler, std::string bytes) {
          enqueue_encoded(std::move(bytes),
                          std::make_unique<Pending<decltype(handler)>>(std::move(handler)));
        },
        token, std::move(resp));
  }
  awaitable<Reply> encoded(std::string resp) {
    return async_encoded(std::move(resp), asio::use_awaitable);
  }

  // Same, for a command encoded in two pieces (a script call's header and
  // its arguments). The bytes are copied into the output buffer when the
  // operation starts; they must stay valid until then (the caller's frame).
  awaitable<Reply> encoded_parts(std::string_view head, std::string_view body) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, Reply)>(
        [this](auto handler, std::string_view h, std::string_view b) {
          enqueue_parts(h, b, std::make_unique<Pending<decltype(handler)>>(std::move(handler)));
        },
        asio::use_awaitable, head, body);
  }

  // During the connect hook only: sends a command on the fresh socket and
  // reads its reply before anything else is sent.
  awaitable<Reply> handshake_command(std::vector<std::string> args);
  // Same, for several commands written at once; replies in order.
  awaitable<std::vector<Reply>> handshake_pipeline(
      const std::vector<std::vector<std::string>>& commands);

 private:
  enum class State { kIdle, kConnecting, kReady, kStopped };

  struct PendingBase {
    virtual ~PendingBase() = default;
    virtual void complete(std::exception_ptr error, Reply reply) = 0;
  };
  template <typename Handler>
  struct Pending final : PendingBase {
    explicit Pending(Handler h) : handler(std::move(h)) {}
    void complete(std::exception_ptr error, Reply reply) override {
      auto ex = asio::get_associated_executor(handler);
      asio::post(ex, [h = std::move(handler), error, r = std::move(reply)]() mutable {
        std::move(h)(error, std::move(r));
      });
    }
    Handler handler;
  };

  using TcpSocket = asio::ip::tcp::socket;
  using UnixSocket = asio::local::stream_protocol::socket;
  using Stream = std::variant<std::monostate, TcpSocket, std::unique_ptr<TlsStream>, UnixSocket>;

  void enqueue(const std::vector<std::string>& args, std::unique_ptr<PendingBase> pending);
  void enqueue_encoded(std::string bytes, std::unique_ptr<PendingBase> pending);
  void enqueue_parts(std::string_view head, std::string_view body,
                     std::unique_ptr<PendingBase> pending);
  // False (and `pending` failed) when the connection is stopped.
  bool accept(std::unique_ptr<PendingBase>& pending);
  awaitable<void> supervise();
  awaitable<void> open_stream();
  awaitable<void> handshake();
  awaitable<void> read_loop();
  void schedule_write();
  void start_write();
  awaitable<std::size_t> read_some(asio::mutable_buffer buffer);
  awaitable<void> write_all(asio::const_buffer buffer);
  awaitable<Reply> read_reply();
  void close_stream();
  void fail_all(std::deque<std::unique_ptr<PendingBase>>& list, const std::string& why);

  asio::any_io_executor executor_;
  RedisOptions options_;
  std::string role_;
  std::string client_name_;
  ConnectHook hook_;
  std::unique_ptr<asio::ssl::context> tls_context_;

  Stream stream_;
  State state_ = State::kIdle;
  std::uint64_t generation_ = 0;  // bumped on every socket change
  std::uint64_t reconnects_ = 0;
  RespParser parser_;
  std::string read_buffer_;

  std::string out_buffer_;                              // bytes not yet written
  std::string write_batch_;                             // bytes being written
  std::deque<std::unique_ptr<PendingBase>> queued_;     // their handlers
  std::deque<std::unique_ptr<PendingBase>> in_flight_;  // written, awaiting replies
  asio::steady_timer retry_timer_;
  bool writing_ = false;
  bool flush_posted_ = false;  // a schedule_write() flush is queued
};

}  // namespace bullmq
