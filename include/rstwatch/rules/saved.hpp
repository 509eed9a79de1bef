// Evaluate a restore file as iptables-restore 1.8.9 (nf_tables) would, and print the resulting
// ruleset byte for byte as iptables-save / ip6tables-save print it (without their dated
// "# Generated" and "# Completed" lines).
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/netfilter.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/detail/canonical_rule.hpp>
#include <rstwatch/rules/detail/chain_map.hpp>
#include <rstwatch/rules/detail/command_line.hpp>
#include <rstwatch/rules/detail/extensions.hpp>
#include <rstwatch/rules/detail/values.hpp>

namespace rstwatch::rules {

struct restore_options {
  family fam = family::ipv4;
  bool counters = false;  // iptables-restore --counters: use [p:b] prefixes and chain counters
  bool noflush = false;   // iptables-restore --noflush: tables are not emptied first
  std::string file_name;  // for diagnostics
};

struct save_options {
  bool counters = false;  // iptables-save --counters: print [p:b] before every rule
};

struct saved_chain {
  std::string name;
  bool builtin = false;
  std::string policy = "ACCEPT";  // built-in chains only
  std::uint64_t packets = 0, bytes = 0;
  std::vector<saved_rule> rules;
};

struct saved_table {
  std::string_view name;
  bool exists = false;
  std::vector<saved_chain> builtins;  // in hook order
  // User chains, in no particular order: iptables-save prints them by name (user_by_name()).
  // A deque keeps them in place, so restore() finds them through an index of pointers; a
  // std::map kept sorted cost more to fill than sorting once to print, with the tens of
  // thousands of chains kube-proxy makes.
  std::deque<saved_chain> user;
  // The texts of the table's rules, one after another in blocks of 1 MiB that are filled and
  // never moved: one allocation per thousands of rules instead of one per rule, and no copy as
  // the table grows (a kube-proxy table has 100,000 rules).
  std::vector<std::string> specs;
  static constexpr std::size_t spec_block_size = std::size_t{1} << 20;

  std::string_view spec(const saved_rule& r) const {
    return std::string_view(specs[r.spec_block]).substr(r.spec_at, r.spec_size);
  }
  saved_rule add_spec(std::string_view text) {
    if (specs.empty() || specs.back().capacity() - specs.back().size() < text.size()) {
      specs.emplace_back();
      specs.back().reserve(std::max(spec_block_size, text.size()));
    }
    saved_rule r;
    r.spec_block = static_cast<std::uint32_t>(specs.size() - 1);
    r.spec_at = static_cast<std::uint32_t>(specs.back().size());
    r.spec_size = static_cast<std::uint32_t>(text.size());
    specs.back() += text;
    return r;
  }

  // The user chains in iptables-save's order: by name, compared as strcmp() compares
  // ("Beta" < "ZETA" < "alpha"). Each name is sorted first by the eight bytes after the prefix
  // all names share, read as one big-endian number (kube-proxy's 30,000 "KUBE-S…" names
  // mostly differ there), and only on a tie by its whole text: integers sorted by their
  // digits where memcmp() of two strings on the heap was most of the time of printing such a
  // table.
  std::vector<const saved_chain*> user_by_name() const {
    struct entry {
      std::uint64_t key;
      const saved_chain* chain;
    };
    std::size_t shared = user.empty() ? 0 : user.front().name.size();
    for (const saved_chain& c : user) {
      const std::string& first = user.front().name;
      std::size_t n = 0;
      while (n < shared && n < c.name.size() && c.name[n] == first[n]) ++n;
      shared = n;
    }
    std::vector<entry> entries;
    entries.reserve(user.size());
    for (const saved_chain& c : user) {
      std::uint64_t key = 0;  // names hold no NUL: a shorter name's zero bytes sort it first
      for (std::size_t i = shared; i < shared + 8; ++i)
        key = key << 8 | (i < c.name.size() ? static_cast<unsigned char>(c.name[i]) : 0u);
      entries.push_back({key, &c});
    }
    // By key: a stable radix sort, 16 bits at a time from the lowest, each pass skipped when
    // every key has the same digit there; then runs of equal keys by their whole names.
    std::vector<entry> spare(entries.size());
    std::vector<std::uint32_t> count(std::size_t{1} << 16);
    for (unsigned shift = 0; shift < 64; shift += 16) {
      std::fill(count.begin(), count.end(), 0u);
      for (const entry& e : entries) ++count[(e.key >> shift) & 0xffff];
      if (!entries.empty() && count[(entries.front().key >> shift) & 0xffff] == entries.size()) continue;
      std::uint32_t at = 0;
      for (std::uint32_t& c : count) at += std::exchange(c, at);
      for (const entry& e : entries) spare[count[(e.key >> shift) & 0xffff]++] = e;
      entries.swap(spare);
    }
    for (auto run = entries.begin(); run != entries.end();) {
      auto end = std::find_if(run, entries.end(), [&](const entry& e) { return e.key != run->key; });
      if (end - run > 1)
        std::sort(run, end, [](const entry& a, const entry& b) { return a.chain->name < b.chain->name; });
      run = end;
    }
    std::vector<const saved_chain*> order;
    order.reserve(entries.size());
    for (const entry& e : entries) order.push_back(e.chain);
    return order;
  }

  // Every chain, built-in ones in hook order, then user chains by name.
  template <class F>
  void for_each_chain(F&& f) const {
    for (auto& c : builtins) f(c);
    for (const saved_chain* c : user_by_name()) f(*c);
  }
  template <class F>
  void for_each_chain(F&& f) {
    for (auto& c : builtins) f(c);
    for (const saved_chain* c : user_by_name()) f(const_cast<saved_chain&>(*c));
  }
};

// The kernel's ruleset as iptables-save sees it after one or more restores.
struct ruleset {
  family fam = family::ipv4;
  std::vector<saved_table> tables;  // in iptables-save's order
};

namespace detail {

// iptables-save (nft) 1.8.9 prints the tables in the order of enum nft_table_type
// (iptables/nft.h, reordered in 2020 to match iptables-legacy-save; tests/data/rules/
// all_tables.saved shows it), each table's built-in chains in hook order, then its user
// chains by name (strcmp order: "Beta" < "ZETA" < "alpha").
inline constexpr std::array<netfilter::table, 5> save_order = {
    netfilter::table::mangle, netfilter::table::security, netfilter::table::raw,
    netfilter::table::filter, netfilter::table::nat};
static_assert(
    [] {
      for (netfilter::table t : netfilter::all_tables) {
        int n = 0;
        for (netfilter::table s : save_order) n += s == t;
        if (n != 1) return false;
      }
      return true;
    }(),
    "save_order lists every table of netfilter.hpp once");

inline ruleset empty_ruleset(family fam) {
  ruleset r;
  r.fam = fam;
  for (netfilter::table tbl : save_order) {
    saved_table t;
    t.name = netfilter::to_string(tbl);
    for (netfilter::hook h : netfilter::all_hooks) {
      if (!netfilter::has_chain(fam, tbl, h)) continue;
      saved_chain c;
      c.name = std::string(netfilter::chain_name(h));
      c.builtin = true;
      t.builtins.push_back(std::move(c));
    }
    r.tables.push_back(std::move(t));
  }
  return r;
}

inline void reset_table(saved_table& t) {
  t.exists = false;
  t.user.clear();
  t.specs.clear();
  for (auto& c : t.builtins) {
    c.rules.clear();
    c.policy = "ACCEPT";
    c.packets = c.bytes = 0;
  }
}

// The chains of the table being restored, by name. The ordered map that keeps user chains in
// iptables-save's order would compare the long shared prefixes of kube-proxy's names
// ("KUBE-SEP-…") a dozen times per rule; restore() looks them up here instead (chain_map: one
// slot read per lookup). The chains stay in place in the table while it is restored.
class chain_index {
 public:
  void build(saved_table& t) {
    last_ = nullptr;
    by_name_.clear();
    by_name_.reserve(t.builtins.size() + t.user.size());
    for (auto& c : t.builtins) by_name_.insert(c.name, &c);
    for (auto& c : t.user) by_name_.insert(c.name, &c);
  }
  void reserve_more(std::size_t n) { by_name_.reserve(by_name_.size() + n); }
  void prefetch(std::string_view name) const noexcept { by_name_.prefetch(name); }
  saved_chain* find(std::string_view name) const {
    saved_chain* const* c = by_name_.find(name);
    return c ? *c : nullptr;
  }
  // find() for the fast path, whose names view the file: the chain found last is checked first
  // by the name it was found by (the previous rule's text, still in the cache, where the
  // chain's own name is not), as the rules of a chain mostly come together.
  saved_chain* find_viewed(std::string_view name) const {
    if (last_ && last_name_ == name) return last_;
    saved_chain* c = find(name);
    if (c) {
      last_ = c;
      last_name_ = name;
    }
    return c;
  }
  void add_user_chain(saved_table& t, std::string_view name) {
    saved_chain& c = t.user.emplace_back();
    c.name = std::string(name);
    by_name_.insert(c.name, &c);
  }
  // The last user chain takes the erased one's place (a deque moves nothing else).
  void erase_user_chain(saved_table& t, std::string_view name) {
    saved_chain* c = find(name);
    last_ = nullptr;
    by_name_.erase(name);
    if (c != &t.user.back()) {
      *c = std::move(t.user.back());
      *by_name_.find(c->name) = c;
    }
    t.user.pop_back();
  }
  void rename_user_chain(std::string_view from, std::string_view to) {
    saved_chain* c = find(from);
    last_ = nullptr;
    by_name_.erase(from);
    c->name = std::string(to);
    by_name_.insert(c->name, c);
  }

 private:
  chain_map<saved_chain*> by_name_;
  // What find_viewed() found last: forgotten when a chain is erased or renamed.
  mutable saved_chain* last_ = nullptr;
  mutable std::string_view last_name_;
};

inline diagnostic line_error(const ast::line& l, std::string message, std::string hint = {}) {
  diagnostic d;
  d.where = l.text.where;
  d.message = std::move(message);
  d.hint = std::move(hint);
  return d;
}

inline bool valid_policy(std::string_view p) { return p == "ACCEPT" || p == "DROP"; }

}  // namespace detail

// A kernel with no rules loaded: what a fresh network namespace holds.
inline ruleset empty_ruleset(family fam = family::ipv4) { return detail::empty_ruleset(fam); }

// Applies `file` to `rs` as `iptables-restore [--counters] [--noflush]` does. On error the
// diagnostic names the line (and column) iptables would refuse, and `rs` is unchanged.
[[nodiscard]] inline result<ruleset> restore(ruleset rs, const ast::file& file,
                                             const restore_options& opt = {}) {
  using namespace detail;
  auto fail = [&](diagnostic d) -> result<ruleset> {
    d.file = opt.file_name;
    return d;
  };
  saved_table* table = nullptr;
  std::string_view table_name;
  chain_index chains;
  parsed_line p;  // one for every line: its storage is reused
  const ast::storage::tree& tree = file.lines.records();
  const std::uint8_t fam_bit = family_bit(rs.fam);
  for (std::size_t i = 0; i < tree.lines.size(); ++i) {
    if (table) prefetch_chain_line(tree, i + chain_line_ahead, chains);
    // The fast path: an -A line the parser read as iptables-save prints it is its own saved
    // form (rules/detail/canonical_rule.hpp), unless it drops in nat or its chain is missing.
    if (table && (tree.lines[i].saved_form & fam_bit)) {
      const auto line = tree.saved_form_of(i);
      saved_chain* ch = chains.find_viewed(line.chain);
      const bool nat_drop = table->name == "nat" && line.spec.size() >= 8 &&
                            line.spec.substr(line.spec.size() - 8) == " -j DROP";
      if (ch && !nat_drop) {
        saved_rule s = table->add_spec(line.spec);
        s.where = {static_cast<std::uint32_t>(i + 1), 1};
        ch->rules.push_back(s);
        table->exists = true;
        continue;
      }
    }
    const ast::line l = file.lines[i];
    switch (l.kind) {
      case ast::line_kind::blank:
      case ast::line_kind::comment:
        break;
      case ast::line_kind::table: {
        if (table)
          return fail(line_error(l, "Bad argument '" + std::string(l.text.text) + "'",
                                 "COMMIT table " + std::string(table_name) + " before starting another"));
        for (auto& t : rs.tables)
          if (t.name == l.table.text) table = &t;
        if (!table) {
          diagnostic d = at(l.table, "table '" + std::string(l.table.text) + "' does not exist");
          d.hint = "tables are raw, mangle, nat, filter and security";
          return fail(d);
        }
        table_name = table->name;
        if (!opt.noflush) reset_table(*table);
        chains.build(*table);
        chains.reserve_more(tree.lines_after(i).chains);
        break;
      }
      case ast::line_kind::chain: {
        if (!table) return fail(line_error(l, "chain line outside a table", "start a table with *filter"));
        const ast::chain_line& c = l.chain;
        if (c.name.text.size() >= 29)
          return fail(at(c.name, "chain name '" + std::string(c.name.text) + "' too long (must be under 29 chars)"));
        saved_chain* ch = chains.find(c.name.text);
        if (ch && ch->builtin) {
          if (c.policy.text != "-") {
            if (!valid_policy(c.policy.text))
              return fail(at(c.policy, "bad built-in chain policy '" + std::string(c.policy.text) + "'"));
            ch->policy = std::string(c.policy.text);
          }
          if (opt.counters) {
            // sscanf("[%llu:%llu]"): the packets end at ':', the bytes at their last digit.
            auto p = c.count.present() ? parse_counter(c.count.packets.text) : std::nullopt;
            auto b = c.count.present() ? parse_counter(c.count.bytes.text, false) : std::nullopt;
            if (!p || !b)
              return fail(at(!c.count.present() ? (c.unread.present() ? c.unread : c.policy)
                             : !p                   ? c.count.packets
                                                    : c.count.bytes,
                             "invalid policy counters for chain '" + std::string(c.name.text) + "'"));
            ch->packets = *p;
            ch->bytes = *b;
          }
        } else if (ch) {
          ch->rules.clear();  // a user chain listed again is flushed (nft_chain_restore())
        } else {
          chains.add_user_chain(*table, c.name.text);
        }
        table->exists = true;
        break;
      }
      case ast::line_kind::commit:
        if (!table) return fail(line_error(l, "COMMIT outside a table"));
        table = nullptr;
        break;
      case ast::line_kind::rule: {
        if (!table) return fail(line_error(l, "command outside a table", "start a table with *filter"));
        if (auto e = read_command_line(l.rule, rs.fam, p)) return fail(std::move(*e));
        if (p.has_target && p.target.name == "DROP" && table->name == "nat") {
          // iptables/xshared.c, in any chain of the table.
          diagnostic d;
          d.where = p.target.where;
          d.message = "The \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.";
          return fail(std::move(d));
        }
        const ast::option& cmd = *p.command_option;
        auto chain_arg = [&](std::size_t i) -> ast::token { return cmd.args.at(i); };
        auto need_chain = [&](std::size_t i) -> saved_chain* {
          return chains.find(p.command_args.at(i));
        };
        auto no_chain = [&](std::size_t i) {
          return fail(at(chain_arg(i), "chain '" + p.command_args.at(i) + "' does not exist in table " +
                                           std::string(table->name)));
        };
        // xshared.c parse_rulenumber(): "Invalid rule number" unless 1..INT_MAX; past the
        // chain's end the kernel refuses the index. Either way the caller's error is returned.
        std::optional<diagnostic> bad_number;
        auto rule_number = [&](std::size_t i, std::size_t max) -> std::optional<std::size_t> {
          auto n = parse_uint(p.command_args.at(i), 0x7fffffff);
          if (!n || *n == 0) {
            bad_number = at(chain_arg(i), "Invalid rule number '" + p.command_args.at(i) + "'");
            return std::nullopt;
          }
          if (*n > max) return std::nullopt;
          return static_cast<std::size_t>(*n);
        };
        saved_rule rule;
        if (p.has_rule) {
          rule.where = l.text.where;
          if (l.rule.prefix.present() && opt.counters) {
            if (p.counters_given)
              return fail(at(l.rule.prefix.packets, "multiple -c flags not allowed",
                             "give counters either as [p:b] or with -c"));
            // iptables-restore hands "[p:b]" on as "-c p b": read as -c reads them.
            auto pk = parse_counter(l.rule.prefix.packets.text, false);
            auto by = parse_counter(l.rule.prefix.bytes.text, false);
            if (!pk || !by) return fail(at(l.rule.prefix.packets, "counters are not numeric"));
            p.packets = *pk;
            p.bytes = *by;
          }
          rule.packets = p.packets;
          rule.bytes = p.bytes;
        }
        // The text goes to the table only with a rule that stays there (-A, -I, -R).
        auto stored = [&](std::string_view spec) {
          saved_rule r = table->add_spec(spec);
          r.packets = rule.packets;
          r.bytes = rule.bytes;
          r.where = rule.where;
          return r;
        };
        switch (p.command) {
          case 'A': {
            saved_chain* ch = need_chain(0);
            if (!ch) return no_chain(0);
            ch->rules.push_back(stored(p.spec));
            for (const std::string& more : p.more_specs) ch->rules.push_back(stored(more));
            break;
          }
          case 'I': {
            saved_chain* ch = need_chain(0);
            if (!ch) return no_chain(0);
            std::size_t pos = 1;
            if (p.command_args.size() == 2) {
              auto n = rule_number(1, ch->rules.size() + 1);
              if (!n) return fail(bad_number ? *bad_number : at(chain_arg(1), "Index of insertion too big"));
              pos = *n;
            }
            // Each rule of an address list goes in at the same place: the last ends up first.
            ch->rules.insert(ch->rules.begin() + static_cast<std::ptrdiff_t>(pos - 1), stored(p.spec));
            for (const std::string& more : p.more_specs)
              ch->rules.insert(ch->rules.begin() + static_cast<std::ptrdiff_t>(pos - 1), stored(more));
            break;
          }
          case 'R': {
            saved_chain* ch = need_chain(0);
            if (!ch) return no_chain(0);
            if (!p.more_specs.empty())
              return fail(at(cmd.name, "Replacement rule does not specify a unique address",
                             "-R takes one source and one destination"));
            auto n = rule_number(1, ch->rules.size());
            if (!n) return fail(bad_number ? *bad_number : at(chain_arg(1), "Index of replacement too big"));
            ch->rules[*n - 1] = stored(p.spec);
            break;
          }
          case 'D': {
            saved_chain* ch = need_chain(0);
            if (!ch) return no_chain(0);
            if (p.command_args.size() == 2) {
              auto n = rule_number(1, ch->rules.size());
              if (!n) return fail(bad_number ? *bad_number : at(chain_arg(1), "Index of deletion too big"));
              ch->rules.erase(ch->rules.begin() + static_cast<std::ptrdiff_t>(*n - 1));
            } else {
              auto erase = [&](std::string_view spec) {
                auto it = std::find_if(ch->rules.begin(), ch->rules.end(),
                                       [&](const saved_rule& r) { return table->spec(r) == spec; });
                if (it == ch->rules.end()) return false;
                ch->rules.erase(it);
                return true;
              };
              bool all = erase(p.spec);
              for (const std::string& more : p.more_specs) all = all && erase(more);
              if (!all) return fail(line_error(l, "Bad rule (does a matching rule exist in that chain?)"));
            }
            break;
          }
          case 'N': {
            if (p.command_args[0].size() >= 29)
              return fail(at(chain_arg(0), "chain name '" + p.command_args[0] + "' too long (must be under 29 chars)"));
            if (need_chain(0)) return fail(at(chain_arg(0), "Chain already exists"));
            chains.add_user_chain(*table, p.command_args[0]);
            break;
          }
          case 'F': {
            if (p.command_args.empty()) {
              table->for_each_chain([](saved_chain& c) { c.rules.clear(); });
            } else {
              saved_chain* ch = need_chain(0);
              if (!ch) return no_chain(0);
              ch->rules.clear();
            }
            break;
          }
          case 'Z': {
            auto zero = [](saved_chain& c) {
              c.packets = c.bytes = 0;
              for (auto& r : c.rules) r.packets = r.bytes = 0;
            };
            if (p.command_args.empty()) {
              table->for_each_chain(zero);
            } else {
              saved_chain* ch = need_chain(0);
              if (!ch) return no_chain(0);
              zero(*ch);
            }
            break;
          }
          case 'X': {
            auto referenced = [&](std::string_view name) {
              bool found = false;
              table->for_each_chain([&](const saved_chain& c) {
                for (auto& r : c.rules)
                  for (std::string_view flag : {" -j ", " -g "}) {
                    std::string_view spec = table->spec(r);
                    auto pos = spec.find(std::string(flag) + std::string(name));
                    auto end = pos + 4 + name.size();
                    if (pos != std::string::npos && (end == spec.size() || spec[end] == ' '))
                      found = true;
                  }
              });
              return found;
            };
            if (p.command_args.empty()) {
              std::vector<std::string> unused;
              for (const saved_chain& c : table->user)
                if (c.rules.empty() && !referenced(c.name)) unused.push_back(c.name);
              for (const auto& name : unused) chains.erase_user_chain(*table, name);
            } else {
              saved_chain* ch = need_chain(0);
              if (!ch) return no_chain(0);
              if (ch->builtin) return fail(at(chain_arg(0), "Can't delete built-in chain"));
              if (!ch->rules.empty()) return fail(at(chain_arg(0), "Directory not empty (chain has rules)"));
              if (referenced(ch->name)) return fail(at(chain_arg(0), "Too many links (chain is referenced)"));
              chains.erase_user_chain(*table, std::string(ch->name));
            }
            break;
          }
          case 'P': {
            saved_chain* ch = need_chain(0);
            if (!ch) return no_chain(0);
            if (!ch->builtin) return fail(at(chain_arg(0), "Chain '" + ch->name + "' is not a built-in chain: it has no policy"));
            if (!valid_policy(p.command_args[1]))
              return fail(at(chain_arg(1), "bad policy '" + p.command_args[1] + "'"));
            ch->policy = p.command_args[1];
            break;
          }
          case 'E': {
            saved_chain* ch = need_chain(0);
            if (!ch) return no_chain(0);
            if (ch->builtin) return fail(at(chain_arg(0), "Can't rename built-in chain"));
            if (need_chain(1)) return fail(at(chain_arg(1), "File exists (chain already exists)"));
            if (p.command_args[1].size() >= 29)
              return fail(at(chain_arg(1), "chain name too long (must be under 29 chars)"));
            std::string old = ch->name;
            chains.rename_user_chain(old, p.command_args[1]);
            table->for_each_chain([&](saved_chain& c) {
              for (auto& r : c.rules)
                for (std::string_view flag : {" -j ", " -g "}) {
                  std::string from = std::string(flag) + old;
                  std::string spec(table->spec(r));
                  auto pos = spec.find(from);
                  if (pos != std::string::npos &&
                      (pos + from.size() == spec.size() || spec[pos + from.size()] == ' ')) {
                    spec.replace(pos, from.size(), std::string(flag) + p.command_args[1]);
                    saved_rule renamed = table->add_spec(spec);
                    r.spec_block = renamed.spec_block;
                    r.spec_at = renamed.spec_at;
                    r.spec_size = renamed.spec_size;
                  }
                }
            });
            break;
          }
        }
        table->exists = true;
        break;
      }
    }
  }
  if (table) {
    diagnostic d;
    d.where = {static_cast<std::uint32_t>(file.lines.size() + 1), 1};
    if (!file.source.empty() && file.source.back() != '\n') d.where.line -= 1;
    d.message = "COMMIT expected";
    d.hint = "end table " + std::string(table_name) + " with a COMMIT line";
    return fail(d);
  }
  return rs;
}

// Writes what `iptables-save [-c]` prints for `rs`, without the dated comment lines, to `out`,
// a callable taking a std::string_view: a string, a FILE*, a socket. The text goes out in
// pieces of up to 64 KiB gathered in one buffer (a rule line is four pieces: handing each to
// a stdio sink was a tenth of the time of restoring and printing a kube-proxy file).
template <class Sink>
void write_saved(const ruleset& rs, Sink&& out, const save_options& opt = {}) {
  constexpr std::size_t flush_at = std::size_t{64} << 10;
  std::string buf;
  buf.reserve(flush_at + 256);
  auto put = [&](std::string_view piece) {
    buf.append(piece.data(), piece.size());
    if (buf.size() >= flush_at) {
      out(std::string_view(buf));
      buf.clear();
    }
  };
  char digits[24];
  auto number = [&](std::uint64_t v) {
    auto r = std::to_chars(digits, digits + sizeof digits, v);
    buf.append(digits, static_cast<std::size_t>(r.ptr - digits));
  };
  for (const saved_table& t : rs.tables) {
    if (!t.exists) continue;
    buf += '*';
    buf += t.name;
    put("\n");
    const std::vector<const saved_chain*> user = t.user_by_name();
    auto each_chain = [&](auto&& f) {
      for (const saved_chain& c : t.builtins) f(c);
      for (const saved_chain* c : user) f(*c);
    };
    std::size_t k = 0;
    each_chain([&](const saved_chain& c) {
      if (!c.builtin) {  // see ahead() below
        if (k + 4 < user.size()) detail::prefetch(user[k + 4]);
        if (k + 2 < user.size()) detail::prefetch(user[k + 2]->name.data());
        ++k;
      }
      buf += ':';
      buf += c.name;
      buf += ' ';
      buf += c.builtin ? std::string_view(c.policy) : std::string_view("-");
      buf += " [";
      number(c.builtin ? c.packets : 0);
      buf += ':';
      number(c.builtin ? c.bytes : 0);
      put("]\n");
    });
    // The chains are printed in name order, not in the order restore() made them: each one's
    // object, its rules and their text are somewhere else in memory. Asking for them a few
    // chains ahead (object, then rules, then the first rule's text) lets the loads overlap
    // instead of each waiting for the one before.
    auto ahead = [&](std::size_t k) {
      if (k + 4 < user.size()) detail::prefetch(user[k + 4]);
      if (k + 2 < user.size()) detail::prefetch(user[k + 2]->rules.data());
      if (k + 1 < user.size() && !user[k + 1]->rules.empty())
        detail::prefetch(t.spec(user[k + 1]->rules.front()).data());
    };
    k = 0;
    each_chain([&](const saved_chain& c) {
      if (!c.builtin) ahead(k++);
      for (const saved_rule& r : c.rules) {
        if (opt.counters) {
          buf += '[';
          number(r.packets);
          buf += ':';
          number(r.bytes);
          buf += "] ";
        }
        buf += "-A ";
        buf += c.name;
        buf += t.spec(r);
        put("\n");
      }
    });
    put("COMMIT\n");
  }
  if (!buf.empty()) out(std::string_view(buf));
}

// What `iptables-save [-c]` prints for `rs`, without the dated comment lines, in one string
// allocated once at its final size.
inline std::string print_saved(const ruleset& rs, const save_options& opt = {}) {
  std::size_t size = 0;
  write_saved(rs, [&size](std::string_view piece) { size += piece.size(); }, opt);
  std::string out;
  out.reserve(size);
  write_saved(rs, [&out](std::string_view piece) { out += piece; }, opt);
  return out;
}

// The file restored into an empty kernel, printed as iptables-save prints it.
[[nodiscard]] inline result<std::string> print_saved(const ast::file& file,
                                                     const restore_options& ropt = {},
                                                     const save_options& sopt = {}) {
  auto rs = restore(empty_ruleset(ropt.fam), file, ropt);
  if (!rs) return std::move(rs).error();
  return print_saved(*rs, sopt);
}

}  // namespace rstwatch::rules
