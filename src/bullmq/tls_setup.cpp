#include "bullmq/tls_setup.hpp"

#include <openssl/ssl.h>

#include "bullmq/error.hpp"

namespace bullmq {

std::unique_ptr<asio::ssl::context> make_tls_context(const RedisTlsOptions& tls) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  context->set_default_verify_paths();
  if (!tls.ca_file.empty()) context->load_verify_file(tls.ca_file);
  context->set_verify_mode(tls.verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  return context;
}

void prepare_tls_stream(TlsStream& stream, const RedisTlsOptions& tls, const std::string& host) {
  const std::string& name = tls.server_name.empty() ? host : tls.server_name;
  if (!SSL_set_tlsext_host_name(stream.native_handle(), name.c_str())) {
    throw ConnectionError("cannot set TLS server name " + name);
  }
  if (tls.verify) stream.set_verify_callback(asio::ssl::host_name_verification(name));
}

std::string describe_tls_failure(TlsStream&, const boost::system::error_code& error,
                                 const RedisTlsOptions&, const std::string& host) {
  return "TLS handshake with " + host + " failed: " + error.message();
}

}  // namespace bullmq
