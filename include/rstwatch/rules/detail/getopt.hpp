// How iptables' getopt_long() groups the words of a command line into options and arguments,
// where that differs from the syntax tree's grouping.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/detail/extensions.hpp>

namespace rstwatch::rules::detail {

// iptables' own long options (iptables/xshared.c and iptables.c option tables) with the
// letter each stands for. getopt_long also accepts any unambiguous prefix of a long name.
struct base_option {
  std::string_view name;
  char letter;
};
inline constexpr base_option base_options[] = {
    {"append", 'A'},        {"delete", 'D'},       {"check", 'C'},     {"insert", 'I'},
    {"replace", 'R'},       {"list", 'L'},         {"list-rules", 'S'}, {"flush", 'F'},
    {"zero", 'Z'},          {"new-chain", 'N'},    {"delete-chain", 'X'}, {"rename-chain", 'E'},
    {"policy", 'P'},        {"source", 's'},       {"src", 's'},       {"destination", 'd'},
    {"dst", 'd'},           {"protocol", 'p'},     {"in-interface", 'i'}, {"jump", 'j'},
    {"table", 't'},         {"match", 'm'},        {"numeric", 'n'},   {"out-interface", 'o'},
    {"verbose", 'v'},       {"wait", 'w'},         {"exact", 'x'},     {"fragment", 'f'},
    {"version", 'V'},       {"help", 'h'},         {"line-numbers", '0'}, {"modprobe", 'M'},
    {"set-counters", 'c'},  {"goto", 'g'},         {"ipv4", '4'},      {"ipv6", '6'},
};

// The letters iptables' optstring gives a required argument ("A:C:D:R:I:N:E:P:o:p:s:d:j:i:
// t:m:c:g:M:" in iptables/iptables.c); -F, -L, -S, -X, -Z and -w take theirs only if the next
// word does not begin with '-'.
inline constexpr std::string_view letters_with_argument = "ACDRINEPopsdjitmcgM";

// Whether getopt_long() gives the option `name` (as written: "-s", "--comment") a required
// argument. Extension options count when a modelled extension declares `name` with arguments
// and none declares it without (the check cannot know which extension owns it yet). Prefixes
// of long names are not followed: `--comm --x` keeps the tree's grouping.
inline bool takes_argument(std::string_view name) {
  if (name.size() == 2 && name[0] == '-' && name[1] != '-')
    return letters_with_argument.find(name[1]) != std::string_view::npos;
  if (name.size() < 3 || name.substr(0, 2) != "--") return false;
  name.remove_prefix(2);
  for (const auto& b : base_options)
    if (b.name == name) return letters_with_argument.find(b.letter) != std::string_view::npos;
  bool with = false, without = false;
  for (const auto& e : extensions())
    for (const auto& o : e.options)
      if (o.name == name) (o.nargs > 0 ? with : without) = true;
  return with && !without;
}

// getopt(3): for an option with a required argument, "the next argv-element is taken as the
// argument even if it begins with '-'". iptables-save prints such a value unquoted
// (xtables_save_string() quotes only what holds blanks or quotes: `--comment --x`) and
// iptables-restore loads it back, but the grammar starts an option at every word that begins
// with '-'. So, after parsing, each rule line is regrouped as getopt groups it: an option that
// takes an argument and has none gets the next option's name as its first argument (that
// token's role becomes plain), and that option's own arguments after it (extras are then "Bad
// argument", as for iptables). A next option with '!' before it is left alone. Only roles
// change: the text, and print_source, stay as written; every reader of the tree
// (restore, the checks, validation) sees getopt's grouping at no cost.
inline void regroup_as_getopt(ast::storage::tree& tree) {
  using ast::storage::role;
  for (std::size_t l = 0; l < tree.lines.size(); ++l) {
    if (tree.lines[l].kind != ast::line_kind::rule) continue;
    const std::uint32_t end = tree.tokens_end(l);
    for (std::uint32_t t = tree.lines[l].first_token; t + 1 < end; ++t) {
      auto& here = tree.tokens[t];
      auto& next = tree.tokens[t + 1];
      if (here.role() != role::name || next.role() != role::name) continue;
      const std::string_view name(tree.source.data() + here.offset, here.size());
      if (!takes_argument(name)) continue;
      next.size_and_role = next.size() | (static_cast<std::uint32_t>(role::plain) << 30);
    }
  }
}

}  // namespace rstwatch::rules::detail
