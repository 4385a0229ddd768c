// Fuzz target: arbitrary bytes as DTLS datagrams to handshakes in every state a
// peer can reach: a fresh server, a server that has a ClientHello, a client
// waiting for the server's first flight (fed whole and split in two), and a
// completed pair. Nothing may crash, leak or abort; failures are just failures.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "crypto/handshake.hpp"

namespace {

using punch::crypto::Handshake;
using punch::crypto::Identity;
using punch::crypto::NodeId;
using punch::crypto::SeededRandom;
namespace util = punch::util;
using namespace std::chrono_literals;

const util::TimePoint kEpoch = util::TimePoint{} + 1000h;

Handshake::PeerCheck accept_any() {
  return [](const NodeId&) -> util::Status { return util::ok_status(); };
}

// Keys and a recorded clean handshake, made once: key generation is slow.
struct Fixture {
  Fixture() : rng(1), client_id(make(rng)), server_id(make(rng)) {
    Handshake client(Handshake::Role::kClient, client_id, accept_any(), rng);
    Handshake server(Handshake::Role::kServer, server_id, accept_any(), rng);
    client.start(kEpoch);
    for (int round = 0; round < 4; ++round) {
      for (auto& d : client.take_outgoing()) {
        server.on_datagram(d, kEpoch);
        flights.push_back(std::move(d));
      }
      for (auto& d : server.take_outgoing()) {
        client.on_datagram(d, kEpoch);
        flights.push_back(std::move(d));
      }
    }
  }
  static Identity make(SeededRandom& r) { return std::move(*Identity::generate(r)); }

  SeededRandom rng;
  Identity client_id;
  Identity server_id;
  // ClientHello, server flight 1, client flight 2, server's final flight.
  std::vector<util::Bytes> flights;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// Feeds `d` and runs the timers through to the give-up point, as a session would.
void feed(Handshake& hs, util::ByteView d) {
  hs.on_datagram(d, kEpoch + 1ms);
  (void)hs.take_outgoing();
  for (int i = 0; i < 8 && hs.next_deadline() != util::kNever; ++i) {
    hs.on_timeout(hs.next_deadline());
    (void)hs.take_outgoing();
  }
  (void)hs.complete();
  (void)hs.failure();
}

}  // namespace

extern "C" std::size_t punch_fuzz_seed(std::size_t index, std::uint8_t* out, std::size_t cap) {
  const auto& flights = fixture().flights;
  if (index >= flights.size() || flights[index].size() > cap) return 0;
  std::memcpy(out, flights[index].data(), flights[index].size());
  return flights[index].size();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  const util::ByteView input(data, size);
  SeededRandom rng(size);

  {  // A listener that has heard nothing yet.
    Handshake server(Handshake::Role::kServer, f.server_id, accept_any(), rng);
    server.start(kEpoch);
    feed(server, input);
  }
  {  // A connector waiting for the server's first flight, fed whole and in two parts.
    Handshake whole(Handshake::Role::kClient, f.client_id, accept_any(), rng);
    whole.start(kEpoch);
    (void)whole.take_outgoing();
    feed(whole, input);

    Handshake split(Handshake::Role::kClient, f.client_id, accept_any(), rng);
    split.start(kEpoch);
    (void)split.take_outgoing();
    split.on_datagram(input.first(size / 2), kEpoch + 1ms);
    feed(split, input.subspan(size / 2));
  }
  // The next two states cost a key exchange and signatures to reach, so that
  // `make test` stays fast they run for inputs aimed at them (records whose first
  // handshake message is a Certificate: the client's second flight) and for a
  // share of the rest.
  const unsigned lottery = size > 0 ? data[size / 2] : 0;
  if ((size > 13 && data[0] == 22 && data[13] == 11) || lottery % 16 == 1) {
    // A listener that has answered a ClientHello and waits for the client's flight.
    Handshake server(Handshake::Role::kServer, f.server_id, accept_any(), rng);
    server.on_datagram(f.flights[0], kEpoch);
    (void)server.take_outgoing();
    feed(server, input);
  }
  if (lottery % 32 == 0) {  // a completed pair: the input as a stray late record
    Handshake client(Handshake::Role::kClient, f.client_id, accept_any(), rng);
    Handshake server(Handshake::Role::kServer, f.server_id, accept_any(), rng);
    client.start(kEpoch);
    for (int round = 0; round < 4; ++round) {
      for (auto& d : client.take_outgoing()) server.on_datagram(d, kEpoch);
      for (auto& d : server.take_outgoing()) client.on_datagram(d, kEpoch);
    }
    feed(client, input);
    feed(server, input);
  }
  return 0;
}
