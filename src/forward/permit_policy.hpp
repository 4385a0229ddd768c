// The listener's policy for what a peer may ask of it: which targets -L, -D and
// HOST:PORT streams may open (--permit-open, default: anything, as ssh) and where
// -R may listen (loopback, elsewhere only with --gateway-ports).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "forward/forward_spec.hpp"
#include "util/result.hpp"

namespace punch::forward {

/// Decides open and bind requests against --permit-open patterns and --gateway-ports.
class PermitPolicy {
 public:
  /// Allows every target and loopback binds only.
  PermitPolicy() = default;
  /// Allows targets matching any of `permit_open` (all when empty) and non-loopback binds
  /// when `gateway_ports` is set.
  PermitPolicy(std::vector<HostPortPattern> permit_open, bool gateway_ports);

  /// Parses each --permit-open string with parse_permit_open(); the first bad one is the error.
  static util::Result<PermitPolicy> parse(const std::vector<std::string>& permit_open,
                                          bool gateway_ports);

  /// True when `host` (a name or an IP literal, brackets optional) and `port` may be opened.
  /// Names match case-insensitively; IP literals are compared in their canonical text form,
  /// and patterns made of IPv4 digits and dots or holding a colon match IP literals only, so
  /// that "10.0.0.*" cannot be met by a name such as "10.0.0.1.example.net".
  bool permits_open(std::string_view host, std::uint16_t port) const;
  /// Ok for loopback binds ("", "localhost", 127.0.0.0/8, ::1) and, with gateway ports,
  /// any other; else an error such as "binding on 0.0.0.0 needs --gateway-ports on the listener".
  util::Status permits_bind(std::string_view bind_host) const;

  /// The patterns this policy allows; empty means anything.
  const std::vector<HostPortPattern>& permit_open() const { return permit_open_; }
  /// True when binds beyond loopback are allowed.
  bool gateway_ports() const { return gateway_ports_; }

 private:
  std::vector<HostPortPattern> permit_open_;
  bool gateway_ports_ = false;
};

/// True when `text` matches the glob `pattern` (`*` any run, `?` any one character),
/// ignoring ASCII case.
bool glob_match(std::string_view pattern, std::string_view text);
/// True when `bind_host` names a loopback address: "", "localhost", 127.0.0.0/8 or ::1.
bool is_loopback_bind(std::string_view bind_host);

}  // namespace punch::forward
