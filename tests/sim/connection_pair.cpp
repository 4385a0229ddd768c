#include "sim/connection_pair.hpp"

namespace punch::sim {

namespace {
SimConfig sim_config(const PairConfig& config) {
  SimConfig s;
  s.seed = config.seed;
  s.max_payload = config.max_payload;
  s.datagram_overhead = config.datagram_overhead;
  s.event_cap = config.event_cap;
  s.deliver_corrupted = config.deliver_corrupted;
  return s;
}
}  // namespace

ConnectionPair::ConnectionPair(const PairConfig& config) : sim_(sim_config(config)) {
  const std::size_t a = sim_.add_node(transport::Role::kClient, config.algorithm);
  const std::size_t b = sim_.add_node(transport::Role::kServer, config.algorithm);
  const std::size_t ab = sim_.add_link(config.a_to_b);
  const std::size_t ba = sim_.add_link(config.b_to_a);
  sim_.route(a, ab, b);
  sim_.route(b, ba, a);
}

}  // namespace punch::sim
