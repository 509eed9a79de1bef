// Validation of a parsed restore file against the netfilter model, with the severity iptables
// itself implies: errors for what iptables-restore (or the kernel behind it) refuses, warnings
// for what it quietly accepts. Every problem of a file is reported in one pass.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/netfilter.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/check_rule.hpp>
#include <rstwatch/rules/detail/canonical_rule.hpp>
#include <rstwatch/rules/detail/chain_map.hpp>

namespace rstwatch::rules {

struct validate_options {
  netfilter::family family = netfilter::family::ipv4;  // ipv6 for ip6tables files
  std::string file_name;                                // shown in diagnostics
};

struct report {
  std::vector<diagnostic> diagnostics;  // in file order

  std::size_t count(severity s) const noexcept {
    std::size_t n = 0;
    for (const auto& d : diagnostics) n += d.level == s;
    return n;
  }
  std::size_t errors() const noexcept { return count(severity::error); }
  std::size_t warnings() const noexcept { return count(severity::warning); }
  bool ok() const noexcept { return errors() == 0; }
};

namespace checks::detail {

struct chain_state {
  std::string_view name;  // its key in table_state::chains
  std::optional<netfilter::hook> builtin;
  std::vector<std::size_t> rules;  // indices into table_state::rules
  netfilter::hook_mask reached = 0;
  int colour = 0;  // loop search: 0 new, 1 on the path, 2 done
};

// What the COMMIT checks need of a rule: its target and where the target is written.
struct rule_target {
  std::string_view target;                 // after -j/-g; empty without one (a view of the file, or kept())
  std::optional<ast::token> written;      // the target's token
  std::optional<netfilter::target> known;  // the target netfilter.hpp names it, found at COMMIT
};

// A match of a rule that the kernel takes on some hooks only (netfilter::match_limit).
struct match_limit {
  std::size_t rule;  // index into table_state::rules
  netfilter::hook_mask hooks;
  ast::token at;
  std::string why;
};

struct table_state {
  std::optional<netfilter::table> tbl;  // none: unknown table, only syntax is checked
  std::deque<chain_state> states;        // every chain declared, in place (deleted ones too)
  std::vector<chain_state*> order;       // the chains there are, in declaration order
  // Hashed, not ordered: kube-proxy's 30,000 chain names share long prefixes (chain_map: the
  // name in its slot, one slot read per lookup). Keys are copied into the map; chain_state::name
  // views the file's text, the netfilter model's names or validator::names_.
  rules::detail::chain_map<chain_state*> chains;

  chain_state* chain(std::string_view name) {
    chain_state** c = chains.find(name);
    return c ? *c : nullptr;
  }
  // The fast path's last chain and the name it found it by, a view of the file's text (of
  // the previous rule, still in the cache, where the chain's own name is not): the rules of
  // a chain mostly come together, as iptables-save prints them. Forgotten when a chain is
  // deleted or renamed.
  chain_state* last_found = nullptr;
  std::string_view last_name;
  std::vector<rule_target> rules;
  std::vector<match_limit> limits;      // by rule index; few rules have one
  std::vector<chain_state*> target_of;  // per rule: the user chain it jumps to (at COMMIT)
  std::optional<ast::line> header;
};

class validator {
 public:
  validator(const ast::file& f, const validate_options& o) : file_(f), opt_(o) {}

  report run() {
    const ast::storage::tree& tree = file_.lines.records();
    for (std::size_t i = 0; i < tree.lines.size(); ++i) {
      rules::detail::prefetch_chain_line(tree, i + rules::detail::chain_line_ahead, cur_.chains);
      if (!fast_rule(tree, i)) line(file_.lines[i]);
    }
    if (open_) {
      // iptables-restore: "COMMIT expected at line N", N being the line after the last one.
      diagnostic d;
      d.where = position_of(file_.source, file_.source.size());
      d.message = "COMMIT expected before the end of the file (table '" +
                  std::string(cur_.header->table.text) + "' opened at line " +
                  std::to_string(cur_.header->text.where.line) + ")";
      add(std::move(d));
      finish();
    }
    std::stable_sort(out_.diagnostics.begin(), out_.diagnostics.end(),
                     [](const diagnostic& a, const diagnostic& b) {
                       return a.where.line != b.where.line ? a.where.line < b.where.line
                                                           : a.where.column < b.where.column;
                     });
    return std::move(out_);
  }

 private:
  void add(diagnostic d) {
    d.file = opt_.file_name;
    out_.diagnostics.push_back(std::move(d));
  }
  void add(const ast::token& at, std::string message, severity s = severity::error,
           std::string hint = {}) {
    add(problem_at(at, std::move(message), s, std::move(hint)));
  }

  void line(const ast::line& l) {
    switch (l.kind) {
      case ast::line_kind::blank:
      case ast::line_kind::comment: return;
      case ast::line_kind::table: return table_line(l);
      case ast::line_kind::chain: return chain_line(l);
      case ast::line_kind::commit:
        if (!open_) return add(l.text, "COMMIT outside a table");
        finish();
        return;
      case ast::line_kind::rule: return rule_line(l);
    }
  }

  void table_line(const ast::line& l) {
    if (open_) {
      add(l.text, "'*" + std::string(l.table.text) + "' before the COMMIT of table '" +
                      std::string(cur_.header->table.text) + "'");
      finish();
    }
    cur_ = table_state{};
    cur_.header = l;
    open_ = true;
    cur_.tbl = netfilter::parse_table(l.table.text);
    const auto lines = file_.lines.records().lines_after(l.text.where.line - 1);
    cur_.chains.reserve(netfilter::all_hooks.size() + lines.chains);
    cur_.rules.reserve(lines.rules);
    if (!cur_.tbl)
      return add(l.table, "unknown table '" + std::string(l.table.text) + "'", severity::error,
                 "the tables are raw, mangle, nat, filter and security");
    for (auto h : netfilter::all_hooks)
      if (netfilter::has_chain(opt_.family, *cur_.tbl, h)) declare(netfilter::chain_name(h), h);
  }

  // `name` must outlive the validator: a view of the file or of the netfilter model, or kept().
  void declare(std::string_view name, std::optional<netfilter::hook> h) {
    auto [slot, added] = cur_.chains.insert(name, nullptr);
    if (!added) return;
    chain_state* c = *slot = &cur_.states.emplace_back();
    cur_.order.push_back(c);
    c->name = name;
    c->builtin = h;
  }

  // A chain name made from an argument (quotes removed), kept as long as the validator.
  std::string_view kept(std::string name) { return names_.emplace_back(std::move(name)); }

  std::string table_name() const { return std::string(cur_.header->table.text); }

  void chain_line(const ast::line& l) {
    if (!open_) return add(l.text, "chain line before any '*table' line");
    std::string_view name = l.chain.name.text;  // chain lines have no quoting: a plain view
    auto e = netfilter::check_chain_name(name, netfilter::chain_declaration::chain_line);
    if (e != netfilter::chain_name_error::none)
      return add(l.chain.name, std::string(netfilter::to_string(e)) + " ('" + std::string(name) + "')");
    if (!cur_.tbl) return counters(l.chain, true);
    const chain_state* it = cur_.chain(name);
    bool is_builtin = it && it->builtin;
    counters(l.chain, is_builtin);
    bool policy = l.chain.policy.text != "-";
    if (is_builtin) {
      // '-' keeps the chain's policy (xtables-restore.c sets one only when it is not "-").
      if (policy && l.chain.policy.text != "ACCEPT" && l.chain.policy.text != "DROP")
        add(l.chain.policy, "the policy of a built-in chain is ACCEPT or DROP", severity::error,
            "or '-' to keep it");
      if (!seen_builtin_.insert(name).second)
        add(l.chain.name, "chain '" + std::string(name) + "' declared twice", severity::warning);
      return;
    }
    if (it) add(l.chain.name, "chain '" + std::string(name) + "' declared twice", severity::warning);
    if (netfilter::builtin_chain(name))
      add(l.chain.name,
          "table '" + table_name() + "' has no built-in chain " + std::string(name) +
              ": this line makes a user chain of that name",
          severity::warning);
    else if (policy)
      add(l.chain.policy, "a user chain has no policy: '" + std::string(l.chain.policy.text) +
                              "' is ignored", severity::warning, "write '-'");
    declare(name, std::nullopt);
  }

  // What iptables-restore makes of the word after the policy (see the grammar's chain_counters):
  // nothing without --counters, the two numbers of "[%llu:%llu]" with them; the rest never.
  // A user chain's counters are never read (a built-in chain's only, nft_chain_restore()).
  void counters(const ast::chain_line& c, bool builtin) {
    static constexpr std::string_view refused = ": iptables-restore --counters refuses this line "
                                                "(without --counters it is never read)";
    if (!builtin) {
      if (c.unread.present())
        add(c.unread, "iptables-restore never reads '" + std::string(c.unread.text) + "'",
            severity::warning);
      return;
    }
    if (c.count.present()) {
      if (!rules::detail::parse_counter(c.count.packets.text))
        add(c.count.packets, "'" + std::string(c.count.packets.text) + "' is not a packet count" + std::string(refused),
            severity::warning);
      else if (!rules::detail::parse_counter(c.count.bytes.text, false))
        add(c.count.bytes, "'" + std::string(c.count.bytes.text) + "' is not a byte count" + std::string(refused),
            severity::warning);
      else if (!rules::detail::parse_counter(c.count.bytes.text))
        add(c.count.bytes, "iptables-restore takes only the leading digits of '" +
                               std::string(c.count.bytes.text) + "' as the byte count",
            severity::warning, "write '[packets:bytes]'");
      if (c.unread.present())
        add(c.unread, "iptables-restore never reads '" + std::string(c.unread.text) +
                          "' after the counters", severity::warning);
    } else if (c.unread.present()) {
      add(c.unread, "'" + std::string(c.unread.text) + "' is not counters '[packets:bytes]'" + std::string(refused),
          severity::warning);
    }
  }

  void rule_line(const ast::line& l) {
    if (!open_) return add(l.text, "rule before any '*table' line");
    // A quote left open runs to the end of the line (the grammar): only the last word can.
    if (!l.rule.options.empty()) {
      const ast::option last = l.rule.options.back();
      const ast::token& word = last.args.empty() ? last.name : last.args.back();
      if (word.open_quote())
        add(word, "this quote is never closed: iptables-restore takes the rest of the line, "
                  "and its newline, into one word",
            severity::warning, "close it with '\"'");
    }
    rule_view& v = view_;
    view_rule(l, opt_.family, v);
    for (auto& p : v.problems) add(std::move(p));
    v.problems.clear();
    if (!cur_.tbl) return;
    const ast::token& chain_at =
        v.command_option && !v.command_option->args.empty() ? v.command_option->args[0] : l.text;
    auto missing = [&](const std::string& c) {
      if (netfilter::builtin_chain(c))
        add(chain_at, "table '" + table_name() + "' has no built-in chain " + c);
      else
        add(chain_at, "no chain '" + c + "' in table '" + table_name() + "'", severity::error,
            "declare it first with ':" + c + " - [0:0]' or '-N " + c + "'");
    };
    switch (v.cmd) {
      case command::none: return;
      case command::append:
      case command::insert:
      case command::replace:
      case command::delete_: {
        chain_state* it = cur_.chain(v.chain);
        if (!it) return missing(v.chain);
        // iptables/xshared.c: "Can't use -o with INPUT" and friends, by the chain's name.
        if (auto h = netfilter::builtin_chain(v.chain)) {
          if (v.out_interface && (*h == netfilter::hook::input || *h == netfilter::hook::prerouting))
            add(v.out_interface->name, "can't use -o with " + v.chain + " (no output interface yet)");
          if (v.in_interface && (*h == netfilter::hook::output || *h == netfilter::hook::postrouting))
            add(v.in_interface->name, "can't use -i with " + v.chain + " (no input interface)");
        }
        // The table was flushed at its '*' line, so this file alone says how many rules each
        // chain holds: a rule number past them is the kernel's "Index of ... too big".
        std::vector<std::size_t>& rules = it->rules;
        std::size_t at = rules.size();  // -A, and -D by rule specification
        if (v.cmd != command::append && v.command_option->args.size() > 1) {
          const ast::token& number = v.command_option->args[1];
          auto n = rules::detail::parse_uint(number.value(), 0x7fffffff);
          if (!n || *n == 0)
            return add(number, "invalid rule number '" + number.value() + "'", severity::error,
                       "rule numbers count from 1");
          std::size_t last = v.cmd == command::insert ? rules.size() + 1 : rules.size();
          if (*n > last)
            return add(number,
                       std::string(v.cmd == command::insert    ? "index of insertion"
                                   : v.cmd == command::replace ? "index of replacement"
                                                               : "index of deletion") +
                           " too big: chain '" + v.chain + "' holds " +
                           std::to_string(rules.size()) + " rule(s) here");
          at = static_cast<std::size_t>(*n - 1);
        } else if (v.cmd == command::insert) {
          at = 0;
        }
        if (v.cmd == command::delete_) {
          if (at < rules.size()) rules.erase(rules.begin() + static_cast<std::ptrdiff_t>(at));
          return;
        }
        // -s and -d lists make one rule per (source, destination) pair (xtables_ipparse_multiple).
        auto addresses = [](const std::optional<ast::option>& o) -> std::size_t {
          if (!o || o->args.empty()) return 1;
          const std::string list = o->args[0].value();
          return 1 + static_cast<std::size_t>(std::count(list.begin(), list.end(), ','));
        };
        const std::size_t copies = addresses(v.source) * addresses(v.destination);
        if (v.cmd == command::replace) {
          if (copies > 1)
            return add(v.command_option->name, "Replacement rule does not specify a unique address",
                       severity::error, "-R takes one source and one destination");
          if (at >= rules.size()) return;  // no rule number: the view said so already
          rules[at] = cur_.rules.size();
        } else {
          rules.insert(rules.begin() + static_cast<std::ptrdiff_t>(at), copies, cur_.rules.size());
        }
        rule_target t;
        if (v.jump && !v.jump->args.empty()) {
          const ast::token& name = v.jump->args[0];
          t.target = name.quoted() ? kept(v.target) : name.text;
          t.written = name;
        }
        for (const extension_use& m : v.matches) {
          auto limit = [&](netfilter::match_limit k, const ast::token& at, std::string why) {
            cur_.limits.push_back({cur_.rules.size(), netfilter::allowed_hooks(k), at, std::move(why)});
          };
          if (m.name == "owner" && m.loaded_by)
            limit(netfilter::match_limit::owner, m.loaded_by->name,
                  "the owner match is only valid in OUTPUT and POSTROUTING");
          if (m.name != "addrtype") continue;
          if (const bound_option* o = m.find("limit-iface-in"))
            limit(netfilter::match_limit::limit_iface_in, o->opt->name,
                  "--limit-iface-in is not valid in OUTPUT or POSTROUTING (no input interface)");
          if (const bound_option* o = m.find("limit-iface-out"))
            limit(netfilter::match_limit::limit_iface_out, o->opt->name,
                  "--limit-iface-out is not valid in PREROUTING or INPUT (no output interface yet)");
        }
        cur_.rules.push_back(t);
        return;
      }
      case command::new_chain: {
        auto e = netfilter::check_chain_name(v.chain, netfilter::chain_declaration::new_chain_command);
        if (e != netfilter::chain_name_error::none)
          return add(chain_at, std::string(netfilter::to_string(e)) + " ('" + v.chain + "')");
        if (cur_.chains.contains(v.chain)) return add(chain_at, "chain '" + v.chain + "' already exists");
        declare(kept(v.chain), std::nullopt);
        return;
      }
      case command::delete_chain:
      case command::flush:
      case command::zero: {
        if (v.chain.empty()) return;
        const chain_state* it = cur_.chain(v.chain);
        if (!it) return missing(v.chain);
        if (v.cmd == command::delete_chain) {
          if (it->builtin) return add(chain_at, "a built-in chain cannot be deleted");
          cur_.chains.erase(v.chain);
          cur_.last_found = nullptr;
          cur_.order.erase(std::find(cur_.order.begin(), cur_.order.end(), it));
        }
        return;
      }
      case command::policy: {
        const chain_state* it = cur_.chain(v.chain);
        if (!it || !it->builtin)
          return add(chain_at, "'" + v.chain + "' is not a built-in chain of table '" + table_name() + "'");
        std::string p = v.command_option->args.size() > 1 ? v.command_option->args[1].value() : "";
        if (p != "ACCEPT" && p != "DROP")
          add(v.command_option->args.size() > 1 ? v.command_option->args[1] : chain_at,
              "the policy of a built-in chain is ACCEPT or DROP");
        return;
      }
      case command::rename_chain: {
        chain_state* it = cur_.chain(v.chain);
        if (!it) return missing(v.chain);
        if (it->builtin) return add(chain_at, "a built-in chain cannot be renamed");
        if (v.command_option->args.size() < 2) return;
        std::string to = v.command_option->args[1].value();
        auto e = netfilter::check_chain_name(to, netfilter::chain_declaration::new_chain_command);
        if (e != netfilter::chain_name_error::none)
          return add(v.command_option->args[1], std::string(netfilter::to_string(e)) + " ('" + to + "')");
        if (cur_.chains.contains(to)) return add(v.command_option->args[1], "chain '" + to + "' already exists");
        std::string_view new_name = kept(std::move(to));
        cur_.chains.erase(v.chain);
        cur_.last_found = nullptr;
        cur_.chains.insert(new_name, it);  // the chain keeps its place in `order`
        cur_.last_found = nullptr;
        it->name = new_name;
        return;
      }
    }
  }

  // The fast path: an -A line the parser read as iptables-save prints it
  // (rules/detail/canonical_rule.hpp) has no problem of its own; its chain must exist, its
  // target is checked at COMMIT. False sends the line to line(), and view_rule().
  bool fast_rule(const ast::storage::tree& tree, std::size_t i) {
    const ast::storage::line_record& rec = tree.lines[i];
    if (!open_ || !(rec.saved_form & rules::detail::family_bit(opt_.family))) return false;
    if (!cur_.tbl) return true;
    const std::string_view name = tree.saved_form_of(i).chain;
    chain_state* chain = cur_.last_found && cur_.last_name == name ? cur_.last_found : cur_.chain(name);
    if (!chain) return false;
    cur_.last_found = chain;
    cur_.last_name = name;
    chain->rules.push_back(cur_.rules.size());
    rule_target t;
    // The target: the word after the line's last "-j" (an option name, not a quoted word).
    const std::uint32_t first = rec.first_token;
    for (std::uint32_t k = tree.tokens_end(i); k-- > first + 2;) {
      const ast::storage::token_record& jump = tree.tokens[k - 1];
      if (jump.role() != ast::storage::role::name || jump.size() != 2 ||
          tree.source.compare(jump.offset, 2, "-j") != 0)
        continue;
      t.written = tree.make_token(k, static_cast<std::uint32_t>(i + 1), rec.offset);
      t.target = t.written->text;
      break;
    }
    cur_.rules.push_back(t);
    return true;
  }

  // A target names a chain unless it is a target netfilter.hpp knows (`r.known`) or another
  // target iptables has: those are made of [A-Z0-9_] only (canonical::chars), which spares
  // the lookup for the names of kube-proxy's or docker's chains.
  static bool jumps_to_chain(const rule_target& r) {
    using rules::detail::canonical::chars;
    return !r.target.empty() && !r.known &&
           !(chars.all(r.target, rules::detail::canonical::target_char) && known_unmodelled(r.target, true));
  }

  // At COMMIT: jumps resolve, targets fit every hook that reaches them, no loops.
  void finish() {
    open_ = false;
    seen_builtin_.clear();
    if (!cur_.tbl) return;
    const netfilter::table tbl = *cur_.tbl;
    cur_.target_of.assign(cur_.rules.size(), nullptr);
    for (std::size_t i = 0; i < cur_.rules.size(); ++i) {
      rule_target& r = cur_.rules[i];
      r.known = netfilter::parse_target(r.target);
      if (!jumps_to_chain(r)) continue;
      if (chain_state* c = cur_.chain(r.target); c && c->builtin)
        // nf_tables has no jump to a base chain: "RULE_APPEND failed (No such file or directory)".
        add(*r.written, "jump to built-in chain '" + std::string(r.target) + "': the kernel refuses the rule",
            severity::error, "only user-defined chains can be jumped to");
      else if (c)
        cur_.target_of[i] = c;
      else
        add(*r.written, "jump to undefined chain '" + std::string(r.target) + "' in table '" + table_name() + "'",
            severity::error, "iptables-restore reports this at COMMIT");
    }

    // Which hooks reach each chain (a user chain inherits them from every caller).
    for (chain_state* chain : cur_.order) {
      auto& c = *chain;
      if (c.builtin) reach(c, netfilter::bit(*c.builtin));
    }

    // Targets per hook (net/netfilter/x_tables.c xt_check_target via the netfilter model).
    for (const chain_state* chain : cur_.order) {
      const auto& c = *chain;
      for (std::size_t i : c.rules) {
        const rule_target& r = cur_.rules[i];
        const std::optional<netfilter::target> t = r.known;
        if (!t) continue;
        // What a table refuses whatever the hook, also in a user chain no built-in chain
        // reaches (the loop below says which hook reaches the others): iptables' own
        // DROP-in-nat refusal and the kernel's per-table targets.
        if (c.reached == 0 && tbl == netfilter::table::nat && *t == netfilter::target::drop) {
          add(*r.written, "the nat table is not intended for filtering: DROP is refused there");
          continue;
        }
        if (const auto only = netfilter::scope_of(*t).only_table; c.reached == 0 && only && *only != tbl) {
          add(*r.written, std::string(r.target) + " is only valid in table '" +
                              std::string(netfilter::to_string(*only)) + "', not '" + table_name() + "'");
          continue;
        }
        for (auto h : netfilter::all_hooks) {
          if (!netfilter::contains(c.reached, h)) continue;
          auto verdict = netfilter::check_target(opt_.family, tbl, h, *t);
          if (verdict == netfilter::target_verdict::allowed) continue;
          std::string via = c.builtin ? std::string()
                                      : " (chain " + std::string(c.name) + " is reached from " +
                                            std::string(netfilter::chain_name(h)) + ")";
          std::string why;
          switch (verdict) {
            case netfilter::target_verdict::filtering_in_nat:
              why = "the nat table is not intended for filtering: DROP is refused there";
              break;
            case netfilter::target_verdict::wrong_table:
              why = std::string(r.target) + " is only valid in table '" +
                    std::string(netfilter::to_string(*netfilter::scope_of(*t).only_table)) +
                    "', not '" + table_name() + "'";
              break;
            default:
              why = std::string(r.target) + " is not valid in " + table_name() + " " +
                    std::string(netfilter::chain_name(h));
          }
          add(*r.written, why + via);
          break;
        }
      }
    }

    // Matches per hook (xt_check_match), the same way: the limits are sorted by rule index.
    for (const chain_state* chain : cur_.order) {
      if (cur_.limits.empty()) break;
      const auto& c = *chain;
      for (std::size_t i : c.rules) {
        auto first = std::lower_bound(cur_.limits.begin(), cur_.limits.end(), i,
                                      [](const match_limit& l, std::size_t r) { return l.rule < r; });
        for (auto it = first; it != cur_.limits.end() && it->rule == i; ++it) {
          for (auto h : netfilter::all_hooks) {
            if (!netfilter::contains(c.reached, h) || netfilter::contains(it->hooks, h)) continue;
            std::string via = c.builtin ? std::string()
                                        : " (chain " + std::string(c.name) + " is reached from " +
                                              std::string(netfilter::chain_name(h)) + ")";
            add(it->at, it->why + via);
            break;
          }
        }
      }
    }

    // Loops: a depth-first search from the built-in chains, then from the rest.
    for (chain_state* chain : cur_.order) {
      auto& c = *chain;
      if (c.colour == 0) dfs(c);
    }
  }

  // Iterative (a worklist, not recursion): a file may chain 100,000 user chains in a row.
  void reach(chain_state& from, netfilter::hook_mask m) {
    std::vector<chain_state*> todo{&from};
    while (!todo.empty()) {
      chain_state& c = *todo.back();
      todo.pop_back();
      if ((c.reached & m) == m) continue;
      c.reached |= m;
      for (std::size_t i : c.rules)
        if (chain_state* next = cur_.target_of[i]) todo.push_back(next);
    }
  }

  // Depth-first search with an explicit stack of (chain, next rule); a jump to a chain that
  // is on the path closes a loop.
  void dfs(chain_state& root) {
    std::vector<std::pair<chain_state*, std::size_t>> stack{{&root, 0}};
    std::vector<chain_state*> path{&root};
    root.colour = 1;
    while (!stack.empty()) {
      chain_state& c = *stack.back().first;
      std::size_t next = stack.back().second;
      if (next == c.rules.size()) {
        c.colour = 2;
        path.pop_back();
        stack.pop_back();
        continue;
      }
      ++stack.back().second;
      std::size_t i = c.rules[next];
      chain_state* to = cur_.target_of[i];
      if (!to) continue;
      if (to->colour == 1) {
        // The chains of the loop; a long one shows its first and last three.
        auto from = std::find(path.begin(), path.end(), to);
        std::size_t len = static_cast<std::size_t>(path.end() - from);
        std::string cycle;
        for (std::size_t k = 0; k < len; ++k) {
          if (len > 8 && k == 3) {
            cycle += "... (" + std::to_string(len - 6) + " more) -> ";
            k = len - 4;
            continue;
          }
          cycle += std::string(from[static_cast<std::ptrdiff_t>(k)]->name) + " -> ";
        }
        cycle += to->name;
        const rule_target& r = cur_.rules[i];
        if (to->reached != 0)
          add(*r.written, "jump loop " + cycle + " reachable from a built-in chain");
        else
          add(*r.written, "jump loop " + cycle + " (no built-in chain reaches it)",
              severity::warning);
      } else if (to->colour == 0) {
        to->colour = 1;
        path.push_back(to);
        stack.emplace_back(to, 0);
      }
    }
  }

  const ast::file& file_;
  const validate_options& opt_;
  report out_;
  table_state cur_;
  bool open_ = false;
  std::unordered_set<std::string_view> seen_builtin_;
  std::deque<std::string> names_;
  rule_view view_;  // the line being checked; its storage serves every line  // chain names made from arguments (-N, -E)
};

}  // namespace checks::detail

// Every error and warning of `f`, in file order.
[[nodiscard]] inline report validate(const ast::file& f, const validate_options& o = {}) {
  return checks::detail::validator(f, o).run();
}

// The report as a compiler prints it: each diagnostic, its source line and a caret.
inline std::string format_report(const report& r, const ast::file& f) {
  std::string s;
  for (const auto& d : r.diagnostics) {
    std::string_view line;
    if (d.where.line >= 1 && d.where.line <= f.lines.size()) line = f.lines[d.where.line - 1].text.text;
    s += format_with_source(d, line);
    s += '\n';
  }
  return s;
}

}  // namespace rstwatch::rules
