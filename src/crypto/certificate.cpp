#include "crypto/certificate.hpp"

#include <mbedtls/bignum.h>
#include <mbedtls/x509_crt.h>

#include <string>

#include "util/assert.hpp"

namespace punch::crypto {

namespace {

// A P-256 certificate with a 26-character CN is about 330 bytes.
constexpr std::size_t kCertBufferSize = 1024;
// Nothing checks the dates (the verify callback pins the key instead), but
// mbedTLS's parser wants a well-formed validity period: make it cover any clock.
constexpr char kNotBefore[] = "20000101000000";
constexpr char kNotAfter[] = "99991231235959";

}  // namespace

util::Bytes self_signed_certificate(const Identity& identity, RandomSource& rng) {
  mbedtls_x509write_cert crt;
  mbedtls_x509write_crt_init(&crt);
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);

  const std::string name = "CN=" + identity.id().to_string();
  int rc = mbedtls_mpi_lset(&serial, 1);
  if (rc == 0) rc = mbedtls_x509write_crt_set_serial(&crt, &serial);
  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&crt, identity.pk());
  mbedtls_x509write_crt_set_issuer_key(&crt, identity.pk());
  if (rc == 0) rc = mbedtls_x509write_crt_set_subject_name(&crt, name.c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_issuer_name(&crt, name.c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_validity(&crt, kNotBefore, kNotAfter);

  util::Bytes der;
  if (rc == 0) {
    unsigned char buf[kCertBufferSize];
    // Like every mbedTLS DER writer, this fills the end of the buffer.
    const int n = mbedtls_x509write_crt_der(&crt, buf, sizeof buf, rng_callback, &rng);
    if (n > 0) der.assign(buf + sizeof buf - n, buf + sizeof buf);
    rc = n > 0 ? 0 : n;
  }
  mbedtls_mpi_free(&serial);
  mbedtls_x509write_crt_free(&crt);
  // Only a broken Identity or an undersized buffer can get here: both are our bugs.
  PUNCH_ASSERT(rc == 0);
  return der;
}

}  // namespace punch::crypto
