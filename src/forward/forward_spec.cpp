#include "forward/forward_spec.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

namespace punch::forward {
namespace {

constexpr std::string_view kForwardSyntax = "[bind_address:]port:host:hostport";
constexpr std::string_view kDynamicSyntax = "[bind_address:]port";
constexpr std::string_view kHostPortSyntax = "HOST:PORT";
constexpr std::string_view kBracketHint = " (write IPv6 addresses in brackets, e.g. [::1])";

// One colon-separated field; `bracketed` remembers "[...]", which may hold colons.
struct Field {
  std::string_view text;
  bool bracketed = false;
};

// Splits at colons outside brackets; nullopt when brackets do not pair up or a
// bracketed field is not a whole field ("a[b]", "[a]b").
std::optional<std::vector<Field>> split_fields(std::string_view text) {
  std::vector<Field> fields;
  std::size_t pos = 0;
  while (true) {
    Field f;
    std::size_t end = 0;
    if (pos < text.size() && text[pos] == '[') {
      const std::size_t close = text.find(']', pos);
      if (close == std::string_view::npos) return std::nullopt;
      f.text = text.substr(pos + 1, close - pos - 1);
      f.bracketed = true;
      end = close + 1;
      if (end < text.size() && text[end] != ':') return std::nullopt;
      if (f.text.find('[') != std::string_view::npos) return std::nullopt;
    } else {
      end = std::min(text.find(':', pos), text.size());
      f.text = text.substr(pos, end - pos);
      if (f.text.find_first_of("[]") != std::string_view::npos) return std::nullopt;
    }
    fields.push_back(f);
    if (end >= text.size()) return fields;
    pos = end + 1;  // past the colon; a trailing colon yields a last, empty field
  }
}

std::string quoted(std::string_view option, std::string_view text) {
  std::string s;
  if (!option.empty()) {
    s.append(option);
    s.push_back(' ');
  }
  s.push_back('\'');
  s.append(text);
  s.append("': ");
  return s;
}

// Colons outside brackets, and whether two of them are adjacent ("::"), which no
// field layout allows but every compressed IPv6 literal has.
struct BareColons {
  std::size_t count = 0;
  bool doubled = false;
};

BareColons bare_colons(std::string_view text) {
  BareColons c;
  bool in_brackets = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '[') in_brackets = true;
    if (text[i] == ']') in_brackets = false;
    if (in_brackets || text[i] != ':') continue;
    ++c.count;
    if (i + 1 < text.size() && text[i + 1] == ':') c.doubled = true;
  }
  return c;
}

util::Error syntax_error(std::string_view option, std::string_view text, std::string_view syntax) {
  std::string message = quoted(option, text) + "expected " + std::string(syntax);
  // A bare IPv6 literal is the usual reason for stray colons; say so rather than guess.
  const BareColons colons = bare_colons(text);
  if (colons.doubled || colons.count > 3) message += kBracketHint;
  return util::Error{message};
}

// A decimal port with no sign, spaces or leading "+"; nullopt when out of [min, 65535].
std::optional<std::uint16_t> parse_port(const Field& f, unsigned min) {
  if (f.bracketed || f.text.empty() || f.text.size() > 5) return std::nullopt;
  if (!std::all_of(f.text.begin(), f.text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  unsigned value = 0;
  std::from_chars(f.text.data(), f.text.data() + f.text.size(), value);
  if (value < min || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// A host that can be resolved, logged and carried in the stream preamble.
bool is_valid_host(std::string_view host) {
  return !host.empty() && host.size() <= kMaxHostSize &&
         std::none_of(host.begin(), host.end(), [](char c) {
           const auto b = static_cast<std::uint8_t>(c);
           return b <= 0x20 || b == 0x7f;  // controls and space
         });
}

// The bind_address field of -L/-R/-D: empty means all interfaces (ssh), brackets
// are dropped.
std::optional<std::string> parse_bind_host(const Field& f) {
  if (f.text.empty())
    return f.bracketed ? std::nullopt : std::optional<std::string>(kAllInterfaces);
  if (!is_valid_host(f.text)) return std::nullopt;
  return std::string(f.text);
}

bool is_ascii_case_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) {
             return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

}  // namespace

util::Result<ForwardSpec> parse_forward_spec(std::string_view text, std::string_view option) {
  const auto fields = split_fields(text);
  if (!fields || (fields->size() != 3 && fields->size() != 4) || bare_colons(text).doubled)
    return syntax_error(option, text, kForwardSyntax);
  const std::size_t first = fields->size() - 3;  // index of port

  ForwardSpec spec;
  if (first == 1) {
    const auto bind = parse_bind_host((*fields)[0]);
    if (!bind) return util::Error{quoted(option, text) + "bad bind_address"};
    spec.bind_host = *bind;
  }
  const auto port = parse_port((*fields)[first], 0);
  if (!port) return util::Error{quoted(option, text) + "port must be a number from 0 to 65535"};
  spec.bind_port = *port;
  const Field& host = (*fields)[first + 1];
  if (!is_valid_host(host.text)) {
    if (host.text.empty()) return syntax_error(option, text, kForwardSyntax);
    return util::Error{quoted(option, text) + "bad host"};
  }
  spec.host = std::string(host.text);
  const auto host_port = parse_port((*fields)[first + 2], 1);
  if (!host_port)
    return util::Error{quoted(option, text) + "hostport must be a number from 1 to 65535"};
  spec.host_port = *host_port;
  return spec;
}

util::Result<DynamicSpec> parse_dynamic_spec(std::string_view text) {
  constexpr std::string_view kOption = "-D";
  const auto fields = split_fields(text);
  if (!fields || (fields->size() != 1 && fields->size() != 2) || bare_colons(text).doubled)
    return syntax_error(kOption, text, kDynamicSyntax);
  DynamicSpec spec;
  if (fields->size() == 2) {
    const auto bind = parse_bind_host((*fields)[0]);
    if (!bind) return util::Error{quoted(kOption, text) + "bad bind_address"};
    spec.bind_host = *bind;
  }
  const auto port = parse_port(fields->back(), 0);
  if (!port) return util::Error{quoted(kOption, text) + "port must be a number from 0 to 65535"};
  spec.bind_port = *port;
  return spec;
}

util::Result<HostPort> parse_host_port(std::string_view text) {
  const auto fields = split_fields(text);
  if (!fields || fields->size() != 2 || !is_valid_host((*fields)[0].text))
    return syntax_error("", text, kHostPortSyntax);
  const auto port = parse_port((*fields)[1], 1);
  if (!port) return util::Error{quoted("", text) + "PORT must be a number from 1 to 65535"};
  return HostPort{std::string((*fields)[0].text), *port};
}

util::Result<HostPortPattern> parse_permit_open(std::string_view text) {
  constexpr std::string_view kOption = "--permit-open";
  const auto fields = split_fields(text);
  if (!fields || fields->size() != 2 || !is_valid_host((*fields)[0].text))
    return syntax_error(kOption, text, kHostPortSyntax);
  const Field& port = (*fields)[1];
  const bool wildcard = port.text.find_first_of("*?") != std::string_view::npos;
  const bool port_ok =
      wildcard
          ? !port.bracketed && !port.text.empty() && port.text.size() <= 16 &&
                std::all_of(port.text.begin(), port.text.end(),
                            [](char c) { return (c >= '0' && c <= '9') || c == '*' || c == '?'; })
          : parse_port(port, 1).has_value();
  if (!port_ok)
    return util::Error{quoted(kOption, text) +
                       "PORT must be a number from 1 to 65535 or a pattern such as *"};
  return HostPortPattern{std::string((*fields)[0].text), std::string(port.text)};
}

std::string default_bind_address(std::string_view bind_host) {
  if (bind_host.size() >= 2 && bind_host.front() == '[' && bind_host.back() == ']')
    bind_host = bind_host.substr(1, bind_host.size() - 2);
  if (bind_host.empty() || is_ascii_case_equal(bind_host, "localhost"))
    return std::string(kDefaultBindAddress);
  if (bind_host == kAllInterfaces) return "0.0.0.0";
  return std::string(bind_host);
}

std::string format_host_port(std::string_view host, std::uint16_t port) {
  const bool bracket = host.find(':') != std::string_view::npos;
  std::string out = bracket ? "[" : "";
  out += host;
  if (bracket) out += "]";
  return out + ":" + std::to_string(port);
}

}  // namespace punch::forward
