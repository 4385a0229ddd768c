#include "cli/parse.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cxxopts.hpp>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "cli/spec.hpp"
#include "forward/constants.hpp"
#include "forward/forward_spec.hpp"
#include "path/path_manager.hpp"
#include "util/address.hpp"
#include "util/private_file.hpp"

namespace punch::cli {

namespace {

// Upper bounds of the --birthday-* options (docs/birthday.md). Sockets: the usual
// soft limit on descriptors is 1,024, and past a few hundred the odds barely move.
constexpr std::uint32_t kMaxBirthdaySockets = 1024;
// Guesses per second: at 10,000 (about 1 MB/s of guesses) a NAT's flood protection
// or the peer's firewall bites long before the odds improve.
constexpr std::uint32_t kMaxBirthdayRate = 10000;
// Guesses per round: one per port number is already more than the port space holds.
constexpr std::uint32_t kMaxBirthdayGuesses = 65535;

// A --socks-user-file holds one USER:PASS line (at most 511 bytes); anything much
// larger is not one, and is not read whole.
constexpr std::size_t kMaxSocksUserFileSize = 64 * 1024;

// A command line the user has to fix. Thrown only inside this file and turned
// into a Message by parse(), so every check can stop where it stands.
struct UsageError {
  std::string message;
};

// What cxxopts found, regrouped by our own option table.
struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> values;  // long name -> values, in order
  std::map<std::string, bool> flags;                       // long name -> set
  std::vector<std::string> positionals;
};

Message usage_message(const std::string& where, const std::string& problem,
                      const std::string& help_hint) {
  return Message{where + ": " + problem + "\ntry '" + help_hint + "'\n", kUsageExitCode, true};
}

std::vector<const OptionSpec*> all_options(const CommandSpec& spec) {
  std::vector<const OptionSpec*> all;
  for (const OptionSpec& o : spec.options) all.push_back(&o);
  for (const OptionSpec& o : common_options()) all.push_back(&o);
  return all;
}

// cxxopts knows an option by its long name, or by the name as typed when it
// reports an error; this maps either back to our table.
const OptionSpec* find_option(const CommandSpec& spec, const std::string& name) {
  for (const OptionSpec* o : all_options(spec)) {
    if (o->long_name == name || (name.size() == 1 && o->short_name == name[0])) return o;
  }
  return nullptr;
}

// cxxopts keeps the offending name only inside its quoted what() text.
std::string quoted_in(const std::string& what) {
  const std::size_t open = what.find(cxxopts::LQUOTE);
  if (open == std::string::npos) return what;
  const std::size_t start = open + cxxopts::LQUOTE.size();
  const std::size_t close = what.find(cxxopts::RQUOTE, start);
  if (close == std::string::npos) return what;
  return what.substr(start, close - start);
}

std::string dashed(const std::string& name) { return (name.size() == 1 ? "-" : "--") + name; }

std::string needs_value(const CommandSpec& spec, const std::string& typed) {
  const OptionSpec* o = find_option(spec, typed);
  const std::string arg = o != nullptr ? " " + o->arg_name : std::string(" a value");
  return "option " + dashed(typed) + " needs" + arg;
}

// True when `value` must be the next option rather than `option`'s value, so
// the user left the value out (as in `-r --events x`). Hosts and IDs never
// start with '-'; a path might, so a path is refused only if it is one of
// this command's option names.
bool looks_like_option(const CommandSpec& spec, const OptionSpec& option,
                       const std::string& value) {
  if (value.size() < 2 || value.front() != '-') return false;
  if (option.arg_name != "PATH") return true;
  for (const OptionSpec* o : all_options(spec)) {
    if (value == "--" + o->long_name) return true;
    if (o->short_name != '\0' && value == std::string("-") + o->short_name) return true;
  }
  return false;
}

ParsedArgs parse_args(const CommandSpec& spec, int argc, const char* const* argv) {
  cxxopts::Options options("punch " + spec.name);
  auto add = options.add_options();
  for (const OptionSpec* o : all_options(spec)) {
    const std::string names =
        o->short_name != '\0' ? std::string(1, o->short_name) + "," + o->long_name : o->long_name;
    if (o->arg_name.empty()) {
      add(names, o->help);
    } else {
      // Plain strings, not std::vector: cxxopts would split vector values at
      // commas, which paths may contain. Repeats are collected from arguments().
      add(names, o->help, cxxopts::value<std::string>(), o->arg_name);
    }
  }
  // No parse_positional(): every positional lands in unmatched(), in order, and
  // the count is checked against the spec below with our own messages.

  ParsedArgs parsed;
  try {
    const cxxopts::ParseResult result = options.parse(argc, argv);
    for (const cxxopts::KeyValue& kv : result.arguments()) {
      const OptionSpec* o = find_option(spec, kv.key());
      if (o == nullptr || o->arg_name.empty()) continue;
      parsed.values[o->long_name].push_back(kv.value());
    }
    for (const OptionSpec* o : all_options(spec)) {
      if (o->arg_name.empty()) parsed.flags[o->long_name] = result[o->long_name].as<bool>();
    }
    parsed.positionals = result.unmatched();
  } catch (const cxxopts::exceptions::no_such_option& e) {
    throw UsageError{"unknown option '" + dashed(quoted_in(e.what())) + "'"};
  } catch (const cxxopts::exceptions::invalid_option_syntax& e) {
    throw UsageError{"unknown option '" + quoted_in(e.what()) + "'"};
  } catch (const cxxopts::exceptions::missing_argument& e) {
    throw UsageError{needs_value(spec, quoted_in(e.what()))};
  } catch (const cxxopts::exceptions::option_requires_argument& e) {
    throw UsageError{needs_value(spec, quoted_in(e.what()))};
  } catch (const cxxopts::exceptions::incorrect_argument_type& e) {
    // Only flags are typed (bool), so this is `--flag=VALUE` with a bad VALUE.
    throw UsageError{"flags take no value, got '" + quoted_in(e.what()) + "'"};
  } catch (const cxxopts::exceptions::exception& e) {
    throw UsageError{e.what()};
  }
  return parsed;
}

// Checks what cxxopts cannot express: repeats, empty values, positional counts.
void check_args(const CommandSpec& spec, const ParsedArgs& parsed) {
  for (const auto& [name, values] : parsed.values) {
    const OptionSpec* o = find_option(spec, name);
    if (!o->repeatable && values.size() > 1) {
      throw UsageError{"option --" + name + " given more than once"};
    }
    for (const std::string& v : values) {
      if (v.empty() || looks_like_option(spec, *o, v)) {
        throw UsageError{"option --" + name + " needs " + o->arg_name};
      }
    }
  }

  const std::size_t max = spec.positionals.size();
  std::size_t required = 0;
  for (const PositionalSpec& p : spec.positionals) required += p.required ? 1 : 0;
  if (parsed.positionals.size() < required) {
    throw UsageError{"missing " + spec.positionals[parsed.positionals.size()].name};
  }
  if (parsed.positionals.size() > max) {
    throw UsageError{"unexpected argument '" + parsed.positionals[max] + "'"};
  }
}

std::optional<std::string> single(const ParsedArgs& a, const std::string& name) {
  const auto it = a.values.find(name);
  if (it == a.values.end() || it->second.empty()) return std::nullopt;
  return it->second.front();
}

std::vector<std::string> all_values(const ParsedArgs& a, const std::string& name) {
  const auto it = a.values.find(name);
  return it == a.values.end() ? std::vector<std::string>{} : it->second;
}

bool flag(const ParsedArgs& a, const std::string& name) {
  const auto it = a.flags.find(name);
  return it != a.flags.end() && it->second;
}

// Where punch keeps its files: $PUNCH_HOME, else ~/.config/punch; empty when
// neither variable is set (as under some service managers).
std::string config_dir(const Environment& env) {
  std::string dir;
  if (!env.punch_home.empty()) {
    dir = env.punch_home;
  } else if (!env.home.empty()) {
    dir = env.home;
    if (dir.back() != '/') dir += '/';
    dir += ".config/punch";
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::string in_config_dir(const Environment& env, const std::string& file) {
  const std::string dir = config_dir(env);
  if (dir.empty()) return "";
  return dir == "/" ? dir + file : dir + "/" + file;
}

// The rendezvous needs no key of its own today, so it may run where HOME is unset.
app::CommonConfig common_config(const ParsedArgs& a, const Environment& env, bool key_required) {
  app::CommonConfig c;
  c.key_path = single(a, "key").value_or(in_config_dir(env, "key"));
  if (c.key_path.empty() && key_required) {
    throw UsageError{"no key file: HOME and PUNCH_HOME are unset, so pass -k PATH"};
  }
  c.events_path = single(a, "events").value_or("");
  const bool verbose = flag(a, "verbose");
  const bool quiet = flag(a, "quiet");
  if (verbose && quiet) throw UsageError{"-v and -q contradict each other"};
  c.log_level = verbose ? util::LogLevel::kDebug
                : quiet ? util::LogLevel::kError
                        : util::LogLevel::kInfo;
  return c;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char ch : s) {
    if (ch < '0' || ch > '9') return false;
  }
  return true;
}

// A syntax check only, so typos fail before anything starts; app/ resolves the
// name. Accepts HOST, HOST:PORT, [IPV6] and [IPV6]:PORT. An address to bind
// needs its port, which may be 0 (any free port); a bare IPv6 literal is then
// ambiguous and refused.
std::optional<std::string> endpoint_problem(std::string_view text, bool to_bind) {
  std::string_view host = text;
  std::optional<std::string_view> port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return "missing ']'";
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "expected ':' after ']'";
      port = rest.substr(1);
    }
  } else if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
    if (text.find(':', colon + 1) == std::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    } else if (to_bind) {
      return "write an IPv6 address with its port as [ADDRESS]:PORT";
    }
  }
  if (host.empty()) return "missing host";
  if (port) {
    const unsigned long lowest = to_bind ? 0 : 1;
    if (!all_digits(*port) || port->size() > 5 || std::stoul(std::string(*port)) < lowest ||
        std::stoul(std::string(*port)) > 65535) {
      return "port must be a number from " + std::to_string(lowest) + " to 65535";
    }
  } else if (to_bind) {
    return "missing port";
  }
  return std::nullopt;
}

// Parses one --probe-address IP[:PORT] (IPv6 in brackets), the port defaulting to
// `default_port`; it must be a specific IP, since a probe socket on a wildcard address
// would be the main IP's again, and a socket can only be bound to an IP of this host.
util::Address probe_address(const std::string& text, std::uint16_t default_port) {
  const std::string bad = "bad --probe-address '" + text + "': ";
  std::optional<util::Address> a = util::Address::from_ip(text, default_port);
  if (!a && !text.empty() && text.front() == '[' && text.back() == ']') {
    a = util::Address::from_ip(std::string_view(text).substr(1, text.size() - 2), default_port);
  }
  if (!a) a = util::Address::parse(text);  // IP:PORT; port 0 picks a free one.
  if (!a && text.find(':') != std::string::npos) {
    // A bad port deserves its own message; a missing one cannot be the problem here.
    if (const auto problem = endpoint_problem(text, true); problem && *problem != "missing port")
      throw UsageError{bad + *problem};
  }
  if (!a) {
    throw UsageError{bad +
                     "a numeric IP address of this host, with an optional :PORT (IPv6 in "
                     "brackets: [ADDRESS]:PORT)"};
  }
  if (std::all_of(a->ip.begin(), a->ip.end(), [](std::uint8_t b) { return b == 0; })) {
    throw UsageError{bad +
                     "must be a specific IP of this host, not the wildcard address (the probe "
                     "port already answers on the listen IP)"};
  }
  return *a;
}

// The value of --NAME as a whole number from `lowest` to `highest`, or `fallback`
// when the option is absent.
std::uint32_t bounded_number(const ParsedArgs& a, const std::string& name, std::uint32_t lowest,
                             std::uint32_t highest, std::uint32_t fallback) {
  const auto text = single(a, name);
  if (!text) return fallback;
  // Ten digits hold any uint32; more (or anything but digits) is out of range anyway.
  const bool number = all_digits(*text) && text->size() <= 10;
  const unsigned long long value = number ? std::stoull(*text) : 0;
  if (!number || value < lowest || value > highest) {
    throw UsageError{"bad --" + name + " '" + *text + "': a whole number from " +
                     std::to_string(lowest) + " to " + std::to_string(highest)};
  }
  return static_cast<std::uint32_t>(value);
}

// --birthday-sockets, --birthday-rate and --birthday-probes (docs/birthday.md).
// --idle-timeout DURATION: a whole number with an optional unit s, m, h or d (seconds
// by default); 0 or "off" turns it off (zero). Absent: off.
util::Duration idle_timeout(const ParsedArgs& a) {
  const auto text = single(a, "idle-timeout");
  if (!text || *text == "off") return util::Duration::zero();
  const std::string bad = "bad --idle-timeout '" + *text + "': ";
  std::string digits = *text;
  std::chrono::seconds unit{1};
  if (!digits.empty() && std::string_view("smhd").find(digits.back()) != std::string_view::npos) {
    constexpr std::chrono::seconds kUnits[] = {std::chrono::seconds{1}, std::chrono::minutes{1},
                                               std::chrono::hours{1}, std::chrono::hours{24}};
    unit = kUnits[std::string_view("smhd").find(digits.back())];
    digits.pop_back();
  }
  if (!all_digits(digits) || digits.size() > 9) {
    throw UsageError{bad + "expected a number with an optional unit s, m, h or d, or 'off'"};
  }
  // In seconds first: 999999999d in nanoseconds would overflow.
  const std::chrono::seconds value{static_cast<std::int64_t>(std::stoul(digits)) * unit.count()};
  if (value > forward::kMaxIdleTimeout) throw UsageError{bad + "at most 30d"};
  return value;
}

path::BirthdayConfig birthday_config(const ParsedArgs& a) {
  path::BirthdayConfig c;
  c.sockets = bounded_number(a, "birthday-sockets", 0, kMaxBirthdaySockets,
                             static_cast<std::uint32_t>(c.sockets));
  c.rate = bounded_number(a, "birthday-rate", 1, kMaxBirthdayRate, c.rate);
  c.guesses = bounded_number(a, "birthday-probes", 0, kMaxBirthdayGuesses, c.guesses);
  return c;
}

std::string rendezvous_address(const ParsedArgs& a, const Environment& env) {
  if (const auto r = single(a, "rendezvous")) {
    if (const auto problem = endpoint_problem(*r, false)) {
      throw UsageError{"bad --rendezvous '" + *r + "': " + *problem};
    }
    return *r;
  }
  if (env.punch_rendezvous.empty()) {
    throw UsageError{"no rendezvous server: pass -r HOST[:PORT] or set PUNCH_RENDEZVOUS"};
  }
  if (const auto problem = endpoint_problem(env.punch_rendezvous, false)) {
    throw UsageError{"bad PUNCH_RENDEZVOUS '" + env.punch_rendezvous + "': " + *problem};
  }
  return env.punch_rendezvous;
}

app::Command build_keygen(const ParsedArgs& a, const Environment& env) {
  app::KeygenConfig c;
  c.common = common_config(a, env, true);
  c.force = flag(a, "force");
  return c;
}

app::Command build_id(const ParsedArgs& a, const Environment& env) {
  app::IdConfig c;
  c.common = common_config(a, env, true);
  return c;
}

app::Command build_rendezvous(const ParsedArgs& a, const Environment& env) {
  app::RendezvousConfig c;
  c.common = common_config(a, env, false);
  if (const auto l = single(a, "listen")) {
    if (const auto problem = endpoint_problem(*l, true)) {
      throw UsageError{"bad --listen '" + *l + "': " + *problem};
    }
    c.listen = *l;
  }
  if (const auto p = single(a, "probe-port")) {
    c.probe_port_required = true;
    if (*p == "off") {
      c.probe_port = std::nullopt;
    } else if (all_digits(*p) && p->size() <= 5 && std::stoul(*p) <= 65535) {
      c.probe_port = static_cast<std::uint16_t>(std::stoul(*p));
    } else {
      throw UsageError{"bad --probe-port '" + *p + "': a port from 0 to 65535, or 'off'"};
    }
  } else if (c.listen.ends_with(":0")) {
    // A server on a free port is a test or a second instance: a fixed 7778 would
    // make two of them fight over it, so its probe port is free too.
    c.probe_port = 0;
  }
  if (c.probe_port && *c.probe_port != 0 &&
      c.listen.ends_with(":" + std::to_string(*c.probe_port))) {
    throw UsageError{"--probe-port " + std::to_string(*c.probe_port) +
                     " is the --listen port; the probe port must be another one"};
  }
  const std::vector<std::string> extra = all_values(a, "probe-address");
  if (extra.size() > app::kMaxProbeAddressOptions) {
    throw UsageError{"at most " + std::to_string(app::kMaxProbeAddressOptions) +
                     " --probe-address options (REGISTERED has room for 4 besides the probe "
                     "port), got " +
                     std::to_string(extra.size())};
  }
  for (const std::string& text : extra) {
    const util::Address addr = probe_address(text, c.probe_port.value_or(app::kDefaultProbePort));
    if (addr.port != 0 && std::find(c.probe_addresses.begin(), c.probe_addresses.end(), addr) !=
                              c.probe_addresses.end()) {
      throw UsageError{"--probe-address " + addr.to_string() + " is given twice"};
    }
    c.probe_addresses.push_back(addr);
  }
  return c;
}

app::Command build_netcheck(const ParsedArgs& a, const Environment& env) {
  app::NetcheckConfig c;
  c.common = common_config(a, env, false);
  c.rendezvous = rendezvous_address(a, env);
  if (const auto p = single(a, "probe")) {
    if (const auto problem = endpoint_problem(*p, false)) {
      throw UsageError{"bad --probe '" + *p + "': " + *problem};
    }
    c.probe = *p;
  }
  c.json = flag(a, "json");
  return c;
}

app::Command build_listen(const ParsedArgs& a, const Environment& env) {
  app::ListenConfig c;
  c.common = common_config(a, env, true);
  c.rendezvous = rendezvous_address(a, env);
  c.allow = all_values(a, "allow");
  c.allow_any = flag(a, "allow-any");
  c.authorized_peers_path = in_config_dir(env, "authorized_peers");
  c.no_stdio = flag(a, "no-stdio");
  c.permit_open = all_values(a, "permit-open");
  for (const std::string& p : c.permit_open) {
    if (auto parsed = forward::parse_permit_open(p); !parsed) {
      throw UsageError{"bad --permit-open: " + parsed.error().message};
    }
  }
  c.gateway_ports = flag(a, "gateway-ports");
  c.idle_timeout = idle_timeout(a);
  c.relay_only = flag(a, "relay-only");
  c.birthday = birthday_config(a);
  return c;
}

// Reads USER:PASS from --socks-user or the first line of --socks-user-file.
std::optional<std::pair<std::string, std::string>> socks_credentials(const ParsedArgs& a) {
  std::optional<std::string> text = single(a, "socks-user");
  const std::optional<std::string> file = single(a, "socks-user-file");
  if (text && file) throw UsageError{"--socks-user and --socks-user-file contradict each other"};
  if (file) {
    // Checked as a key file is: a password others can read (or a FIFO that blocks the
    // start forever) is refused rather than used.
    auto read = util::read_private_file(*file, kMaxSocksUserFileSize, "--socks-user-file");
    if (!read) throw UsageError{read.error().message};
    std::string line(read->begin(), read->end());
    std::fill(read->begin(), read->end(), 0);
    line = line.substr(0, line.find('\n'));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) throw UsageError{"--socks-user-file " + *file + " has no USER:PASS line"};
    text = line;
  }
  if (!text) return std::nullopt;
  const std::size_t colon = text->find(':');
  if (colon == std::string::npos || colon == 0 || colon > 255 || text->size() - colon - 1 > 255) {
    throw UsageError{"SOCKS5 credentials must be USER:PASS, each 1 to 255 bytes"};
  }
  const std::string pass = text->substr(colon + 1);
  if (pass.empty()) throw UsageError{"SOCKS5 credentials must be USER:PASS, each 1 to 255 bytes"};
  return std::make_pair(text->substr(0, colon), pass);
}

app::Command build_connect(const ParsedArgs& a, const Environment& env) {
  app::ConnectConfig c;
  c.common = common_config(a, env, true);
  c.rendezvous = rendezvous_address(a, env);
  c.peer = a.positionals.at(0);
  if (a.positionals.size() > 1) {
    auto target = forward::parse_host_port(a.positionals[1]);
    if (!target) throw UsageError{"bad target: " + target.error().message};
    c.target = *target;
  }
  for (const std::string& text : all_values(a, "local")) {
    auto spec = forward::parse_forward_spec(text, "-L");
    if (!spec) throw UsageError{spec.error().message};
    c.local.push_back(*spec);
  }
  for (const std::string& text : all_values(a, "remote")) {
    auto spec = forward::parse_forward_spec(text, "-R");
    if (!spec) throw UsageError{spec.error().message};
    c.remote.push_back(*spec);
  }
  for (const std::string& text : all_values(a, "dynamic")) {
    auto spec = forward::parse_dynamic_spec(text);
    if (!spec) throw UsageError{spec.error().message};
    c.dynamic.push_back(*spec);
  }
  c.no_stdio = flag(a, "no-stdio");
  if (c.no_stdio && c.target) {
    throw UsageError{"-N means no stdio, so there is nothing to connect to " + a.positionals[1]};
  }
  c.socks_credentials = socks_credentials(a);
  if (c.socks_credentials && c.dynamic.empty()) {
    throw UsageError{"--socks-user needs a -D proxy to protect"};
  }
  c.idle_timeout = idle_timeout(a);
  c.relay_only = flag(a, "relay-only");
  c.birthday = birthday_config(a);
  return c;
}

using Builder = app::Command (*)(const ParsedArgs&, const Environment&);

// Keyed by CommandSpec::name; a command in the table without a builder is a
// programming error caught by the unit tests (every spec is parsed there).
const std::map<std::string, Builder>& builders() {
  static const std::map<std::string, Builder> table{
      {"keygen", build_keygen}, {"id", build_id},           {"rendezvous", build_rendezvous},
      {"listen", build_listen}, {"connect", build_connect}, {"netcheck", build_netcheck},
  };
  return table;
}

// -h/--help wins over every other mistake on the line, as in git and ssh.
bool asks_for_help(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "-h" || arg == "--help") return true;
  }
  return false;
}

// `punch help [COMMAND]` and `punch --help [COMMAND]`.
ParseOutcome top_level_help(const std::vector<std::string>& args) {
  if (args.size() > 2) {
    return usage_message("punch", "unexpected argument '" + args[2] + "'", "punch --help");
  }
  if (args.size() == 1) return Message{help_text(nullptr), 0, false};
  const CommandSpec* spec = find_command(args[1]);
  if (spec == nullptr) {
    return usage_message("punch", "unknown command '" + args[1] + "'", "punch --help");
  }
  return Message{help_text(spec), 0, false};
}

}  // namespace

ParseOutcome parse(int argc, const char* const* argv, const Environment& env) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  if (args.empty()) return usage_message("punch", "missing command", "punch --help");

  const std::string& first = args.front();
  if (first == "help" || first == "-h" || first == "--help") return top_level_help(args);
  if (first == "--version") {
    if (args.size() > 1) {
      return usage_message("punch", "unexpected argument '" + args[1] + "'", "punch --help");
    }
    return Message{version_text(), 0, false};
  }
  if (first.size() > 1 && first.front() == '-') {
    return usage_message("punch", "unknown option '" + first + "' (options go after the command)",
                         "punch --help");
  }
  const CommandSpec* spec = find_command(first);
  if (spec == nullptr) {
    return usage_message("punch", "unknown command '" + first + "'", "punch --help");
  }

  const std::string where = "punch " + spec->name;
  if (asks_for_help({args.begin() + 1, args.end()})) return Message{help_text(spec), 0, false};
  try {
    // cxxopts skips its argv[0]; the command name stands in for it.
    const ParsedArgs parsed = parse_args(*spec, argc - 1, argv + 1);
    if (flag(parsed, "help")) return Message{help_text(spec), 0, false};
    check_args(*spec, parsed);
    return builders().at(spec->name)(parsed, env);
  } catch (const UsageError& e) {
    return usage_message(where, e.message, where + " --help");
  }
}

}  // namespace punch::cli
