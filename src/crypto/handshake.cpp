#include "crypto/handshake.hpp"

#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cstring>
#include <exception>

#include "util/assert.hpp"

namespace punch::crypto {

namespace {

// Only AEAD suites with ephemeral ECDH and ECDSA certificates; ChaCha20 first
// because it measured faster than AES-GCM on our machines.
const int kCiphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    0,
};
// X25519 for key exchange when both sides have it; P-256 is also the only curve
// accepted for certificate keys, so it must be in the list.
const mbedtls_ecp_group_id kCurves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_NONE,
};
const int kSigHashes[] = {MBEDTLS_MD_SHA256, MBEDTLS_MD_NONE};

// DTLS flight retransmission: first after 400 ms (a relayed round trip plus
// margin), doubling to 6400 ms; mbedTLS gives up when the 6400 ms wait expires,
// about 12.4 s after the last progress.
constexpr std::uint32_t kRetransmitMinMs = 400;
constexpr std::uint32_t kRetransmitMaxMs = 6400;

constexpr char kExporterLabel[] = "EXPORTER-punch-session";
constexpr std::size_t kDirectionBytes = 32 + 12;

std::string mbedtls_message(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

const char* alert_name(unsigned char code) {
  switch (code) {
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
      return "handshake_failure";
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
      return "bad_certificate";
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
      return "unsupported_certificate";
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
      return "certificate_unknown";
    case MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER:
      return "illegal_parameter";
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
      return "unknown_ca";
    case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED:
      return "access_denied";
    case MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR:
      return "decode_error";
    case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR:
      return "decrypt_error";
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
      return "protocol_version";
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY:
      return "insufficient_security";
    case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR:
      return "internal_error";
    case MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE:
      return "unexpected_message";
    case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC:
      return "bad_record_mac";
    default:
      return "other";
  }
}

}  // namespace

struct Handshake::State {
  State(Role r, const Identity& id, PeerCheck c, RandomSource& rand)
      : role(r), identity(id), check(std::move(c)), rng(rand) {
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&own_cert);
  }
  ~State() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&own_cert);
    mbedtls_platform_zeroize(&keys, sizeof keys);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  void setup();
  void drive();
  void fail(std::string why);
  void reset_server();

  // mbedTLS callbacks; `ctx` is the State, which never moves (it lives behind a
  // unique_ptr), so the pointers mbedTLS keeps stay valid.
  static int bio_send(void* ctx, const unsigned char* buf, std::size_t len);
  static int bio_recv(void* ctx, unsigned char* buf, std::size_t len);
  static void timer_set(void* ctx, std::uint32_t int_ms, std::uint32_t fin_ms);
  static int timer_get(void* ctx);
  static int verify(void* ctx, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags);
  static int export_keys(void* ctx, const unsigned char* ms, const unsigned char* kb,
                         std::size_t maclen, std::size_t keylen, std::size_t ivlen,
                         const unsigned char client_random[32],
                         const unsigned char server_random[32], mbedtls_tls_prf_types prf);

  Role role;
  const Identity& identity;
  PeerCheck check;
  RandomSource& rng;

  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  mbedtls_x509_crt own_cert;

  // The clock as of the current call: mbedTLS timers read this, never a real clock.
  util::TimePoint now{};
  util::TimePoint timer_start{};
  std::uint32_t timer_int_ms = 0;
  std::uint32_t timer_fin_ms = 0;  // 0: timer cancelled

  util::ByteView incoming;  // the datagram being fed, until mbedTLS has read it
  bool incoming_pending = false;
  std::vector<util::Bytes> outgoing;

  bool started = false;
  bool done = false;
  // After completion, a fatal error (e.g. a later alert) stops us feeding mbedTLS.
  bool dead = false;
  std::optional<std::string> failure;
  std::optional<std::string> verify_failure;  // why our verify callback refused
  NodeId peer;
  bool keys_exported = false;
  SessionKeys keys;
};

void Handshake::State::setup() {
  const int endpoint = role == Role::kClient ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER;
  int rc = mbedtls_ssl_config_defaults(&conf, endpoint, MBEDTLS_SSL_TRANSPORT_DATAGRAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT);
  PUNCH_ASSERT(rc == 0);
  mbedtls_ssl_conf_rng(&conf, rng_callback, &rng);
  mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&conf, kCiphersuites);
  mbedtls_ssl_conf_curves(&conf, kCurves);
  mbedtls_ssl_conf_sig_hashes(&conf, kSigHashes);
  // Trust comes from the verify callback pinning the key's NodeId, not from a CA.
  mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_verify(&conf, &State::verify, this);
  mbedtls_ssl_conf_handshake_timeout(&conf, kRetransmitMinMs, kRetransmitMaxMs);
  mbedtls_ssl_conf_export_keys_ext_cb(&conf, &State::export_keys, this);
  // One full handshake per session: no resumption state to keep or leak.
  mbedtls_ssl_conf_session_tickets(&conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
  if (role == Role::kServer) {
    // The rendezvous already proved return routability, and a cookie round trip
    // would add a relayed RTT to every session.
    mbedtls_ssl_conf_dtls_cookies(&conf, nullptr, nullptr, nullptr);
  }

  const util::Bytes& der = identity.certificate(rng);
  rc = mbedtls_x509_crt_parse_der(&own_cert, der.data(), der.size());
  PUNCH_ASSERT(rc == 0);
  rc = mbedtls_ssl_conf_own_cert(&conf, &own_cert, identity.pk());
  PUNCH_ASSERT(rc == 0);
  // mbedTLS refuses to verify without a CA chain. Our own certificate serves: the
  // peer's is not signed by it, so mbedTLS flags it untrusted and the verify
  // callback alone decides (it is called whatever the chain's verdict).
  mbedtls_ssl_conf_ca_chain(&conf, &own_cert, nullptr);
  if (role == Role::kServer) {
    // Listing our "CA" in the CertificateRequest would only add bytes.
    mbedtls_ssl_conf_cert_req_ca_list(&conf, MBEDTLS_SSL_CERT_REQ_CA_LIST_DISABLED);
  }

  rc = mbedtls_ssl_setup(&ssl, &conf);
  PUNCH_ASSERT(rc == 0);
  mbedtls_ssl_set_bio(&ssl, this, &State::bio_send, &State::bio_recv, nullptr);
  mbedtls_ssl_set_timer_cb(&ssl, this, &State::timer_set, &State::timer_get);
  mbedtls_ssl_set_mtu(&ssl, static_cast<std::uint16_t>(kMaxDatagram));
}

int Handshake::State::bio_send(void* ctx, const unsigned char* buf, std::size_t len) {
  auto* s = static_cast<State*>(ctx);
  s->outgoing.emplace_back(buf, buf + len);
  return static_cast<int>(len);
}

int Handshake::State::bio_recv(void* ctx, unsigned char* buf, std::size_t len) {
  auto* s = static_cast<State*>(ctx);
  if (!s->incoming_pending) return MBEDTLS_ERR_SSL_WANT_READ;
  s->incoming_pending = false;
  // A datagram bigger than mbedTLS's whole record buffer cannot be ours: drop it.
  if (s->incoming.size() > len || s->incoming.empty()) return MBEDTLS_ERR_SSL_WANT_READ;
  std::memcpy(buf, s->incoming.data(), s->incoming.size());
  return static_cast<int>(s->incoming.size());
}

void Handshake::State::timer_set(void* ctx, std::uint32_t int_ms, std::uint32_t fin_ms) {
  auto* s = static_cast<State*>(ctx);
  s->timer_start = s->now;
  s->timer_int_ms = int_ms;
  s->timer_fin_ms = fin_ms;
}

int Handshake::State::timer_get(void* ctx) {
  const auto* s = static_cast<const State*>(ctx);
  if (s->timer_fin_ms == 0) return -1;
  const auto elapsed = s->now - s->timer_start;
  if (elapsed >= std::chrono::milliseconds(s->timer_fin_ms)) return 2;
  if (elapsed >= std::chrono::milliseconds(s->timer_int_ms)) return 1;
  return 0;
}

int Handshake::State::verify(void* ctx, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags) {
  auto* s = static_cast<State*>(ctx);
  // Only the leaf matters: its key signed the handshake, and the ID pins that key.
  // Anything above it keeps mbedTLS's verdict (our peers never send a chain).
  if (depth != 0) return 0;
  if (mbedtls_pk_get_type(&crt->pk) != MBEDTLS_PK_ECKEY ||
      mbedtls_pk_ec(crt->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
    s->verify_failure = "peer's certificate key is not ECDSA P-256";
    *flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
    return 0;
  }
  // Re-encode rather than hash the certificate's bytes, so the ID is computed
  // exactly as Identity::public_key_der() produces it.
  unsigned char buf[256];
  const int n = mbedtls_pk_write_pubkey_der(&crt->pk, buf, sizeof buf);
  if (n <= 0) {
    s->verify_failure = "peer's certificate key cannot be encoded";
    *flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
    return 0;
  }
  const NodeId id = NodeId::from_public_key({buf + sizeof buf - n, static_cast<std::size_t>(n)});
  // An exception must not unwind through mbedTLS's C frames.
  util::Status verdict = util::Error{"peer check failed"};
  try {
    verdict = s->check ? s->check(id) : util::ok_status();
  } catch (const std::exception& e) {
    verdict = util::Error{std::string("peer check failed: ") + e.what()};
  } catch (...) {
  }
  if (!verdict.ok()) {
    s->verify_failure = verdict.error().message;
    *flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
    return 0;
  }
  s->peer = id;
  s->verify_failure.reset();
  // Self-signed and unknown to any CA, expired by mbedTLS's wall clock: none of
  // that matters once the key is pinned.
  *flags = 0;
  return 0;
}

int Handshake::State::export_keys(void* ctx, const unsigned char* ms, const unsigned char*,
                                  std::size_t, std::size_t, std::size_t,
                                  const unsigned char client_random[32],
                                  const unsigned char server_random[32],
                                  mbedtls_tls_prf_types prf) {
  auto* s = static_cast<State*>(ctx);
  // RFC 5705 exporter without context: PRF(master_secret, label,
  // client_random || server_random).
  unsigned char randoms[64];
  std::memcpy(randoms, client_random, 32);
  std::memcpy(randoms + 32, server_random, 32);
  unsigned char out[2 * kDirectionBytes];
  const int rc =
      mbedtls_ssl_tls_prf(prf, ms, 48, kExporterLabel, randoms, sizeof randoms, out, sizeof out);
  if (rc != 0) return rc;
  const unsigned char* p = out;
  std::memcpy(s->keys.client_to_server.key.data(), p, 32);
  std::memcpy(s->keys.client_to_server.iv.data(), p + 32, 12);
  std::memcpy(s->keys.server_to_client.key.data(), p + kDirectionBytes, 32);
  std::memcpy(s->keys.server_to_client.iv.data(), p + kDirectionBytes + 32, 12);
  mbedtls_platform_zeroize(out, sizeof out);
  s->keys_exported = true;
  return 0;
}

void Handshake::State::reset_server() {
  const int rc = mbedtls_ssl_session_reset(&ssl);
  PUNCH_ASSERT(rc == 0);
  outgoing.clear();
  timer_fin_ms = 0;
  keys_exported = false;
  verify_failure.reset();
}

void Handshake::State::fail(std::string why) {
  if (!failure) failure = std::move(why);
  timer_fin_ms = 0;
}

void Handshake::State::drive() {
  if (failure || dead) return;
  if (!done) {
    const int rc = mbedtls_ssl_handshake(&ssl);
    if (rc == 0) {
      // The export callback runs before Finished; a handshake without it would
      // leave us with no keys, which only a broken mbedTLS build could cause.
      PUNCH_ASSERT(keys_exported);
      done = true;
    } else if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
      return;
    } else if (role == Role::kServer && ssl.state <= MBEDTLS_SSL_CLIENT_HELLO) {
      // mbedTLS parses a server's first record itself and fails on anything but a
      // good ClientHello, where DTLS would drop it. A stray datagram must not cost
      // the listener its session, so start over and wait for the real one; any
      // alert it made stays unsent (an answer to junk would help nobody).
      reset_server();
      return;
    } else if (rc == MBEDTLS_ERR_SSL_TIMEOUT) {
      fail("handshake timed out");
      return;
    } else if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && verify_failure) {
      fail(*verify_failure);
      return;
    } else if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
      const unsigned char code = ssl.in_msg != nullptr ? ssl.in_msg[1] : 0;
      // A punch peer sends unknown_ca exactly when its PeerCheck refused our ID.
      const std::string what = code == MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA
                                   ? "peer refused our identity"
                                   : "peer sent alert";
      fail("handshake failed: " + what + " (alert " + alert_name(code) + ", " +
           std::to_string(code) + ")");
      return;
    } else {
      fail("handshake failed: " + mbedtls_message(rc));
      return;
    }
  }
  // Completed: reading lets mbedTLS answer a retransmitted final flight with ours.
  // Application data never travels in DTLS records, so whatever is read is dropped.
  unsigned char discard[256];
  for (;;) {
    const int rc = mbedtls_ssl_read(&ssl, discard, sizeof discard);
    if (rc > 0) continue;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
        rc == MBEDTLS_ERR_SSL_TIMEOUT)
      return;
    // Keys are agreed and stay valid; the DTLS side is just finished with.
    dead = true;
    timer_fin_ms = 0;
    return;
  }
}

Handshake::Handshake(Role role, const Identity& identity, PeerCheck check, RandomSource& rng)
    : state_(std::make_unique<State>(role, identity, std::move(check), rng)) {
  state_->setup();
}

Handshake::Handshake(Handshake&&) noexcept = default;
Handshake& Handshake::operator=(Handshake&&) noexcept = default;
Handshake::~Handshake() = default;

void Handshake::start(util::TimePoint now) {
  State& s = *state_;
  s.now = now;
  if (s.started) return;
  s.started = true;
  s.drive();
}

void Handshake::on_datagram(util::ByteView records, util::TimePoint now) {
  State& s = *state_;
  s.now = now;
  s.started = true;
  s.incoming = records;
  s.incoming_pending = true;
  s.drive();
  s.incoming_pending = false;
  s.incoming = {};
}

std::vector<util::Bytes> Handshake::take_outgoing() { return std::exchange(state_->outgoing, {}); }

util::TimePoint Handshake::next_deadline() const {
  const State& s = *state_;
  if (s.failure || s.dead || !s.started || s.timer_fin_ms == 0) return util::kNever;
  return s.timer_start + std::chrono::milliseconds(s.timer_fin_ms);
}

void Handshake::on_timeout(util::TimePoint now) {
  State& s = *state_;
  s.now = now;
  if (!s.started) return;
  s.drive();
}

bool Handshake::complete() const { return state_->done; }

std::optional<std::string> Handshake::failure() const { return state_->failure; }

const NodeId& Handshake::peer_id() const { return state_->peer; }

const SessionKeys& Handshake::keys() const { return state_->keys; }

std::string Handshake::cipher_suite() const {
  if (!state_->done) return {};
  const char* name = mbedtls_ssl_get_ciphersuite(&state_->ssl);
  return name != nullptr ? name : "";
}

}  // namespace punch::crypto
