// Forward specifications in ssh's syntax (-L, -R, -D, the HOST:PORT target and
// --permit-open patterns) parsed into plain structs, so the command line only
// collects strings and the services get checked data. IPv6 literals travel in
// brackets on the command line and without them in these structs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace punch::forward {

/// Bind host meaning "every interface", as ssh's `*` (and an explicitly empty bind_address).
inline constexpr std::string_view kAllInterfaces = "*";
/// Where a forward listens when no bind_address is given: loopback, as ssh does.
inline constexpr std::string_view kDefaultBindAddress = "127.0.0.1";
/// Longest host name or bind address, in bytes, so that it fits the stream preamble.
inline constexpr std::size_t kMaxHostSize = 255;

/// A -L or -R forward: listen on bind_host:bind_port, connect to host:host_port.
struct ForwardSpec {
  /// "" when not given (loopback, see default_bind_address()), "*" for all interfaces
  /// (also written as an empty bind_address, `:port:host:hostport`), else a name or an IP
  /// literal without brackets.
  std::string bind_host;
  /// Port to listen on; 0 picks a free one.
  std::uint16_t bind_port = 0;
  /// Host to connect to: a name or an IP literal without brackets.
  std::string host;
  /// Port to connect to, 1-65535.
  std::uint16_t host_port = 0;
  friend bool operator==(const ForwardSpec&, const ForwardSpec&) = default;
};

/// A -D forward: a SOCKS5 server on bind_host:bind_port.
struct DynamicSpec {
  /// As ForwardSpec::bind_host.
  std::string bind_host;
  /// Port to listen on; 0 picks a free one.
  std::uint16_t bind_port = 0;
  friend bool operator==(const DynamicSpec&, const DynamicSpec&) = default;
};

/// A connect target, e.g. from `punch connect PEER HOST:PORT`.
struct HostPort {
  /// A name or an IP literal without brackets.
  std::string host;
  /// 1-65535.
  std::uint16_t port = 0;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

/// A --permit-open pattern; `*` matches any run of characters and `?` any one character.
struct HostPortPattern {
  /// Host glob without brackets, e.g. "*.example.com", "10.0.0.*", "2001:db8::*".
  std::string host;
  /// Port glob of digits and wildcards, e.g. "22", "*", "80?".
  std::string port;
  friend bool operator==(const HostPortPattern&, const HostPortPattern&) = default;
};

/// Parses a -L or -R argument `[bind_address:]port:host:hostport`; `option` ("-L" or "-R")
/// names it in the error, e.g. "-L 'abc': expected [bind_address:]port:host:hostport".
util::Result<ForwardSpec> parse_forward_spec(std::string_view text, std::string_view option);
/// Parses a -D argument `[bind_address:]port`; errors name "-D".
util::Result<DynamicSpec> parse_dynamic_spec(std::string_view text);
/// Parses `HOST:PORT` (`[IPv6]:PORT`) with a port of 1-65535; errors quote `text`.
util::Result<HostPort> parse_host_port(std::string_view text);
/// Parses a --permit-open `HOST:PORT` in which both parts may hold `*` and `?`.
util::Result<HostPortPattern> parse_permit_open(std::string_view text);

/// The address to bind for `bind_host`: "" and "localhost" give "127.0.0.1", "*" gives
/// "0.0.0.0", brackets are stripped and anything else is returned as is. ssh binds both
/// 127.0.0.1 and ::1 for the default; punch binds IPv4 loopback only, to keep one listener.
std::string default_bind_address(std::string_view bind_host);

/// Formats `host`:`port` for messages, bracketing IPv6 literals ("[::1]:22").
std::string format_host_port(std::string_view host, std::uint16_t port);

}  // namespace punch::forward
