// How iptables' getopt_long() groups the words of a command line into options and arguments,
// where that differs from the syntax tree's grouping.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/detail/extensions.hpp>

namespace rstwatch::rules::detail {

// iptables-restore copies each word of a line into a 1024-byte buffer with its NUL
// (xshared.c add_param_to_argv(): "Parameter too long!").
inline constexpr std::size_t max_word = 1023;


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

// The extensions a rule has loaded at some point of its command line, as far as they change
// getopt_long()'s option table: each `-m NAME`, the `-j NAME` target, and the match a `-p` names
// (iptables' command_default() loads it for an option nothing else knows).
struct loaded_options {
  static constexpr std::size_t max_matches = 8;  // more are rare; later ones are not consulted
  const extension* matches[max_matches] = {};
  std::size_t match_count = 0;
  const extension* target = nullptr;
  const extension* protocol = nullptr;
};

// The base options whose long name begins with byte `c`, as a range of pointers: every
// extension option of every rule is looked up here, and most share no first byte with any.
struct base_option_range {
  const base_option* const* first;
  const base_option* const* last;
  const base_option* const* begin() const noexcept { return first; }
  const base_option* const* end() const noexcept { return last; }
};
inline base_option_range base_options_from(char c) noexcept {
  constexpr std::size_t count = std::size(base_options);
  struct index {
    const base_option* by_first[count] = {};
    std::uint8_t start[257] = {};  // by_first[start[b] .. start[b + 1]) begin with byte b
  };
  static const index table = [] {
    index t;
    std::size_t n = 0;
    for (unsigned b = 0; b < 256; ++b) {
      t.start[b] = static_cast<std::uint8_t>(n);
      for (const auto& o : base_options)
        if (static_cast<unsigned char>(o.name[0]) == b) t.by_first[n++] = &o;
    }
    t.start[256] = static_cast<std::uint8_t>(n);
    return t;
  }();
  const auto b = static_cast<unsigned char>(c);
  return {table.by_first + table.start[b], table.by_first + table.start[b + 1]};
}

// The one table of base options every reader of a rule line uses (restore, the checks and the
// getopt regrouping): exact names first, then abbreviations, as getopt_long() reads them.

// The base option `name` names exactly ("-p", "--protocol", "--src"), null for none. A short
// option is looked up by its letter (one table load: every option of every rule comes here).
inline const base_option* find_base(std::string_view name) noexcept {
  if (name.size() == 2 && name[0] == '-' && name[1] != '-') {
    static const std::array<const base_option*, 128> by_letter = [] {
      std::array<const base_option*, 128> a{};
      for (const auto& b : base_options)
        if (!a[static_cast<unsigned char>(b.letter)]) a[static_cast<unsigned char>(b.letter)] = &b;
      return a;
    }();
    const auto c = static_cast<unsigned char>(name[1]);
    return c < by_letter.size() ? by_letter[c] : nullptr;
  }
  if (name.size() < 3 || name.substr(0, 2) != "--") return nullptr;
  name.remove_prefix(2);
  for (const base_option* b : base_options_from(name[0]))
    if (b->name == name) return b;
  return nullptr;
}

// The base options a long name without its "--" begins (getopt_long() takes any unambiguous
// prefix): how many letters they stand for (--source and --src count once) and one of them,
// the only one when `letters` is 1.
struct base_prefix {
  int letters = 0;
  const base_option* option = nullptr;
};
inline base_prefix base_options_begun_by(std::string_view long_name) noexcept {
  base_prefix p;
  if (long_name.empty()) return p;
  std::uint64_t seen[2] = {0, 0};  // letters met, one bit each (all below 128)
  for (const base_option* b : base_options_from(long_name[0])) {
    if (b->name.substr(0, long_name.size()) != long_name) continue;
    const auto c = static_cast<unsigned char>(b->letter) & 127u;
    const std::uint64_t bit = std::uint64_t{1} << (c & 63u);
    if (!(seen[c >> 6] & bit)) ++p.letters;
    seen[c >> 6] |= bit;
    p.option = b;
  }
  return p;
}

// The base option a long name ("--j") abbreviates when every base name it begins stands for one
// letter (`--j` is --jump; `--d` begins --delete, --destination and --delete-chain: none).
inline const base_option* find_base_prefix(std::string_view name) noexcept {
  if (name.size() < 3 || name.substr(0, 2) != "--") return nullptr;
  const base_prefix p = base_options_begun_by(name.substr(2));
  return p.letters == 1 ? p.option : nullptr;
}

// The letter of the base option `name` is ("-p", "--protocol", or a prefix of long names that
// all stand for one letter, as getopt_long() allows), 0 for none. A short option gives its
// letter whether or not iptables has it.
inline char base_letter(std::string_view name) noexcept {
  if (name.size() == 2 && name[0] == '-' && name[1] != '-') return name[1];
  if (const base_option* b = find_base(name)) return b->letter;
  if (const base_option* b = find_base_prefix(name)) return b->letter;
  return 0;
}

// Base options iptables-restore refuses on a rule line: listing, checking and table options,
// and the display options of iptables -L ("Illegal option `-n' with this command"). -V and -h
// are refused too: iptables-restore prints its version or help and exits without loading
// anything. (-v and -M are accepted and change nothing in the ruleset.)
inline constexpr std::string_view letters_refused_in_restore = "LSCtnxw0Vh";

inline bool refused_in_restore(char letter) noexcept {
  return letters_refused_in_restore.find(letter) != std::string_view::npos;
}

// Base options a rule may give once: set_option() in iptables/xshared.c refuses a second one
// ("multiple -s flags not allowed"; --src after -s too). -j and -g share one flag, and a second
// command is "Cannot use -A with -I".
inline constexpr std::string_view letters_once = "sdiopfc";

inline bool given_once(char letter) noexcept {
  return letters_once.find(letter) != std::string_view::npos;
}

// What restore and the checks say about such an option (`name` as written).
struct refusal {
  std::string message, hint;
};
inline refusal refusal_in_restore(std::string_view name, char letter) {
  refusal r{"option '" + std::string(name) + "' is not accepted in a restore file", {}};
  if (letter == 'V' || letter == 'h')
    r.hint = std::string("iptables-restore prints its ") + (letter == 'V' ? "version" : "help") +
             " and exits without loading anything";
  return r;
}

// Whether getopt_long() gives the option `name` (as written: "-s", "--comment", "--comm") a
// required argument, with the option table `loaded` makes. As in iptables' do_parse(): a long
// name written whole wins (base options, then the target's, then the newest match's); else a
// prefix of exactly one base letter or of some loaded extension's option; else, with `-p`
// given, the protocol's match. Anything else is unknown or ambiguous to getopt, and iptables
// refuses the line whatever the grouping, so the answer is no.
inline bool takes_argument(std::string_view name, const loaded_options& loaded) {
  auto with_argument = [](char letter) {
    return letters_with_argument.find(letter) != std::string_view::npos;
  };
  if (name.size() == 2 && name[0] == '-' && name[1] != '-') return with_argument(name[1]);
  if (name.size() < 3 || name.substr(0, 2) != "--") return false;
  const std::string_view long_name = name.substr(2);
  auto in = [&](const extension* e, bool prefix) -> const option_spec* {
    if (e)
      for (const auto& o : e->options)
        if (prefix ? o.name.substr(0, long_name.size()) == long_name : o.name == long_name)
          return &o;
    return nullptr;
  };
  auto search = [&](bool prefix) -> const option_spec* {
    if (auto o = in(loaded.target, prefix)) return o;
    for (std::size_t i = loaded.match_count; i-- > 0;)
      if (auto o = in(loaded.matches[i], prefix)) return o;
    return nullptr;
  };
  if (const base_option* b = find_base(name)) return with_argument(b->letter);
  if (auto o = search(false)) return o->nargs > 0;
  const base_prefix base = base_options_begun_by(long_name);
  const option_spec* prefix_of = search(true);
  const int hits = base.letters + (prefix_of != nullptr);
  if (hits == 1) return base.letters ? with_argument(base.option->letter) : prefix_of->nargs > 0;
  if (hits == 0) {
    if (auto o = in(loaded.protocol, false)) return o->nargs > 0;
    if (auto o = in(loaded.protocol, true)) return o->nargs > 0;
  }
  return false;
}

// What the options of a rule line before token `stop` have loaded.
inline loaded_options loaded_before(const ast::storage::tree& tree, std::uint32_t first,
                                    std::uint32_t stop) {
  using ast::storage::role;
  loaded_options loaded;
  for (std::uint32_t t = first; t + 1 < stop; ++t) {
    const auto& here = tree.tokens[t];
    const auto& next = tree.tokens[t + 1];
    if (here.role() != role::name || next.role() != role::plain) continue;
    const char letter = base_letter(std::string_view(tree.source.data() + here.offset, here.size()));
    const std::string_view value(tree.source.data() + next.offset, next.size());  // as written
    if (letter == 'm' && loaded.match_count < loaded_options::max_matches) {
      if (auto e = find_extension(value, false)) loaded.matches[loaded.match_count++] = e;
    } else if (letter == 'j') {
      loaded.target = find_extension(value, true);
    } else if (letter == 'p' && !(t > first && tree.tokens[t - 1].role() == role::bang)) {
      std::string_view m = value == "tcp" || value == "6"    ? "tcp"
                           : value == "udp" || value == "17" ? "udp"
                           : value == "icmp" || value == "1" ? "icmp"
                           : value == "icmpv6" || value == "ipv6-icmp" || value == "58"
                               ? "icmp6"
                               : "";
      loaded.protocol = m.empty() ? nullptr : find_extension(m, false);
    }
  }
  return loaded;
}

// getopt(3): for an option with a required argument, "the next argv-element is taken as the
// argument even if it begins with '-'". iptables-save prints such a value unquoted
// (xtables_save_string() quotes only what holds blanks or quotes: `--comment --x`) and
// iptables-restore loads it back, but the grammar starts an option at every word that begins
// with '-'. So, after parsing, each rule line is regrouped as getopt groups it: an option that
// takes an argument and has none gets the next option's name as its first argument (that
// token's role becomes plain), and that option's own arguments after it (extras are then "Bad
// argument", as for iptables). A '!' before the next option is taken the same way: getopt
// gives it to the option as its value, and the option after it is not negated. Only roles
// change: the text, and print_source, stay as written; every reader of the tree
// (restore, the checks, validation) sees getopt's grouping at no cost. What the line loaded
// before such a pair is worked out only when a pair is found: most lines have none.
inline void regroup_as_getopt(ast::storage::tree& tree) {
  using ast::storage::role;
  for (std::size_t l = 0; l < tree.lines.size(); ++l) {
    // A line of the fast path has its roles right already (canonical_rule.hpp).
    if (tree.lines[l].kind != ast::line_kind::rule || tree.lines[l].saved_form != 0) continue;
    const std::uint32_t first = tree.lines[l].first_token, end = tree.tokens_end(l);
    for (std::uint32_t t = first; t + 1 < end; ++t) {
      auto& here = tree.tokens[t];
      auto& next = tree.tokens[t + 1];
      if (here.role() != role::name || next.role() == role::plain) continue;
      const std::string_view name(tree.source.data() + here.offset, here.size());
      if (!takes_argument(name, loaded_before(tree, first, t))) continue;
      // The next option's name, or the '!' before it (`-o ! -j ACCEPT`: the interface is "!"
      // and -j is not negated), becomes this option's argument.
      next.size_and_role = next.size() | (static_cast<std::uint32_t>(role::plain) << 30);
    }
  }
}

}  // namespace rstwatch::rules::detail
