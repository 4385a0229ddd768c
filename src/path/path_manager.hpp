// Direct-path discovery for one session (sans-I/O): exchanges candidate
// addresses with the peer through the relay, primes and probes them with
// authenticated challenges, moves the session to the best validated direct path,
// keeps that path alive, and falls back to the relay when it stops answering.
// The session seals what poll_transmit() hands out into path packets and reports
// every authenticated packet and every transport packet it sends.
// docs/direct_path.md describes the procedure and its reasons.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/random.hpp"
#include "path/birthday_prober.hpp"
#include "path/constants.hpp"
#include "path/nat_classification.hpp"
#include "path/probe_budget.hpp"
#include "path/strategy.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/socket_pool.hpp"
#include "util/time.hpp"
#include "wire/path_frame.hpp"

namespace punch::path {

/// How the birthday prober guesses (docs/birthday.md; defaults in path/constants.hpp).
struct BirthdayConfig {
  std::size_t sockets = kBirthdaySockets;  ///< --birthday-sockets: hard side's sockets.
  std::uint32_t rate = kBirthdayRate;      ///< --birthday-rate: guesses per second, at most.
  std::uint32_t probes = kBirthdayProbes;  ///< --birthday-probes: guesses per round.
};

/// Per-session choices from the command line.
struct PathConfig {
  bool relay_only = false;  ///< Never probe, never go direct (--relay-only).
  BirthdayConfig birthday;  ///< Port guessing against a hard NAT.
};

/// Path frames the session must seal into one path packet and send to `to`.
struct PathTransmit {
  util::SocketId socket = util::kMainSocket;  ///< Which of our sockets sends it.
  util::Address to;
  util::Bytes frames;  ///< Plaintext path frames.
  int ttl = 0;         ///< IP TTL for this datagram; 0 = the socket's default.
};

/// Something worth telling the user (--events, -v).
struct PathEvent {
  enum class Kind {
    kSwitched,    ///< Packets now go to `address` (`direct` or the relay); `rtt` as probed.
    kCandidates,  ///< The peer sent its addresses; `detail` lists them.
    kProbing,     ///< A probing round started; `detail` lists the candidates.
    kValidated,   ///< A challenge to `address` was answered after `rtt`.
    kLost,        ///< The direct path `address` stopped answering.
    kStrategy,    ///< The pair's `strategy` was decided or changed, from the two mappings.
  };
  Kind kind = Kind::kSwitched;
  util::Address address;
  bool direct = false;
  util::Duration rtt{};
  std::string detail;
  Strategy strategy = Strategy::kDirect;      ///< kStrategy: the pair's strategy.
  Mapping local_mapping = Mapping::kUnknown;  ///< kStrategy: our NAT's mapping behaviour.
  Mapping peer_mapping = Mapping::kUnknown;   ///< kStrategy: the peer's, from its CANDIDATES.
  std::uint64_t guesses = 0;  ///< kSwitched: port guesses this end sent in the winning round.
  std::size_t sockets = 0;    ///< kSwitched: extra sockets this end had open for it.
};

/// Counters for logs and tests.
struct PathStats {
  std::uint64_t challenges_sent = 0;  ///< Probes and keepalives, priming included.
  std::uint64_t primes_sent = 0;      ///< Low-TTL priming packets.
  std::uint64_t responses_received = 0;
  std::uint64_t rounds = 0;          ///< Probing rounds started.
  std::uint64_t switches = 0;        ///< Path changes, either way.
  std::uint64_t guesses_sent = 0;    ///< Birthday guesses at the peer's ports.
  std::uint64_t sockets_opened = 0;  ///< Extra sockets opened for the birthday paradox.
  std::uint64_t guess_hits = 0;      ///< Guesses the peer answered.
};

/// The path state of one session.
class PathManager {
 public:
  /// Starts on `relay`; `rng`, `pool` and `budget` must outlive the manager. The
  /// `initiator` (the connector) schedules the probing rounds that follow a failure;
  /// the other end joins them. Without a `pool` no extra sockets are opened; without
  /// a `budget` the session paces its guesses on its own.
  PathManager(util::Address relay, const PathConfig& config, bool initiator,
              crypto::RandomSource& rng, util::SocketPool* pool = nullptr,
              ProbeBudget* budget = nullptr);

  /// The session is established: announce our candidates and start probing.
  void start(util::TimePoint now);
  /// Our own candidates (host addresses, the reflexive one); resent and re-probed on change.
  void set_local_candidates(std::vector<wire::Candidate> candidates, util::TimePoint now);
  /// Our NAT's mapping behaviour (MappingCheck); a change goes to the peer in new
  /// CANDIDATES and re-decides the strategy.
  void set_local_mapping(Mapping mapping, util::TimePoint now);
  /// A candidate of the peer known before its CANDIDATES frame arrives (the address the
  /// rendezvous introduced it from).
  void add_remote_candidate(const wire::Candidate& candidate, util::TimePoint now);
  /// Handles the frames of an authenticated path packet that came from `from` to our
  /// socket `socket`.
  void on_frames(const util::Address& from, util::SocketId socket,
                 const std::vector<wire::PathFrame>& frames, util::TimePoint now);
  /// An authenticated transport packet numbered `packet_number` came from `from` to
  /// our socket `socket`.
  void on_authenticated(const util::Address& from, util::SocketId socket,
                        std::uint64_t packet_number, util::TimePoint now);
  /// A transport packet left for current(); `answer_expected` as in transport::OutPacket.
  void on_sent(bool answer_expected, util::TimePoint now);
  /// Next path packet to send, if any.
  std::optional<PathTransmit> poll_transmit(util::TimePoint now);
  /// When on_timeout() must next run.
  util::TimePoint next_deadline() const;
  /// Runs what is due at `now`: probes, resends, keepalives, the liveness check.
  void on_timeout(util::TimePoint now);
  /// Takes the next event, if any.
  std::optional<PathEvent> poll_event();
  /// True once after each path change: the transport must restart its path model.
  bool take_switched();
  /// True once after a change away from a path that stopped answering: what is in
  /// flight on it will not arrive.
  bool take_path_lost();

  /// Where transport packets go now.
  const util::Address& current() const { return current_; }
  /// Which of our sockets sends them (not the main one on a path the birthday paradox
  /// found from behind a hard NAT).
  util::SocketId current_socket() const { return current_socket_; }
  /// True while current() is a direct path.
  bool direct() const { return direct_; }
  /// True while transport packets should go to the relay too: we are direct, but the
  /// peer's packets arrive through the relay (it gave the direct path up, or has not
  /// validated it yet), so our ACKs may not reach it on the direct path.
  bool mirror_to_relay() const { return direct_ && relay_hint_; }
  /// The pair's strategy as decided so far (kDirect while either mapping is unknown).
  Strategy strategy() const { return strategy_; }
  /// The relay address the session started on.
  const util::Address& relay() const { return relay_; }
  /// Counters.
  const PathStats& stats() const { return stats_; }

 private:
  struct Remote {
    wire::Candidate candidate;
    util::SocketId socket = util::kMainSocket;  // our end of the path
    util::TimePoint next_probe = util::kNever;  // next challenge of the current round
    int attempts = 0;                           // challenges sent this round
    bool awaiting_peer_priming = false;         // waits for the peer's ROUND frame
    bool validated = false;
    util::TimePoint validated_at{};
    util::Duration rtt{};
  };
  struct Outstanding {
    wire::PathToken token;
    util::SocketId socket = util::kMainSocket;
    util::Address to;
    util::TimePoint sent;
  };

  Remote* find(const util::Address& address, util::SocketId socket = util::kMainSocket);
  Remote& add_remote(const wire::Candidate& candidate, util::SocketId socket = util::kMainSocket);
  void prime_and_probe(Remote& r, util::TimePoint now);
  void start_round(util::TimePoint now, bool peer_primed);
  void send_round(bool answer, util::TimePoint now);
  void release(util::TimePoint now, bool by_peer);
  bool hard_side() const;
  bool guesser() const;
  void open_birthday_sockets(util::TimePoint now);
  void start_guessing(util::TimePoint now);
  void send_guesses(util::TimePoint now);
  bool on_guess_answer(const wire::PathResponse& f, const util::Address& from,
                       util::SocketId socket, util::TimePoint now);
  void prune_sockets();
  void validate(Remote& r, util::Duration rtt, util::TimePoint now, const char* detail);
  std::optional<util::SocketId> extra_socket_in_use() const;
  void forget_closed_sockets();
  void end_birthday();
  void on_round(const wire::PathRound& f, util::TimePoint now);
  void send_challenge(util::SocketId socket, const util::Address& to, util::TimePoint now, int ttl);
  void send_untracked_challenge(util::SocketId socket, const util::Address& to,
                                const wire::PathToken& token, int ttl);
  void send_candidates(util::TimePoint now);
  void on_candidates(const wire::PathCandidates& f, util::TimePoint now);
  void on_response(const wire::PathResponse& f, const util::Address& from, util::SocketId socket,
                   util::TimePoint now);
  void note_rx(const util::Address& from, util::SocketId socket);
  void recheck(const util::Address& from, util::SocketId socket, util::TimePoint now);
  void learn_peer_reflexive(const util::Address& from, util::SocketId socket, util::TimePoint now);
  void maybe_switch(util::TimePoint now);
  void switch_to(const Remote* r, util::TimePoint now);
  void fall_back(util::TimePoint now);
  void end_round_if_done(util::TimePoint now);
  void schedule_next_round(util::TimePoint now);
  util::Duration dead_timeout() const;
  void queue(util::SocketId socket, util::Address to, util::Bytes frames, int ttl);
  void emit(PathEvent e) { events_.push_back(std::move(e)); }
  void decide(util::TimePoint now);
  void end_hold(util::TimePoint now);
  void stop_probing();
  bool usable(const util::Address& a) const;

  util::Address relay_;
  PathConfig config_;
  bool initiator_;
  crypto::RandomSource* rng_;
  bool started_ = false;
  util::Address current_;
  util::SocketId current_socket_ = util::kMainSocket;
  bool direct_ = false;
  bool switched_ = false;
  bool relay_hint_ = false;  // the peer's transport packets came through the relay
  bool path_lost_ = false;

  std::vector<wire::Candidate> local_;
  std::uint64_t local_seq_ = 1;  // version of local_; the first list is 1
  std::uint64_t peer_acked_ = 0;
  std::uint64_t remote_seq_ = 0;
  bool ack_owed_ = false;
  bool peer_relay_only_ = false;
  util::TimePoint candidates_next_ = util::kNever;
  util::Duration candidates_gap_ = std::chrono::milliseconds(0);

  Mapping local_mapping_ = Mapping::kUnknown;
  Mapping peer_mapping_ = Mapping::kUnknown;
  bool peer_mapping_known_ = false;  // the peer's CANDIDATES arrived
  Strategy strategy_ = Strategy::kDirect;
  bool strategy_announced_ = false;
  Mapping announced_local_ = Mapping::kUnknown;
  Mapping announced_peer_ = Mapping::kUnknown;
  // The first round waits for the peer's mapping (see holding()) until then.
  bool holding_ = false;
  util::TimePoint hold_until_ = util::kNever;
  bool join_pending_ = false;  // the peer's ROUND came while we held

  std::vector<Remote> remotes_;
  std::deque<Outstanding> outstanding_;
  bool round_active_ = false;
  std::uint64_t round_ = 0;       // our probing rounds so far
  std::uint64_t peer_round_ = 0;  // the peer's latest ROUND
  bool peer_primed_ = false;      // the peer primed for our current round
  util::TimePoint round_started_{};
  util::TimePoint round_quiet_at_ = util::kNever;  // when the running round has its answers
  util::TimePoint next_round_ = util::kNever;
  util::TimePoint peer_priming_deadline_ = util::kNever;  // stop waiting for its ROUND
  util::Duration backoff_;

  util::TimePoint awaiting_since_ = util::kNever;  // first unanswered send on the direct path
  util::TimePoint last_answerable_sent_{};
  util::TimePoint last_relay_sent_{};
  util::TimePoint promote_at_ = util::kNever;  // one challenge to make the flow a "stream"
  util::Address last_rx_from_;
  util::SocketId last_rx_socket_ = util::kMainSocket;
  std::optional<std::uint64_t> highest_direct_pn_;  // of the peer's packets on direct paths

  // Birthday paradox (docs/birthday.md): the budget is the endpoint's, or our own.
  std::unique_ptr<ProbeBudget> own_budget_;
  std::unique_ptr<BirthdayProber> birthday_;
  wire::PathToken guess_token_{};                 // every guess of a round carries it
  util::TimePoint sockets_until_ = util::kNever;  // hard side: the round's sockets close then
  bool guesses_pending_ = false;                  // guesser: wait for the peer's ROUND
  bool guess_hit_ = false;                        // guesser: this round's first hit was taken
  std::uint64_t peer_sockets_ = 0;                // sockets the peer primed for its round

  std::deque<PathTransmit> out_;
  std::deque<PathEvent> events_;
  PathStats stats_;
};

}  // namespace punch::path
