#include "path/strategy.hpp"

namespace punch::path {

// The port (or even the address) a peer would have to reach is picked per destination.
bool unpredictable(Mapping m) {
  return m == Mapping::kEndpointDependent || m == Mapping::kAddressVaries;
}

Strategy choose_strategy(Mapping local, Mapping peer) {
  if (local == Mapping::kUnknown || peer == Mapping::kUnknown) return Strategy::kDirect;
  // Both unpredictable: each side's mapping towards the other is unknown, and a
  // mapping only lets in the exact address it was opened towards.
  if (unpredictable(local) && unpredictable(peer)) return Strategy::kRelay;
  // A pool picks even the address per destination: against a NAT that filters, the
  // guess would span addresses times ports. Only an open peer (no filter) learns it.
  if ((local == Mapping::kAddressVaries && peer != Mapping::kNone) ||
      (peer == Mapping::kAddressVaries && local != Mapping::kNone))
    return Strategy::kRelay;
  if (unpredictable(local) || unpredictable(peer)) return Strategy::kBirthday;
  return Strategy::kDirect;
}

std::string strategy_token(Strategy s) {
  switch (s) {
    case Strategy::kBirthday:
      return "birthday";
    case Strategy::kRelay:
      return "relay";
    case Strategy::kDirect:
      break;
  }
  return "direct";
}

}  // namespace punch::path
