// What the command line offers, as data: every command with its options and
// arguments. The parser, --help, and the test that holds the man page and the
// shell completions to the same list all read these tables.
#pragma once

#include <string>
#include <vector>

namespace punch::cli {

/// One option; long_name is what the man page and completions must mention.
struct OptionSpec {
  std::string long_name;    ///< Without dashes, e.g. "rendezvous".
  char short_name = '\0';   ///< E.g. 'r'; '\0' when there is none.
  std::string arg_name;     ///< E.g. "HOST[:PORT]"; empty for a flag.
  std::string help;         ///< One sentence for --help.
  bool repeatable = false;  ///< May be given more than once; the values accumulate.
};

/// One positional argument of a command.
struct PositionalSpec {
  std::string name;      ///< E.g. "PEER_ID".
  std::string help;      ///< One sentence for --help.
  bool required = true;  ///< Optional arguments may only follow required ones.
};

/// A command (the first argument to punch); it also takes common_options().
struct CommandSpec {
  std::string name;                         ///< E.g. "connect".
  std::string summary;                      ///< One line for `punch --help`.
  std::string synopsis;                     ///< What follows `punch NAME` in usage.
  std::string description;                  ///< Paragraph for `punch NAME --help`.
  std::vector<OptionSpec> options;          ///< Options of this command only.
  std::vector<PositionalSpec> positionals;  ///< In the order they are given.
};

/// The commands, in the order --help lists them.
const std::vector<CommandSpec>& command_specs();

/// Options every command takes: -k, --events, -v, -q, -h.
const std::vector<OptionSpec>& common_options();

/// Options accepted before any command: --help and --version.
const std::vector<OptionSpec>& top_level_options();

/// The command called `name`, or nullptr when there is none.
const CommandSpec* find_command(const std::string& name);

/// The --help text of `command`, or punch's own when `command` is null.
std::string help_text(const CommandSpec* command);

/// The --version text, e.g. "punch 0.1.0\n".
std::string version_text();

}  // namespace punch::cli
