// One blocking HTTP/1.1 POST with an overall deadline, over plain TCP or TLS
// (Boost.Beast on a private io_context; the certificate is checked against
// the system CAs, or a given CA file, and the host name). For the exporter's
// own thread only: it never touches the worker's io_context.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bullmq/asio.hpp"
#include "telemetry/exporter_config.hpp"

namespace telemetry {

struct PostResult {
  int status = 0;     // HTTP status; 0 when no answer came (error says why)
  std::string error;  // connection, TLS or timeout problem, or empty
  std::string body;   // the answer's body (first few hundred bytes)
};

class HttpPoster {
 public:
  // Throws std::runtime_error when the TLS settings cannot be used (bad CA file).
  HttpPoster(HttpEndpoint endpoint, std::vector<std::pair<std::string, std::string>> headers,
             const std::string& ca_file);
  ~HttpPoster();
  HttpPoster(const HttpPoster&) = delete;
  HttpPoster& operator=(const HttpPoster&) = delete;

  PostResult post(const std::string& content_type, const std::string& body,
                  std::chrono::milliseconds timeout);
  // From another thread: ends the post under way at once (it fails with
  // "cancelled"), and every later one. For a shutdown deadline.
  void cancel();

 private:
  struct Tls;
  std::mutex mutex_;
  boost::asio::io_context* running_ = nullptr;  // the post under way's, under mutex_
  bool cancelled_ = false;
  HttpEndpoint endpoint_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace telemetry
