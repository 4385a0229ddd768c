// Direct-path discovery for one session (sans-I/O). The path manager decides the
// strategy and selects the path (route(): where the next packet goes); it composes
// one part per mechanism: the candidate exchange (candidate_exchange.hpp), each
// candidate's validation (candidate_validation.hpp), the challenge rounds
// (challenge_rounds.hpp), the liveness of the path in use (liveness.hpp) and the
// birthday paradox (birthday_round.hpp). The session seals what poll_transmit()
// hands out into path packets, runs on_timeout() when next_deadline() is due, and
// reports every authenticated packet and every transport packet it sends.
// docs/direct_path.md describes the procedure and its reasons.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/random.hpp"
#include "path/birthday_budget.hpp"
#include "path/birthday_round.hpp"
#include "path/candidate_exchange.hpp"
#include "path/candidate_validation.hpp"
#include "path/challenge_rounds.hpp"
#include "path/config.hpp"
#include "path/constants.hpp"
#include "path/liveness.hpp"
#include "path/nat_classification.hpp"
#include "path/strategy.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/socket_pool.hpp"
#include "util/time.hpp"
#include "wire/path_frame.hpp"

namespace punch::path {

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
    kSwitched,        ///< Packets now go to `address` (`direct` or the relay); `rtt` as challenged.
    kCandidates,      ///< The peer sent its addresses; `detail` lists them.
    kChallengeRound,  ///< A round of challenges started; `detail` lists the candidates.
    kValidated,       ///< A challenge to `address` was answered after `rtt`.
    kLost,            ///< The direct path `address` stopped answering.
    kStrategy,        ///< The pair's `strategy` was decided or changed, from the two mappings.
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
  std::uint64_t challenges_sent = 0;  ///< Round challenges and keepalives, priming included.
  std::uint64_t primes_sent = 0;      ///< Low-TTL priming packets.
  std::uint64_t responses_received = 0;
  std::uint64_t rounds = 0;          ///< Rounds of challenges started.
  std::uint64_t switches = 0;        ///< Path changes, either way.
  std::uint64_t guesses_sent = 0;    ///< Birthday guesses at the peer's ports.
  std::uint64_t sockets_opened = 0;  ///< Extra sockets opened for the birthday paradox.
  std::uint64_t guess_hits = 0;      ///< Guesses the peer answered.
};

/// Where the session's next transport packet goes.
struct Route {
  util::SocketId socket = util::kMainSocket;  ///< Which of our sockets sends it.
  util::Address address;                      ///< The relay, or the peer on a direct path.
  bool direct = false;                        ///< True on a direct path.
  /// True while the packet should go to the relay too: we are direct, but the peer's
  /// packets arrive through the relay (it gave the direct path up, or has not
  /// validated it yet), so our ACKs may not reach it on the direct path.
  bool mirror_to_relay = false;
};

/// The path state of one session.
class PathManager {
 public:
  /// Starts on `relay`; `rng`, `pool` and `budget` must outlive the manager. The
  /// `initiator` (the connector) schedules the rounds that follow a failure;
  /// the other end joins them. Without a `pool` no extra sockets are opened; without
  /// a `budget` the session paces its guesses on its own.
  PathManager(util::Address relay, const PathConfig& config, bool initiator,
              crypto::RandomSource& rng, util::SocketPool* pool = nullptr,
              BirthdayBudget* budget = nullptr);

  /// The session is established: announce our candidates and start the first round.
  void start(util::TimePoint now);
  /// Our own candidates (host addresses, the reflexive one); resent, and a round
  /// started, on change.
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
  /// Next path packet to send, if any (it runs no timer: on_timeout() does).
  std::optional<PathTransmit> poll_transmit();
  /// When on_timeout() must next run: the earliest timer of the parts.
  util::TimePoint next_deadline() const;
  /// Runs what is due at `now`: challenges, resends, guesses, keepalives, the liveness
  /// check, the end of a round.
  void on_timeout(util::TimePoint now);
  /// Takes the next event, if any.
  std::optional<PathEvent> poll_event();
  /// True once after each path change: the transport must restart its path model.
  bool take_switched();
  /// True once after a change away from a path that stopped answering: what is in
  /// flight on it will not arrive.
  bool take_path_lost();

  /// Where the next transport packet goes: the one answer to that question.
  Route route() const;
  /// Where transport packets go now (route().address).
  const util::Address& current() const { return current_; }
  /// Which of our sockets sends them (route().socket): not the main one on a path the
  /// birthday paradox found from behind a hard NAT.
  util::SocketId current_socket() const { return current_socket_; }
  /// True while current() is a direct path (route().direct).
  bool direct() const { return direct_; }
  /// True while transport packets go to the relay too (route().mirror_to_relay).
  bool mirror_to_relay() const { return liveness_.mirror_to_relay(); }
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
    CandidateValidation validation;
  };
  struct Outstanding {
    wire::PathToken token;
    util::SocketId socket = util::kMainSocket;
    util::Address to;
    util::TimePoint sent;
  };
  struct Mappings {
    Mapping local = Mapping::kUnknown;
    Mapping peer = Mapping::kUnknown;
    bool peer_known = false;  // the peer's CANDIDATES arrived
  };

  Remote* find(const util::Address& address, util::SocketId socket = util::kMainSocket);
  Remote& add_remote(const wire::Candidate& candidate, util::SocketId socket = util::kMainSocket);
  bool on_current(const util::Address& to, util::SocketId socket) const;
  void prime_and_challenge(Remote& r, util::TimePoint now);
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
  void send_candidates(const wire::PathCandidates& f, util::TimePoint now);
  void on_candidates(const wire::PathCandidates& f, util::TimePoint now);
  void on_response(const wire::PathResponse& f, const util::Address& from, util::SocketId socket,
                   util::TimePoint now);
  void note_rx(const util::Address& from, util::SocketId socket);
  void recheck(const util::Address& from, util::SocketId socket, util::TimePoint now);
  void learn_peer_reflexive(const util::Address& from, util::SocketId socket, util::TimePoint now);
  void maybe_switch(util::TimePoint now);
  void switch_to(const Remote* r, util::TimePoint now);
  void fall_back(util::TimePoint now);
  void run_challenges(util::TimePoint now);
  void run_liveness(util::TimePoint now);
  bool busy() const;
  bool awaiting_peer() const;
  void end_round_if_done(util::TimePoint now);
  void settle(util::TimePoint now);
  void schedule_next_round(util::TimePoint now);
  util::Duration dead_timeout() const;
  void queue(util::SocketId socket, util::Address to, util::Bytes frames, int ttl);
  void emit(PathEvent e) { events_.push_back(std::move(e)); }
  void decide(util::TimePoint now);
  void end_hold(util::TimePoint now);
  void stop_challenging();
  bool usable(const util::Address& a) const;

  util::Address relay_;
  PathConfig config_;
  crypto::RandomSource* rng_;
  bool started_ = false;
  // The path in use (selection): route() answers from these and the liveness part.
  util::Address current_;
  util::SocketId current_socket_ = util::kMainSocket;
  bool direct_ = false;
  bool switched_ = false;
  bool path_lost_ = false;
  bool peer_relay_only_ = false;

  Mappings mappings_;
  Strategy strategy_ = Strategy::kDirect;
  std::optional<std::pair<Mapping, Mapping>> announced_;  // (local, peer) in the last event

  std::vector<Remote> remotes_;
  std::deque<Outstanding> outstanding_;
  util::Address last_rx_from_;
  util::SocketId last_rx_socket_ = util::kMainSocket;

  CandidateExchange exchange_;
  ChallengeRounds rounds_;
  Liveness liveness_;
  BirthdayRound birthday_;

  std::deque<PathTransmit> out_;
  std::deque<PathEvent> events_;
  PathStats stats_;
};

}  // namespace punch::path
