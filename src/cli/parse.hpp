// argv and the environment in; a plain app::Command to run, or text to print
// and an exit code, out. The only place cxxopts is used.
#pragma once

#include <string>
#include <variant>

#include "app/config.hpp"
#include "cli/environment.hpp"

namespace punch::cli {

/// Exit code for a command line that cannot be understood (as GNU tools use).
inline constexpr int kUsageExitCode = 2;

/// Text to print instead of running anything: help, version, or a usage error.
struct Message {
  std::string text;        ///< Printed as is; ends with a newline.
  int exit_code = 0;       ///< 0 for help and version, kUsageExitCode for errors.
  bool to_stderr = false;  ///< Errors go to stderr; help and version to stdout.
};

/// Either a command to run or a message to print and exit with.
using ParseOutcome = std::variant<app::Command, Message>;

/// Parses `argv[0..argc)` (argv[0] is the program name), taking defaults from
/// `env`; never throws for bad input, which becomes a Message whose exit code
/// is kUsageExitCode, one line naming the problem and a pointer to --help.
ParseOutcome parse(int argc, const char* const* argv, const Environment& env);

}  // namespace punch::cli
