// The server side of one SOCKS5 negotiation (RFC 1928, with RFC 1929 username/
// password) as a sans-I/O state machine over the wire/socks5 codec: the caller
// feeds what the client sent, writes what take_output() returns, and looks at
// state(). It never touches a socket, so every malformed, truncated or pipelined
// input can be tested byte by byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "forward/auth_backoff.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/time.hpp"
#include "wire/socks5.hpp"

namespace punch::forward {

/// One SOCKS5 client connection, from its greeting to the CONNECT reply.
class SocksServer {
 public:
  /// Where the negotiation stands; the caller acts on it after each on_data().
  enum class State : std::uint8_t {
    kNegotiating,   ///< More client bytes are needed; write take_output() and keep reading.
    kRequestReady,  ///< A CONNECT request is waiting for reply(); see request().
    kEstablished,   ///< The success reply is queued; relay payload from now on.
    kClosing,       ///< Write take_output() (a refusal, if any), then close the connection.
  };

  /// A server that requires `user_pass` (username, password) when set, and no
  /// authentication otherwise; with `backoff` (not owned; it outlives the server), the
  /// password check of `client` waits for that client's backoff and counts its outcome.
  explicit SocksServer(std::optional<std::pair<std::string, std::string>> user_pass = std::nullopt,
                       AuthBackoff* backoff = nullptr, util::Address client = {});

  /// Consumes bytes the client sent at `now`; negotiation bytes are buffered only up to
  /// the codec's largest message, and bytes after the request (or once established) go to
  /// the leftover. A password check the backoff defers leaves the state kNegotiating with
  /// a deadline().
  void on_data(util::ByteView data, util::TimePoint now = {});
  /// When a deferred password check may run (call on_timeout() then); kNever if none waits.
  util::TimePoint deadline() const { return deferred_until_; }
  /// Runs a deferred password check if the backoff allows it at `now`.
  void on_timeout(util::TimePoint now);
  /// Bytes to write to the client, in order; the internal buffer is emptied.
  util::Bytes take_output();
  /// Bytes the client sent after its request (pipelined payload for the target); emptied.
  util::Bytes take_leftover();

  /// The current state.
  State state() const { return state_; }
  /// The CONNECT request; meaningful from kRequestReady on.
  const wire::SocksRequest& request() const { return request_; }
  /// Why the server is closing, for logs (e.g. "wrong username or password"); empty otherwise.
  const std::string& failure() const { return failure_; }

  /// Queues the reply to the request with the server-side `bound` address (may be empty);
  /// kSucceeded moves to kEstablished, any other code to kClosing. Only valid in kRequestReady.
  void reply(wire::SocksReplyCode code, const util::Address& bound);

 private:
  enum class Phase : std::uint8_t { kGreeting, kAuth, kRequest, kDone };

  void advance(util::TimePoint now);
  // Each returns the bytes of buffered input it used; 0 when it needs more (or waits).
  std::size_t on_greeting(util::ByteView in);
  std::size_t on_auth(util::ByteView in, util::TimePoint now);
  std::size_t on_request(util::ByteView in);
  void close(std::string why);
  bool credentials_match(const wire::SocksUserPassRequest& m) const;

  std::optional<std::pair<std::string, std::string>> user_pass_;
  AuthBackoff* backoff_;
  util::Address client_;
  util::TimePoint deferred_until_ = util::kNever;
  State state_ = State::kNegotiating;
  Phase phase_ = Phase::kGreeting;
  util::Bytes input_;
  util::Bytes output_;
  util::Bytes leftover_;
  wire::SocksRequest request_;
  std::string failure_;
};

}  // namespace punch::forward
