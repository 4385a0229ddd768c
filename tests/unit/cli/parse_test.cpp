#include "cli/parse.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "cli/spec.hpp"
#include "path/constants.hpp"

namespace punch::cli {

namespace {

const Environment kEnv{"/home/ann", "", "rv.example.org"};
const Environment kBareEnv{"/home/ann", "", ""};
const std::string kPeer = "abcdefghijklmnopqrstuvwxyz";

ParseOutcome run(std::initializer_list<std::string> args, const Environment& env = kEnv) {
  std::vector<std::string> owned{"punch"};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const std::string& a : owned) argv.push_back(a.c_str());
  return parse(static_cast<int>(argv.size()), argv.data(), env);
}

template <class Config>
Config command_of(const ParseOutcome& outcome) {
  const auto* command = std::get_if<app::Command>(&outcome);
  if (command == nullptr) FAIL("expected a command, got: " << std::get<Message>(outcome).text);
  const auto* config = std::get_if<Config>(command);
  REQUIRE(config != nullptr);
  return *config;
}

Message message_of(const ParseOutcome& outcome) {
  const auto* message = std::get_if<Message>(&outcome);
  REQUIRE(message != nullptr);
  return *message;
}

// A usage error: exit 2, on stderr, one line naming the problem (checked by
// `needle`), then a line pointing at the right --help.
void check_usage_error(const ParseOutcome& outcome, const std::string& needle,
                       const std::string& help_hint) {
  const auto* message = std::get_if<Message>(&outcome);
  if (message == nullptr) {
    FAIL_CHECK("parsed as a command, expected a usage error about: " << needle);
    return;
  }
  const Message& m = *message;
  CHECK(m.exit_code == kUsageExitCode);
  CHECK(m.to_stderr);
  const auto newline = m.text.find('\n');
  REQUIRE(newline != std::string::npos);
  const std::string first_line = m.text.substr(0, newline);
  INFO("message: " << m.text);
  CHECK(first_line.find(needle) != std::string::npos);
  CHECK(m.text.substr(newline + 1) == "try '" + help_hint + "'\n");
}

}  // namespace

TEST_CASE("key and authorized_peers default to ~/.config/punch") {
  const auto c = command_of<app::ListenConfig>(run({"listen"}));
  CHECK(c.common.key_path == "/home/ann/.config/punch/key");
  CHECK(c.authorized_peers_path == "/home/ann/.config/punch/authorized_peers");
  CHECK(c.common.events_path.empty());
  CHECK(c.common.log_level == util::LogLevel::kInfo);
}

TEST_CASE("PUNCH_HOME overrides ~/.config/punch; a trailing slash is harmless") {
  const Environment env{"/home/ann", "/srv/punch/", "rv"};
  const auto c = command_of<app::ListenConfig>(run({"listen"}, env));
  CHECK(c.common.key_path == "/srv/punch/key");
  CHECK(c.authorized_peers_path == "/srv/punch/authorized_peers");
}

TEST_CASE("-k and --key override the default key path, in either spelling") {
  CHECK(command_of<app::IdConfig>(run({"id", "-k", "/tmp/k"})).common.key_path == "/tmp/k");
  CHECK(command_of<app::IdConfig>(run({"id", "-k/tmp/k"})).common.key_path == "/tmp/k");
  CHECK(command_of<app::IdConfig>(run({"id", "--key", "a,b"})).common.key_path == "a,b");
  CHECK(command_of<app::IdConfig>(run({"id", "--key=/x y"})).common.key_path == "/x y");
  // -k does not move authorized_peers: that file belongs to the punch home.
  const auto c = command_of<app::ListenConfig>(run({"listen", "-k", "/tmp/k"}));
  CHECK(c.authorized_peers_path == "/home/ann/.config/punch/authorized_peers");
}

TEST_CASE("without HOME or PUNCH_HOME a key path must be given, except by the rendezvous") {
  const Environment none{"", "", "rv"};
  check_usage_error(run({"keygen"}, none), "-k PATH", "punch keygen --help");
  CHECK(command_of<app::KeygenConfig>(run({"keygen", "-k", "k"}, none)).common.key_path == "k");
  const auto r = command_of<app::RendezvousConfig>(run({"rendezvous"}, none));
  CHECK(r.common.key_path.empty());
  CHECK(command_of<app::ListenConfig>(run({"listen", "-k", "k"}, none))
            .authorized_peers_path.empty());
}

TEST_CASE("keygen takes --force") {
  CHECK_FALSE(command_of<app::KeygenConfig>(run({"keygen"})).force);
  CHECK(command_of<app::KeygenConfig>(run({"keygen", "--force"})).force);
  check_usage_error(run({"keygen", "--force=maybe"}), "maybe", "punch keygen --help");
}

TEST_CASE("rendezvous listens on 0.0.0.0:7777 unless -l says otherwise") {
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous"})).listen == "0.0.0.0:7777");
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous", "-l", "127.0.0.1:9000"})).listen ==
        "127.0.0.1:9000");
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous", "--listen", "[::]:7777"})).listen ==
        "[::]:7777");
  check_usage_error(run({"rendezvous", "-l", "0.0.0.0"}), "missing port",
                    "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "-l", "::1"}), "[ADDRESS]:PORT", "punch rendezvous --help");
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous", "-l", "127.0.0.1:0"})).listen ==
        "127.0.0.1:0");
  check_usage_error(run({"rendezvous", "-l", "h:x"}), "port", "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "-l", "h:70000"}), "port", "punch rendezvous --help");
}

TEST_CASE("-r defaults to $PUNCH_RENDEZVOUS and -r wins over it") {
  CHECK(command_of<app::ConnectConfig>(run({"connect", kPeer})).rendezvous == "rv.example.org");
  const auto c = command_of<app::ConnectConfig>(run({"connect", "-r", "[2001:db8::1]:9", kPeer}));
  CHECK(c.rendezvous == "[2001:db8::1]:9");
  CHECK(c.peer == kPeer);
  CHECK(command_of<app::ListenConfig>(run({"listen", "--rendezvous=h:1"})).rendezvous == "h:1");
  CHECK(command_of<app::ListenConfig>(run({"listen", "-r", "2001:db8::1"})).rendezvous ==
        "2001:db8::1");
}

TEST_CASE("missing -r with no PUNCH_RENDEZVOUS names both") {
  for (const char* cmd : {"listen", "connect"}) {
    CAPTURE(cmd);
    const ParseOutcome o =
        cmd == std::string("connect") ? run({cmd, kPeer}, kBareEnv) : run({cmd}, kBareEnv);
    const Message m = message_of(o);
    check_usage_error(o, "-r HOST[:PORT]", "punch " + std::string(cmd) + " --help");
    CHECK(m.text.find("PUNCH_RENDEZVOUS") != std::string::npos);
  }
  const Environment bad{"/home/ann", "", "host:port"};
  check_usage_error(run({"connect", kPeer}, bad), "PUNCH_RENDEZVOUS", "punch connect --help");
}

TEST_CASE("--allow repeats and keeps its order; --allow-any is a flag") {
  const auto c = command_of<app::ListenConfig>(
      run({"listen", "--allow", "aaa", "--allow-any", "--allow=bbb", "--allow", "c,d"}));
  CHECK(c.allow == std::vector<std::string>{"aaa", "bbb", "c,d"});
  CHECK(c.allow_any);
  const auto d = command_of<app::ListenConfig>(run({"listen"}));
  CHECK(d.allow.empty());
  CHECK_FALSE(d.allow_any);
}

TEST_CASE("--events, -v and -q are common to every command") {
  for (const CommandSpec& spec : command_specs()) {
    CAPTURE(spec.name);
    std::vector<std::string> args{spec.name, "--events", "/tmp/ev.jsonl", "-v"};
    if (spec.name == "connect") args.push_back(kPeer);
    std::vector<const char*> argv{"punch"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    const ParseOutcome o = parse(static_cast<int>(argv.size()), argv.data(), kEnv);
    const auto* command = std::get_if<app::Command>(&o);
    REQUIRE(command != nullptr);
    std::visit(
        [](const auto& c) {
          CHECK(c.common.events_path == "/tmp/ev.jsonl");
          CHECK(c.common.log_level == util::LogLevel::kDebug);
        },
        *command);
  }
  CHECK(command_of<app::IdConfig>(run({"id", "-q"})).common.log_level == util::LogLevel::kError);
  CHECK(command_of<app::IdConfig>(run({"id", "--quiet"})).common.log_level ==
        util::LogLevel::kError);
  check_usage_error(run({"id", "-vq"}), "contradict", "punch id --help");
}

TEST_CASE("options and the positional may come in any order, and -- ends options") {
  const auto c = command_of<app::ConnectConfig>(run({"connect", kPeer, "-r", "h", "-q"}));
  CHECK(c.peer == kPeer);
  CHECK(c.rendezvous == "h");
  CHECK(command_of<app::ConnectConfig>(run({"connect", "--", "-odd"})).peer == "-odd");
}

TEST_CASE("usage errors exit 2 with one useful line and a pointer to --help") {
  check_usage_error(run({}), "missing command", "punch --help");
  check_usage_error(run({"frobnicate"}), "unknown command 'frobnicate'", "punch --help");
  check_usage_error(run({"-v", "id"}), "unknown option '-v'", "punch --help");
  check_usage_error(run({"id", "--frob"}), "unknown option '--frob'", "punch id --help");
  check_usage_error(run({"id", "-x"}), "unknown option '-x'", "punch id --help");
  check_usage_error(run({"keygen", "--allow", "x"}), "unknown option '--allow'",
                    "punch keygen --help");
  check_usage_error(run({"connect"}), "missing PEER_ID", "punch connect --help");
  check_usage_error(run({"connect", "-r", "h"}), "missing PEER_ID", "punch connect --help");
  check_usage_error(run({"connect", kPeer, "h:1", "extra"}), "unexpected argument 'extra'",
                    "punch connect --help");
  check_usage_error(run({"connect", kPeer, "extra"}), "bad target: 'extra'",
                    "punch connect --help");
  check_usage_error(run({"listen", "stray"}), "unexpected argument 'stray'", "punch listen --help");
  check_usage_error(run({"id", "-k"}), "-k needs PATH", "punch id --help");
  check_usage_error(run({"id", "--key="}), "--key needs PATH", "punch id --help");
  check_usage_error(run({"connect", "-r", "--allow-any", kPeer}), "--rendezvous needs",
                    "punch connect --help");
  check_usage_error(run({"connect", "-r", "-q", kPeer}), "--rendezvous needs",
                    "punch connect --help");
  check_usage_error(run({"listen", "--allow", "-v"}), "--allow needs ID", "punch listen --help");
  check_usage_error(run({"id", "-k", "--events", "e"}), "--key needs PATH", "punch id --help");
  CHECK(command_of<app::IdConfig>(run({"id", "-k", "-odd"})).common.key_path == "-odd");
  check_usage_error(run({"connect", "-r", "a", "-r", "b", kPeer}), "more than once",
                    "punch connect --help");
  check_usage_error(run({"connect", "-r", "h:port", kPeer}), "port", "punch connect --help");
  check_usage_error(run({"connect", "-r", "h:0", kPeer}), "port", "punch connect --help");
  check_usage_error(run({"help", "frobnicate"}), "unknown command 'frobnicate'", "punch --help");
  check_usage_error(run({"help", "id", "id"}), "unexpected argument", "punch --help");
  check_usage_error(run({"--version", "x"}), "unexpected argument 'x'", "punch --help");
}

TEST_CASE("help goes to stdout with exit 0, and wins over other mistakes") {
  const Message top = message_of(run({"--help"}));
  CHECK(top.exit_code == 0);
  CHECK_FALSE(top.to_stderr);
  CHECK(top.text == help_text(nullptr));
  CHECK(message_of(run({"-h"})).text == top.text);
  CHECK(message_of(run({"help"})).text == top.text);
  const CommandSpec* connect = find_command("connect");
  REQUIRE(connect != nullptr);
  for (const auto& args : std::vector<std::vector<std::string>>{{"connect", "--help"},
                                                                {"connect", "-h"},
                                                                {"help", "connect"},
                                                                {"--help", "connect"},
                                                                {"connect", "--frob", "-h"},
                                                                {"connect", "-vh"}}) {
    std::vector<const char*> argv{"punch"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    const Message m = message_of(parse(static_cast<int>(argv.size()), argv.data(), kBareEnv));
    CAPTURE(args.back());
    CHECK(m.exit_code == 0);
    CHECK_FALSE(m.to_stderr);
    CHECK(m.text == help_text(connect));
  }
}

TEST_CASE("--version prints the version on stdout") {
  const Message m = message_of(run({"--version"}));
  CHECK(m.exit_code == 0);
  CHECK_FALSE(m.to_stderr);
  CHECK(m.text.rfind("punch ", 0) == 0);
  CHECK(m.text == version_text());
}

TEST_CASE("help lists every command and every option with its argument") {
  const std::string top = help_text(nullptr);
  for (const CommandSpec& spec : command_specs()) {
    CAPTURE(spec.name);
    CHECK(top.find("  " + spec.name + " ") != std::string::npos);
    const std::string help = help_text(&spec);
    CHECK(help.rfind("Usage: punch " + spec.name, 0) == 0);
    std::vector<OptionSpec> options = spec.options;
    options.insert(options.end(), common_options().begin(), common_options().end());
    for (const OptionSpec& o : options) {
      CAPTURE(o.long_name);
      std::string label = "--" + o.long_name;
      if (!o.arg_name.empty()) label += " " + o.arg_name;
      CHECK(help.find(label) != std::string::npos);
      if (o.short_name != '\0') {
        CHECK(help.find(std::string("-") + o.short_name + ", --" + o.long_name) !=
              std::string::npos);
      }
    }
    for (const PositionalSpec& p : spec.positionals) CHECK(help.find(p.name) != std::string::npos);
  }
  for (const OptionSpec& o : top_level_options()) {
    CHECK(top.find("--" + o.long_name) != std::string::npos);
  }
}

TEST_CASE("help lines fit in 80 columns") {
  std::vector<std::string> texts{help_text(nullptr)};
  for (const CommandSpec& spec : command_specs()) texts.push_back(help_text(&spec));
  for (const std::string& text : texts) {
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t end = text.find('\n', start);
      const std::string line = text.substr(start, end - start);
      CAPTURE(line);
      CHECK(line.size() <= 80);
      start = end + 1;
    }
  }
}

TEST_CASE("every command in the table parses with its required arguments") {
  // Catches a command added to command_specs() without a builder.
  for (const CommandSpec& spec : command_specs()) {
    CAPTURE(spec.name);
    std::vector<std::string> args{spec.name};
    for (const PositionalSpec& p : spec.positionals) {
      if (p.required) args.push_back(kPeer);
    }
    std::vector<const char*> argv{"punch"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    const ParseOutcome o = parse(static_cast<int>(argv.size()), argv.data(), kEnv);
    CHECK(std::holds_alternative<app::Command>(o));
  }
}

TEST_CASE("connect takes a HOST:PORT target, -L/-R/-D (repeatable) and -N") {
  const auto c = command_of<app::ConnectConfig>(
      run({"connect", kPeer, "[::1]:22", "-L", "8080:db:5432", "-L", "[::1]:0:[2001:db8::1]:80",
           "-R", "0.0.0.0:9000:localhost:8000", "-D", "1080", "-D", "127.0.0.2:0"}));
  REQUIRE(c.target.has_value());
  CHECK(c.target->host == "::1");
  CHECK(c.target->port == 22);
  REQUIRE(c.local.size() == 2);
  CHECK(c.local[0] == forward::ForwardSpec{"", 8080, "db", 5432});
  CHECK(c.local[1] == forward::ForwardSpec{"::1", 0, "2001:db8::1", 80});
  REQUIRE(c.remote.size() == 1);
  CHECK(c.remote[0] == forward::ForwardSpec{"0.0.0.0", 9000, "localhost", 8000});
  REQUIRE(c.dynamic.size() == 2);
  CHECK(c.dynamic[0] == forward::DynamicSpec{"", 1080});
  CHECK(c.dynamic[1] == forward::DynamicSpec{"127.0.0.2", 0});
  CHECK_FALSE(c.no_stdio);
  CHECK_FALSE(c.socks_credentials.has_value());

  const auto n = command_of<app::ConnectConfig>(run({"connect", kPeer, "-N", "-D", "0"}));
  CHECK(n.no_stdio);
  CHECK_FALSE(n.target.has_value());
}

TEST_CASE("bad forwards and contradictions are usage errors naming the option") {
  check_usage_error(run({"connect", kPeer, "-L", "abc"}), "-L 'abc'", "punch connect --help");
  check_usage_error(run({"connect", kPeer, "-R", "1:h:0"}), "-R", "punch connect --help");
  check_usage_error(run({"connect", kPeer, "-D", "70000"}), "-D", "punch connect --help");
  check_usage_error(run({"connect", kPeer, "h:22", "-N"}), "-N", "punch connect --help");
  check_usage_error(run({"connect", kPeer, "--socks-user", "a:b"}), "-D", "punch connect --help");
  check_usage_error(run({"connect", kPeer, "-D", "0", "--socks-user", "nocolon"}), "USER:PASS",
                    "punch connect --help");
  check_usage_error(run({"connect", kPeer, "-D", "0", "--socks-user", "a:"}), "USER:PASS",
                    "punch connect --help");
  check_usage_error(
      run({"connect", kPeer, "-D", "0", "--socks-user-file", "/nonexistent/punch-pass"}),
      "cannot read", "punch connect --help");
  check_usage_error(run({"listen", "--permit-open", "nocolon"}), "--permit-open",
                    "punch listen --help");
}

TEST_CASE("--socks-user gives the credentials -D demands") {
  const auto c = command_of<app::ConnectConfig>(
      run({"connect", kPeer, "-D", "0", "--socks-user", "alice:pa:ss"}));
  REQUIRE(c.socks_credentials.has_value());
  CHECK(c.socks_credentials->first == "alice");
  CHECK(c.socks_credentials->second == "pa:ss");  // only the first colon separates
}

TEST_CASE("listen takes -N, --permit-open (repeatable) and --gateway-ports") {
  const auto c = command_of<app::ListenConfig>(run(
      {"listen", "-N", "--permit-open", "*:22", "--permit-open", "[::1]:80", "--gateway-ports"}));
  CHECK(c.no_stdio);
  CHECK(c.permit_open == std::vector<std::string>{"*:22", "[::1]:80"});
  CHECK(c.gateway_ports);
  const auto d = command_of<app::ListenConfig>(run({"listen"}));
  CHECK_FALSE(d.no_stdio);
  CHECK(d.permit_open.empty());
  CHECK_FALSE(d.gateway_ports);
}

TEST_CASE("--relay-only is a flag of listen and connect, off by default") {
  CHECK(command_of<app::ListenConfig>(run({"listen", "--relay-only"})).relay_only);
  CHECK_FALSE(command_of<app::ListenConfig>(run({"listen"})).relay_only);
  CHECK_FALSE(command_of<app::ListenConfig>(run({"listen", "-N", "--allow-any"})).relay_only);
  CHECK(command_of<app::ConnectConfig>(run({"connect", "--relay-only", kPeer})).relay_only);
  CHECK(command_of<app::ConnectConfig>(run({"connect", kPeer, "-N", "-D", "0", "--relay-only"}))
            .relay_only);
  CHECK_FALSE(command_of<app::ConnectConfig>(run({"connect", kPeer})).relay_only);
  CHECK_FALSE(command_of<app::ConnectConfig>(run({"connect", kPeer, "-N", "-D", "0"})).relay_only);
  // A flag takes no value, and the other commands do not know it.
  check_usage_error(run({"connect", kPeer, "--relay-only=yes"}), "take no value",
                    "punch connect --help");
  check_usage_error(run({"rendezvous", "--relay-only"}), "relay-only", "punch rendezvous --help");
}

TEST_CASE("--birthday-* default from path/constants.hpp and reach the config") {
  const auto listen = command_of<app::ListenConfig>(run({"listen"}));
  CHECK(listen.birthday.sockets == path::kBirthdaySockets);
  CHECK(listen.birthday.rate == path::kBirthdayRate);
  CHECK(listen.birthday.guesses == path::kBirthdayGuesses);
  const auto connect = command_of<app::ConnectConfig>(run({"connect", kPeer}));
  CHECK(connect.birthday.sockets == path::kBirthdaySockets);
  CHECK(connect.birthday.rate == path::kBirthdayRate);
  CHECK(connect.birthday.guesses == path::kBirthdayGuesses);

  const auto set =
      command_of<app::ConnectConfig>(run({"connect", kPeer, "--birthday-sockets", "64",
                                          "--birthday-rate=500", "--birthday-probes", "4096"}));
  CHECK(set.birthday.sockets == 64);
  CHECK(set.birthday.rate == 500);
  CHECK(set.birthday.guesses == 4096);
  // The ends of each range, 0 included where it means "never".
  const auto low = command_of<app::ListenConfig>(
      run({"listen", "--birthday-sockets", "0", "--birthday-rate", "1", "--birthday-probes", "0"}));
  CHECK(low.birthday.sockets == 0);
  CHECK(low.birthday.rate == 1);
  CHECK(low.birthday.guesses == 0);
  const auto high =
      command_of<app::ListenConfig>(run({"listen", "--birthday-sockets", "1024", "--birthday-rate",
                                         "10000", "--birthday-probes", "65535"}));
  CHECK(high.birthday.sockets == 1024);
  CHECK(high.birthday.rate == 10000);
  CHECK(high.birthday.guesses == 65535);
}

TEST_CASE("--birthday-* refuse non-numbers and values out of range") {
  const std::string listen_help = "punch listen --help";
  const std::string connect_help = "punch connect --help";
  check_usage_error(run({"listen", "--birthday-sockets", "1025"}),
                    "bad --birthday-sockets '1025': a whole number from 0 to 1024", listen_help);
  check_usage_error(run({"listen", "--birthday-sockets", "many"}), "bad --birthday-sockets 'many'",
                    listen_help);
  check_usage_error(run({"connect", kPeer, "--birthday-sockets", "99999999999999999999"}),
                    "a whole number from 0 to 1024", connect_help);
  check_usage_error(run({"connect", kPeer, "--birthday-rate", "0"}),
                    "bad --birthday-rate '0': a whole number from 1 to 10000", connect_help);
  check_usage_error(run({"connect", kPeer, "--birthday-rate", "10001"}), "from 1 to 10000",
                    connect_help);
  check_usage_error(run({"connect", kPeer, "--birthday-rate", "1.5"}), "bad --birthday-rate '1.5'",
                    connect_help);
  check_usage_error(run({"listen", "--birthday-probes", "65536"}),
                    "bad --birthday-probes '65536': a whole number from 0 to 65535", listen_help);
  check_usage_error(run({"listen", "--birthday-probes", "+5"}), "bad --birthday-probes '+5'",
                    listen_help);
  check_usage_error(run({"listen", "--birthday-probes", " 5"}), "bad --birthday-probes",
                    listen_help);
  // A negative number reads as an option, so it is a missing value.
  check_usage_error(run({"listen", "--birthday-sockets", "-1"}), "birthday-sockets", listen_help);
  check_usage_error(run({"listen", "--birthday-sockets"}), "birthday-sockets", listen_help);
  check_usage_error(run({"listen", "--birthday-rate", "5", "--birthday-rate", "6"}),
                    "given more than once", listen_help);
  // Only the tunnel commands guess ports.
  check_usage_error(run({"rendezvous", "--birthday-sockets", "8"}), "birthday-sockets",
                    "punch rendezvous --help");
}

TEST_CASE("rendezvous --probe-port: 7778 by default, free with a free listen port, or off") {
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous"})).probe_port == 7778);
  // Only a port the user asked for must be bound; the default may be taken.
  CHECK_FALSE(command_of<app::RendezvousConfig>(run({"rendezvous"})).probe_port_required);
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous", "--probe-port", "7778"}))
            .probe_port_required);
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous", "-l", "127.0.0.1:9000"})).probe_port ==
        7778);
  // A server on a free port (a test) must not fight others over a fixed probe port.
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous", "-l", "127.0.0.1:0"})).probe_port ==
        0);
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous", "--probe-port", "9001"})).probe_port ==
        9001);
  CHECK(command_of<app::RendezvousConfig>(run({"rendezvous", "--probe-port", "0"})).probe_port ==
        0);
  CHECK_FALSE(command_of<app::RendezvousConfig>(run({"rendezvous", "--probe-port", "off"}))
                  .probe_port.has_value());
  CHECK(command_of<app::RendezvousConfig>(
            run({"rendezvous", "-l", "127.0.0.1:0", "--probe-port", "7000"}))
            .probe_port == 7000);
  check_usage_error(run({"rendezvous", "--probe-port", "70000"}), "--probe-port",
                    "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "--probe-port", "x1"}), "'off'", "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "--probe-port"}), "--probe-port needs PORT",
                    "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "-l", "0.0.0.0:7778"}), "another one",
                    "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "-l", "[::]:5000", "--probe-port", "5000"}), "another one",
                    "punch rendezvous --help");
}

TEST_CASE("rendezvous --probe-address: other IPs, port from the probe port, at most 4") {
  using util::Address;
  const auto probe_addresses = [](const ParseOutcome& outcome) {
    return command_of<app::RendezvousConfig>(outcome).probe_addresses;
  };
  CHECK(probe_addresses(run({"rendezvous"})).empty());
  CHECK(probe_addresses(run({"rendezvous", "--probe-address", "192.0.2.3"})) ==
        std::vector{Address::v4(192, 0, 2, 3, 7778)});
  CHECK(probe_addresses(run({"rendezvous", "--probe-port", "9001", "--probe-address", "192.0.2.3",
                             "--probe-address", "192.0.2.4:5000"})) ==
        std::vector{Address::v4(192, 0, 2, 3, 9001), Address::v4(192, 0, 2, 4, 5000)});
  // Probe port off: the default port; a free listen port: free ones too.
  CHECK(probe_addresses(run({"rendezvous", "--probe-port", "off", "--probe-address",
                             "192.0.2.3"})) == std::vector{Address::v4(192, 0, 2, 3, 7778)});
  CHECK(probe_addresses(run({"rendezvous", "-l", "127.0.0.1:0", "--probe-address", "127.0.0.2"})) ==
        std::vector{Address::v4(127, 0, 0, 2, 0)});
  CHECK(probe_addresses(run({"rendezvous", "--probe-address", "192.0.2.3:0"})) ==
        std::vector{Address::v4(192, 0, 2, 3, 0)});
  CHECK(probe_addresses(run({"rendezvous", "--probe-address", "2001:db8::3"})) ==
        std::vector{*Address::parse("[2001:db8::3]:7778")});
  CHECK(probe_addresses(run({"rendezvous", "--probe-address", "[2001:db8::3]"})) ==
        std::vector{*Address::parse("[2001:db8::3]:7778")});
  CHECK(probe_addresses(run({"rendezvous", "--probe-address", "[2001:db8::3]:9"})) ==
        std::vector{*Address::parse("[2001:db8::3]:9")});
  CHECK(probe_addresses(
            run({"rendezvous", "--probe-address", "192.0.2.3", "--probe-address", "192.0.2.4",
                 "--probe-address", "192.0.2.5", "--probe-address", "192.0.2.6"}))
            .size() == 4);
  check_usage_error(run({"rendezvous", "--probe-address", "192.0.2.3", "--probe-address",
                         "192.0.2.4", "--probe-address", "192.0.2.5", "--probe-address",
                         "192.0.2.6", "--probe-address", "192.0.2.7"}),
                    "at most 4 --probe-address", "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "--probe-address", "rv.example"}), "numeric IP",
                    "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "--probe-address", "rv.example:7778"}), "numeric IP",
                    "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "--probe-address", "192.0.2.3:70000"}), "port must be",
                    "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "--probe-address", "0.0.0.0"}), "specific IP",
                    "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "--probe-address", "[::]:7000"}), "specific IP",
                    "punch rendezvous --help");
  check_usage_error(run({"rendezvous", "--probe-address", ""}), "--probe-address",
                    "punch rendezvous --help");
  check_usage_error(
      run({"rendezvous", "--probe-address", "192.0.2.3", "--probe-address", "192.0.2.3:7778"}),
      "twice", "punch rendezvous --help");
}

TEST_CASE("netcheck takes -r (or PUNCH_RENDEZVOUS), --probe and --json, and needs no key") {
  const auto d = command_of<app::NetcheckConfig>(run({"netcheck"}));
  CHECK(d.rendezvous == "rv.example.org");
  CHECK(d.probe.empty());
  CHECK_FALSE(d.json);
  const auto c = command_of<app::NetcheckConfig>(
      run({"netcheck", "-r", "192.0.2.2:7000", "--probe", "192.0.2.3:7001", "--json"}));
  CHECK(c.rendezvous == "192.0.2.2:7000");
  CHECK(c.probe == "192.0.2.3:7001");
  CHECK(c.json);
  check_usage_error(run({"netcheck"}, kBareEnv), "no rendezvous server", "punch netcheck --help");
  check_usage_error(run({"netcheck", "--probe", "h:0"}), "bad --probe", "punch netcheck --help");
  check_usage_error(run({"netcheck", "-r", "h:x"}), "bad --rendezvous", "punch netcheck --help");
  check_usage_error(run({"netcheck", "--json=maybe"}), "take no value", "punch netcheck --help");
  check_usage_error(run({"netcheck", "extra"}), "unexpected argument", "punch netcheck --help");
  // No key is read, so no home is needed.
  const Environment none{"", "", "rv"};
  CHECK(command_of<app::NetcheckConfig>(run({"netcheck"}, none)).common.key_path.empty());
}

}  // namespace punch::cli

namespace punch::cli {

TEST_CASE("--idle-timeout takes a duration on listen and connect, off by default") {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  CHECK(command_of<app::ListenConfig>(run({"listen"})).idle_timeout == util::Duration::zero());
  CHECK(command_of<app::ConnectConfig>(run({"connect", kPeer})).idle_timeout ==
        util::Duration::zero());
  const std::pair<const char*, util::Duration> cases[] = {
      {"90", seconds(90)}, {"90s", seconds(90)}, {"30m", minutes(30)}, {"2h", hours(2)},
      {"1d", hours(24)},   {"30d", hours(720)},  {"0", seconds(0)},    {"off", seconds(0)}};
  for (const auto& [text, value] : cases) {
    CAPTURE(text);
    CHECK(command_of<app::ListenConfig>(run({"listen", "--idle-timeout", text})).idle_timeout ==
          value);
    CHECK(command_of<app::ConnectConfig>(
              run({"connect", kPeer, "-N", "-L", "1:h:2", "--idle-timeout", text}))
              .idle_timeout == value);
  }
  for (const char* bad : {"", "s", "-5", "5x", "1.5h", "31d", "9999999999", "5 m", "off2"}) {
    CAPTURE(bad);
    check_usage_error(run({"listen", "--idle-timeout", bad}), "--idle-timeout",
                      "punch listen --help");
  }
  check_usage_error(run({"rendezvous", "--idle-timeout", "5m"}), "idle-timeout",
                    "punch rendezvous --help");
}

TEST_CASE("--socks-user-file must be private to the user, like a key") {
  char tmpl[] = "/tmp/punch-parse-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/pass";
  std::ofstream(path) << "alice:s3cret\r\nignored second line\n";
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  // Issue 17: a world-readable password file was used as is.
  check_usage_error(run({"connect", kPeer, "-D", "0", "--socks-user-file", path}),
                    "is readable by others", "punch connect --help");
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  const auto c =
      command_of<app::ConnectConfig>(run({"connect", kPeer, "-D", "0", "--socks-user-file", path}));
  REQUIRE(c.socks_credentials.has_value());
  CHECK(c.socks_credentials->first == "alice");
  CHECK(c.socks_credentials->second == "s3cret");
  const std::string fifo = dir + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  check_usage_error(run({"connect", kPeer, "-D", "0", "--socks-user-file", fifo}),
                    "not a regular file", "punch connect --help");
  std::filesystem::remove_all(dir);
}

}  // namespace punch::cli
