// The man page, the shell completions and the README must describe exactly the
// commands and options the parser has (cli/spec.hpp): nothing missing, nothing
// made up. --help is generated from the same tables, so it agrees by construction.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/spec.hpp"

#ifndef PUNCH_SOURCE_DIR
#error "PUNCH_SOURCE_DIR must name the source tree (the CMake test target sets it)"
#endif

namespace punch::cli {

namespace {

std::string read_source(const std::string& relative) {
  const std::string path = std::string(PUNCH_SOURCE_DIR) + "/" + relative;
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// roff writes a literal minus as "\-"; compare the text a reader sees.
std::string without_roff_escapes(std::string text) {
  for (std::size_t at = text.find("\\-"); at != std::string::npos; at = text.find("\\-", at)) {
    text.erase(at, 1);
  }
  return text;
}

struct Doc {
  std::string name;  // path relative to the source tree
  std::string text;
  bool fish = false;  // fish spells options "-l NAME" and "-s K"
};

std::vector<Doc> docs() {
  return {
      {"man/punch.1", without_roff_escapes(read_source("man/punch.1"))},
      {"completions/punch.bash", read_source("completions/punch.bash")},
      {"completions/_punch", read_source("completions/_punch")},
      {"completions/punch.fish", read_source("completions/punch.fish"), true},
      {"README.md", read_source("README.md")},
  };
}

std::vector<OptionSpec> options_of(const CommandSpec& spec) {
  std::vector<OptionSpec> all = spec.options;
  all.insert(all.end(), common_options().begin(), common_options().end());
  return all;
}

std::set<std::string> known_long_options() {
  std::set<std::string> known;
  for (const CommandSpec& spec : command_specs()) {
    for (const OptionSpec& o : options_of(spec)) known.insert(o.long_name);
  }
  for (const OptionSpec& o : top_level_options()) known.insert(o.long_name);
  return known;
}

bool has_match(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(pattern));
}

std::string escaped(const std::string& s) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, special, R"(\$&)");
}

// Boundaries that keep "--allow" from matching inside "--allow-any".
const std::string kBefore = "(^|[^A-Za-z0-9_-])";
const std::string kAfter = "([^A-Za-z0-9_-]|$)";

bool mentions_long(const Doc& doc, const std::string& text, const std::string& name) {
  if (has_match(text, kBefore + "--" + escaped(name) + kAfter)) return true;
  return doc.fish && has_match(text, "(^|\\s)-l\\s+" + escaped(name) + kAfter);
}

bool mentions_short(const Doc& doc, const std::string& text, char name) {
  const std::string n = escaped(std::string(1, name));
  if (has_match(text, kBefore + "-" + n + kAfter)) return true;
  return doc.fish && has_match(text, "(^|\\s)-s\\s+" + n + kAfter);
}

std::set<std::string> long_options_mentioned(const Doc& doc) {
  std::set<std::string> found;
  std::vector<std::regex> patterns{std::regex(kBefore + "--([a-z][a-z0-9-]*[a-z0-9])")};
  if (doc.fish) patterns.emplace_back(R"((^|\s)-l\s+([a-z][a-z0-9-]*[a-z0-9]))");
  for (const std::regex& pattern : patterns) {
    for (std::sregex_iterator it(doc.text.begin(), doc.text.end(), pattern), end; it != end;
         ++it) {
      found.insert((*it)[2].str());
    }
  }
  return found;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The part of a document about one command, by each format's own structure:
// the man page's ".SS" subsection, the bash or zsh "NAME)" case branch, or the
// fish lines conditioned on __fish_seen_subcommand_from NAME. Empty if none.
std::string block_for(const Doc& doc, const std::string& command) {
  std::string block;
  const std::vector<std::string> lines = lines_of(doc.text);
  if (doc.name == "man/punch.1") {
    const std::regex heading("^\\.SS\\s+\"?(punch\\s+)?" + escaped(command) + kAfter);
    bool inside = false;
    for (const std::string& line : lines) {
      if (line.rfind(".SH", 0) == 0 || line.rfind(".SS", 0) == 0) {
        inside = std::regex_search(line, heading);
      }
      if (inside) block += line + "\n";
    }
  } else if (doc.fish) {
    const std::regex condition("__fish_seen_subcommand_from\\s+([^'\"]*)");
    for (const std::string& line : lines) {
      std::smatch m;
      if (line.find("not __fish_seen_subcommand_from") != std::string::npos) continue;
      if (!std::regex_search(line, m, condition)) continue;
      std::istringstream words(m[1].str());
      for (std::string word; words >> word;) {
        if (word == command) block += line + "\n";
      }
    }
  } else if (doc.name != "README.md") {
    const std::regex label("^\\s*" + escaped(command) + "\\)");
    bool inside = false;
    for (const std::string& line : lines) {
      if (!inside && std::regex_search(line, label)) inside = true;
      if (inside) {
        block += line + "\n";
        if (line.find(";;") != std::string::npos) break;
      }
    }
  }
  return block;
}

}  // namespace

TEST_CASE("every document names every command and every option") {
  for (const Doc& doc : docs()) {
    CAPTURE(doc.name);
    for (const CommandSpec& spec : command_specs()) {
      CAPTURE(spec.name);
      CHECK_MESSAGE(has_match(doc.text, kBefore + escaped(spec.name) + kAfter),
                    "command missing");
      for (const OptionSpec& o : options_of(spec)) {
        CAPTURE(o.long_name);
        CHECK_MESSAGE(mentions_long(doc, doc.text, o.long_name), "option missing");
        if (o.short_name != '\0' && doc.name != "README.md") {
          CHECK_MESSAGE(mentions_short(doc, doc.text, o.short_name), "short option missing");
        }
      }
    }
    for (const OptionSpec& o : top_level_options()) {
      CAPTURE(o.long_name);
      CHECK_MESSAGE(mentions_long(doc, doc.text, o.long_name), "top-level option missing");
    }
  }
}

TEST_CASE("the man page and completions list each command's options under that command") {
  for (const Doc& doc : docs()) {
    if (doc.name == "README.md") continue;
    CAPTURE(doc.name);
    for (const CommandSpec& spec : command_specs()) {
      CAPTURE(spec.name);
      const std::string block = block_for(doc, spec.name);
      REQUIRE_MESSAGE(!block.empty(), "no section or case branch for the command");
      // bash and zsh keep the common options in one shared list, checked above;
      // the man page and fish attach them to each command.
      const std::vector<OptionSpec> expected = doc.fish ? options_of(spec) : spec.options;
      for (const OptionSpec& o : expected) {
        CAPTURE(o.long_name);
        CHECK_MESSAGE(mentions_long(doc, block, o.long_name), "option not under its command");
      }
    }
  }
}

TEST_CASE("the man page and completions mention no option that does not exist") {
  const std::set<std::string> known = known_long_options();
  for (const Doc& doc : docs()) {
    if (doc.name == "README.md") continue;  // prose may quote other tools' options
    CAPTURE(doc.name);
    for (const std::string& name : long_options_mentioned(doc)) {
      CAPTURE(name);
      CHECK_MESSAGE(known.count(name) == 1, "documented option does not exist");
    }
  }
}

TEST_CASE("the man page states each command's synopsis as --help does") {
  const std::string man = without_roff_escapes(read_source("man/punch.1"));
  for (const CommandSpec& spec : command_specs()) {
    CAPTURE(spec.name);
    // roff may wrap the synopsis in font changes; compare it with those removed.
    const std::string plain = std::regex_replace(man, std::regex(R"(\\f[BIRP])"), "");
    CHECK(plain.find("punch " + spec.name + " " + spec.synopsis) != std::string::npos);
  }
}

}  // namespace punch::cli
