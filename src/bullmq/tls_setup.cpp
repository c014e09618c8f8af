#include "bullmq/tls_setup.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include "bullmq/error.hpp"

namespace bullmq {
namespace {

// ---------------------------------------------------------------------------
// Files: read, recognised, loaded; every problem names the file and the flag.

[[noreturn]] void fail(const std::string& message) {
  throw Error(message, /*retryable=*/false);
}

// "Redis TLS CA file (--redis-tls-ca) /etc/ca.pem"
std::string file_label(const char* what, const char* flag, const std::string& path) {
  return std::string("Redis TLS ") + what + " (" + flag + ") " + path;
}

// The reasons OpenSSL queued since the last ERR_clear_error, oldest first.
std::string openssl_reasons() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    std::string text = reason ? reason : "error " + std::to_string(ERR_GET_REASON(e));
    if (out.find(text) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::string read_file(const std::string& label, const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    fail(label + ": cannot be read (" + ec.message() + ")");  // e.g. a folder on the way
  }
  if (!std::filesystem::exists(status)) fail(label + ": no such file");
  if (std::filesystem::is_directory(status)) fail(label + ": is a directory, not a file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(label + ": cannot be read (" + std::strerror(errno) + ")");
  std::string content;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, f)) content.append(buffer, n);
  const bool bad = std::ferror(f) != 0;
  std::fclose(f);
  if (bad) fail(label + ": cannot be read (I/O error)");
  return content;
}

// The labels of the PEM blocks in `content` ("CERTIFICATE", "PRIVATE KEY"…).
std::vector<std::string> pem_labels(const std::string& content) {
  std::vector<std::string> labels;
  static constexpr std::string_view kBegin = "-----BEGIN ";
  for (auto at = content.find(kBegin); at != std::string::npos; at = content.find(kBegin, at + 1)) {
    auto start = at + kBegin.size();
    auto end = content.find("-----", start);
    if (end == std::string::npos) break;
    labels.push_back(content.substr(start, end - start));
  }
  return labels;
}

bool has_label(const std::vector<std::string>& labels, bool (*wanted)(const std::string&)) {
  for (const auto& l : labels)
    if (wanted(l)) return true;
  return false;
}

bool is_certificate_label(const std::string& l) {
  return l == "CERTIFICATE" || l == "TRUSTED CERTIFICATE" || l == "X509 CERTIFICATE";
}

bool is_key_label(const std::string& l) {
  return l.size() >= 11 && l.compare(l.size() - 11, 11, "PRIVATE KEY") == 0;
}

// What the file holds instead, for "holds no certificate (it holds: …)".
std::string list_labels(const std::vector<std::string>& labels) {
  std::string out;
  for (const auto& l : labels) {
    if (out.find(l) != std::string::npos) continue;
    out += (out.empty() ? "" : ", ") + l;
  }
  return out;
}

// Checks that `content` is PEM holding at least one block `wanted`.
void require_pem(const std::string& label, const std::string& content,
                 bool (*wanted)(const std::string&), const char* kind) {
  auto labels = pem_labels(content);
  if (labels.empty()) {
    fail(label +
         ": not a PEM file (no '-----BEGIN' line); a DER file can be converted with "
         "openssl x509 -inform der (certificates) or openssl pkey -inform der (keys)");
  }
  if (!has_label(labels, wanted)) {
    fail(label + ": holds no " + kind + " (its PEM blocks: " + list_labels(labels) + ")");
  }
}

// Never prompt on the terminal for a passphrase.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

void load_ca_file(SSL_CTX* ctx, const std::string& path) {
  const std::string label = file_label("CA file", "--redis-tls-ca", path);
  const std::string content = read_file(label, path);
  require_pem(label, content, is_certificate_label, "certificate");
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(ctx, path.c_str(), nullptr) != 1) {
    fail(label + ": cannot load its certificates: " + openssl_reasons());
  }
}

void load_client_certificate(SSL_CTX* ctx, const std::string& cert_path,
                             const std::string& key_path) {
  const std::string cert_label = file_label("client certificate", "--redis-tls-cert", cert_path);
  const std::string key_label = file_label("client key", "--redis-tls-key", key_path);
  require_pem(cert_label, read_file(cert_label, cert_path), is_certificate_label, "certificate");
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1) {
    fail(cert_label + ": cannot load the certificate: " + openssl_reasons());
  }

  std::string key_pem = read_file(key_label, key_path);
  auto labels = pem_labels(key_pem);
  if (has_label(labels, [](const std::string& l) { return l == "ENCRYPTED PRIVATE KEY"; }) ||
      key_pem.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
    fail(key_label +
         ": is encrypted with a passphrase; give an unencrypted key (openssl pkey -in "
         "KEY -out PLAIN_KEY)");
  }
  require_pem(key_label, key_pem, is_key_label, "private key");
  ERR_clear_error();
  BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr) : nullptr;
  BIO_free(bio);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!key) fail(key_label + ": cannot load the private key: " + openssl_reasons());

  X509* cert = SSL_CTX_get0_certificate(ctx);
  const bool matches = cert && X509_check_private_key(cert, key) == 1;
  ERR_clear_error();
  const bool used = matches && SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  if (!matches || !used || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    fail(key_label + " does not match the certificate in " + cert_path +
         " (--redis-tls-cert): give the key the certificate was made for");
  }
}

// ---------------------------------------------------------------------------
// Per stream: what describe_tls_failure needs to know later, kept in the SSL
// object itself (the stream's owner passes no more than the host).

struct StreamNotes {
  std::string endpoint;  // "host:port" as connected to
  std::string expected;  // the name or IP address the certificate must carry
  bool ip_literal = false;
  bool certificate_requested = false;  // the server sent a CertificateRequest
};

void free_notes(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<StreamNotes*>(ptr);
}

int notes_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_notes);
  return index;
}

StreamNotes* notes_of(SSL* ssl) {
  return static_cast<StreamNotes*>(SSL_get_ex_data(ssl, notes_index()));
}

// Called by OpenSSL when the server asks for a client certificate; only
// takes note, the certificate (if any) is already in the context.
int on_certificate_request(SSL*, void* arg) {
  static_cast<StreamNotes*>(arg)->certificate_requested = true;
  return 1;
}

bool is_ip_literal(const std::string& name) {
  boost::system::error_code ec;
  asio::ip::make_address(name, ec);
  return !ec;
}

// ---------------------------------------------------------------------------
// Explaining a failure.

std::string format_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "an unknown date";
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string name_text(const X509_NAME* name) {
  if (!name) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data ? data : "", n > 0 ? static_cast<std::size_t>(n) : 0);
  BIO_free(bio);
  return out;
}

// The DNS names and IP addresses the certificate is valid for (its
// subjectAltName; its common name when it has none).
std::string certificate_names(X509* cert) {
  std::string out;
  auto add = [&out](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS) {
        const ASN1_IA5STRING* s = n->d.dNSName;
        add(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<std::size_t>(ASN1_STRING_length(s))));
      } else if (n->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = n->d.iPAddress;
        const unsigned char* b = ASN1_STRING_get0_data(s);
        if (ASN1_STRING_length(s) == 4) {
          add(asio::ip::address_v4({b[0], b[1], b[2], b[3]}).to_string());
        } else if (ASN1_STRING_length(s) == 16) {
          asio::ip::address_v6::bytes_type bytes;
          std::memcpy(bytes.data(), b, 16);
          add(asio::ip::address_v6(bytes).to_string());
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  if (out.empty()) {
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
      add(std::string(cn) + " (common name only)");
  }
  return out.empty() ? "no names" : out;
}

// The server's own certificate, also when verification rejected it (the
// chain is kept; the verified peer certificate is not).
X509* server_certificate(SSL* ssl) {
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain && sk_X509_num(chain) > 0) return sk_X509_value(chain, 0);
  return SSL_get0_peer_certificate(ssl);
}

std::string explain_verify_result(long result, SSL* ssl, const StreamNotes* notes) {
  X509* leaf = server_certificate(ssl);
  const std::string issuer =
      leaf ? " (issued by '" + name_text(X509_get_issuer_name(leaf)) + "')" : "";
  switch (result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "the server's certificate" + issuer +
             " is signed by a CA this worker does not trust; give its CA with --redis-tls-ca "
             "FILE (PEM)" +
             (result == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
                  ? ", here the self-signed certificate itself"
                  : "") +
             " [" + X509_verify_cert_error_string(result) + "]";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: {
      const std::string what = result == X509_V_ERR_IP_ADDRESS_MISMATCH ? "IP address" : "name";
      const std::string expected = notes ? notes->expected : "?";
      return "the server's certificate is not valid for the " + what + " '" + expected +
             "' (it is valid for: " + (leaf ? certificate_names(leaf) : "unknown names") +
             "); connect with a name the certificate carries, or set --redis-tls-server-name to "
             "one of them";
    }
    case X509_V_ERR_CERT_HAS_EXPIRED:
      if (leaf && X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
        return "the server's certificate expired on " + format_time(X509_get0_notAfter(leaf)) +
               "; the server needs a renewed certificate (or this host's clock is wrong)";
      }
      return "a CA certificate in the server's chain has expired; the server needs a chain "
             "with current certificates (or this host's clock is wrong)";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      if (leaf && X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
        return "the server's certificate is not valid before " +
               format_time(X509_get0_notBefore(leaf)) +
               "; check the clocks of this host and of whoever issued it";
      }
      return "a CA certificate in the server's chain is not valid yet; check the clocks of "
             "this host and of whoever issued it";
    default:
      return std::string("the server's certificate") + issuer +
             " was refused: " + X509_verify_cert_error_string(result);
  }
}

constexpr int kAlertOffset = SSL_AD_REASON_OFFSET;

std::string alert_name(int alert) {
  if (alert == TLS13_AD_CERTIFICATE_REQUIRED) return "certificate required";
  return SSL_alert_desc_string_long(alert);
}

// A fatal alert sent by the server; `alert` is its TLS code.
std::string explain_server_alert(int alert, SSL* ssl, const StreamNotes* notes) {
  const bool have_cert = SSL_get_certificate(ssl) != nullptr;
  const bool asked = notes && notes->certificate_requested;
  const std::string said = " (server alert: " + alert_name(alert) + ")";
  switch (alert) {
    case TLS13_AD_CERTIFICATE_REQUIRED:
    case SSL_AD_HANDSHAKE_FAILURE:
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
      if (!have_cert && (asked || alert == TLS13_AD_CERTIFICATE_REQUIRED)) {
        return "the server requires a client certificate and none was given; give one with "
               "--redis-tls-cert FILE and its key with --redis-tls-key FILE" +
               said;
      }
      if (have_cert && (asked || alert != SSL_AD_HANDSHAKE_FAILURE)) {
        return "the server refused the client certificate from --redis-tls-cert: it must be "
               "signed by a CA the server trusts (Redis' tls-ca-cert-file), be valid now and "
               "match --redis-tls-key" +
               said;
      }
      if (alert == SSL_AD_HANDSHAKE_FAILURE) {
        return "the server refused the handshake: no TLS version or cipher in common (this "
               "worker needs TLS 1.2 or newer)" +
               said;
      }
      break;
    case SSL_AD_PROTOCOL_VERSION:
      return "the server offers no TLS version this worker accepts (TLS 1.2 or newer)" + said;
    default:
      break;
  }
  return "the server ended the handshake" + said;
}

std::string not_tls_server(const std::string& detail) {
  return "the server's answer is not TLS (" + detail +
         "): it is probably not a TLS server but a plain Redis port; use redis:// for that, or "
         "the server's tls-port with rediss://";
}

// The server dropped the connection: after asking for a client
// certificate, that is its verdict on the certificate (a TLS 1.3 server
// decides after the client's handshake is over, and may reset instead of
// sending its alert); otherwise the server did not speak TLS.
std::string explain_dropped(const std::string& how, SSL* ssl, const StreamNotes* notes) {
  if (notes && notes->certificate_requested) {
    if (SSL_get_certificate(ssl) == nullptr) {
      return "the server " + how +
             " after asking for a client certificate, and none was given: it probably requires "
             "one; give it with --redis-tls-cert FILE and its key with --redis-tls-key FILE";
    }
    return "the server " + how +
           " after asking for a client certificate: it probably refused the one from "
           "--redis-tls-cert (it must be signed by a CA the server trusts, be valid now and "
           "match --redis-tls-key)";
  }
  return not_tls_server("it " + how + " in the middle of the handshake");
}

}  // namespace

std::unique_ptr<asio::ssl::context> make_tls_context(const RedisTlsOptions& tls) {
  if (!tls.cert_file.empty() && tls.key_file.empty()) {
    fail("Redis TLS client certificate (--redis-tls-cert) " + tls.cert_file +
         " is given without its private key: add --redis-tls-key FILE");
  }
  if (tls.cert_file.empty() && !tls.key_file.empty()) {
    fail("Redis TLS client key (--redis-tls-key) " + tls.key_file +
         " is given without its certificate: add --redis-tls-cert FILE");
  }
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* ctx = context->native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    fail("cannot require TLS 1.2 or newer: " + openssl_reasons());
  }
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  // The system's CAs are a bonus: a host without a CA store still works
  // with --redis-tls-ca.
  ERR_clear_error();
  SSL_CTX_set_default_verify_paths(ctx);
  ERR_clear_error();
  if (!tls.ca_file.empty()) load_ca_file(ctx, tls.ca_file);
  if (!tls.cert_file.empty()) load_client_certificate(ctx, tls.cert_file, tls.key_file);
  SSL_CTX_set_verify(ctx, tls.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return context;
}

void prepare_tls_stream(TlsStream& stream, const RedisTlsOptions& tls, const std::string& host) {
  SSL* ssl = stream.native_handle();
  auto notes = std::make_unique<StreamNotes>();
  notes->expected = tls.server_name.empty() ? host : tls.server_name;
  notes->ip_literal = is_ip_literal(notes->expected);
  boost::system::error_code ec;
  auto peer = stream.next_layer().remote_endpoint(ec);
  if (!ec) {
    notes->endpoint = RedisAddress{host, peer.port()}.describe();
  } else {  // not connected (yet): the host alone
    notes->endpoint = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  }

  // SNI carries host names only (RFC 6066, section 3).
  if (!notes->ip_literal && SSL_set_tlsext_host_name(ssl, notes->expected.c_str()) != 1) {
    fail("cannot use '" + notes->expected + "' as the TLS server name: " + openssl_reasons());
  }
  if (tls.verify) {
    // OpenSSL checks the name during chain verification, so a mismatch has
    // its own verify result (X509_V_ERR_HOSTNAME_MISMATCH / _IP_ADDRESS_).
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    int ok = 0;
    if (notes->ip_literal) {
      std::string ip = notes->expected.substr(0, notes->expected.find('%'));  // no IPv6 zone
      ok = X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = X509_VERIFY_PARAM_set1_host(param, notes->expected.c_str(), 0);
    }
    if (ok != 1) {
      fail("cannot check the Redis server's certificate against '" + notes->expected +
           "': " + openssl_reasons());
    }
  }
  StreamNotes* previous = notes_of(ssl);  // prepared twice: replaced
  if (SSL_set_ex_data(ssl, notes_index(), notes.get()) != 1) {
    fail("cannot prepare the TLS stream: " + openssl_reasons());
  }
  delete previous;
  SSL_set_cert_cb(ssl, on_certificate_request, notes.release());
}

std::string describe_tls_failure(TlsStream& stream, const boost::system::error_code& error,
                                 const RedisTlsOptions& tls, const std::string& host) {
  SSL* ssl = stream.native_handle();
  const StreamNotes* notes = notes_of(ssl);
  const std::string prefix = "TLS handshake with " + (notes ? notes->endpoint : host) + " failed: ";

  if (tls.verify) {
    long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) return prefix + explain_verify_result(result, ssl, notes);
  }
  if (error.category() == asio::error::get_ssl_category()) {
    const auto code = static_cast<unsigned long>(error.value());
    const int reason = ERR_GET_REASON(code);
    if (ERR_GET_LIB(code) == ERR_LIB_SSL) {
      if (reason >= kAlertOffset && reason < kAlertOffset + 256) {
        return prefix + explain_server_alert(reason - kAlertOffset, ssl, notes);
      }
      switch (reason) {
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
        case SSL_R_RECORD_LENGTH_MISMATCH:
        case SSL_R_HTTP_REQUEST:
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
          return prefix + not_tls_server(ERR_reason_error_string(code));
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_NO_PROTOCOLS_AVAILABLE:
          return prefix +
                 "the server offers no TLS version this worker accepts (TLS 1.2 or "
                 "newer) [" +
                 ERR_reason_error_string(code) + "]";
        default:
          break;
      }
    }
    const char* text = ERR_reason_error_string(code);
    return prefix + (text ? text : error.message());
  }
  if (error == asio::ssl::error::stream_truncated || error == asio::error::eof) {
    return prefix + explain_dropped("closed the connection", ssl, notes);
  }
  if (error == asio::error::connection_reset) {
    return prefix + explain_dropped("reset the connection", ssl, notes);
  }
  if (error == asio::error::operation_aborted || error == asio::error::bad_descriptor) {
    return prefix +
           "no TLS answer before the connect deadline: it is probably not a TLS server (a plain "
           "Redis port waits silently for more input; use redis:// for it), or it is overloaded "
           "or unreachable";
  }
  return prefix + error.message();
}

}  // namespace bullmq
