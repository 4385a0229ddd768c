// A node's long-term ECDSA P-256 key pair, its ID, and the key file on disk.
#pragma once

#include <memory>
#include <string>

#include "crypto/node_id.hpp"
#include "crypto/random.hpp"
#include "util/bytes.hpp"
#include "util/result.hpp"

struct mbedtls_pk_context;

namespace punch::crypto {

/// Long-term key pair; movable, not copyable.
class Identity {
 public:
  /// Creates a fresh P-256 key pair.
  static util::Result<Identity> generate(RandomSource& rng);
  /// Reads a PEM private key; refuses files readable by group or others (like ssh),
  /// missing files and unparsable keys, each with a message naming the path.
  static util::Result<Identity> load(const std::string& path);
  /// Writes the key as PEM with mode 0600, creating parent directories (0700);
  /// refuses to replace an existing file unless `force`.
  util::Status save(const std::string& path, bool force) const;

  Identity(Identity&&) noexcept;
  Identity& operator=(Identity&&) noexcept;
  ~Identity();

  /// This node's ID.
  const NodeId& id() const { return id_; }
  /// DER SubjectPublicKeyInfo of the public key.
  const util::Bytes& public_key_der() const { return spki_; }
  /// ECDSA-SHA256 signature (DER) over `message`.
  util::Bytes sign(util::ByteView message, RandomSource& rng) const;
  /// The mbedTLS key, for the DTLS handshake; owned by this Identity.
  mbedtls_pk_context* pk() const;
  /// DER of the self-signed certificate this key presents in handshakes, made on
  /// first use (`rng` blinds that one signature) and kept; not thread-safe.
  const util::Bytes& certificate(RandomSource& rng) const;

 private:
  Identity();
  struct State;
  std::unique_ptr<State> state_;
  NodeId id_;
  util::Bytes spki_;
};

/// Checks an ECDSA-SHA256 `signature` by the key `spki_der` over `message`.
bool verify_signature(util::ByteView spki_der, util::ByteView message, util::ByteView signature);

}  // namespace punch::crypto
