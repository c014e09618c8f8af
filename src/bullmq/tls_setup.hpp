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

// TLS 1.2 or newer; the system's CAs plus `tls.ca_file`; the client
// certificate chain and key when given. Throws a permanent bullmq::Error
// naming the file, its flag and the problem: missing, unreadable, not PEM,
// no certificate / key in it, an encrypted key, a key that does not match
// the certificate, a certificate without its key or a key without its
// certificate.
std::unique_ptr<asio::ssl::context> make_tls_context(const RedisTlsOptions& tls);

// Call on a fresh, connected stream before its handshake: SNI (not for IP
// literals, RFC 6066), and (when verifying) the host name or IP address the
// server's certificate must match, checked by OpenSSL's chain verification:
// `tls.server_name` when set, otherwise `host`. Also notes, in the SSL
// object, the endpoint connected to and whether the server asks for a client
// certificate, for describe_tls_failure.
void prepare_tls_stream(TlsStream& stream, const RedisTlsOptions& tls, const std::string& host);

// The cause of a failed handshake in words, with what to do about it,
// starting "TLS handshake with HOST:PORT failed: ": unknown CA, hostname or
// IP mismatch, expired or not yet valid certificate, client certificate
// required or refused, not a TLS server, no answer before the deadline, or
// the library's reason. `error` is what the handshake returned, or what the
// first read after it returned: a TLS 1.3 server checks the client
// certificate after the client's side of the handshake is complete, so its
// refusal (an alert, or a reset) arrives with the first reply.
std::string describe_tls_failure(TlsStream& stream, const boost::system::error_code& error,
                                 const RedisTlsOptions& tls, const std::string& host);

}  // namespace bullmq
