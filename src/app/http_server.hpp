// A minimal HTTP/1.1 server (Boost.Beast) on the I/O thread, for probes and
// metrics: GET requests only, one handler that maps a path to a response.
// Owned by the run command; stop() closes the listener and idle connections.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "bullmq/asio.hpp"

namespace app {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  using Handler = std::function<bullmq::awaitable<HttpResponse>(std::string path)>;

  HttpServer(bullmq::asio::io_context& io, Handler handler);
  // Binds and starts accepting; throws std::system_error when it cannot bind.
  void listen(const std::string& host, std::uint16_t port);
  void stop();
  std::uint16_t port() const { return port_; }

 private:
  bullmq::awaitable<void> accept_loop();
  bullmq::awaitable<void> serve(bullmq::asio::ip::tcp::socket socket);

  bullmq::asio::io_context& io_;
  Handler handler_;
  bullmq::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace app
