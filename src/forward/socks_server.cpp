#include "forward/socks_server.hpp"

#include <mbedtls/sha256.h>

#include <array>
#include <cstddef>

#include "forward/constants.hpp"
#include "util/assert.hpp"

namespace punch::forward {
namespace {

using Digest = std::array<std::uint8_t, 32>;

// False only if mbedTLS fails, which it does not for in-memory input; the caller
// then refuses the credentials rather than comparing unset digests.
bool sha256(std::string_view s, Digest& out) {
  return mbedtls_sha256_ret(util::as_bytes(s).data(), s.size(), out.data(), 0) == 0;
}

// Accumulates differences over every byte, so the time taken does not tell a
// guesser how many leading bytes were right.
std::uint8_t digest_difference(const Digest& a, const Digest& b) {
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
  return diff;
}

std::string_view command_name(wire::SocksCommand command) {
  switch (command) {
    case wire::SocksCommand::kConnect:
      return "CONNECT";
    case wire::SocksCommand::kBind:
      return "BIND";
    case wire::SocksCommand::kUdpAssociate:
      return "UDP ASSOCIATE";
  }
  return "unknown";
}

}  // namespace

SocksServer::SocksServer(std::optional<std::pair<std::string, std::string>> user_pass,
                         AuthBackoff* backoff, util::Address client)
    : user_pass_(std::move(user_pass)), backoff_(backoff), client_(client) {}

void SocksServer::on_data(util::ByteView data, util::TimePoint now) {
  if (state_ == State::kClosing) return;  // nothing more will be read or answered
  if (phase_ == Phase::kDone) {
    leftover_.insert(leftover_.end(), data.begin(), data.end());
    return;
  }
  input_.insert(input_.end(), data.begin(), data.end());
  if (deferred_until_ == util::kNever) advance(now);  // else on_timeout() carries on
  if (deferred_until_ != util::kNever && input_.size() > kSocksMaxDeferredInput) {
    close("client sent too much while its password check waited");
    input_.clear();
  }
}

void SocksServer::on_timeout(util::TimePoint now) {
  if (deferred_until_ == util::kNever || now < deferred_until_) return;
  deferred_until_ = util::kNever;
  advance(now);
}

void SocksServer::advance(util::TimePoint now) {
  std::size_t pos = 0;
  while (state_ == State::kNegotiating) {
    const util::ByteView in = util::ByteView(input_).subspan(pos);
    std::size_t used = 0;
    switch (phase_) {
      case Phase::kGreeting:
        used = on_greeting(in);
        break;
      case Phase::kAuth:
        used = on_auth(in, now);
        break;
      case Phase::kRequest:
        used = on_request(in);
        break;
      case Phase::kDone:
        break;
    }
    if (used == 0) break;
    pos += used;
  }
  if (state_ == State::kRequestReady) {
    // Whatever the client pipelined after its request is payload for the target.
    leftover_.insert(leftover_.end(), input_.begin() + static_cast<std::ptrdiff_t>(pos),
                     input_.end());
    input_.clear();
  } else if (state_ == State::kClosing) {
    input_.clear();
  } else {
    // Still negotiating: what is left is a proper prefix of one message, which the
    // decoders bound (kSocksMaxRequestSize at most), or, while a password check waits,
    // what the client pipelined after it (bounded in on_data).
    input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(pos));
  }
}

util::Bytes SocksServer::take_output() { return std::exchange(output_, {}); }

util::Bytes SocksServer::take_leftover() { return std::exchange(leftover_, {}); }

void SocksServer::reply(wire::SocksReplyCode code, const util::Address& bound) {
  // Answering twice, or before a request, is a bug in the caller, not peer input.
  PUNCH_ASSERT(state_ == State::kRequestReady);
  wire::encode(wire::SocksReply{code, bound}, output_);
  if (code == wire::SocksReplyCode::kSucceeded) {
    state_ = State::kEstablished;
    return;
  }
  leftover_.clear();
  close("request refused with SOCKS5 reply code " + std::to_string(static_cast<unsigned>(code)));
}

std::size_t SocksServer::on_greeting(util::ByteView in) {
  const auto d = wire::decode_socks_greeting(in);
  if (d.need_more()) return 0;
  if (d.malformed()) {
    close("not a SOCKS5 client");
    return 0;
  }
  // With credentials configured, only username/password will do: accepting "no
  // authentication" as well would make the credentials pointless.
  const wire::SocksMethod wanted =
      user_pass_ ? wire::SocksMethod::kUserPass : wire::SocksMethod::kNoAuth;
  if (!d.message.offers(wanted)) {
    wire::encode(wire::SocksMethodSelection{wire::SocksMethod::kNoAcceptable}, output_);
    close(user_pass_ ? "client does not offer username/password authentication"
                     : "client does not offer \"no authentication\"");
    return 0;
  }
  wire::encode(wire::SocksMethodSelection{wanted}, output_);
  phase_ = user_pass_ ? Phase::kAuth : Phase::kRequest;
  return d.consumed;
}

std::size_t SocksServer::on_auth(util::ByteView in, util::TimePoint now) {
  const auto d = wire::decode_socks_userpass_request(in);
  if (d.need_more()) return 0;
  if (d.malformed()) {
    close("malformed username/password request");
    return 0;
  }
  if (backoff_ != nullptr) {
    // The check itself waits, not its reply: a guesser learns nothing sooner by
    // opening more connections, as they all wait for the same client's turn.
    const util::TimePoint ready = backoff_->ready_at(client_, now);
    if (ready > now) {
      deferred_until_ = ready;
      return 0;
    }
  }
  if (!credentials_match(d.message)) {
    if (backoff_ != nullptr) backoff_->on_failure(client_, now);
    // RFC 1929: a non-zero status, then the server must close the connection.
    wire::encode(wire::SocksUserPassReply{wire::kSocksAuthFailure}, output_);
    close("wrong username or password");
    return 0;
  }
  if (backoff_ != nullptr) backoff_->on_success(client_);
  wire::encode(wire::SocksUserPassReply{wire::kSocksAuthSuccess}, output_);
  phase_ = Phase::kRequest;
  return d.consumed;
}

std::size_t SocksServer::on_request(util::ByteView in) {
  const auto d = wire::decode_socks_request(in);
  if (d.need_more()) return 0;
  if (d.malformed()) {
    if (!d.reply) {
      close("not a SOCKS5 request");
      return 0;
    }
    wire::encode(wire::SocksReply{*d.reply, {}}, output_);
    switch (*d.reply) {
      case wire::SocksReplyCode::kCommandNotSupported:
        close("unsupported command");
        break;
      case wire::SocksReplyCode::kAddressTypeNotSupported:
        close("unsupported address type");
        break;
      default:
        close("malformed request");
        break;
    }
    return 0;
  }
  if (d.message.command != wire::SocksCommand::kConnect) {
    wire::encode(wire::SocksReply{wire::SocksReplyCode::kCommandNotSupported, {}}, output_);
    close("unsupported command " + std::string(command_name(d.message.command)));
    return 0;
  }
  request_ = d.message;
  phase_ = Phase::kDone;
  state_ = State::kRequestReady;
  return d.consumed;
}

void SocksServer::close(std::string why) {
  deferred_until_ = util::kNever;
  phase_ = Phase::kDone;
  state_ = State::kClosing;
  failure_ = std::move(why);
}

bool SocksServer::credentials_match(const wire::SocksUserPassRequest& m) const {
  PUNCH_ASSERT(user_pass_.has_value());
  // Comparing digests rather than the strings hides the configured lengths too.
  Digest user{};
  Digest want_user{};
  Digest pass{};
  Digest want_pass{};
  const bool hashed = sha256(m.username, user) && sha256(user_pass_->first, want_user) &&
                      sha256(m.password, pass) && sha256(user_pass_->second, want_pass);
  const auto diff = static_cast<std::uint8_t>(digest_difference(user, want_user) |
                                              digest_difference(pass, want_pass));
  return hashed && diff == 0;
}

}  // namespace punch::forward
