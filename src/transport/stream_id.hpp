// Stream identifiers and the role that decides their parity (RFC 9000 2.1).
#pragma once

#include <cstdint>

namespace punch::transport {

/// Identifies a stream within a connection (QUIC numbering: low bit = initiator).
using StreamId = std::uint64_t;

/// Which end of the connection this is; decides stream-ID parity.
enum class Role { kClient, kServer };

}  // namespace punch::transport
