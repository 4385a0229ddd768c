#include "crypto/identity.hpp"

#include <fcntl.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/certificate.hpp"
#include "util/assert.hpp"
#include "util/private_file.hpp"

namespace punch::crypto {

namespace {

// Comfortably larger than a P-256 key in PEM (about 230 bytes) or its SPKI (91 bytes).
constexpr std::size_t kKeyBufferSize = 1024;
// A key file bigger than this is certainly not ours; do not read it whole.
constexpr std::size_t kMaxKeyFileSize = 64 * 1024;

std::string mbedtls_message(int rc) {
  char buf[128];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

std::string errno_message(int err) { return std::strerror(err); }

// True for an EC key on P-256, the only kind punch makes or accepts.
bool is_p256(const mbedtls_pk_context& pk) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY) return false;
  return mbedtls_pk_ec(pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

util::Bytes spki_of(mbedtls_pk_context& pk) {
  unsigned char buf[kKeyBufferSize];
  // mbedtls_pk_write_pubkey_der writes at the end of the buffer and returns the length.
  const int n = mbedtls_pk_write_pubkey_der(&pk, buf, sizeof buf);
  PUNCH_ASSERT(n > 0);
  return util::Bytes(buf + sizeof buf - n, buf + sizeof buf);
}

bool write_all(int fd, const unsigned char* data, std::size_t len) {
  while (len > 0) {
    const ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

// mkdir -p for the directory part of `path`, new directories 0700.
util::Status make_parents(const std::string& path) {
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return util::Error{"cannot create directory " + dir + ": " + errno_message(errno)};
  }
  return util::ok_status();
}

// Writes `len` bytes of `pem` to a new temporary file beside `path`; its name is
// left in `tmp`. Returns errno, or 0.
int write_temporary(const std::string& path, const unsigned char* pem, std::size_t len,
                    std::string& tmp) {
  tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return errno;
  const bool ok = ::fchmod(fd, 0600) == 0 && write_all(fd, pem, len) && ::fsync(fd) == 0;
  const int err = ok ? 0 : errno;
  ::close(fd);
  if (!ok) ::unlink(tmp.c_str());
  return err;
}

// Creates `path` holding the key, never replacing a file there. The key is written to a
// temporary file first and linked into place, so the file appears complete or not at
// all: a second punch creating the same key at the same moment reads a whole key, never
// a half-written one. File systems without hard links fall back to O_EXCL.
util::Status save_new(const std::string& path, const unsigned char* pem, std::size_t len) {
  const auto exists = [&] {
    return util::Error{"key file " + path + " exists (use --force to replace it)"};
  };
  std::string tmp;
  if (const int err = write_temporary(path, pem, len, tmp); err != 0) {
    return util::Error{"cannot create key file " + path + ": " + errno_message(err)};
  }
  const int linked = ::link(tmp.c_str(), path.c_str()) == 0 ? 0 : errno;
  ::unlink(tmp.c_str());
  if (linked == 0) return util::ok_status();
  if (linked == EEXIST) return exists();
  if (linked != EPERM && linked != ENOTSUP && linked != EOPNOTSUPP && linked != EXDEV &&
      linked != EMLINK) {
    return util::Error{"cannot create key file " + path + ": " + errno_message(linked)};
  }
  // O_EXCL: never clobber a key, even one created between a check and the write.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return exists();
    return util::Error{"cannot create key file " + path + ": " + errno_message(errno)};
  }
  const bool ok = ::fchmod(fd, 0600) == 0 && write_all(fd, pem, len) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return util::Error{"cannot write key file " + path + ": " + errno_message(err)};
  }
  return util::ok_status();
}

}  // namespace

struct Identity::State {
  State() { mbedtls_pk_init(&pk); }
  ~State() { mbedtls_pk_free(&pk); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  mbedtls_pk_context pk;
  // One ECDSA signature per handshake would be wasted: the certificate depends on
  // the key alone (RFC 6979 signatures), so it is made once.
  util::Bytes certificate;
};

Identity::Identity() : state_(std::make_unique<State>()) {}
Identity::Identity(Identity&&) noexcept = default;
Identity& Identity::operator=(Identity&&) noexcept = default;
Identity::~Identity() = default;

mbedtls_pk_context* Identity::pk() const { return &state_->pk; }

const util::Bytes& Identity::certificate(RandomSource& rng) const {
  if (state_->certificate.empty()) state_->certificate = self_signed_certificate(*this, rng);
  return state_->certificate;
}

util::Result<Identity> Identity::generate(RandomSource& rng) {
  Identity id;
  int rc = mbedtls_pk_setup(&id.state_->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0)
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(id.state_->pk), rng_callback,
                             &rng);
  if (rc != 0) return util::Error{"cannot generate a key: " + mbedtls_message(rc)};
  id.spki_ = spki_of(id.state_->pk);
  id.id_ = NodeId::from_public_key(id.spki_);
  return id;
}

util::Result<Identity> Identity::load(const std::string& path) {
  util::PrivateFileProblem problem = util::PrivateFileProblem::kNone;
  auto read = util::read_private_file(path, kMaxKeyFileSize, "key file", &problem);
  if (!read) {
    if (problem == util::PrivateFileProblem::kMissing)
      return util::Error{"no key at " + path + " (create one with: punch keygen)"};
    return read.error();
  }
  // mbedTLS recognises PEM only when the length includes a terminating NUL. A copy
  // rather than push_back: a reallocation would free a copy of the key unwiped.
  util::Bytes pem(read->size() + 1, 0);
  std::copy(read->begin(), read->end(), pem.begin());
  mbedtls_platform_zeroize(read->data(), read->size());

  Identity id;
  const int rc = mbedtls_pk_parse_key(&id.state_->pk, pem.data(), pem.size(), nullptr, 0);
  mbedtls_platform_zeroize(pem.data(), pem.size());
  if (rc != 0)
    return util::Error{"key file " + path + " does not hold a usable private key (" +
                       mbedtls_message(rc) + ")"};
  if (!is_p256(id.state_->pk))
    return util::Error{"key file " + path + " holds a key that is not ECDSA P-256"};
  id.spki_ = spki_of(id.state_->pk);
  id.id_ = NodeId::from_public_key(id.spki_);
  return id;
}

util::Status Identity::save(const std::string& path, bool force) const {
  unsigned char pem[kKeyBufferSize];
  const int rc = mbedtls_pk_write_key_pem(&state_->pk, pem, sizeof pem);
  PUNCH_ASSERT(rc == 0);
  const std::size_t len = std::strlen(reinterpret_cast<const char*>(pem));

  if (auto st = make_parents(path); !st) {
    mbedtls_platform_zeroize(pem, sizeof pem);
    return st;
  }

  util::Status result = util::ok_status();
  if (!force) {
    result = save_new(path, pem, len);
  } else {
    // Replace atomically, so a crash leaves either the old key or the new one.
    std::string tmp;
    int err = write_temporary(path, pem, len, tmp);
    if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) {
      err = errno;
      ::unlink(tmp.c_str());
    }
    if (err != 0) result = util::Error{"cannot write key file " + path + ": " + errno_message(err)};
  }
  mbedtls_platform_zeroize(pem, sizeof pem);
  return result;
}

util::Bytes Identity::sign(util::ByteView message, RandomSource& rng) const {
  unsigned char hash[32];
  mbedtls_sha256_ret(message.data(), message.size(), hash, 0);
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  std::size_t sig_len = 0;
  const int rc = mbedtls_pk_sign(&state_->pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, &sig_len,
                                 rng_callback, &rng);
  // Signing with our own valid key cannot fail short of a bug or memory exhaustion.
  PUNCH_ASSERT(rc == 0);
  return util::Bytes(sig, sig + sig_len);
}

bool verify_signature(util::ByteView spki_der, util::ByteView message, util::ByteView signature) {
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  bool ok = mbedtls_pk_parse_public_key(&pk, spki_der.data(), spki_der.size()) == 0 && is_p256(pk);
  if (ok) {
    unsigned char hash[32];
    mbedtls_sha256_ret(message.data(), message.size(), hash, 0);
    ok = mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, sizeof hash, signature.data(),
                           signature.size()) == 0;
  }
  mbedtls_pk_free(&pk);
  return ok;
}

}  // namespace punch::crypto
