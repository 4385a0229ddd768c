#include "sim/connection_pair.hpp"

namespace punch::sim {

ConnectionPair::ConnectionPair(const PairConfig& config)
    : sim_(SimConfig{config.seed, config.max_payload, config.event_cap, config.deliver_corrupted}) {
  const std::size_t a = sim_.add_node(transport::Role::kClient, config.algorithm);
  const std::size_t b = sim_.add_node(transport::Role::kServer, config.algorithm);
  const std::size_t ab = sim_.add_link(config.a_to_b);
  const std::size_t ba = sim_.add_link(config.b_to_a);
  sim_.route(a, ab, b);
  sim_.route(b, ba, a);
}

}  // namespace punch::sim
