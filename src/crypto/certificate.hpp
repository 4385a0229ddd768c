// The self-signed X.509 certificate a node presents in the DTLS handshake. Peers
// trust it only through the NodeId of its key, so its names and dates carry no
// meaning; they are fixed so the certificate depends on the key alone.
#pragma once

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "util/bytes.hpp"

namespace punch::crypto {

/// DER of a self-signed v3 certificate for `identity`'s key, CN = its NodeId string,
/// signed with ECDSA-SHA256 (`rng` blinds the signature).
util::Bytes self_signed_certificate(const Identity& identity, RandomSource& rng);

}  // namespace punch::crypto
