#include "wire/path_frame.hpp"

#include "util/assert.hpp"

namespace punch::wire {
namespace {

PathToken read_token(util::ByteReader& r) {
  PathToken t{};
  const util::ByteView b = r.bytes(t.size());
  if (r.ok()) std::copy(b.begin(), b.end(), t.begin());
  return t;
}

bool is_known_kind(std::uint8_t kind) {
  return kind <= static_cast<std::uint8_t>(CandidateKind::kPeerReflexive);
}

util::Result<PathFrame> decode_candidates(util::ByteReader& r) {
  PathCandidates f;
  f.sequence = r.varint();
  f.acknowledged = r.varint();
  const std::uint8_t mapping = r.u8();
  const std::size_t count = r.u8();
  if (!r.ok()) return util::Error{"truncated CANDIDATES frame"};
  if (mapping > static_cast<std::uint8_t>(MappingCode::kAddressVaries))
    return util::Error{"unknown mapping code in CANDIDATES frame"};
  f.mapping = static_cast<MappingCode>(mapping);
  if (count > kMaxCandidates) return util::Error{"CANDIDATES frame lists too many addresses"};
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t kind = r.u8();
    const util::Address address = util::Address::decode(r);
    if (!r.ok()) return util::Error{"truncated or bad address in CANDIDATES frame"};
    if (!is_known_kind(kind)) return util::Error{"unknown candidate kind"};
    f.candidates.push_back({static_cast<CandidateKind>(kind), address});
  }
  return PathFrame{std::move(f)};
}

}  // namespace

util::Result<std::vector<PathFrame>> decode_path_frames(util::ByteView plaintext) {
  util::ByteReader r(plaintext);
  std::vector<PathFrame> frames;
  while (r.remaining() > 0) {
    switch (static_cast<PathFrameType>(r.u8())) {
      case PathFrameType::kPadding:
        continue;
      case PathFrameType::kChallenge:
        frames.emplace_back(PathChallenge{read_token(r)});
        break;
      case PathFrameType::kResponse:
        frames.emplace_back(PathResponse{read_token(r)});
        break;
      case PathFrameType::kRound: {
        PathRound f;
        f.round = r.varint();
        const std::uint8_t answer = r.u8();
        if (r.ok() && answer > 1) return util::Error{"bad answer flag in ROUND frame"};
        f.answer = answer == 1;
        f.sockets = r.varint();
        frames.emplace_back(f);
        break;
      }
      case PathFrameType::kCandidates: {
        auto f = decode_candidates(r);
        if (!f) return f.error();
        frames.push_back(std::move(*f));
        break;
      }
      default:
        return util::Error{"unknown path frame type"};
    }
    if (!r.ok()) return util::Error{"truncated path frame"};
  }
  return frames;
}

void encode_path_frame(const PathFrame& frame, util::Bytes& out) {
  util::ByteWriter w(out);
  if (const auto* c = std::get_if<PathChallenge>(&frame)) {
    w.u8(static_cast<std::uint8_t>(PathFrameType::kChallenge));
    w.bytes(c->token);
  } else if (const auto* p = std::get_if<PathResponse>(&frame)) {
    w.u8(static_cast<std::uint8_t>(PathFrameType::kResponse));
    w.bytes(p->token);
  } else if (const auto* round = std::get_if<PathRound>(&frame)) {
    w.u8(static_cast<std::uint8_t>(PathFrameType::kRound));
    w.varint(round->round);
    w.u8(round->answer ? 1 : 0);
    w.varint(round->sockets);
  } else {
    const auto& f = std::get<PathCandidates>(frame);
    PUNCH_ASSERT(f.candidates.size() <= kMaxCandidates);
    w.u8(static_cast<std::uint8_t>(PathFrameType::kCandidates));
    w.varint(f.sequence);
    w.varint(f.acknowledged);
    w.u8(static_cast<std::uint8_t>(f.mapping));
    w.u8(static_cast<std::uint8_t>(f.candidates.size()));
    for (const Candidate& candidate : f.candidates) {
      PUNCH_ASSERT(candidate.address.valid());
      w.u8(static_cast<std::uint8_t>(candidate.kind));
      candidate.address.encode(w);
    }
  }
}

}  // namespace punch::wire
