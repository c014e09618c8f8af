#include "app/http_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "bullmq/logger.hpp"
#include "bullmq/spawn.hpp"

namespace app {
namespace {

namespace asio = bullmq::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

}  // namespace

HttpServer::HttpServer(asio::io_context& io, Handler handler)
    : io_(io), handler_(std::move(handler)), acceptor_(io) {}

void HttpServer::listen(const std::string& host, std::uint16_t port) {
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host), port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  bullmq::spawn(io_, accept_loop(), "http accept loop");
  bullmq::logger().info("http.listening", "serving /livez, /readyz and /metrics",
                        {{"host", host}, {"port", static_cast<int>(port_)}});
}

void HttpServer::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> HttpServer::accept_loop() {
  while (!stopped_) {
    boost::system::error_code ec;
    asio::ip::tcp::socket socket =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped_) break;
      continue;
    }
    bullmq::spawn(io_, serve(std::move(socket)), "http request");
  }
}

asio::awaitable<void> HttpServer::serve(asio::ip::tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  try {
    for (;;) {
      http::request<http::string_body> request;
      stream.expires_after(10s);
      co_await http::async_read(stream, buffer, request, asio::use_awaitable);
      HttpResponse result;
      if (request.method() != http::verb::get && request.method() != http::verb::head) {
        result = HttpResponse{405, "text/plain; charset=utf-8", "only GET\n"};
      } else {
        std::string path(request.target());
        if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
        result = co_await handler_(path);
      }
      http::response<http::string_body> response{static_cast<http::status>(result.status),
                                                 request.version()};
      response.set(http::field::server, "bullmq-worker");
      response.set(http::field::content_type, result.content_type);
      response.keep_alive(request.keep_alive());
      if (request.method() != http::verb::head) response.body() = std::move(result.body);
      response.prepare_payload();
      stream.expires_after(10s);
      co_await http::async_write(stream, response, asio::use_awaitable);
      if (!response.keep_alive() || stopped_) break;
    }
  } catch (const std::exception&) {
    // Client went away, timed out or sent garbage: drop the connection.
  }
  boost::system::error_code ec;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

}  // namespace app
