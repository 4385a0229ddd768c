// punch: argv -> Config (cli/), then run it (app/). Nothing else happens here.
#include <cstdio>
#include <variant>

#include "app/run.hpp"
#include "cli/environment.hpp"
#include "cli/parse.hpp"

int main(int argc, char** argv) {
  const punch::cli::ParseOutcome outcome =
      punch::cli::parse(argc, argv, punch::cli::environment_from_process());
  if (const auto* message = std::get_if<punch::cli::Message>(&outcome)) {
    std::fputs(message->text.c_str(), message->to_stderr ? stderr : stdout);
    return message->exit_code;
  }
  return punch::app::run(std::get<punch::app::Command>(outcome));
}
