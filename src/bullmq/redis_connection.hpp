// One connection to Redis, driven by the I/O thread's io_context: TCP, TLS
// or a Unix socket behind one code path, commands pipelined, reconnection
// with capped exponential backoff, and the deadlines that notice a Redis
// that stopped answering. All owned here.
//
// Commands may be issued at any time from the I/O thread. While the link is
// down they wait and go out after the next successful connect and handshake;
// commands already written when the link drops fail with ConnectionError,
// since whether Redis ran them is unknown. Error replies are returned as
// Reply values of type kError, not thrown.
//
// With a RedisRoute (Sentinel, Cluster) the connection asks the route where
// to connect, and follows redirections itself: a command answered MOVED,
// READONLY or UNBLOCKED (which Redis did not run) is sent again after the
// connection moved to the right server; ASK sends it once to the node named
// (after ASKING); TRYAGAIN sends it again a moment later. Callers see only
// the final reply.
//
// Deadlines (RedisOptions::timeout_ms): a written command whose reply has not
// come within the timeout (plus the blocking time of a blocking command)
// drops the connection; an idle connection sends PING every half timeout so
// that a silent server is noticed without traffic; connecting and the
// handshake are bounded by the same timeout.
//
// Lifetime: an owner may hold the connection as a member (it must then keep
// the io_context's handlers from outliving it, as Worker does) or by
// shared_ptr, in which case the connection's own coroutine keeps it alive
// until stop() has taken effect. All methods must be called on the
// connection's executor.
#pragma once

#include <chrono>
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
#include "bullmq/redis_route.hpp"
#include "bullmq/reply.hpp"
#include "bullmq/resp.hpp"
#include "bullmq/tls_setup.hpp"

namespace bullmq {

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
 public:
  // Runs on every (re)connect after AUTH/SELECT/CLIENT SETNAME and before any
  // queued command is sent; may use handshake_command(). Throwing aborts
  // this connection attempt (it is retried).
  using ConnectHook = std::function<awaitable<void>(RedisConnection&)>;
  // Receives pub/sub messages (["message", channel, payload]) on a
  // subscribed connection.
  using PushHandler = std::function<void(const Reply&)>;

  // Without a route: the server of `options` (host:port or unix socket).
  RedisConnection(asio::any_io_executor executor, RedisOptions options, std::string role,
                  std::shared_ptr<RedisRoute> route = nullptr);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Best effort CLIENT SETNAME at each connect (errors are ignored, as some
  // managed Redis services refuse CLIENT commands).
  void set_client_name(std::string name) { client_name_ = std::move(name); }
  void set_connect_hook(ConnectHook hook) { hook_ = std::move(hook); }
  void set_push_handler(PushHandler handler) { push_handler_ = std::move(handler); }
  // A connection that gives up instead of reconnecting: when connecting
  // fails or the link drops, every command fails and the connection stops.
  // Its connects and losses are logged at debug level only.
  void set_fail_fast(bool on) { fail_fast_ = on; }
  // The commands that the handlers of one read's replies send go out in one
  // write once all of them have run, not the first at once and the rest
  // gathered (schedule_write). For a connection that shares Redis with
  // another carrying the same kind of traffic: Redis works on the other
  // meanwhile, so it does not idle, and it gets fewer, larger batches
  // (README, Benchmark).
  void set_write_after_replies(bool on) { write_after_replies_ = on; }

  // Starts connecting (and reconnecting for as long as it is not stopped).
  void start();
  // Closes for good; every waiting command fails with ConnectionError.
  void stop();
  // Drops the current socket (e.g. a command got no answer in time); the
  // connection is then re-established as after any loss.
  void reset(const std::string& reason);
  // Moves to wherever the route now points: no new command is written to the
  // current server; the replies already due are awaited (briefly) and the
  // connection then reconnects through the route. A blocking command in
  // flight is sent again on the new connection.
  void relocate(const std::string& reason);

  bool ready() const { return state_ == State::kReady; }
  std::uint64_t reconnects() const { return reconnects_; }
  const std::string& role() const { return role_; }
  // The server of the current (or last) socket, as "host:port" or the
  // socket path; empty until a route has named a server.
  std::string endpoint() const;
  const RedisAddress& address() const { return address_; }
  // Why the last connection attempt failed or the link was lost; empty once
  // connected.
  const std::string& last_error() const { return last_error_; }

  // Sends one command; completes with its reply.
  template <typename CompletionToken>
  auto async_command(std::vector<std::string> args, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::exception_ptr, Reply)>(
        [this](auto handler, std::vector<std::string> a) {
          std::string bytes;
          format_command(a, bytes);
          submit_owned(std::move(bytes),
                       std::make_unique<Pending<decltype(handler)>>(std::move(handler)), 0);
        },
        token, std::move(args));
  }
  awaitable<Reply> command(std::vector<std::string> args) {
    return async_command(std::move(args), asio::use_awaitable);
  }

  // A command that may block on the server for up to `blocks_for_ms` (e.g.
  // BZPOPMIN): its deadline is extended by that much.
  awaitable<Reply> blocking_command(std::vector<std::string> args, std::int64_t blocks_for_ms) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, Reply)>(
        [this, blocks_for_ms](auto handler, std::vector<std::string> a) {
          std::string bytes;
          format_command(a, bytes);
          submit_owned(std::move(bytes),
                       std::make_unique<Pending<decltype(handler)>>(std::move(handler)),
                       blocks_for_ms);
        },
        asio::use_awaitable, std::move(args));
  }

  // Sends one command already encoded as RESP (see format_command); saves
  // building an argument vector on hot paths.
  template <typename CompletionToken>
  auto async_encoded(std::string resp, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::exception_ptr, Reply)>(
        [this](auto handler, std::string bytes) {
          submit_owned(std::move(bytes),
                       std::make_unique<Pending<decltype(handler)>>(std::move(handler)), 0);
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
          submit(h, b, std::make_unique<Pending<decltype(handler)>>(std::move(handler)));
        },
        asio::use_awaitable, head, body);
  }

  // During the connect hook only: sends a command on the fresh socket and
  // reads its reply before anything else is sent.
  awaitable<Reply> handshake_command(std::vector<std::string> args);
  // Same, for several commands written at once; replies in order.
  awaitable<std::vector<Reply>> handshake_pipeline(
      const std::vector<std::vector<std::string>>& commands);
  // Same, for `count` commands already encoded as RESP in `bytes`.
  awaitable<std::vector<Reply>> handshake_encoded(std::string_view bytes, std::size_t count);

 private:
  enum class State { kIdle, kConnecting, kReady, kStopped };
  using Clock = std::chrono::steady_clock;

  struct PendingBase {
    virtual ~PendingBase() = default;
    // Later, from the executor's queue: safe from anywhere (fail_all, stop).
    virtual void complete(std::exception_ptr error, Reply reply) = 0;
    // Now, when the handler's executor is the running one: only from the
    // read loop, between two reads (see read_loop).
    virtual void complete_now(Reply reply) { complete(nullptr, std::move(reply)); }
    std::string bytes;  // the command, kept while it may be redirected
    std::int64_t blocks_for_ms = 0;
    int redirects = 0;
    int try_again = 0;
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
    void complete_now(Reply reply) override {
      auto ex = asio::get_associated_executor(handler);
      // The read loop runs on the I/O thread: a handler bound to that
      // io_context resumes here, without being wrapped for dispatch.
      if (const auto* io = ex.template target<asio::io_context::executor_type>();
          io && io->running_in_this_thread()) {
        std::move(handler)(nullptr, std::move(reply));
        return;
      }
      asio::dispatch(ex, [h = std::move(handler), r = std::move(reply)]() mutable {
        std::move(h)(nullptr, std::move(r));
      });
    }
    Handler handler;
  };
  struct Discard;
  struct Forward;
  using PendingList = std::deque<std::unique_ptr<PendingBase>>;

  using TcpSocket = asio::ip::tcp::socket;
  using UnixSocket = asio::local::stream_protocol::socket;
  using Stream = std::variant<std::monostate, TcpSocket, std::unique_ptr<TlsStream>, UnixSocket>;

  // Queues a command (`head` + `body`) with its completion.
  void submit(std::string_view head, std::string_view body, std::unique_ptr<PendingBase> pending);
  void submit_owned(std::string bytes, std::unique_ptr<PendingBase> pending,
                    std::int64_t blocks_for_ms);
  // False (and `pending` failed) when the connection is stopped.
  bool accept(std::unique_ptr<PendingBase>& pending);
  awaitable<void> supervise();
  awaitable<void> open_stream();
  awaitable<void> handshake();
  // A reply with the command it answers, ready for its handler.
  struct Answered {
    std::unique_ptr<PendingBase> pending;
    Reply reply;
  };
  using AnsweredList = std::vector<Answered>;
  awaitable<void> read_loop();
  // Matches a reply to the oldest command in flight; what its caller should
  // see goes to `answered` (a push message or a redirection is dealt with
  // here).
  void deliver(Reply reply, AnsweredList& answered);
  // A redirection reply for `pending`: true when handled (it will be sent
  // again, or elsewhere); false when the caller should see the reply.
  bool follow_redirect(std::unique_ptr<PendingBase>& pending, const Reply& reply,
                       bool in_read_loop);
  void send_asking(std::unique_ptr<PendingBase> pending, const RedisAddress& target);
  void resend_later(std::unique_ptr<PendingBase> pending);
  // `in_read_loop`: called while delivering a reply; the read loop then
  // ends the connection once the replies due have come.
  void begin_relocation(const std::string& reason, bool in_read_loop);
  // Moves blocking commands in flight to redirected_ and drops the socket.
  void cut_for_relocation();
  // Puts redirected commands back in front of the queue.
  void requeue_redirected();
  void schedule_write();
  void start_write();
  void release_large_write_batch();
  void arm_watchdog();
  void on_watchdog();
  awaitable<std::size_t> read_some(asio::mutable_buffer buffer);
  // The parser's room for the next read (at least 16 KiB).
  asio::mutable_buffer room_for_reading();
  template <typename Socket>
  awaitable<std::size_t> read_plain(Socket& socket, asio::mutable_buffer buffer);
  template <typename Socket>
  std::size_t write_now(Socket& socket, asio::const_buffer buffer);
  awaitable<void> write_all(asio::const_buffer buffer);
  awaitable<Reply> read_reply();
  void set_socket_options(TcpSocket& socket) const;
  void close_stream();
  void fail_all(PendingList& list, const std::string& why);
  std::chrono::milliseconds connect_timeout() const;

  asio::any_io_executor executor_;
  RedisOptions options_;
  std::string role_;
  std::shared_ptr<RedisRoute> route_;
  bool redirects_ = false;  // route_ follows redirections: keep each command's bytes
  std::string client_name_;
  ConnectHook hook_;
  PushHandler push_handler_;
  bool fail_fast_ = false;
  std::unique_ptr<asio::ssl::context> tls_context_;
  // Handlers posted by this connection check it still exists.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  Stream stream_;
  RedisAddress address_;  // of the current (or last) socket
  State state_ = State::kIdle;
  std::uint64_t generation_ = 0;  // bumped on every socket change
  std::uint64_t reconnects_ = 0;
  std::string last_error_;
  std::string close_reason_;  // why this connection closed its own socket, for the log
  RespParser parser_;         // owns the bytes read from the socket

  std::string out_buffer_;   // bytes not yet written
  std::string write_batch_;  // bytes being written
  PendingList queued_;       // their handlers
  PendingList in_flight_;    // written, awaiting replies
  PendingList redirected_;   // to send again (after relocating, or TRYAGAIN)
  asio::steady_timer retry_timer_;
  asio::steady_timer watchdog_;
  asio::steady_timer relocation_timer_;
  asio::steady_timer resend_timer_;
  bool writing_ = false;
  bool socket_drained_ = false;       // the last read emptied the socket (plain sockets)
  bool flush_posted_ = false;         // a schedule_write() flush is queued
  bool write_after_replies_ = false;  // set_write_after_replies()
  bool delivering_ = false;           // the read loop is running its replies' handlers
  bool resend_armed_ = false;         // resend_timer_ will put redirected_ back
  bool relocating_ = false;           // draining replies before moving to another server
  std::string relocation_reason_;
  Clock::time_point last_relocation_{};
  Clock::time_point last_progress_{};     // last reply, or first write after an idle spell
  Clock::time_point last_activity_{};     // last write or reply
  std::shared_ptr<RedisConnection> ask_;  // connection to the node of the last ASK
  RedisAddress ask_target_;
};

// Runs one command on a throwaway connection to `address` (no redirections
// followed, no reconnection): for topology queries. Throws ConnectionError
// when the server cannot be reached or does not answer in time.
awaitable<Reply> query_once(asio::any_io_executor executor, const RedisOptions& options,
                            const RedisAddress& address, std::vector<std::string> args,
                            std::string role);

}  // namespace bullmq
