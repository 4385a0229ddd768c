// The man page, the shell completions and the README must describe exactly the
// commands and options the parser has (cli/spec.hpp): nothing missing, nothing
// made up. --help is generated from the same tables, so it agrees by construction.
#include <doctest/doctest.h>

#include <fstream>
#include <optional>
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

// The text a reader of the man page sees, near enough: roff writes a minus as
// "\-", switches fonts with "\fB", "\fI", "\fR", "\fP", and uses "\&" as a
// zero-width separator.
std::string without_roff_escapes(const std::string& text) {
  static const std::regex font(R"(\\f[BIRP]|\\&)");
  static const std::regex minus(R"(\\-)");
  return std::regex_replace(std::regex_replace(text, font, ""), minus, "-");
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

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::set<std::string> long_options_mentioned(const Doc& doc) {
  std::set<std::string> found;
  const std::regex dashed(kBefore + "--([a-z][a-z0-9-]*[a-z0-9])");
  for (std::sregex_iterator it(doc.text.begin(), doc.text.end(), dashed), end; it != end; ++it) {
    found.insert((*it)[2].str());
  }
  if (doc.fish) {
    // Only on `complete` lines: elsewhere "-l" is fish's own (set -l is local).
    const std::regex fish_long(R"((^|\s)-l\s+([a-z][a-z0-9-]*[a-z0-9]))");
    for (const std::string& line : lines_of(doc.text)) {
      if (line.rfind("complete ", 0) != 0) continue;
      for (std::sregex_iterator it(line.begin(), line.end(), fish_long), end; it != end; ++it) {
        found.insert((*it)[2].str());
      }
    }
  }
  return found;
}

// What a part of a document must list: one command's options, the common
// options, the options taken before any command, or the commands themselves.
enum class Scope { kCommand, kCommon, kTopLevel, kCommandList };

// From the first line matching `start` through the next line matching `end`
// (which may be the same line); nullopt when no line matches `start`.
std::optional<std::string> lines_between(const std::vector<std::string>& lines,
                                         const std::regex& start, const std::regex& end) {
  std::optional<std::string> out;
  for (const std::string& line : lines) {
    if (!out) {
      if (!std::regex_search(line, start)) continue;
      out.emplace();
    }
    *out += line + "\n";
    if (std::regex_search(line, end)) break;
  }
  return out;
}

// A man page section or subsection whose heading matches `heading`; with
// `tags_only`, just the tag lines of its ".TP" items, so that an option
// mentioned in prose does not count as documented.
std::optional<std::string> man_section(const std::vector<std::string>& lines,
                                       const std::regex& heading, bool tags_only) {
  std::optional<std::string> out;
  bool inside = false;
  bool tag_next = false;
  for (const std::string& line : lines) {
    if (line.rfind(".SH", 0) == 0 || line.rfind(".SS", 0) == 0) {
      inside = std::regex_search(line, heading);
      if (inside && !out) out.emplace();
    }
    if (inside && (!tags_only || tag_next)) *out += line + "\n";
    tag_next = line.rfind(".TP", 0) == 0;
  }
  return out;
}

// fish `complete` lines whose condition is (or is not, with `negated`)
// __fish_seen_subcommand_from with `command` among its words.
std::optional<std::string> fish_lines(const std::vector<std::string>& lines,
                                      const std::string& command, bool negated) {
  static const std::regex condition(R"((not\s+)?__fish_seen_subcommand_from\s+([^'"]*))");
  std::optional<std::string> out;
  for (const std::string& line : lines) {
    std::smatch m;
    if (!std::regex_search(line, m, condition) || m[1].matched != negated) continue;
    std::istringstream words(m[2].str());
    for (std::string word; words >> word;) {
      if (negated || word == command) {
        if (!out) out.emplace();
        *out += line + "\n";
        break;
      }
    }
  }
  return out;
}

// Where a document lists the options of `scope` (for kCommand, of `command`),
// by each format's own structure; nullopt when the document has no such place.
// - man page: SYNOPSIS for the top level and the commands; otherwise the
//   ".TP" tags in the command's ".SS" subsection or in COMMON OPTIONS;
// - bash: the `COMP_CWORD -eq 1` branch, the `common=` list, the "NAME)"
//   branch, the `commands=` list;
// - zsh: the first `_arguments -C` call, the `common=(...)` list, the "NAME)"
//   branch, the `commands=(...)` list;
// - fish: lines conditioned on no command yet (top level and commands), or on
//   one naming the command (common options sit on lines naming every command).
std::optional<std::string> section_for(const Doc& doc, Scope scope, const std::string& command) {
  const std::vector<std::string> lines = lines_of(doc.text);
  const std::regex case_branch("^\\s*" + escaped(command) + "\\)");
  const std::regex case_end(";;");
  if (doc.name == "man/punch.1") {
    switch (scope) {
      case Scope::kTopLevel:
      case Scope::kCommandList:
        return man_section(lines, std::regex(R"(^\.SH\s+"?SYNOPSIS)"), false);
      case Scope::kCommon:
        return man_section(lines, std::regex(R"(^\.SH\s+"?COMMON OPTIONS)"), true);
      case Scope::kCommand:
        return man_section(
            lines, std::regex(R"(^\.SS\s+"?(punch\s+)?)" + escaped(command) + kAfter), true);
    }
  } else if (doc.fish) {
    const bool before_command = scope == Scope::kTopLevel || scope == Scope::kCommandList;
    return fish_lines(lines, command, before_command);
  } else if (doc.name == "completions/punch.bash") {
    switch (scope) {
      case Scope::kTopLevel:
        return lines_between(lines, std::regex("COMP_CWORD -eq 1"), std::regex(R"(^\s*fi\s*$)"));
      case Scope::kCommon:
        return lines_between(lines, std::regex(R"(^\s*(local\s+)?common=)"), std::regex("\"\\s*$"));
      case Scope::kCommand:
        return lines_between(lines, case_branch, case_end);
      case Scope::kCommandList:
        return lines_between(lines, std::regex(R"(^\s*(local\s+)?commands=)"),
                             std::regex("\"\\s*$"));
    }
  } else if (doc.name == "completions/_punch") {
    std::optional<std::string> found;
    switch (scope) {
      case Scope::kTopLevel:
        found = lines_between(lines, std::regex(R"(^\s*_arguments\s+-C)"), std::regex(R"([^\\]$)"));
        break;
      case Scope::kCommon:
        found = lines_between(lines, std::regex(R"(^\s*common=\()"), std::regex(R"(^\s*\)\s*$)"));
        break;
      case Scope::kCommand:
        found = lines_between(lines, case_branch, case_end);
        break;
      case Scope::kCommandList:
        found = lines_between(lines, std::regex(R"(^\s*commands=\()"), std::regex(R"(^\s*\)\s*$)"));
        break;
    }
    // An option named only in another's exclusion group, '(-v --verbose)', is
    // not offered, so it does not count.
    if (found) *found = std::regex_replace(*found, std::regex(R"('\([^)]*\)')"), "");
    return found;
  }
  return std::nullopt;
}

// Checks that `section` names every option in `options`, long and short.
void check_lists(const Doc& doc, const std::string& section,
                 const std::vector<OptionSpec>& options) {
  for (const OptionSpec& o : options) {
    CAPTURE(o.long_name);
    CHECK_MESSAGE(mentions_long(doc, section, o.long_name), "option not listed where it belongs");
    if (o.short_name != '\0') {
      CHECK_MESSAGE(mentions_short(doc, section, o.short_name),
                    "short option not listed where it belongs");
    }
  }
}

}  // namespace

TEST_CASE("every document names every command and every option") {
  for (const Doc& doc : docs()) {
    CAPTURE(doc.name);
    for (const CommandSpec& spec : command_specs()) {
      CAPTURE(spec.name);
      CHECK_MESSAGE(has_match(doc.text, kBefore + escaped(spec.name) + kAfter), "command missing");
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

TEST_CASE("the man page and completions list each option where it belongs") {
  for (const Doc& doc : docs()) {
    if (doc.name == "README.md") continue;
    CAPTURE(doc.name);
    for (const CommandSpec& spec : command_specs()) {
      CAPTURE(spec.name);
      const auto section = section_for(doc, Scope::kCommand, spec.name);
      REQUIRE_MESSAGE(section.has_value(), "no section or case branch for the command");
      // fish repeats the common options for each command; the others list them once.
      check_lists(doc, *section, doc.fish ? options_of(spec) : spec.options);
    }
    if (!doc.fish) {
      const auto common = section_for(doc, Scope::kCommon, "");
      REQUIRE_MESSAGE(common.has_value(), "no list of common options");
      check_lists(doc, *common, common_options());
    }
    const auto top = section_for(doc, Scope::kTopLevel, "");
    REQUIRE_MESSAGE(top.has_value(), "no place for the options before a command");
    check_lists(doc, *top, top_level_options());
    const auto commands = section_for(doc, Scope::kCommandList, "");
    REQUIRE_MESSAGE(commands.has_value(), "no list of commands");
    for (const CommandSpec& spec : command_specs()) {
      CAPTURE(spec.name);
      CHECK_MESSAGE(has_match(*commands, kBefore + escaped(spec.name) + kAfter),
                    "command not offered");
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
    CHECK(man.find("punch " + spec.name + " " + spec.synopsis + "\n") != std::string::npos);
  }
}

}  // namespace punch::cli
