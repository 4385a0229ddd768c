// Path frames: what a session sends to find, validate and keep a direct path.
// They travel in *path packets*, protected session packets whose packet number
// has kPathPacketNumberBit set, so they share the session's keys but never its
// transport packet numbers (the AEAD nonces stay unique) and never count as
// transport traffic: a lost challenge is not congestion and is not retransmitted.
//
//   frame        type  body
//   PADDING      0x00  (one byte; runs of it are skipped)
//   CHALLENGE    0x01  token(8)
//   RESPONSE     0x02  token(8)
//   CANDIDATES   0x03  sequence(varint) acknowledged(varint) mapping(1) count(1)
//                      count x [kind(1) family(1) ip(4|16) port(2)]
//   ROUND        0x04  round(varint) answer(1: 0 or 1) sockets(varint)
//
// A path packet holds path frames only; see docs/protocol.md "Path packets".
#pragma once

#include <array>
#include <cstdint>
#include <variant>
#include <vector>

#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/result.hpp"

namespace punch::wire {

/// Packet-number bit that marks a protected session packet as a path packet.
inline constexpr std::uint64_t kPathPacketNumberBit = std::uint64_t{1} << 63;
/// Most candidates one CANDIDATES frame may carry: a host has few interfaces, and the
/// bound keeps a frame inside one 1200-byte datagram (16 x 19 bytes).
inline constexpr std::size_t kMaxCandidates = 16;

/// Path frame type bytes.
enum class PathFrameType : std::uint8_t {
  kPadding = 0x00,
  kChallenge = 0x01,
  kResponse = 0x02,
  kCandidates = 0x03,
  kRound = 0x04,
};

/// Where a candidate address came from (decides preference: host is LAN).
enum class CandidateKind : std::uint8_t {
  kHost = 0,           ///< An address of one of the peer's interfaces.
  kReflexive = 1,      ///< The peer's address as the rendezvous saw it.
  kPeerReflexive = 2,  ///< Learnt from an authenticated packet's source address.
};

/// How the sender's NAT maps its socket (CANDIDATES' mapping byte); the values are
/// those of path::Mapping, and anything above kAddressVaries is malformed.
enum class MappingCode : std::uint8_t {
  kUnknown = 0,              ///< Not measured (yet), or nothing to compare.
  kNone = 1,                 ///< No NAT: the rendezvous saw the local address.
  kEndpointIndependent = 2,  ///< One outside address for every destination.
  kEndpointDependent = 3,    ///< Another outside port per destination.
  kAddressVaries = 4,        ///< Another outside IP per destination (a pool).
};

/// An address the peer might be reached at.
struct Candidate {
  CandidateKind kind = CandidateKind::kHost;
  util::Address address;
  friend bool operator==(const Candidate&, const Candidate&) = default;
};

/// The 8 random bytes a challenge carries and its response echoes.
using PathToken = std::array<std::uint8_t, 8>;

/// CHALLENGE: "answer me with this token, to where this came from".
struct PathChallenge {
  PathToken token{};
  friend bool operator==(const PathChallenge&, const PathChallenge&) = default;
};

/// RESPONSE: the token of a challenge that arrived.
struct PathResponse {
  PathToken token{};
  friend bool operator==(const PathResponse&, const PathResponse&) = default;
};

/// CANDIDATES: the sender's addresses and NAT mapping behaviour, version `sequence`, and
/// the highest sequence of the receiver's list the sender has seen (0: none), so each
/// side resends until acknowledged.
struct PathCandidates {
  std::uint64_t sequence = 0;
  std::uint64_t acknowledged = 0;
  MappingCode mapping = MappingCode::kUnknown;  ///< Picks the pair's strategy.
  std::vector<Candidate> candidates;
  friend bool operator==(const PathCandidates&, const PathCandidates&) = default;
};

/// ROUND: "I just primed my NAT towards your candidates for challenge round `round`";
/// full-TTL challenges to a NAT's public side wait for it (docs/direct_path.md). A ROUND
/// that is not an `answer` asks the receiver to prime and answer with one.
struct PathRound {
  std::uint64_t round = 0;
  bool answer = false;
  /// Extra sockets the sender opened and primed for this round (behind a hard NAT,
  /// docs/birthday.md): the peer guesses ports only when this is not 0.
  std::uint64_t sockets = 0;
  friend bool operator==(const PathRound&, const PathRound&) = default;
};

/// Any path frame but padding.
using PathFrame = std::variant<PathChallenge, PathResponse, PathCandidates, PathRound>;

/// Decodes the frames of a path packet's plaintext, skipping padding; an error for
/// unknown types, truncation, bad addresses, an unknown mapping code or more than kMaxCandidates
/// candidates.
util::Result<std::vector<PathFrame>> decode_path_frames(util::ByteView plaintext);
/// Appends `frame`; a CANDIDATES frame must hold at most kMaxCandidates valid addresses.
void encode_path_frame(const PathFrame& frame, util::Bytes& out);

}  // namespace punch::wire
