// Fuzz target for the rendezvous server: arbitrary datagrams from a few
// addresses, interleaved with authenticated messages that carry real tokens (the
// fuzzer cannot guess those, so the harness fills them in) and with time jumps.
// Nothing may crash, and addresses that never authenticated must never receive
// more bytes than they sent (ARCHITECTURE.md decision 8).
//
// Input: records of op(1) arg(1) len(1) data(len). Registering costs ECDSA work,
// so the server and its two registrations persist across inputs and are rebuilt
// every kInputsPerServer inputs (or when a registration expired); a crash
// therefore may need the inputs before it to replay.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "rendezvous/server.hpp"
#include "util/assert.hpp"
#include "util/datagram_sink.hpp"
#include "wire/rendezvous_message.hpp"
#include "wire/session_packet.hpp"

namespace wire = punch::wire;
namespace util = punch::util;
namespace crypto = punch::crypto;
using namespace std::chrono_literals;

namespace {

constexpr int kInputsPerServer = 512;

// Sources that never hold a token: the anti-amplification rule applies to them.
const util::Address kRaw[2] = {util::Address::v4(10, 0, 0, 1, 1),
                               *util::Address::parse("[2001:db8::1]:2")};
const util::Address kHome[2] = {util::Address::v4(10, 1, 0, 1, 1000),
                                util::Address::v4(10, 2, 0, 1, 2000)};
const util::Address kRebound[2] = {util::Address::v4(10, 1, 0, 1, 1001),
                                   util::Address::v4(10, 2, 0, 1, 2001)};
// A probe address on another IP of the rendezvous host (punch rendezvous --probe-address).
const util::Address kOtherIp = util::Address::v4(192, 0, 2, 3, 7778);

struct Sink final : util::DatagramSink {
  void send(const util::Address& to, util::ByteView data) override {
    sent[to] += data.size();
    last.assign(data.begin(), data.end());
  }
  std::map<util::Address, std::uint64_t> sent;
  util::Bytes last;
};

struct Client {
  std::uint64_t instance = 0;
  wire::Token token{};
  crypto::NodeId id;
  util::Address address;
};

const crypto::Identity& identity(int i) {
  static const auto ids = [] {
    std::vector<crypto::Identity> v;
    for (std::uint64_t seed : {1u, 2u}) {
      crypto::SeededRandom rng(seed);
      auto r = crypto::Identity::generate(rng);
      PUNCH_ASSERT(r.ok());
      v.push_back(std::move(r.value()));
    }
    return v;
  }();
  return ids[static_cast<std::size_t>(i)];
}

struct Harness {
  crypto::SeededRandom rng{7};
  Sink sink;
  util::TimePoint now = util::TimePoint{} + 1h;
  std::unique_ptr<punch::rendezvous::Server> server;
  Client clients[2];
  std::map<util::Address, std::uint64_t> received;
  int inputs = 0;

  template <typename Message>
  void send(const util::Address& from, const Message& m) {
    util::Bytes b;
    wire::encode(m, b);
    deliver(from, b);
  }
  void deliver(const util::Address& from, util::ByteView b) {
    received[from] += b.size();
    server->on_datagram(from, b, now);
  }

  void reset() {
    now += 1h;
    sink = Sink{};
    received.clear();
    server = std::make_unique<punch::rendezvous::Server>(rng, sink, nullptr, now);
    server->set_probe_port(7778);             // as `punch rendezvous` runs by default
    server->set_probe_addresses({kOtherIp});  // and with one --probe-address
    for (int i = 0; i < 2; ++i) {
      Client& c = clients[i];
      c.address = kHome[i];
      c.instance = 100 + static_cast<std::uint64_t>(i);
      c.id = identity(i).id();
      const wire::Nonce nonce{static_cast<std::uint8_t>(i)};
      send(c.address, wire::Hello{nonce});
      const auto ch = wire::decode_challenge(sink.last);
      PUNCH_ASSERT(ch.has_value());
      wire::Register reg{nonce, ch->cookie, c.instance, wire::kRegisterFlagListener, {}, {}};
      reg.spki = identity(i).public_key_der();
      util::Bytes signed_data;
      wire::append_register_signed_data(reg.nonce, reg.cookie, reg.instance, reg.flags,
                                        signed_data);
      reg.signature = identity(i).sign(signed_data, rng);
      send(c.address, reg);
      const auto ok = wire::decode_registered(sink.last);
      PUNCH_ASSERT(ok.has_value() && ok->probe_addresses.size() == 2 &&
                   ok->probe_addresses[0].port == 7778 && ok->probe_addresses[1] == kOtherIp);
      c.token = ok->token;
    }
    // One active relay (cid 1) for the fuzzer to poke at.
    send(clients[1].address,
         wire::Connect{clients[1].instance, clients[1].token, 1, clients[0].id});
    send(clients[0].address, wire::Accept{clients[0].instance, clients[0].token, 1});
  }

  void run(util::ByteView in) {
    // Also rebuild once a registration expired: without tokens the fuzzer only
    // reaches the unauthenticated paths.
    if (!server || ++inputs % kInputsPerServer == 0 || server->stats().registrations < 2) reset();
    // Keep both registrations alive between inputs, so that rebuilding (ECDSA work)
    // stays rare; expiry is still reached by the 100 s jumps within an input.
    for (const Client& c : clients) send(c.address, wire::Keepalive{c.instance, c.token});
    util::ByteReader r(in);
    while (r.remaining() >= 3) {
      const std::uint8_t op = r.u8();
      const std::uint8_t arg = r.u8();
      const std::uint8_t len = r.u8();
      const util::ByteView data = r.bytes(std::min<std::size_t>(len, r.remaining()));
      Client& c = clients[arg & 1];
      const std::uint64_t cid = 1 + (data.empty() ? 0 : data[0] % 4);
      switch (op % 7) {
        case 0:
          deliver(kRaw[arg & 1], data);
          break;
        case 1:
          deliver(c.address, data);
          break;
        case 2: {
          // An authenticated keepalive, possibly from a rebound address.
          if (arg & 2) c.address = kRebound[arg & 1];
          send(c.address, wire::Keepalive{c.instance, c.token});
          break;
        }
        case 3: {
          crypto::NodeId target = clients[(arg >> 1) & 1].id;
          if (data.size() >= 17) target = *crypto::NodeId::from_bytes(data.subspan(1, 16));
          send(c.address, wire::Connect{c.instance, c.token, cid, target});
          break;
        }
        case 4:
          if (arg & 2) {
            send(c.address, wire::Accept{c.instance, c.token, cid});
          } else {
            send(c.address,
                 wire::Refuse{c.instance, c.token, cid, std::string(data.begin(), data.end())});
          }
          break;
        case 5: {
          util::Bytes packet;
          wire::encode_handshake_packet(1 + arg % 4, data, packet);
          deliver((arg & 4) ? kRaw[(arg >> 3) & 1] : clients[(arg >> 3) & 1].address, packet);
          break;
        }
        default:
          // Mostly small steps; 255 jumps past every expiry.
          now += arg == 255 ? util::Duration(100s) : arg * util::Duration(10ms);
          if (server->next_deadline() <= now) server->on_timeout(now);
          break;
      }
    }
    for (const auto& a : kRaw) PUNCH_ASSERT(sink.sent[a] <= received[a]);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness h;
  h.run(util::ByteView(data, size));
  return 0;
}

// Short programs touching each op, for the driver to mutate.
extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  util::Bytes hello;
  wire::encode(wire::Hello{}, hello);
  std::vector<util::Bytes> seeds;
  util::Bytes s0 = {0, 0, static_cast<std::uint8_t>(hello.size())};
  s0.insert(s0.end(), hello.begin(), hello.end());
  seeds.push_back(s0);
  // A raw PROBE_LIST_REQUEST: answered with the probe addresses, never with more bytes.
  util::Bytes list_request;
  wire::encode(wire::ProbeAddressListRequest{}, list_request);
  util::Bytes s_list = {0, 1, static_cast<std::uint8_t>(list_request.size())};
  s_list.insert(s_list.end(), list_request.begin(), list_request.end());
  seeds.push_back(s_list);
  seeds.push_back({5, 0, 4, 'd', 'a', 't', 'a', 5, 8, 2, 'h', 'i', 5, 4, 1, 'x'});
  seeds.push_back({2, 2, 0, 5, 1, 3, 'm', 'o', 'v', 5, 0, 1, 'y'});
  seeds.push_back({3, 1, 1, 1, 4, 2, 1, 1, 5, 2, 2, 'o', 'k', 4, 0, 3, 2, 'n', 'o'});
  seeds.push_back({6, 200, 0, 6, 254, 0, 5, 0, 1, 'z', 2, 0, 0});
  if (index >= seeds.size() || seeds[index].size() > cap) return 0;
  std::memcpy(out, seeds[index].data(), seeds[index].size());
  return seeds[index].size();
}
