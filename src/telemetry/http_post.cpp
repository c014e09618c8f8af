#include "telemetry/http_post.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

#include "bullmq/asio.hpp"

namespace telemetry {
namespace {

namespace asio = bullmq::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kBodyKept = 512;

}  // namespace

struct HttpPoster::Tls {
  asio::ssl::context context{asio::ssl::context::tls_client};
};

HttpPoster::HttpPoster(HttpEndpoint endpoint,
                       std::vector<std::pair<std::string, std::string>> headers,
                       const std::string& ca_file)
    : endpoint_(std::move(endpoint)), headers_(std::move(headers)) {
  if (!endpoint_.tls) return;
  tls_ = std::make_unique<Tls>();
  boost::system::error_code ec;
  tls_->context.set_default_verify_paths(ec);
  if (!ca_file.empty()) {
    tls_->context.load_verify_file(ca_file, ec);
    if (ec)
      throw std::runtime_error("cannot read the OTLP CA file " + ca_file + ": " + ec.message());
  }
  tls_->context.set_verify_mode(asio::ssl::verify_peer);
}

HttpPoster::~HttpPoster() = default;

PostResult HttpPoster::post(const std::string& content_type, const std::string& body,
                            std::chrono::milliseconds timeout) {
  http::request<http::string_body> request{http::verb::post, endpoint_.target, 11};
  std::string host = endpoint_.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  const bool default_port = endpoint_.port == (endpoint_.tls ? "443" : "80");
  if (!default_port) {
    host += ':';
    host += endpoint_.port;
  }
  request.set(http::field::host, host);
  request.set(http::field::user_agent, "bullmq-worker");
  request.set(http::field::content_type, content_type);
  for (const auto& [k, v] : headers_) request.set(k, v);
  request.body() = body;
  request.prepare_payload();

  asio::io_context io(1);
  PostResult result;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) {
      result.error = "cancelled";
      return result;
    }
    running_ = &io;
  }
  struct Unregister {
    HttpPoster& poster;
    ~Unregister() {
      std::lock_guard lock(poster.mutex_);
      poster.running_ = nullptr;
    }
  } unregister{*this};
  const auto deadline = std::chrono::steady_clock::now() + timeout;

  auto exchange = [&](auto& stream, auto& lowest) -> asio::awaitable<void> {
    tcp::resolver resolver(io);
    auto addresses =
        co_await resolver.async_resolve(endpoint_.host, endpoint_.port, asio::use_awaitable);
    lowest.expires_at(deadline);
    co_await lowest.async_connect(addresses, asio::use_awaitable);
    if constexpr (!std::is_same_v<std::decay_t<decltype(stream)>, beast::tcp_stream>) {
      lowest.expires_at(deadline);
      co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    }
    lowest.expires_at(deadline);
    co_await http::async_write(stream, request, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    lowest.expires_at(deadline);
    co_await http::async_read(stream, buffer, response, asio::use_awaitable);
    result.status = static_cast<int>(response.result_int());
    result.body = response.body().substr(0, kBodyKept);
  };

  auto on_done = [&result](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& error) {
      result.error = error.code() == beast::error::timeout ? "timed out" : error.what();
    } catch (const std::exception& error) {
      result.error = error.what();
    }
  };

  if (tls_) {
    beast::ssl_stream<beast::tcp_stream> stream(io, tls_->context);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), endpoint_.host.c_str())) {
      result.error = "cannot set the TLS server name";
      return result;
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
    asio::co_spawn(io, exchange(stream, beast::get_lowest_layer(stream)), on_done);
    io.run();
  } else {
    beast::tcp_stream stream(io);
    asio::co_spawn(io, exchange(stream, stream), on_done);
    io.run();
  }
  if (result.status == 0 && result.error.empty()) result.error = "cancelled";
  return result;
}

void HttpPoster::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (running_) running_->stop();
}

}  // namespace telemetry
