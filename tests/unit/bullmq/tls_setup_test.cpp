// TLS setup without a server: building the client context from real files
// (and the clear errors for bad ones), the per-stream name settings, and the
// wording of failures whose cause is in the error code alone. Handshakes
// against real servers are in tests/interop/tls.test.mjs.
#include "bullmq/tls_setup.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "bullmq/error.hpp"

namespace fs = std::filesystem;
using bullmq::make_tls_context;
using bullmq::RedisTlsOptions;

namespace {

// A temporary folder removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "bullmq-tls-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name, const std::string& content) const {
    auto p = path / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
};

EVP_PKEY* new_key() {
  return EVP_EC_gen("P-256");
}

// A self-signed certificate for `cn`, valid from now for a day.
X509* self_signed(EVP_PKEY* key, const char* cn) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  X509_sign(cert, key, EVP_sha256());
  return cert;
}

template <typename Write>
std::string pem(Write write) {
  BIO* bio = BIO_new(BIO_s_mem());
  write(bio);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string cert_pem(X509* cert) {
  return pem([cert](BIO* b) { PEM_write_bio_X509(b, cert); });
}

std::string key_pem(EVP_PKEY* key, const char* passphrase = nullptr) {
  return pem([key, passphrase](BIO* b) {
    if (passphrase) {
      PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_128_cbc(), passphrase,
                                    static_cast<int>(std::strlen(passphrase)), nullptr, nullptr);
    } else {
      PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    }
  });
}

// A certificate and its key, and a second key of another pair.
struct Material {
  EVP_PKEY* key = new_key();
  EVP_PKEY* other_key = new_key();
  X509* cert = self_signed(key, "bullmq-worker test");
  ~Material() {
    X509_free(cert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other_key);
  }
};

// The message of the bullmq::Error `make_tls_context(tls)` throws; checks
// that it is permanent.
std::string context_error(const RedisTlsOptions& tls) {
  try {
    make_tls_context(tls);
  } catch (const bullmq::Error& e) {
    CHECK_FALSE(e.retryable());
    return e.what();
  }
  FAIL("make_tls_context accepted the options");
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("tls context: the system CAs alone, and a readable CA file") {
  Material m;
  TempDir dir;
  RedisTlsOptions tls;
  tls.enabled = true;
  CHECK(make_tls_context(tls) != nullptr);
  tls.ca_file = dir.file("ca.pem", cert_pem(m.cert));
  auto context = make_tls_context(tls);
  REQUIRE(context != nullptr);
  CHECK(SSL_CTX_get_min_proto_version(context->native_handle()) == TLS1_2_VERSION);
  CHECK(SSL_CTX_get_verify_mode(context->native_handle()) == SSL_VERIFY_PEER);
  tls.verify = false;
  CHECK(SSL_CTX_get_verify_mode(make_tls_context(tls)->native_handle()) == SSL_VERIFY_NONE);
}

TEST_CASE("tls context: a missing CA file is named, with its flag") {
  TempDir dir;
  RedisTlsOptions tls;
  tls.ca_file = (dir.path / "nope.pem").string();
  std::string message = context_error(tls);
  CHECK(contains(message, "--redis-tls-ca"));
  CHECK(contains(message, tls.ca_file));
  CHECK(contains(message, "no such file"));
}

TEST_CASE("tls context: a folder given as the CA file") {
  TempDir dir;
  RedisTlsOptions tls;
  tls.ca_file = dir.path.string();
  CHECK(contains(context_error(tls), "is a directory"));
}

TEST_CASE("tls context: an unreadable CA file") {
  if (::geteuid() == 0) return;  // root reads any file
  Material m;
  TempDir dir;
  RedisTlsOptions tls;
  tls.ca_file = dir.file("ca.pem", cert_pem(m.cert));
  REQUIRE(::chmod(tls.ca_file.c_str(), 0) == 0);
  std::string message = context_error(tls);
  CHECK(contains(message, tls.ca_file));
  CHECK(contains(message, "cannot be read (Permission denied)"));
}

TEST_CASE("tls context: a CA file that is not PEM") {
  TempDir dir;
  RedisTlsOptions tls;
  tls.ca_file = dir.file("ca.der", std::string("\x30\x82\x01\x0a garbage", 13));
  std::string message = context_error(tls);
  CHECK(contains(message, tls.ca_file));
  CHECK(contains(message, "not a PEM file"));
}

TEST_CASE("tls context: a PEM CA file with a damaged certificate") {
  TempDir dir;
  RedisTlsOptions tls;
  tls.ca_file = dir.file("ca.pem",
                         "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                         "-----END CERTIFICATE-----\n");
  std::string message = context_error(tls);
  CHECK(contains(message, tls.ca_file));
  CHECK(contains(message, "cannot load its certificates: "));
}

TEST_CASE("tls context: a key file given as the CA file") {
  Material m;
  TempDir dir;
  RedisTlsOptions tls;
  tls.ca_file = dir.file("key.pem", key_pem(m.key));
  std::string message = context_error(tls);
  CHECK(contains(message, "holds no certificate"));
  CHECK(contains(message, "PRIVATE KEY"));
}

TEST_CASE("tls context: a client certificate without its key, and a key without its certificate") {
  Material m;
  TempDir dir;
  RedisTlsOptions tls;
  tls.cert_file = dir.file("client.pem", cert_pem(m.cert));
  std::string message = context_error(tls);
  CHECK(contains(message, tls.cert_file));
  CHECK(contains(message, "add --redis-tls-key"));

  RedisTlsOptions key_only;
  key_only.key_file = dir.file("client.key", key_pem(m.key));
  message = context_error(key_only);
  CHECK(contains(message, key_only.key_file));
  CHECK(contains(message, "add --redis-tls-cert"));
}

TEST_CASE("tls context: a client key that does not match the certificate") {
  Material m;
  TempDir dir;
  RedisTlsOptions tls;
  tls.cert_file = dir.file("client.pem", cert_pem(m.cert));
  tls.key_file = dir.file("other.key", key_pem(m.other_key));
  std::string message = context_error(tls);
  CHECK(contains(message, tls.key_file));
  CHECK(contains(message, "does not match the certificate in " + tls.cert_file));
}

TEST_CASE("tls context: a matching certificate and key, apart or in one file") {
  Material m;
  TempDir dir;
  RedisTlsOptions tls;
  tls.cert_file = dir.file("client.pem", cert_pem(m.cert));
  tls.key_file = dir.file("client.key", key_pem(m.key));
  auto context = make_tls_context(tls);
  CHECK(SSL_CTX_get0_certificate(context->native_handle()) != nullptr);

  tls.cert_file = tls.key_file = dir.file("both.pem", key_pem(m.key) + cert_pem(m.cert));
  CHECK(make_tls_context(tls) != nullptr);
}

TEST_CASE("tls context: key problems: encrypted, not PEM, a certificate instead") {
  Material m;
  TempDir dir;
  RedisTlsOptions tls;
  tls.cert_file = dir.file("client.pem", cert_pem(m.cert));
  tls.key_file = dir.file("client.key", key_pem(m.key, "secret"));
  CHECK(contains(context_error(tls), "is encrypted with a passphrase"));

  tls.key_file = dir.file("garbage.key", "just text\n");
  CHECK(contains(context_error(tls), "not a PEM file"));

  tls.key_file = tls.cert_file;
  std::string message = context_error(tls);
  CHECK(contains(message, "--redis-tls-key"));
  CHECK(contains(message, "holds no private key"));
}

TEST_CASE("tls stream: SNI and the checked name for a host name, an IP address, an override") {
  bullmq::asio::io_context io;
  RedisTlsOptions tls;
  tls.enabled = true;
  auto context = make_tls_context(tls);

  bullmq::TlsStream by_name(io, *context);
  bullmq::prepare_tls_stream(by_name, tls, "redis.example.com");
  CHECK(std::string(SSL_get_servername(by_name.native_handle(), TLSEXT_NAMETYPE_host_name)) ==
        "redis.example.com");
  CHECK(std::string(X509_VERIFY_PARAM_get0_host(SSL_get0_param(by_name.native_handle()), 0)) ==
        "redis.example.com");

  bullmq::TlsStream by_ip(io, *context);
  bullmq::prepare_tls_stream(by_ip, tls, "127.0.0.1");
  CHECK(SSL_get_servername(by_ip.native_handle(), TLSEXT_NAMETYPE_host_name) == nullptr);
  char* ip = X509_VERIFY_PARAM_get1_ip_asc(SSL_get0_param(by_ip.native_handle()));
  REQUIRE(ip != nullptr);
  CHECK(std::string(ip) == "127.0.0.1");
  OPENSSL_free(ip);

  tls.server_name = "redis.internal";
  bullmq::TlsStream overridden(io, *context);
  bullmq::prepare_tls_stream(overridden, tls, "10.1.2.3");
  CHECK(std::string(SSL_get_servername(overridden.native_handle(), TLSEXT_NAMETYPE_host_name)) ==
        "redis.internal");
  CHECK(std::string(X509_VERIFY_PARAM_get0_host(SSL_get0_param(overridden.native_handle()), 0)) ==
        "redis.internal");

  tls.server_name.clear();
  tls.verify = false;
  bullmq::TlsStream unchecked(io, *context);
  bullmq::prepare_tls_stream(unchecked, tls, "redis.example.com");
  CHECK(X509_VERIFY_PARAM_get0_host(SSL_get0_param(unchecked.native_handle()), 0) == nullptr);
}

TEST_CASE("tls failure: causes told by the error code alone") {
  bullmq::asio::io_context io;
  RedisTlsOptions tls;
  tls.enabled = true;
  auto context = make_tls_context(tls);
  bullmq::TlsStream stream(io, *context);
  bullmq::prepare_tls_stream(stream, tls, "redis.example.com");
  auto describe = [&](const boost::system::error_code& ec) {
    return bullmq::describe_tls_failure(stream, ec, tls, "redis.example.com");
  };
  auto ssl_error = [](int reason) {
    return boost::system::error_code(static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, reason)),
                                     bullmq::asio::error::get_ssl_category());
  };

  std::string plain = describe(ssl_error(SSL_R_WRONG_VERSION_NUMBER));
  CHECK(contains(plain, "TLS handshake with redis.example.com failed: "));
  CHECK(contains(plain, "answer is not TLS (wrong version number)"));
  CHECK(contains(plain, "probably not a TLS server"));
  CHECK(contains(describe(bullmq::asio::ssl::error::stream_truncated),
                 "not TLS (it closed the connection in the middle of the handshake)"));
  CHECK(contains(describe(bullmq::asio::error::connection_reset), "probably not a TLS server"));
  std::string silent = describe(bullmq::asio::error::operation_aborted);
  CHECK(contains(silent, "connect deadline"));
  CHECK(contains(silent, "probably not a TLS server"));

  std::string required = describe(ssl_error(SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED));
  CHECK(contains(required, "requires a client certificate and none was given"));
  CHECK(contains(required, "--redis-tls-cert"));
  CHECK(contains(required, "--redis-tls-key"));

  CHECK(contains(describe(ssl_error(SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)), "TLS 1.2 or newer"));
  CHECK(contains(describe(ssl_error(SSL_R_TLSV1_ALERT_INTERNAL_ERROR)),
                 "server ended the handshake (server alert: internal error)"));
}
