// One command line read the way iptables' do_parse() reads its argv (iptables/xshared.c):
// the command, base options, -m/-j extensions with their options (getopt_long prefixes and
// the implicit match -p loads included), and the canonical iptables-save text of the rule.
#pragma once

#include <algorithm>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/detail/extensions.hpp>
#include <rstwatch/rules/detail/getopt.hpp>
#include <rstwatch/rules/detail/values.hpp>

namespace rstwatch::rules {

// One rule of a restored chain. Its text (everything after "-A CHAIN", with its leading space)
// is kept with the others of its table, in one string: saved_table::spec(rule) gives it.
struct saved_rule {
  std::uint64_t packets = 0, bytes = 0;
  std::uint32_t spec_block = 0, spec_at = 0, spec_size = 0;
  source_position where;  // the line that made it
};

}  // namespace rstwatch::rules

namespace rstwatch::rules::detail {

inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

struct loaded_extension {
  std::string name;
  const extension* ext = nullptr;  // nullptr: not modelled, options kept as written
  bool target = false;
  rstwatch::detail::reuse_list<given_option> opts;
  source_position where;  // of the -m/-j/-g (or -p) option that loaded it
  // A modelled tcp/udp match: read once by read_command_line() for the merge below, then
  // printed from `ports`; `payload` when iptables-nft turns it into payload compares.
  bool ports_read = false, payload = false;
  ports_match ports;

  // Loaded anew by the option at `at`, keeping the storage of the line before.
  void reload(const extension* e, bool is_target, source_position at) {
    ext = e;
    target = is_target;
    ports_read = payload = false;
    opts.clear();
    where = at;
  }
};

// Whether `name` can name an extension or a chain at all: no blanks or double quotes
// (chain names may hold most other characters, `a:b` and `a,b` included).
inline bool loadable_name(std::string_view name) {
  return !name.empty() && name.find_first_of(" \t\n\r\v\f\"") == std::string_view::npos;
}

// A command line read the way do_parse() in iptables/xshared.c reads its argv. A reader that
// reads many lines passes the same parsed_line to read_command_line() for each: its strings
// and lists keep their storage, so a line in steady state costs few allocations.
struct parsed_line {
  char command = 0;  // A I D R N F X Z P E
  std::optional<ast::option> command_option;
  std::vector<std::string> command_args;
  bool has_rule = false;
  std::string spec;  // the rule as iptables-save prints it after "-A CHAIN", leading space included
  bool counters_given = false;  // -c
  std::uint64_t packets = 0, bytes = 0;
  // With -s or -d lists (`-s 10.0.0.1,10.0.0.2`) iptables makes one rule per source and
  // destination pair, sources first: `spec` is the first, these the others in order.
  rstwatch::detail::reuse_list<std::string> more_specs;
  rstwatch::detail::reuse_list<loaded_extension> matches;  // in load order, the implicit -p match included
  bool has_target = false;    // -j or -g given
  loaded_extension target;    // its extension when has_target
};

inline diagnostic at(const ast::token& t, std::string message, std::string hint = {}) {
  diagnostic d;
  d.where = t.where;
  d.message = std::move(message);
  d.hint = std::move(hint);
  return d;
}



// Reads `line` into `out` (whatever it held before); the diagnostic of the first error, if any.
inline std::optional<diagnostic> read_command_line(const ast::rule_line& line, family fam,
                                                   parsed_line& out) {
  out.command = 0;
  out.command_option.reset();
  out.command_args.clear();
  out.has_rule = false;
  out.spec.clear();
  out.counters_given = false;
  out.packets = out.bytes = 0;
  out.has_target = false;
  out.more_specs.clear();
  // Base rule fields.
  std::optional<address> src, dst;
  std::vector<address> src_more, dst_more;  // the rest of -s/-d lists (allocated only for lists)
  bool src_inv = false, dst_inv = false, in_inv = false, out_inv = false, proto_inv = false;
  std::string in_if, out_if;
  std::optional<ast::token> in_at, out_at;  // where -i and -o are written
  std::optional<ast::token> inverted_address_at;  // the '!' of an inverted -s or -d
  source_position proto_at;                       // where -p is written (line 0: absent)
  std::optional<std::uint8_t> proto;
  bool frag = false, frag_inv = false;
  rstwatch::detail::reuse_list<loaded_extension>& matches = out.matches;
  matches.clear();
  loaded_extension* target = nullptr;  // &out.target once -j or -g is read
  bool is_goto = false;

  auto need_args = [&](const ast::option& o, std::size_t min, std::size_t max,
                       std::string_view what) -> std::optional<diagnostic> {
    if (o.args.size() < min)
      return at(o.name, "option '" + std::string(o.name.text) + "' requires " + std::string(what));
    if (o.args.size() > max)
      return at(o.args[max], "Bad argument '" + o.args[max].value() + "'");
    return std::nullopt;
  };

  bool given[128] = {};  // the base options given so far that may be given once
  const ast::option_list& options = line.options;  // getopt's grouping (parse() regrouped)
  if (auto word = options.first_word_over(max_word))
    return at(*word, "Parameter too long!", "iptables-restore takes words of at most 1023 bytes");
  // The match a -p anywhere on the line loads for options nothing else takes. Before that -p,
  // iptables refuses an option only that match knows even when a module rstwatch does not
  // model is loaded (`-m mac --sp -p tcp`: unknown option "--sp"), while print_saved, which
  // writes -p first, would hand it to that match. Looked for only then: a walk of the line.
  auto later_proto_match = [&]() -> const extension* {
    const extension* found = nullptr;
    for (const ast::option& o : options)
      if ((o.name.text == "-p" || o.name.text == "--protocol") && o.args.size() == 1)
        if (auto p = parse_protocol(o.args[0].value()))
          found = find_extension(implicit_match(*p, fam), false);
    return found;
  };
  for (const ast::option& o : options) {
    std::string_view text = o.name.text;
    bool invert = o.bang.present();
    char letter = 0;
    std::string_view long_name;
    if (text.size() == 2 && text[0] == '-' && text[1] != '-') {
      letter = text[1];
    } else if (text.size() > 2 && text.substr(0, 2) == "--") {
      long_name = text.substr(2);
      // Exact base names first, then exact extension names, then unique prefixes.
      if (const base_option* b = find_base(text)) letter = b->letter;
    }

    // Extension options: the newest loaded extension that has the name wins
    // (xtables_merge_options() puts newer options first).
    auto find_ext_option = [&](std::string_view name, bool prefix) -> std::pair<loaded_extension*, const option_spec*> {
      auto in = [&](loaded_extension& le) -> const option_spec* {
        if (le.ext)
          for (auto& spec : le.ext->options)
            if (prefix ? spec.name.substr(0, name.size()) == name : spec.name == name) return &spec;
        return nullptr;
      };
      if (target)
        if (const option_spec* spec = in(*target)) return {&*target, spec};
      for (auto it = matches.rbegin(); it != matches.rend(); ++it)
        if (const option_spec* spec = in(*it)) return {&*it, spec};
      return {nullptr, nullptr};
    };

    // How many options of the loaded extensions `name` begins, counted as getopt_long() counts
    // them in its merged table: across all extensions, an alias (--sport, --source-port) being
    // the same option. `-m limit --lim` (--limit, --limit-burst) and `-p udp --dport 53 -m
    // multiport --dpo` (--dport, --dports) are ambiguous: "unknown option".
    auto extension_prefix_hits = [&](std::string_view name) {
      struct hit {
        const extension* ext;
        std::string_view option;
      };
      hit seen[16];
      int n = 0;
      auto count = [&](const loaded_extension& l) {
        if (!l.ext) return;
        for (const auto& sp : l.ext->options) {
          if (sp.name.substr(0, name.size()) != name) continue;
          const std::string_view canonical = sp.canon.empty() ? sp.name : sp.canon;
          bool known = false;
          for (int k = 0; k < std::min(n, 16); ++k)
            known = known || (seen[k].ext == l.ext && seen[k].option == canonical);
          if (known) continue;
          if (n < 16) seen[n] = {l.ext, canonical};
          ++n;
        }
      };
      if (target) count(*target);
      for (const auto& l : matches) count(l);
      return n;
    };

    if (!letter && !long_name.empty()) {
      auto [le, spec] = find_ext_option(long_name, false);
      if (!le) {
        // An unambiguous prefix of a base or extension option, as getopt_long() allows.
        // getopt_long() counts every option of the merged table the name begins, across all
        // loaded extensions; an alias (--sport, --source-port) is the same option. `-m limit
        // --lim` (--limit, --limit-burst) and `--dport 53 -m multiport --dpo` are ambiguous.
        const base_prefix base = base_options_begun_by(long_name);
        auto [ple, pspec] = find_ext_option(long_name, true);
        const int hits = base.letters + extension_prefix_hits(long_name);
        if (hits == 1 && base.letters) letter = base.option->letter;
        else if (hits == 1) { le = ple; spec = pspec; }
        // getopt_long() refuses a prefix of several options (`--d`: --delete, --destination,
        // ...), so iptables says "unknown option" even when a module rstwatch does not model
        // is loaded; handing it to that module instead let `-m mac --d -p tcp` load, and its
        // saved form `-p tcp -m mac --d` then bound --d to the tcp match.
        if (hits > 1) return at(o.name, "unknown option \"" + std::string(text) + "\"");
      }
      if (!letter && !le && proto) {
        // do_parse() -> load_proto(): an unknown option with -p given loads the match named
        // after the protocol (the implicit `-m tcp` iptables-save then prints).
        std::string_view implicit = implicit_match(*proto, fam);
        const extension* e = implicit.empty() ? nullptr : find_extension(implicit, false);
        bool already = false;
        for (auto& m : matches) already = already || m.ext == e;
        if (e && !already) {
          for (auto& s : e->options)
            if (s.name == long_name || s.name.substr(0, long_name.size()) == long_name) {
              loaded_extension& m = matches.add();
              m.name.assign(implicit.data(), implicit.size());
              m.reload(e, false, o.name.where);
              auto found = find_ext_option(long_name, false);
              if (!found.first && extension_prefix_hits(long_name) > 1)  // `-p tcp --tcp`
                return at(o.name, "unknown option \"" + std::string(text) + "\"");
              if (!found.first) found = find_ext_option(long_name, true);
              le = found.first;
              spec = found.second;
              break;
            }
        }
      }
      if (!letter && !le) {
        // A module rstwatch does not model takes every option given after it, as written. A
        // chain or a verdict after -j is no module: iptables refuses options after it
        // (`-j 0 --u`), unless a loaded match takes them.
        loaded_extension* generic = nullptr;
        if (target && !target->ext && ships_unmodelled(target->name, true)) generic = target;
        else if (!matches.empty() && !matches.back().ext) generic = &matches.back();
        if (const extension* later = generic && !proto ? later_proto_match() : nullptr)
          for (auto& s : later->options)
            if (s.name.substr(0, long_name.size()) == long_name)
              return at(o.name, "unknown option \"" + std::string(text) + "\"");
        if (generic) {
          given_option& g = generic->opts.add();
          g.name = long_name;
          g.invert = invert;
          g.where = o.args.empty() ? o.name.where : o.args[0].where;
          g.args.clear();
          for (const auto& a : o.args) g.args.add().assign(a.text.data(), a.text.size());
          continue;
        }
        std::string hint;
        std::vector<std::string_view> known;
        for (auto& b : base_options) known.push_back(b.name);
        for (auto& m : matches)
          if (m.ext) for (auto& s : m.ext->options) known.push_back(s.name);
        if (target && target->ext) for (auto& s : target->ext->options) known.push_back(s.name);
        if (proto && (*proto == 6 || *proto == 17))
          for (auto& s : find_extension(*proto == 6 ? "tcp" : "udp", false)->options) known.push_back(s.name);
        for (auto k : known) {
          // A value glued to the name (the seed's --log-level7); "--random-fully" is no
          // --random with "-fully" glued on.
          if (long_name.size() > k.size() && long_name.substr(0, k.size()) == k &&
              long_name[k.size()] != '-') {
            hint = "did you mean '--" + std::string(k) + " " + std::string(long_name.substr(k.size())) + "'?";
            break;
          }
        }
        if (hint.empty())
          for (auto k : known)
            if (edit_distance(long_name, k) <= 2) {
              hint = "did you mean '--" + std::string(k) + "'?";
              break;
            }
        return at(o.name, "unknown option \"" + std::string(text) + "\"", hint);
      }
      if (le) {
        std::size_t n = static_cast<std::size_t>(spec->nargs);
        if (auto e = need_args(o, n, n, n == 0 ? "no argument" : n == 1 ? "an argument" : "two arguments"))
          return *e;
        // libxt_multiport.c checks the protocol when it reads its option: a -p written after
        // it comes too late.
        if (le->name == "multiport" &&
            (!proto || proto_inv || (*proto != 6 && *proto != 17 && *proto != 136 && *proto != 132 && *proto != 33)))
          return at(o.name, "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'");
        const std::string_view canonical = spec->canon.empty() ? spec->name : spec->canon;
        if (invert)
          if (std::string why = inversion_refusal(le->ext->name, le->ext->target, canonical); !why.empty())
            return at(o.args.empty() ? o.name : o.args[0], std::move(why));
        for (const given_option& earlier : le->opts) {
          std::string why = refusal_of_pair(le->name, message_name(earlier.name), message_name(canonical));
          if (!why.empty()) return at(o.name, std::move(why));
        }
        given_option& g = le->opts.add();
        g.name = canonical;
        g.invert = invert;
        g.where = o.args.empty() ? o.name.where : o.args[0].where;
        g.args.clear();
        for (const auto& a : o.args) a.value_into(g.args.add());
        continue;
      }
    }

    if (!letter) {
      // Short options of extensions (none of the modelled ones has one) and stray words.
      return at(o.name, "unknown option \"" + std::string(text) + "\"");
    }

    auto cannot_invert = [&]() { return at(o.bang, "cannot have ! before " + std::string(text)); };
    if (given_once(letter)) {
      if (given[static_cast<unsigned char>(letter)])
        return at(o.name, std::string("multiple -") + letter + " flags not allowed");
      given[static_cast<unsigned char>(letter)] = true;
    }
    switch (letter) {
      case 'A': case 'I': case 'D': case 'R': case 'N': case 'F': case 'X': case 'Z': case 'P':
      case 'E': {
        if (invert) return at(o.bang, "unexpected '!' flag");
        if (out.command)
          return at(o.name, std::string("Cannot use -") + letter + " with -" + out.command);
        std::size_t lo = 0, hi = 0;
        switch (letter) {
          case 'A': case 'N': lo = hi = 1; break;
          case 'I': case 'D': lo = 1; hi = 2; break;
          case 'R': case 'P': case 'E': lo = hi = 2; break;
          case 'F': case 'X': lo = 0; hi = 1; break;
          case 'Z': lo = 0; hi = 2; break;
        }
        if (auto e = need_args(o, lo, hi, "a chain name")) return *e;
        out.command = letter;
        out.command_option = o;
        out.command_args.resize(o.args.size());  // strings kept from the line before keep their storage
        for (std::size_t i = 0; i < o.args.size(); ++i) o.args[i].value_into(out.command_args[i]);
        break;
      }
      case 'v':  // verbose: iptables-restore prints the rule, and loads it
        if (invert) return cannot_invert();
        if (auto e = need_args(o, 0, 0, "")) return *e;
        break;
      case 'M':  // the modprobe program: nothing in the ruleset
        if (invert) return cannot_invert();
        if (auto e = need_args(o, 1, 1, "a program")) return *e;
        break;
      case 's': case 'd': {
        if (auto e = need_args(o, 1, 1, "an address")) return *e;
        std::string scratch;
        const std::string_view list = o.args[0].value_view(scratch);
        std::vector<address>& more = letter == 's' ? src_more : dst_more;
        more.clear();
        // xtables_ipparse_multiple(): a comma-separated list, each element an address.
        for (std::size_t start = 0, n = 0;; ++n) {
          const std::size_t comma = list.find(',', start);
          const std::string_view v = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
          auto a = parse_address(v, fam);
          if (!a) {
            bool name_like = v.find_first_not_of("0123456789./:abcdefABCDEF") != std::string_view::npos;
            return at(o.args[0],
                      name_like ? "host/network '" + std::string(v) + "' not found: rstwatch does not resolve host names"
                                : "bad address '" + std::string(v) + "'",
                      name_like ? "write a numeric address" : "");
          }
          if (n == 0) (letter == 's' ? src : dst) = a;
          else more.push_back(*a);
          if (comma == std::string_view::npos) break;
          start = comma + 1;
        }
        if (invert && !more.empty())
          return at(o.bang, "! not allowed with multiple source or destination IP addresses");
        (letter == 's' ? src_inv : dst_inv) = invert;
        if (invert) inverted_address_at = o.bang;
        break;
      }
      case 'i': case 'o': {
        if (auto e = need_args(o, 1, 1, "an interface")) return *e;
        std::string v = o.args[0].value();
        if (v.empty() || v.size() >= 16)
          return at(o.args[0], "interface name '" + v + "' must be shorter than 16 characters");
        (letter == 'i' ? in_if : out_if) = v;
        (letter == 'i' ? in_inv : out_inv) = invert;
        (letter == 'i' ? in_at : out_at) = o.name;
        break;
      }
      case 'p': {
        if (auto e = need_args(o, 1, 1, "a protocol")) return *e;
        std::string scratch;
        auto p = parse_protocol(o.args[0].value_view(scratch));
        if (!p) return at(o.args[0], "unknown protocol '" + o.args[0].value() + "' specified");
        proto = *p;
        proto_at = o.name.where;
        proto_inv = invert;
        if (invert && *proto == 0) return at(o.args[0], std::string(never_matches_protocol));
        break;
      }
      case 'f':
        if (auto e = need_args(o, 0, 0, "")) return *e;
        frag = true;
        frag_inv = invert;
        break;
      case 'm': {
        if (invert) return at(o.bang, "unexpected ! flag before --match");
        if (auto e = need_args(o, 1, 1, "a match name")) return *e;
        loaded_extension& m = matches.add();
        o.args[0].value_into(m.name);
        if (const std::string_view module = match_module_name(m.name, fam); module.empty())
          return at(o.args[0], "Couldn't load match `" + std::string(m.name == "icmpv6" ? "icmp6" : m.name) +
                                   "':No such file or directory");
        else if (module != m.name)
          m.name = std::string(module);
        m.reload(find_extension(m.name, false), false, o.name.where);
        // iptables loads an extension from libxt_NAME.so: a name with blanks or quotes names
        // none (found by fuzz/rules: `-m comme" inside"` is one argument with a space), and
        // neither does a name iptables 1.8.9 ships no module for (`-m I`), which validate()
        // refuses too.
        if (!m.ext && (!loadable_name(m.name) || !ships_unmodelled(m.name, false)))
          return at(o.args[0], "Couldn't load match `" + m.name + "':No such file or directory");
        break;
      }
      case 'j': case 'g': {
        if (invert) return cannot_invert();
        if (auto e = need_args(o, 1, 1, "a target")) return *e;
        if (target) return at(o.name, "multiple -j flags not allowed");
        loaded_extension& t = out.target;
        o.args[0].value_into(t.name);
        // -g goes to a chain: a verdict or a target there names none (the chain lookup fails).
        if (letter == 'g' && names_a_target(t.name))
          return at(o.args[0], "Chain '" + t.name + "' does not exist");
        t.reload(letter == 'g' ? nullptr : find_extension(t.name, true), true, o.name.where);
        if (!t.ext && !loadable_name(t.name))
          return at(o.args[0], "Couldn't load target `" + t.name + "':No such file or directory");
        target = &t;
        out.has_target = true;
        is_goto = letter == 'g';
        break;
      }
      case 'c': {
        if (invert) return cannot_invert();
        if (auto e = need_args(o, 2, 2, "packet and byte counters")) return *e;
        auto p = parse_counter(o.args[0].value(), false);
        auto b = parse_counter(o.args[1].value(), false);
        if (!p) return at(o.args[0], "Packet counter not numeric");
        if (!b) return at(o.args[1], "Byte counter not numeric");
        out.counters_given = true;
        out.packets = *p;
        out.bytes = *b;
        break;
      }
      case '4':
        if (fam != family::ipv4) return at(o.name, "This is an IPv6 rule file: -4 skips the line");
        break;
      case '6':
        if (fam != family::ipv6) return at(o.name, "This is an IPv4 rule file: -6 skips the line");
        break;
      default: {
        refusal why = refusal_in_restore(text, letter);
        return at(o.name, std::move(why.message), std::move(why.hint));
      }
    }
  }

  if (!out.command) {
    diagnostic d;
    if (!line.options.empty()) d.where = line.options.front().name.where;
    d.message = "no command specified";
    d.hint = "start the line with -A, -I, -D, -R, -N, -F, -X, -Z, -P or -E";
    return d;
  }
  bool takes_rule = out.command == 'A' || out.command == 'I' || out.command == 'R' ||
                    (out.command == 'D' && out.command_args.size() == 1);
  bool has_rule_options = src || dst || !in_if.empty() || !out_if.empty() || proto || frag ||
                          !matches.empty() || target;
  if (!takes_rule && has_rule_options)
    return at(out.command_option->name,
              std::string("rule options are not allowed with -") + out.command);
  if (!takes_rule) return std::nullopt;
  // xshared.c: by the chain's name, whatever the table: no output interface is known yet where
  // INPUT and PREROUTING run, no input interface where OUTPUT and POSTROUTING run.
  const std::string& chain = out.command_args[0];
  if (out_at && (chain == "INPUT" || chain == "PREROUTING"))
    return at(*out_at, "Can't use -o with " + chain, "no output interface is known there yet");
  // xshared.c: a list on one side makes a '!' on the other side wrong too ("! -s a -d b,c").
  if (inverted_address_at && (!src_more.empty() || !dst_more.empty()))
    return at(*inverted_address_at, "! not allowed with multiple source or destination IP addresses");
  if (in_at && (chain == "OUTPUT" || chain == "POSTROUTING"))
    return at(*in_at, "Can't use -i with " + chain, "no input interface is known there");

  // Canonical text, in print_ipv4()/print_ipv6()-then-matches-then-target order
  // (iptables/nft-ipv4.c, nft-ipv6.c, nft-shared.c save_rule_details()).
  std::string& s = out.spec;
  auto addr = [&](std::string& into, const std::optional<address>& a, bool neg, char letter) {
    if (!a || (matches_everything(*a) && !neg)) return;
    into += neg ? " ! -" : " -";
    into += letter;
    into += ' ';
    into += print_address(*a);
  };
  addr(s, src, src_inv, 's');
  addr(s, dst, dst_inv, 'd');
  const std::size_t addresses_end = s.size();
  auto iface = [&](const std::string& name, bool neg, char letter) {
    if (name.empty() || (name == "+" && !neg)) return;
    s += neg ? " ! -" : " -";
    s += letter;
    s += ' ';
    s += name;
  };
  iface(in_if, in_inv, 'i');
  iface(out_if, out_inv, 'o');
  if (proto && (*proto != 0 || proto_inv)) {
    s += proto_inv ? " ! -p " : " -p ";
    s += print_protocol(*proto, fam);
  }
  if (frag) {
    if (fam == family::ipv6) return at(line.options.front().name, "-f is not supported by ip6tables");
    s += frag_inv ? " ! -f" : " -f";
  }
  auto emit = [&](const loaded_extension& e) -> std::optional<diagnostic> {
    if (e.ext) {
      if (!e.target) {
        auto has = [&e](std::string_view option) {
          for (const auto& g : e.opts)
            if (g.name == option) return true;
          return false;
        };
        if (std::string why = missing_options_refusal(e.ext->name, !e.opts.empty(), has); !why.empty()) {
          diagnostic d;
          d.where = e.where;
          d.message = std::move(why);
          return d;
        }
      }
      save_input in{e.opts, fam, proto.value_or(0), proto_at};
      if (auto d = e.ext->save(in, s)) {
        if (d->where.line == 0) d->where = e.where;
        return d;
      }
      return std::nullopt;
    }
    for (auto& g : e.opts) {
      s += g.invert ? " ! --" : " --";
      s += g.name;
      for (auto& a : g.args) {
        s += ' ';
        s += a;
      }
    }
    return std::nullopt;
  };
  // iptables-nft turns a tcp or udp match that is not kept as an xt match (ports_match::
  // compat()) into payload compares, which iptables-save prints as one match
  // (merged_compares): `--dport 80 -m tcp ! --dport 81` prints `! --dport 81`,
  // `! --sport 0:65535` alone prints nothing, and no `-m tcp` at all when nothing was compared.
  std::size_t merged_at = matches.size();
  merged_compares merged;
  for (std::size_t i = 0; i < matches.size(); ++i) {
    loaded_extension& m = matches[i];
    m.ports_read = m.payload = false;
    if (!m.ext || m.target || (m.name != "tcp" && m.name != "udp")) continue;
    save_input in{m.opts, fam, proto.value_or(0), proto_at};
    auto p = read_ports_match(in, m.name == "tcp");
    if (!p) {
      diagnostic d = p.error();
      if (d.where.line == 0) d.where = m.where;
      return d;
    }
    m.ports = *p;
    m.ports_read = true;
    if (p->compat()) continue;
    m.payload = true;
    if (merged.add(*p) && merged_at == matches.size()) merged_at = i;
  }
  for (std::size_t i = 0; i < matches.size(); ++i) {
    const loaded_extension& m = matches[i];
    if (m.payload) {
      if (i != merged_at) continue;
      s += " -m ";
      s += m.name;
      merged.print(s);
      continue;
    }
    s += " -m ";
    s += m.name;
    if (m.ports_read) {  // an xt match: as tcp_save()/udp_save() print it
      print_ports_match(m.ports, s);
      continue;
    }
    if (auto d = emit(m)) return *d;
  }
  if (target) {
    s += is_goto ? " -g " : " -j ";
    s += target->name;
    if (auto d = emit(*target)) return *d;
  }
  if (!src_more.empty() || !dst_more.empty()) {
    // One rule per (source, destination), sources first; the first pair is `spec` itself.
    const std::string tail = s.substr(addresses_end);
    std::vector<std::optional<address>> sources{src}, destinations{dst};
    sources.insert(sources.end(), src_more.begin(), src_more.end());
    destinations.insert(destinations.end(), dst_more.begin(), dst_more.end());
    bool first = true;
    for (const auto& a : sources)
      for (const auto& b : destinations) {
        if (first) {
          first = false;
          continue;
        }
        std::string& v = out.more_specs.add();
        v.clear();
        addr(v, a, src_inv, 's');
        addr(v, b, dst_inv, 'd');
        v += tail;
      }
  }
  out.has_rule = true;
  return std::nullopt;
}

// One command line on its own.
inline result<parsed_line> parse_command_line(const ast::rule_line& line, family fam) {
  parsed_line out;
  if (auto e = read_command_line(line, fam, out)) return std::move(*e);
  return out;
}

}  // namespace rstwatch::rules::detail
