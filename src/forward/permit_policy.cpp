#include "forward/permit_policy.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "util/address.hpp"

namespace punch::forward {
namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view strip_brackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    return host.substr(1, host.size() - 2);
  return host;
}

// The canonical text of an IP literal ("2001:DB8:0::1" -> "2001:db8::1"), so that
// spellings of one address compare equal; nullopt for a name.
std::optional<std::string> canonical_ip(std::string_view host) {
  const auto a = util::Address::from_ip(host, 0);
  if (!a) return std::nullopt;
  return a->ip_string();
}

bool has_wildcard(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

// An address pattern constrains an IP literal; letting names match it would let
// anyone who controls a DNS zone pass "10.0.0.*" with "10.0.0.1.attacker.example".
bool is_address_pattern(std::string_view pattern) {
  if (pattern.find(':') != std::string_view::npos) return true;  // names never hold colons
  const bool v4_chars = std::all_of(pattern.begin(), pattern.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == '*' || c == '?';
  });
  return v4_chars && pattern.find('.') != std::string_view::npos;
}

bool host_matches(std::string_view pattern, std::string_view host,
                  const std::optional<std::string>& host_ip) {
  if (!has_wildcard(pattern)) {
    const auto pattern_ip = canonical_ip(pattern);
    if (pattern_ip) return host_ip && *host_ip == *pattern_ip;
  }
  if (is_address_pattern(pattern)) return host_ip && glob_match(pattern, *host_ip);
  return glob_match(pattern, host_ip ? std::string_view(*host_ip) : host);
}

}  // namespace

PermitPolicy::PermitPolicy(std::vector<HostPortPattern> permit_open, bool gateway_ports)
    : permit_open_(std::move(permit_open)), gateway_ports_(gateway_ports) {}

util::Result<PermitPolicy> PermitPolicy::parse(const std::vector<std::string>& permit_open,
                                               bool gateway_ports) {
  std::vector<HostPortPattern> patterns;
  patterns.reserve(permit_open.size());
  for (const std::string& text : permit_open) {
    auto p = parse_permit_open(text);
    if (!p) return p.error();
    patterns.push_back(std::move(*p));
  }
  return PermitPolicy(std::move(patterns), gateway_ports);
}

bool PermitPolicy::permits_open(std::string_view host, std::uint16_t port) const {
  if (permit_open_.empty()) return true;
  host = strip_brackets(host);
  const auto host_ip = canonical_ip(host);
  const std::string port_text = std::to_string(port);
  return std::any_of(permit_open_.begin(), permit_open_.end(), [&](const HostPortPattern& p) {
    return glob_match(p.port, port_text) && host_matches(strip_brackets(p.host), host, host_ip);
  });
}

util::Status PermitPolicy::permits_bind(std::string_view bind_host) const {
  if (gateway_ports_ || is_loopback_bind(bind_host)) return util::ok_status();
  return util::Error{"binding on " + default_bind_address(bind_host) +
                     " needs --gateway-ports on the listener"};
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Greedy matching with one backtrack point (the last '*'): linear in practice and
  // never exponential, whatever a pattern or a peer's host name holds.
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() &&
        (pattern[p] == '?' ||
         (pattern[p] != '*' && ascii_lower(pattern[p]) == ascii_lower(text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool is_loopback_bind(std::string_view bind_host) {
  bind_host = strip_brackets(bind_host);
  if (bind_host.empty()) return true;
  constexpr std::string_view kLocalhost = "localhost";
  if (bind_host.size() == kLocalhost.size() &&
      std::equal(bind_host.begin(), bind_host.end(), kLocalhost.begin(),
                 [](char a, char b) { return ascii_lower(a) == b; }))
    return true;
  const auto a = util::Address::from_ip(bind_host, 0);
  if (!a) return false;
  if (a->family == 4) return a->ip[0] == 127;
  const util::Address v6_loopback = *util::Address::from_ip("::1", 0);
  return a->ip == v6_loopback.ip;
}

}  // namespace punch::forward
