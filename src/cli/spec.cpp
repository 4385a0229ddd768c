#include "cli/spec.hpp"

#include <algorithm>
#include <cstddef>
#include <sstream>

#include "path/constants.hpp"

// CMake passes the project version; the fallback keeps a hand-built binary honest.
#ifndef PUNCH_VERSION
#define PUNCH_VERSION "0.1.0"
#endif

namespace punch::cli {

namespace {

// Help is wrapped for an 80-column terminal; option labels longer than this
// put their sentence on the next line rather than squeeze it.
constexpr std::size_t kHelpWidth = 80;
constexpr std::size_t kMaxLabelWidth = 28;

const OptionSpec kRendezvousOption{
    "rendezvous", 'r', "HOST[:PORT]",
    "Rendezvous server; the port defaults to 7777 (default: $PUNCH_RENDEZVOUS).", false};

const OptionSpec kRelayOnlyOption{
    "relay-only", '\0', "",
    "Never try a direct path; keep the session on the rendezvous relay (for networks that "
    "throttle UDP between peers).",
    false};

const OptionSpec kIdleTimeoutOption{
    "idle-timeout", '\0', "DURATION",
    "Reset a forwarded TCP connection (-L, -R, -D) that moved no byte either way for "
    "DURATION, as 90s, 30m, 2h or 1d (a bare number is seconds, at most 30d); 0 or 'off' "
    "never does (default: off, as in ssh: idle database, ssh or IMAP connections are "
    "legitimate). Stdio is never timed out.",
    false};

// The birthday prober's knobs (docs/birthday.md); defaults from path/constants.hpp,
// with the reason for each in a few words.
const OptionSpec kBirthdaySocketsOption{
    "birthday-sockets", '\0', "N",
    "Behind a hard NAT, open up to N extra UDP sockets per guessing round, 0-1024; 0 never "
    "opens any (default " +
        std::to_string(path::kBirthdaySockets) +
        ", so that 1,024 guesses of the peer hit one with about 98 % chance; "
        "docs/birthday.md).",
    false};
const OptionSpec kBirthdayRateOption{
    "birthday-rate", '\0', "N",
    "Send at most N port guesses per second, 1-10000 (default " +
        std::to_string(path::kBirthdayRate) +
        ", far below what trips flood protection yet fast enough to end a round within the "
        "~30 s a hard NAT keeps a mapping; docs/birthday.md).",
    false};
const OptionSpec kBirthdayProbesOption{
    "birthday-probes", '\0', "N",
    "Send N port guesses per round against a peer behind a hard NAT, 0-65535; 0 never "
    "guesses (default " +
        std::to_string(path::kBirthdayGuesses) +
        ", so a round against 256 sockets succeeds over 99.9 % of the time; docs/birthday.md).",
    false};

// Appends `text` word by word, breaking before kHelpWidth; continuation lines
// start with `indent` spaces. `column` is where the cursor already is.
void append_wrapped(std::string& out, const std::string& text, std::size_t indent,
                    std::size_t column) {
  std::istringstream words(text);
  std::string word;
  bool first = true;
  while (words >> word) {
    if (!first && column + 1 + word.size() > kHelpWidth) {
      out += '\n';
      out.append(indent, ' ');
      column = indent;
    } else if (!first) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    first = false;
  }
  out += '\n';
}

std::string option_label(const OptionSpec& o) {
  std::string label = o.short_name != '\0' ? std::string("-") + o.short_name + ", " : "    ";
  label += "--" + o.long_name;
  if (!o.arg_name.empty()) label += " " + o.arg_name;
  return label;
}

// Prints a two-column table: labels at column 2, sentences aligned after them.
void append_table(std::string& out, const std::vector<std::pair<std::string, std::string>>& rows,
                  std::size_t help_column) {
  for (const auto& [label, help] : rows) {
    out += "  " + label;
    std::size_t column = 2 + label.size();
    if (column + 2 > help_column) {
      out += '\n';
      column = 0;
    }
    out.append(help_column - column, ' ');
    append_wrapped(out, help, help_column, help_column);
  }
}

void append_options(std::string& out, const std::string& title,
                    const std::vector<OptionSpec>& options, std::size_t help_column) {
  if (options.empty()) return;
  std::vector<std::pair<std::string, std::string>> rows;
  for (const OptionSpec& o : options) {
    std::string help = o.help;
    if (o.repeatable) help += " May be repeated.";
    rows.emplace_back(option_label(o), help);
  }
  out += "\n" + title + ":\n";
  append_table(out, rows, help_column);
}

std::size_t help_column_for(const std::vector<const std::vector<OptionSpec>*>& groups,
                            const std::vector<PositionalSpec>& positionals) {
  std::size_t widest = 0;
  for (const auto* group : groups) {
    for (const OptionSpec& o : *group) {
      const std::size_t w = option_label(o).size();
      if (w <= kMaxLabelWidth) widest = std::max(widest, w);
    }
  }
  for (const PositionalSpec& p : positionals) widest = std::max(widest, p.name.size());
  return 2 + widest + 2;
}

std::string top_level_help() {
  std::string out =
      "punch: a peer-to-peer tunnel, encrypted end to end.\n"
      "\n"
      "Usage: punch COMMAND [OPTION]...\n"
      "       punch help [COMMAND]\n"
      "       punch --version\n"
      "\nCommands:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const CommandSpec& c : command_specs()) rows.emplace_back(c.name, c.summary);
  rows.emplace_back("help", "Show the help of a command.");
  std::size_t widest = 0;
  for (const auto& row : rows) widest = std::max(widest, row.first.size());
  append_table(out, rows, 2 + widest + 2);
  append_options(out, "Options", top_level_options(), help_column_for({&top_level_options()}, {}));
  out +=
      "\nEnvironment:\n"
      "  PUNCH_HOME        Directory of the key and authorized_peers files\n"
      "                    (default: ~/.config/punch).\n"
      "  PUNCH_RENDEZVOUS  Rendezvous server used when -r is not given.\n"
      "\nRun 'punch COMMAND --help' for the options of a command; see also punch(1).\n";
  return out;
}

std::string command_help(const CommandSpec& c) {
  std::string out = "Usage: punch " + c.name;
  if (!c.synopsis.empty()) out += " " + c.synopsis;
  out += "\n\n";
  append_wrapped(out, c.description, 0, 0);
  const std::size_t column = help_column_for({&c.options, &common_options()}, c.positionals);
  if (!c.positionals.empty()) {
    std::vector<std::pair<std::string, std::string>> rows;
    for (const PositionalSpec& p : c.positionals) rows.emplace_back(p.name, p.help);
    out += "\nArguments:\n";
    append_table(out, rows, column);
  }
  append_options(out, "Options", c.options, column);
  append_options(out, "Common options", common_options(), column);
  return out;
}

}  // namespace

const std::vector<CommandSpec>& command_specs() {
  static const std::vector<CommandSpec> specs{
      {"keygen",
       "Create a new key and print its node ID.",
       "[-k PATH] [--force]",
       "Creates a new key pair in the key file (mode 0600) and prints its node ID on "
       "stdout. Refuses to replace an existing key file unless --force is given.",
       {{"force", '\0', "", "Replace an existing key file; its old ID is lost for good.", false}},
       {}},
      {"id",
       "Print the node ID of a key.",
       "[-k PATH]",
       "Prints the node ID of the key in the key file on stdout. Peers use this ID to "
       "reach you (punch connect) or to allow you (punch listen --allow).",
       {},
       {}},
      {"rendezvous",
       "Run the server that introduces peers and relays their traffic.",
       "[-l HOST:PORT] [--probe-port PORT|off] [OPTION]...",
       "Runs the rendezvous on a publicly reachable host. It registers endpoints that "
       "prove they hold their key, introduces connectors to listeners, and relays "
       "their packets, which it cannot decrypt. A second UDP port on the same IP, the "
       "probe port, answers address probes only (punch netcheck), as do probe addresses "
       "on other IPs of the host; all tell a prober the address they see it at, never "
       "with more bytes than it sent. Only another IP shows a NAT that picks its public "
       "address per destination IP (Linux address pools): give one or more if the host "
       "has them.",
       {{"listen", 'l', "HOST:PORT",
         "UDP address to listen on; port 0 picks a free one (default: 0.0.0.0:7777).", false},
        {"probe-port", '\0', "PORT",
         "Second UDP port for address probes, on the listen IP; 0 picks a free one, 'off' "
         "turns it off (default: 7778; a free one when the listen port is 0).",
         false},
        {"probe-address", '\0', "IP[:PORT]",
         "Also answer address probes on this other IP of the host, at most 4 times; the "
         "port defaults to the probe port (7778 when that is off).",
         true}},
       {}},
      {"listen",
       "Accept sessions from allowed peers: tunnel stdio and serve forwards.",
       "-r HOST[:PORT] [--allow ID]... [--allow-any] [OPTION]...",
       "Registers with the rendezvous and waits for connectors. It accepts only allowed "
       "peers: IDs given with --allow, IDs listed one per line in the authorized_peers "
       "file, or anyone with --allow-any. It serves their forwards (-L, -D and HOST:PORT "
       "targets open TCP connections from here; -R listens here) and gives stdio to the "
       "first connector that asks for it, then exits when that stdio session ends; with "
       "-N it never uses stdio and serves until interrupted. By default connectors may "
       "reach any host and port, as with ssh; --permit-open limits that. -R may bind "
       "loopback addresses only, unless --gateway-ports is given. Prints its ID and a "
       "ready-to-paste 'punch connect' line on stderr, and creates a key on first use.",
       {kRendezvousOption,
        {"allow", '\0', "ID", "Accept the peer with this node ID.", true},
        {"allow-any", '\0', "", "Accept any peer, whatever its ID.", false},
        {"no-stdio", 'N', "", "Serve forwards only: never tunnel stdio, run until interrupted.",
         false},
        {"permit-open", '\0', "HOST:PORT",
         "Let -L, -D and targets reach only HOST:PORT; '*' and '?' are wildcards, as in "
         "'*:22' (default: anything).",
         true},
        {"gateway-ports", '\0', "", "Let -R bind addresses other than loopback, such as 0.0.0.0.",
         false},
        kIdleTimeoutOption,
        kRelayOnlyOption,
        kBirthdaySocketsOption,
        kBirthdayRateOption,
        kBirthdayProbesOption},
       {}},
      {"connect",
       "Open a session to a listener: tunnel stdio, forward ports, run a SOCKS5 proxy.",
       "-r HOST[:PORT] PEER_ID [HOST:PORT] [-L|-R|-D SPEC]... [-N]",
       "Opens a session to the listener PEER_ID through the rendezvous, encrypted end to "
       "end. Stdio is tunnelled to the listener's stdio or, given HOST:PORT, to a TCP "
       "connection the listener opens (as ssh -W; for ssh -o ProxyCommand='punch connect "
       "-r R PEER_ID %h:%p'). EOF on stdin is passed on while the other direction keeps "
       "flowing; exits 0 when both directions are done. -L, -R and -D forward TCP ports "
       "with ssh's syntax and meaning; bind addresses default to loopback, IPv6 literals "
       "go in brackets, and port 0 picks a free port (reported on stderr and in "
       "--events). With -N there is no stdio and the forwards run until interrupted. "
       "Creates a key on first use.",
       {kRendezvousOption,
        {"local", 'L', "[BIND:]PORT:HOST:HOSTPORT",
         "Listen on PORT here; each connection goes to HOST:HOSTPORT from the listener.", true},
        {"remote", 'R', "[BIND:]PORT:HOST:HOSTPORT",
         "The listener listens on PORT; each connection comes to HOST:HOSTPORT from here.", true},
        {"dynamic", 'D', "[BIND:]PORT",
         "Run a SOCKS5 proxy on PORT here; connections exit on the listener's side.", true},
        {"no-stdio", 'N', "", "Forwards only: no stdio; run until interrupted.", false},
        {"socks-user", '\0', "USER:PASS", "Make -D demand this username and password (RFC 1929).",
         false},
        {"socks-user-file", '\0', "PATH",
         "Like --socks-user, read from the first line of PATH (keeps it out of ps); PATH must "
         "be a regular file of yours that group and others cannot read.",
         false},
        kIdleTimeoutOption,
        kRelayOnlyOption,
        kBirthdaySocketsOption,
        kBirthdayRateOption,
        kBirthdayProbesOption},
       {{"PEER_ID", "Node ID of the listener, as 'punch id' prints it on its machine.", true},
        {"HOST:PORT",
         "Connect stdio to this TCP address, opened on the listener's side; IPv6 in brackets.",
         false}}},
      {"netcheck",
       "Check UDP and the NAT's behaviour against a rendezvous.",
       "[-r HOST[:PORT]] [--probe HOST[:PORT]] [--json]",
       "Sends address probes from one UDP socket to the rendezvous and to its probe port "
       "and reports whether UDP works, the public (reflexive) addresses they saw, the "
       "NAT's mapping behaviour (none, endpoint-independent, endpoint-dependent, or "
       "address varies), whether the NAT kept the local port, and the round-trip time. "
       "Takes at most 3 seconds. Exits 0 when the rendezvous answered, 1 when nothing "
       "answered (UDP blocked, or the rendezvous is down), 2 for a bad command line.",
       {kRendezvousOption,
        {"probe", '\0', "HOST[:PORT]",
         "Probe port to compare with; the port defaults to 7778 (default: the rendezvous's "
         "host, port 7778).",
         false},
        {"json", '\0', "", "Print one JSON object on stdout (fields in punch(1)).", false}},
       {}},
  };
  return specs;
}

const std::vector<OptionSpec>& common_options() {
  static const std::vector<OptionSpec> options{
      {"key", 'k', "PATH", "Key file (default: $PUNCH_HOME/key, else ~/.config/punch/key).", false},
      {"events", '\0', "PATH", "Append events to PATH as JSON Lines.", false},
      {"verbose", 'v', "", "Log debug messages on stderr.", false},
      {"quiet", 'q', "", "Log only errors on stderr.", false},
      {"help", 'h', "", "Show this help and exit.", false},
  };
  return options;
}

const std::vector<OptionSpec>& top_level_options() {
  static const std::vector<OptionSpec> options{
      {"help", 'h', "", "Show this help and exit.", false},
      {"version", '\0', "", "Show the version and exit.", false},
  };
  return options;
}

const CommandSpec* find_command(const std::string& name) {
  for (const CommandSpec& c : command_specs()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string help_text(const CommandSpec* command) {
  return command != nullptr ? command_help(*command) : top_level_help();
}

std::string version_text() { return std::string("punch ") + PUNCH_VERSION + "\n"; }

}  // namespace punch::cli
