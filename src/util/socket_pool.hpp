// Extra UDP sockets a core may open besides the endpoint's main one. Behind an
// endpoint-dependent ("hard") NAT every socket gets its own random outside port
// towards the peer; the birthday prober opens many so that the peer's random
// guesses hit one of them (docs/birthday.md). The I/O layer (or the simulator)
// implements it; like DatagramSink, no call may re-enter the core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "util/datagram_sink.hpp"

namespace punch::util {

/// Names one of the endpoint's UDP sockets; kMainSocket is the one it registered from.
using SocketId = std::uint32_t;

/// The socket the endpoint registered with the rendezvous from (the DatagramSink it
/// was built with).
inline constexpr SocketId kMainSocket = 0;

/// Opens, feeds and closes extra sockets. Datagrams that arrive on one reach the
/// endpoint's on_datagram() with its id.
class SocketPool {
 public:
  virtual ~SocketPool() = default;
  /// Opens one more socket of the main socket's address family on a port the system
  /// picks; its id is never kMainSocket. Nullopt when the system refuses (out of
  /// descriptors, say): the caller goes on with fewer sockets.
  virtual std::optional<SocketId> open() = 0;
  /// Closes socket `id` (one that open() returned); nothing more arrives from it, and
  /// what it had queued may still leave.
  virtual void close(SocketId id) = 0;
  /// The sink that sends from socket `id`, an open one; valid until close(id).
  virtual DatagramSink& sink(SocketId id) = 0;
  /// How many sockets open() returned that are not closed yet.
  virtual std::size_t open_count() const = 0;
};

}  // namespace punch::util
