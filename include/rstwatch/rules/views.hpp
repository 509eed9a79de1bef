// Typed views of a rule line: its command, and the values of the common matches and targets
// (tcp, udp, LOG) after the same checks their iptables extensions make.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/detail/command_line.hpp>
#include <rstwatch/rules/detail/extensions.hpp>
#include <rstwatch/rules/detail/values.hpp>

namespace rstwatch::rules {

using detail::port_range;

// One option as given to a match or target, with its '!' and its arguments as iptables
// passes them on (quotes removed).
struct option_value {
  std::string name;  // canonical long name, e.g. "dport" for --destination-port
  bool invert = false;
  std::vector<std::string> args;
  source_position where;
};

// A match (-m, or the one -p loads) or a target (-j/-g). `modelled` is false for extensions
// rstwatch does not know: their options are kept as written and nothing about them is checked.
struct extension_use {
  std::string name;
  bool modelled = false;
  bool is_goto = false;  // targets: -g instead of -j
  std::vector<option_value> options;
  source_position where;
};

struct rule_view {
  char command = 0;  // A I D R N F X Z P E
  std::vector<std::string> command_args;
  std::vector<extension_use> matches;
  std::optional<extension_use> target;
  std::string spec;  // the rule as iptables-save prints it after "-A CHAIN" (rule commands)
};

// Reads one command line as iptables does; a diagnostic for anything iptables refuses
// (unknown options, bad values of modelled extensions, ...).
[[nodiscard]] inline result<rule_view> view(const ast::rule_line& line, family fam = family::ipv4) {
  auto parsed = detail::parse_command_line(line, fam);
  if (!parsed) return std::move(parsed).error();
  rule_view v;
  v.command = parsed->command;
  v.command_args = parsed->command_args;
  v.spec = parsed->rule.spec;
  auto convert = [](const detail::loaded_extension& e) {
    extension_use u;
    u.name = e.name;
    u.modelled = e.ext != nullptr;
    if (e.source) {
      u.where = e.source->name.where;
      u.is_goto = e.target && (e.source->name.text == "-g" || e.source->name.text == "--goto");
    }
    for (auto& g : e.opts) {
      option_value o;
      o.name = std::string(g.name);
      o.invert = g.invert;
      o.args = g.args;
      if (g.source) o.where = g.source->name.where;
      u.options.push_back(std::move(o));
    }
    return u;
  };
  for (auto& m : parsed->matches) v.matches.push_back(convert(m));
  if (parsed->target) v.target = convert(*parsed->target);
  return v;
}

// --- tcp and udp ----------------------------------------------------------------------------

struct ports_match {
  std::optional<port_range> sport, dport;
  bool sport_invert = false, dport_invert = false;
  // tcp only: --tcp-flags MASK COMPARE (or --syn), --tcp-option N
  std::uint8_t flags_mask = 0, flags_compare = 0;
  bool flags_invert = false;
  std::optional<std::uint8_t> option;
  bool option_invert = false;
};

namespace detail {

inline const extension_use* find_use(const rule_view& v, std::string_view name) {
  for (auto& m : v.matches)
    if (m.name == name) return &m;
  return nullptr;
}

inline diagnostic value_error(const option_value& o, std::string message) {
  diagnostic d;
  d.where = o.where;
  d.message = std::move(message);
  return d;
}

inline result<std::optional<ports_match>> ports_of(const rule_view& v, std::string_view name) {
  const extension_use* u = find_use(v, name);
  if (!u) return std::optional<ports_match>{};
  ports_match m;
  for (auto& o : u->options) {
    if (o.name == "sport" || o.name == "dport") {
      auto r = parse_port_range(o.args.at(0), name);
      if (!r) return value_error(o, "invalid port/service '" + o.args[0] + "' specified");
      (o.name == "sport" ? m.sport : m.dport) = *r;
      (o.name == "sport" ? m.sport_invert : m.dport_invert) = o.invert;
    } else if (o.name == "tcp-flags") {
      auto mask = parse_tcp_flags(o.args.at(0));
      auto cmp = parse_tcp_flags(o.args.at(1));
      if (!mask || !cmp) return value_error(o, "unknown TCP flag");
      m.flags_mask = *mask;
      m.flags_compare = *cmp;
      m.flags_invert = o.invert;
    } else if (o.name == "syn") {
      m.flags_mask = 0x17;  // FIN,SYN,RST,ACK
      m.flags_compare = 0x02;
      m.flags_invert = o.invert;
    } else if (o.name == "tcp-option") {
      auto n = parse_uint(o.args.at(0), 255);
      if (!n) return value_error(o, "invalid TCP option '" + o.args[0] + "'");
      m.option = static_cast<std::uint8_t>(*n);
      m.option_invert = o.invert;
    }
  }
  return std::optional<ports_match>(m);
}

}  // namespace detail

// The tcp match of a rule (explicit -m tcp or the one -p tcp loads), if it has one.
[[nodiscard]] inline result<std::optional<ports_match>> tcp_of(const rule_view& v) {
  return detail::ports_of(v, "tcp");
}
[[nodiscard]] inline result<std::optional<ports_match>> udp_of(const rule_view& v) {
  return detail::ports_of(v, "udp");
}

// Whether a tcp match selects packets with RST set, as `--tcp-flags RST RST` (the seed's
// rules) does: RST is in the mask and in the compared value, without '!'.
inline bool selects_rst(const ports_match& m) {
  return !m.flags_invert && (m.flags_mask & 0x04) && (m.flags_compare & 0x04);
}

// --- LOG ------------------------------------------------------------------------------------

struct log_target {
  std::string prefix;  // as the kernel keeps it: at most 29 characters
  bool prefix_cut = false;  // the prefix written was longer and iptables cut it silently
  int level = 4;  // syslog level; 4 (warning) when not given
  bool tcp_sequence = false, tcp_options = false, ip_options = false, uid = false,
       macdecode = false;
};

// The LOG target of a rule, if it jumps to LOG. The prefix limit (29 characters: xt_LOG keeps
// 30 bytes with the NUL; iptables-nft 1.8.9 cuts longer ones without a word) and the level
// names are libxt_LOG.c's.
[[nodiscard]] inline result<std::optional<log_target>> log_of(const rule_view& v) {
  if (!v.target || v.target->name != "LOG") return std::optional<log_target>{};
  log_target t;
  for (auto& o : v.target->options) {
    if (o.name == "log-prefix") {
      t.prefix = o.args.at(0).substr(0, 29);
      t.prefix_cut = o.args[0].size() > 29;
    } else if (o.name == "log-level") {
      auto l = detail::parse_log_level(o.args.at(0));
      if (!l) return detail::value_error(o, "log level '" + o.args[0] + "' unknown");
      t.level = *l;
    } else if (o.name == "log-tcp-sequence") {
      t.tcp_sequence = true;
    } else if (o.name == "log-tcp-options") {
      t.tcp_options = true;
    } else if (o.name == "log-ip-options") {
      t.ip_options = true;
    } else if (o.name == "log-uid") {
      t.uid = true;
    } else if (o.name == "log-macdecode") {
      t.macdecode = true;
    }
  }
  return std::optional<log_target>(t);
}

}  // namespace rstwatch::rules
