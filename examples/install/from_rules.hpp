// --from-rules: the LOG and NFLOG rules of an operator's restore file (such as the seed's
// drds_filter.conf), moved into rstwatch's own chains so that loading them flushes nothing
// else. Every other line is reported as not installed.
#pragma once

#include <optional>
#include <rstwatch/diagnostic.hpp>
#include <rstwatch/emit/config.hpp>
#include <rstwatch/netfilter.hpp>
#include <rstwatch/rules/nft.hpp>
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/validate.hpp>
#include <rstwatch/rules/check_rule.hpp>
#include <rstwatch/rules/detail/command_line.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace rstwatch::install {

// One own chain: rules of built-in chain `hook_chain` of `table` go to `own`, which that
// built-in chain jumps to.
struct own_chain {
  std::string table;
  std::string hook_chain;
  std::string own;
  std::vector<std::string> specs;  // "-p tcp … -j LOG …" as iptables-save prints them
  std::vector<rules::ast::line> lines;  // the same rules as written (views the file)
};

struct selected_rules {
  std::vector<own_chain> chains;           // in order of first use
  std::vector<std::string> not_installed;  // "FILE:LINE: text (why)"
  std::vector<std::string> log_prefixes;   // distinct LOG prefixes, in order
  bool has_nflog = false;
};

namespace detail {

// Short hook names keep RSTW-NAME-HOOK within iptables' 28 characters for most names.
inline std::string_view hook_suffix(netfilter::hook h) {
  switch (h) {
    case netfilter::hook::prerouting:
      return "PRE";
    case netfilter::hook::input:
      return "IN";
    case netfilter::hook::forward:
      return "FWD";
    case netfilter::hook::output:
      return "OUT";
    case netfilter::hook::postrouting:
      return "POST";
  }
  return "";
}

inline std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return u;
}

inline diagnostic refusal(const std::string& file, source_position where, std::string message) {
  diagnostic d;
  d.file = file;
  d.where = where;
  d.message = std::move(message);
  return d;
}

}  // namespace detail

// The own chain for rules of `hook` in any table.
inline std::string own_chain_name(std::string_view name, netfilter::hook h) {
  return "RSTW-" + detail::upper(name) + "-" + std::string(detail::hook_suffix(h));
}

// Selects the LOG/NFLOG rules of `f` (already parsed from `file_name`) for `name`. Refuses the
// whole file when the rules validator finds an error: the operator's file must be right before
// any of it is installed. `limit`, when given, is added to rules that have no limit match.
[[nodiscard]] inline result<selected_rules> select_log_rules(
    const rules::ast::file& f, const std::string& file_name, std::string_view name,
    const std::optional<emit::rate_limit>& limit) {
  rules::validate_options vo;
  vo.file_name = file_name;
  auto report = rules::validate(f, vo);
  for (const auto& d : report.diagnostics)
    if (d.level == severity::error) return d;

  selected_rules out;
  std::string table;
  auto skip = [&](const rules::ast::line& l, const std::string& why) {
    out.not_installed.push_back(file_name + ":" + std::to_string(l.text.where.line) + ": " +
                                std::string(l.text.text) + "  (" + why + ")");
  };
  for (const auto& l : f.lines) {
    switch (l.kind) {
      case rules::ast::line_kind::blank:
      case rules::ast::line_kind::comment:
      case rules::ast::line_kind::commit:
        break;
      case rules::ast::line_kind::table:
        table = std::string(l.table.text);
        break;
      case rules::ast::line_kind::chain:
        if (netfilter::builtin_chain(l.chain.name.text))
          skip(l, "policies are the operator's, rstwatch never sets one");
        else
          skip(l, "user-defined chain: rstwatch installs only LOG/NFLOG rules");
        break;
      case rules::ast::line_kind::rule: {
        // The rule as iptables-save prints it (the printer's reader of the command line).
        auto v = rules::detail::parse_command_line(l.rule, rules::family::ipv4);
        if (!v) {
          diagnostic d = std::move(v).error();
          d.file = file_name;
          return d;
        }
        const bool logs = v->has_target && (v->target.name == "LOG" || v->target.name == "NFLOG");
        if (!logs) {
          skip(l, "not a LOG or NFLOG rule");
          break;
        }
        if (v->command != 'A') {
          skip(l, "only appended (-A) rules are installed, in file order");
          break;
        }
        auto h = netfilter::builtin_chain(v->command_args.at(0));
        if (!h) {
          skip(l, "in user-defined chain " + v->command_args[0] + ", which rstwatch does not copy");
          break;
        }
        std::string own = own_chain_name(name, *h);
        if (own.size() > 28)
          return detail::refusal(file_name, l.text.where,
                                 "own chain name " + own +
                                     " is longer than iptables' 28 characters: use a shorter "
                                     "--name");
        own_chain* c = nullptr;
        for (auto& k : out.chains)
          if (k.table == table && k.own == own) c = &k;
        if (!c) {
          out.chains.push_back({table, v->command_args[0], own, {}, {}});
          c = &out.chains.back();
        }
        std::string spec = v->spec;
        bool has_limit = false;
        for (auto& m : v->matches) has_limit = has_limit || m.name == "limit";
        if (limit && !has_limit) {
          auto at = spec.find(" -j ");
          spec.insert(at == std::string::npos ? spec.size() : at,
                      " -m limit --limit " + std::to_string(limit->per_second) +
                          "/sec --limit-burst " + std::to_string(limit->burst));
        }
        c->specs.push_back(spec);
        c->lines.push_back(l);
        if (v->target.name == "NFLOG") {
          out.has_nflog = true;
        } else if (auto lt = rules::checks::log_of(
                       rules::checks::view_rule(l, netfilter::family::ipv4))) {
          std::string p = lt->prefix;
          bool seen = false;
          for (auto& q : out.log_prefixes) seen = seen || q == p;
          if (!seen) out.log_prefixes.push_back(p);
        }
        break;
      }
    }
  }
  if (out.chains.empty())
    return detail::refusal(file_name, {}, "has no LOG or NFLOG rule in a built-in chain");
  return out;
}

// The restore file for `iptables-restore --noflush`: only the own chains are declared, so only
// they are flushed and refilled. Excluded ports return before any rule, as in the default set.
inline std::string own_chains_file(const selected_rules& s, const emit::valid_config& c,
                                   const std::string& source, bool ipv6) {
  std::string out = "# rstwatch " + c->name + ": the LOG/NFLOG rules of " + source +
                    (ipv6 ? " (IPv6)" : " (IPv4)") + " in own chains. Generated by rstwatch.\n";
  out += "# Load with " + std::string(ipv6 ? "ip6tables" : "iptables") +
         "-restore --noflush: only the chains declared here are flushed.\n";
  std::vector<std::string> tables;
  for (auto& k : s.chains) {
    bool seen = false;
    for (auto& t : tables) seen = seen || t == k.table;
    if (!seen) tables.push_back(k.table);
  }
  for (auto& t : tables) {
    out += "*" + t + "\n";
    for (auto& k : s.chains)
      if (k.table == t) out += ":" + k.own + " - [0:0]\n";
    for (auto& k : s.chains) {
      if (k.table != t) continue;
      if (!c->excluded_ports.empty())
        out += "-A " + k.own + " -p tcp -m multiport --ports " +
               emit::detail::port_list(c->excluded_ports, ",") + " -j RETURN\n";
      for (auto& spec : k.specs) out += "-A " + k.own + spec + "\n";
    }
    out += "COMMIT\n";
  }
  return out;
}

// The load script for own chains of several tables and hooks: the same contract as
// emit::load_script (start twice leaves one copy, stop removes exactly these chains and jumps,
// a failed start removes what it loaded).
inline std::string own_chains_script(const selected_rules& s, const emit::valid_config& c,
                                     bool ipv6) {
  std::string out = "#!/bin/sh\n# rstwatch " + c->name +
                    ": add (start) or remove (stop) its own chains; no other rule is "
                    "touched.\n# Generated by rstwatch.\nset -u\n";
  out += "load() {\n\t/usr/sbin/$1-restore -w --noflush \"$2\" || return 1\n";
  for (auto& k : s.chains)
    out += "\t/usr/sbin/$1 -w -t " + k.table + " -C " + k.hook_chain + " -j " + k.own +
           " 2>/dev/null ||\n\t\t/usr/sbin/$1 -w -t " + k.table + " -I " + k.hook_chain + " 1 -j " +
           k.own + " || return 1\n";
  out += "}\nunload() {\n";
  for (auto& k : s.chains)
    out += "\twhile /usr/sbin/$1 -w -t " + k.table + " -D " + k.hook_chain + " -j " + k.own +
           " 2>/dev/null; do :; done\n";
  for (auto& k : s.chains)
    out += "\t/usr/sbin/$1 -w -t " + k.table + " -F " + k.own +
           " 2>/dev/null\n\t/usr/sbin/$1 -w -t " + k.table + " -X " + k.own + " 2>/dev/null\n";
  out += "\treturn 0\n}\n";
  std::string unload_all = "unload iptables";
  if (ipv6) unload_all += "; unload ip6tables";
  out += "case \"${1:-}\" in\n";
  out += "start) load iptables " + c.rules_file();
  if (ipv6) out += " && load ip6tables " + c.rules6_file();
  out += " || { " + unload_all + "; exit 1; } ;;\n";
  out += "stop) " + unload_all + " ;;\n";
  out += "*) echo \"usage: $0 start|stop\" >&2; exit 2 ;;\nesac\n";
  return out;
}

// The same rules as one own nft table (emit::load_script's nftables contract: the file replaces
// table rstwatch-NAME atomically). Each (table, hook) gets a base chain at the iptables table's
// priority minus 5, so that it logs before that table decides; inet when IPv6 is wanted (rules
// with IPv4 addresses then match IPv4 packets only). rules::to_nft's expressions translate the
// rules; one it cannot translate stops the install, named by its line.
[[nodiscard]] inline result<std::string> own_table_nft(const selected_rules& s,
                                                       const emit::valid_config& c,
                                                       const std::string& source) {
  const std::string table = std::string(c->ipv6 ? "inet " : "ip ") + c.nft_table();
  std::string out = "#!/usr/sbin/nft -f\n# rstwatch " + c->name + ": the LOG/NFLOG rules of " +
                    source + " in an own table. Generated by rstwatch.\n";
  out += "# Loading replaces table " + table + " atomically; no other table is touched.\n";
  out += "table " + table + "\ndelete table " + table + "\ntable " + table + " {\n";
  for (const auto& k : s.chains) {
    auto t = netfilter::parse_table(k.table);
    auto h = netfilter::builtin_chain(k.hook_chain);
    if (!t || !h) continue;
    std::string chain = k.own;  // RSTW-DRDS-IN -> rstw_drds_in
    for (char& ch : chain)
      ch = ch == '-' ? '_' : (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    out += "\tchain " + chain + " {\n\t\ttype " + std::string(netfilter::nft_chain_type(*t, *h)) +
           " hook " + std::string(netfilter::to_string(*h)) + " priority " +
           std::to_string(netfilter::hook_priority(*t, *h) - 5) + "; policy accept;\n";
    if (!c->excluded_ports.empty()) {
      const auto set = "{ " + emit::detail::port_list(c->excluded_ports, ", ") + " }";
      out += "\t\ttcp sport " + set + " return\n\t\ttcp dport " + set + " return\n";
    }
    for (const auto& l : k.lines) {
      auto v = rules::checks::view_rule(l, netfilter::family::ipv4);
      std::optional<rules::checks::detail::nft_failure> fail;
      std::string rule = rules::checks::detail::nft_rule(v, netfilter::family::ipv4, fail);
      if (fail)
        return detail::refusal(source, fail->at.where,
                               "rule at line " + std::to_string(l.text.where.line) +
                                   " cannot be translated to nftables: " + fail->why);
      if (c->limit && rule.find("limit rate") == std::string::npos) {
        // Before the log statement (the verdict part of the translation).
        std::size_t at = rule.rfind("log ", 0) == 0 ? 0 : rule.find(" log ") + 1;
        if (at != 0 || rule.rfind("log ", 0) == 0)
          rule.insert(at, "limit rate " + std::to_string(c->limit->per_second) + "/second burst " +
                              std::to_string(c->limit->burst) + " packets ");
      }
      out += "\t\t" + rule + "\n";
    }
    out += "\t}\n";
  }
  out += "}\n";
  return out;
}

}  // namespace rstwatch::install
