// TLS for Redis connections: the client context built once from
// RedisTlsOptions (trusted CAs, client certificate, verification on or off),
// the per-stream settings (SNI, the name or IP the certificate must carry),
// and a handshake failure explained by its cause. Owned by the caller; a
// context is shared by the streams of one connection.
#pragma once

#include <memory>
#include <string>

#include "bullmq/asio.hpp"
#include "bullmq/redis_options.hpp"

namespace bullmq {

using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

// Throws ConfigError-like bullmq::Error (permanent) naming the file and the
// problem: unreadable CA, certificate or key file, a key that does not match
// the certificate, a certificate without its key.
std::unique_ptr<asio::ssl::context> make_tls_context(const RedisTlsOptions& tls);

// Call on a fresh stream before its handshake: SNI, and (when verifying) the
// host name or IP address the server's certificate must match, which is
// `tls.server_name` when set, otherwise `host`.
void prepare_tls_stream(TlsStream& stream, const RedisTlsOptions& tls, const std::string& host);

// The cause of a failed handshake in words: unknown CA, hostname mismatch,
// expired or not yet valid certificate, client certificate required or
// refused, not a TLS server, or the library's reason. `error` is what the
// handshake returned.
std::string describe_tls_failure(TlsStream& stream, const boost::system::error_code& error,
                                 const RedisTlsOptions& tls, const std::string& host);

}  // namespace bullmq
