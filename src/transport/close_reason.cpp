#include "transport/close_reason.hpp"

namespace punch::transport {

std::string CloseReason::message() const {
  if (origin == CloseOrigin::kLocal) return text;
  if (text.empty()) return "peer: closed with error " + std::to_string(code);
  return "peer: " + text;
}

}  // namespace punch::transport
