#include "crypto/certificate.hpp"

#include <doctest/doctest.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <string>

using punch::crypto::Identity;
using punch::crypto::SeededRandom;
using punch::crypto::self_signed_certificate;
namespace util = punch::util;

namespace {

// Parses a certificate for inspection and frees it at scope exit.
struct ParsedCert {
  explicit ParsedCert(const util::Bytes& der) {
    mbedtls_x509_crt_init(&crt);
    rc = mbedtls_x509_crt_parse_der(&crt, der.data(), der.size());
  }
  ~ParsedCert() { mbedtls_x509_crt_free(&crt); }
  ParsedCert(const ParsedCert&) = delete;
  ParsedCert& operator=(const ParsedCert&) = delete;
  mbedtls_x509_crt crt;
  int rc;
};

std::string dn(const mbedtls_x509_name& name) {
  char buf[256];
  const int n = mbedtls_x509_dn_gets(buf, sizeof buf, &name);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

TEST_CASE("self_signed_certificate: names the ID, carries the key, verifies against itself") {
  SeededRandom rng(1);
  auto id = Identity::generate(rng);
  REQUIRE(id.ok());
  const auto der = self_signed_certificate(*id, rng);
  CHECK(der.size() < 500);  // it travels in every handshake

  ParsedCert cert(der);
  REQUIRE(cert.rc == 0);
  CHECK(cert.crt.version == 3);
  CHECK(dn(cert.crt.subject) == "CN=" + id->id().to_string());
  CHECK(dn(cert.crt.issuer) == dn(cert.crt.subject));

  unsigned char buf[256];
  const int n = mbedtls_pk_write_pubkey_der(&cert.crt.pk, buf, sizeof buf);
  REQUIRE(n > 0);
  CHECK(util::Bytes(buf + sizeof buf - n, buf + sizeof buf) == id->public_key_der());

  // Signed by its own key, with validity covering today (flags would say otherwise).
  std::uint32_t flags = 0xffffffff;
  CHECK(mbedtls_x509_crt_verify(&cert.crt, &cert.crt, nullptr, nullptr, &flags, nullptr, nullptr) ==
        0);
  CHECK(flags == 0);
}

TEST_CASE("self_signed_certificate: depends on the key alone") {
  SeededRandom rng(2);
  auto a = Identity::generate(rng);
  auto b = Identity::generate(rng);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  SeededRandom r1(100), r2(200);
  // ECDSA signatures here are deterministic (RFC 6979); the RNG only blinds.
  CHECK(self_signed_certificate(*a, r1) == self_signed_certificate(*a, r2));
  CHECK(self_signed_certificate(*a, r1) != self_signed_certificate(*b, r1));
}

TEST_CASE("self_signed_certificate: another key's certificate does not verify against it") {
  SeededRandom rng(3);
  auto a = Identity::generate(rng);
  auto b = Identity::generate(rng);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  ParsedCert ca(self_signed_certificate(*a, rng));
  ParsedCert other(self_signed_certificate(*b, rng));
  REQUIRE(ca.rc == 0);
  REQUIRE(other.rc == 0);
  std::uint32_t flags = 0;
  CHECK(mbedtls_x509_crt_verify(&other.crt, &ca.crt, nullptr, nullptr, &flags, nullptr, nullptr) !=
        0);
  CHECK((flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0);
}
