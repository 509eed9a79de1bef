// The option checks of one rule line (namespace rules::checks), with typed views: which command and chain, the base matches (-p -s -d -i -o),
// every match module and the target with the options iptables would hand each of them, and
// the checks each extension makes of its own options. Table- and chain-level checks
// (targets per hook, jumps, loops) live in validate.hpp.
//
// Lifetime: a rule_view holds views of the ast::file its line came from (and so of the parsed
// text); keep both alive and in place while it is used.
#pragma once

#include <grp.h>
#include <netdb.h>
#include <pwd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rstwatch/detail/reuse_list.hpp>
#include <rstwatch/diagnostic.hpp>
#include <rstwatch/netfilter.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/check_values.hpp>
#include <rstwatch/rules/detail/getopt.hpp>

namespace rstwatch::rules::checks {

// How an option's arguments are checked. `none` takes no argument, `tcp_flags` and
// `sctp_chunks` two, the rest one.
enum class arg_kind : std::uint8_t {
  none, port_range, port_list, tcp_flags, tcp_option, icmp, icmpv6, ctstates, states, text,
  log_prefix, log_level, mark, rate, u32, u16, iprange, addrtype, user, group, stat_mode,
  probability, every, reject_with, nat_to, to_ports, ctdir, proto, ctstatus, comment, nflog_prefix,
  ct_ports, burst, host_mask, sctp_chunks, dccp_types, dccp_option, ct_events, ct_expectation_events,
  ct_zone, ct_expire,
  anything,
};

struct option_spec {
  std::string_view name;   // long name without "--"
  std::string_view alias;  // another long name for the same option, or empty
  arg_kind kind;
};

// One modelled extension: a match module (`-m name`) or a target (`-j NAME`), with the options
// its libxt_/libipt_/libip6t_ file declares.
struct extension_spec {
  std::string_view name;
  bool target;
  const option_spec* first;
  std::size_t count;
  const option_spec* begin() const noexcept { return first; }
  const option_spec* end() const noexcept { return first + count; }
};

namespace detail {

// extensions/libxt_tcp.c tcp_opts.
inline constexpr option_spec tcp_options[] = {
    {"source-port", "sport", arg_kind::port_range},
    {"destination-port", "dport", arg_kind::port_range},
    {"syn", "", arg_kind::none},
    {"tcp-flags", "", arg_kind::tcp_flags},
    {"tcp-option", "", arg_kind::tcp_option},
};
// extensions/libxt_udp.c udp_opts.
inline constexpr option_spec udp_options[] = {
    {"source-port", "sport", arg_kind::port_range},
    {"destination-port", "dport", arg_kind::port_range},
};
// extensions/libxt_CT.c ct_opts_v1 (helper and timeout name kernel objects: not checked here).
inline constexpr option_spec ct_options[] = {
    {"notrack", "", arg_kind::none},          {"helper", "", arg_kind::text},
    {"timeout", "", arg_kind::text},          {"ctevents", "", arg_kind::ct_events},
    {"expevents", "", arg_kind::ct_expectation_events}, {"zone-orig", "", arg_kind::ct_zone},
    {"zone-reply", "", arg_kind::ct_zone},    {"zone", "", arg_kind::ct_zone}};
// extensions/libxt_sctp.c sctp_opts; libxt_dccp.c dccp_opts.
inline constexpr option_spec sctp_options[] = {
    {"source-port", "sport", arg_kind::port_range},
    {"destination-port", "dport", arg_kind::port_range},
    {"chunk-types", "", arg_kind::sctp_chunks}};
inline constexpr option_spec dccp_options[] = {
    {"source-port", "sport", arg_kind::port_range},
    {"destination-port", "dport", arg_kind::port_range},
    {"dccp-types", "", arg_kind::dccp_types},
    {"dccp-option", "", arg_kind::dccp_option}};
// extensions/libxt_icmp.c (libipt_icmp.c before 1.8.9) and libip6t_icmp6.c.
inline constexpr option_spec icmp_options[] = {{"icmp-type", "", arg_kind::icmp}};
inline constexpr option_spec icmpv6_options[] = {{"icmpv6-type", "", arg_kind::icmpv6}};
// extensions/libxt_multiport.c multiport_opts (revision 1).
inline constexpr option_spec multiport_options[] = {
    {"source-ports", "sports", arg_kind::port_list},
    {"destination-ports", "dports", arg_kind::port_list},
    {"ports", "", arg_kind::port_list},
};
// extensions/libxt_conntrack.c conntrack3_mt_opts.
inline constexpr option_spec conntrack_options[] = {
    {"ctstate", "", arg_kind::ctstates},     {"ctproto", "", arg_kind::proto},
    {"ctorigsrc", "", arg_kind::host_mask},  {"ctorigdst", "", arg_kind::host_mask},
    {"ctreplsrc", "", arg_kind::host_mask},  {"ctrepldst", "", arg_kind::host_mask},
    {"ctorigsrcport", "", arg_kind::ct_ports}, {"ctorigdstport", "", arg_kind::ct_ports},
    {"ctreplsrcport", "", arg_kind::ct_ports}, {"ctrepldstport", "", arg_kind::ct_ports},
    {"ctstatus", "", arg_kind::ctstatus},    {"ctexpire", "", arg_kind::ct_expire},
    {"ctdir", "", arg_kind::ctdir},
};
// extensions/libxt_state.c state_opts.
inline constexpr option_spec state_options[] = {{"state", "", arg_kind::states}};
// extensions/libxt_comment.c comment_opts.
inline constexpr option_spec comment_options[] = {{"comment", "", arg_kind::comment}};
// extensions/libxt_mark.c mark_mt_opts; libxt_connmark.c connmark_mt_opts.
inline constexpr option_spec mark_options[] = {{"mark", "", arg_kind::mark}};
// extensions/libxt_limit.c limit_opts.
inline constexpr option_spec limit_options[] = {{"limit", "", arg_kind::rate},
                                                {"limit-burst", "", arg_kind::burst}};
// extensions/libxt_iprange.c iprange_mt_opts.
inline constexpr option_spec iprange_options[] = {{"src-range", "", arg_kind::iprange},
                                                  {"dst-range", "", arg_kind::iprange}};
// extensions/libxt_addrtype.c addrtype_opts_v1.
inline constexpr option_spec addrtype_options[] = {
    {"src-type", "", arg_kind::addrtype},       {"dst-type", "", arg_kind::addrtype},
    {"limit-iface-in", "", arg_kind::none},     {"limit-iface-out", "", arg_kind::none},
};
// extensions/libxt_owner.c owner_mt_opts.
inline constexpr option_spec owner_options[] = {
    {"uid-owner", "", arg_kind::user},        {"gid-owner", "", arg_kind::group},
    {"socket-exists", "", arg_kind::none},    {"suppl-groups", "", arg_kind::none},
};
// extensions/libxt_statistic.c statistic_opts.
inline constexpr option_spec statistic_options[] = {
    {"mode", "", arg_kind::stat_mode},  {"probability", "", arg_kind::probability},
    {"every", "", arg_kind::every},     {"packet", "", arg_kind::u32},
};
// extensions/libxt_LOG.c LOG_opts.
inline constexpr option_spec log_options[] = {
    {"log-level", "", arg_kind::log_level},   {"log-prefix", "", arg_kind::log_prefix},
    {"log-tcp-sequence", "", arg_kind::none}, {"log-tcp-options", "", arg_kind::none},
    {"log-ip-options", "", arg_kind::none},   {"log-uid", "", arg_kind::none},
    {"log-macdecode", "", arg_kind::none},
};
// extensions/libxt_NFLOG.c NFLOG_opts.
inline constexpr option_spec nflog_options[] = {
    {"nflog-group", "", arg_kind::u16},      {"nflog-prefix", "", arg_kind::nflog_prefix},
    {"nflog-range", "", arg_kind::u32},      {"nflog-size", "", arg_kind::u32},
    {"nflog-threshold", "", arg_kind::u16},
};
// extensions/libipt_REJECT.c / libip6t_REJECT.c.
inline constexpr option_spec reject_options[] = {{"reject-with", "", arg_kind::reject_with}};
// extensions/libxt_MARK.c mark_tg_opts (revision 2).
inline constexpr option_spec mark_target_options[] = {
    {"set-xmark", "", arg_kind::mark}, {"set-mark", "", arg_kind::mark},
    {"and-mark", "", arg_kind::mark},  {"or-mark", "", arg_kind::mark},
    {"xor-mark", "", arg_kind::mark},
};
// extensions/libxt_CONNMARK.c CONNMARK_opts (revision 2).
inline constexpr option_spec connmark_target_options[] = {
    {"set-xmark", "", arg_kind::mark},  {"set-mark", "", arg_kind::mark},
    {"and-mark", "", arg_kind::mark},   {"or-mark", "", arg_kind::mark},
    {"xor-mark", "", arg_kind::mark},   {"save-mark", "", arg_kind::none},
    {"restore-mark", "", arg_kind::none}, {"nfmask", "", arg_kind::mark},
    {"ctmask", "", arg_kind::mark},     {"mask", "", arg_kind::mark},
};
// extensions/libxt_DNAT.c and libxt_SNAT.c (revision 2), libxt_MASQUERADE.c, libxt_REDIRECT.c.
inline constexpr option_spec dnat_options[] = {
    {"to-destination", "", arg_kind::nat_to}, {"random", "", arg_kind::none},
    {"persistent", "", arg_kind::none},
};
inline constexpr option_spec snat_options[] = {
    {"to-source", "", arg_kind::nat_to},  {"random", "", arg_kind::none},
    {"random-fully", "", arg_kind::none}, {"persistent", "", arg_kind::none},
};
inline constexpr option_spec masquerade_options[] = {
    {"to-ports", "", arg_kind::to_ports}, {"random", "", arg_kind::none},
    {"random-fully", "", arg_kind::none},
};
inline constexpr option_spec redirect_options[] = {{"to-ports", "", arg_kind::to_ports},
                                                   {"random", "", arg_kind::none}};

#define RSTWATCH_EXT(name, target, table) \
  extension_spec { name, target, table, std::size(table) }
inline constexpr extension_spec extensions[] = {
    RSTWATCH_EXT("tcp", false, tcp_options),
    RSTWATCH_EXT("udp", false, udp_options),
    RSTWATCH_EXT("icmp", false, icmp_options),
    RSTWATCH_EXT("icmp6", false, icmpv6_options),
    RSTWATCH_EXT("multiport", false, multiport_options),
    RSTWATCH_EXT("conntrack", false, conntrack_options),
    RSTWATCH_EXT("state", false, state_options),
    RSTWATCH_EXT("comment", false, comment_options),
    RSTWATCH_EXT("mark", false, mark_options),
    RSTWATCH_EXT("connmark", false, mark_options),
    RSTWATCH_EXT("limit", false, limit_options),
    RSTWATCH_EXT("iprange", false, iprange_options),
    RSTWATCH_EXT("addrtype", false, addrtype_options),
    RSTWATCH_EXT("owner", false, owner_options),
    RSTWATCH_EXT("statistic", false, statistic_options),
    RSTWATCH_EXT("LOG", true, log_options),
    RSTWATCH_EXT("NFLOG", true, nflog_options),
    RSTWATCH_EXT("REJECT", true, reject_options),
    RSTWATCH_EXT("MARK", true, mark_target_options),
    RSTWATCH_EXT("CONNMARK", true, connmark_target_options),
    RSTWATCH_EXT("DNAT", true, dnat_options),
    RSTWATCH_EXT("SNAT", true, snat_options),
    RSTWATCH_EXT("MASQUERADE", true, masquerade_options),
    RSTWATCH_EXT("REDIRECT", true, redirect_options),
    RSTWATCH_EXT("CT", true, ct_options),
    extension_spec{"NOTRACK", true, nullptr, 0},  // no options
    extension_spec{"TRACE", true, nullptr, 0},
    RSTWATCH_EXT("sctp", false, sctp_options),  // rarely used: last
    RSTWATCH_EXT("dccp", false, dccp_options),
};
#undef RSTWATCH_EXT

}  // namespace detail

// The modelled extension called `name` ("tcp", "LOG"), or null. "icmpv6" is ip6tables' name
// for the icmp6 match.
inline const extension_spec* find_extension(std::string_view name, bool target) noexcept {
  if (name == "icmpv6") name = "icmp6";
  for (const auto& e : detail::extensions)
    if (e.target == target && e.name == name) return &e;
  return nullptr;
}

// Whether iptables 1.8.9 has an extension of that name that rstwatch does not model.
inline bool known_unmodelled(std::string_view name, bool target) noexcept {
  return rstwatch::rules::detail::ships_unmodelled(name, target);
}

// One option as the extension that owns it sees it.
struct bound_option {
  std::optional<ast::option> opt;
  const option_spec* spec = nullptr;  // null when the owner is not modelled

  bound_option() = default;
  bound_option(const ast::option& o, const option_spec* s) { bind(o, s); }
  // A copy binds anew: its views must point into its own storage, not the original's.
  bound_option(const bound_option& other) { *this = other; }
  bound_option& operator=(const bound_option& other) {
    if (this == &other) return *this;
    if (other.opt) {
      bind(*other.opt, other.spec);
    } else {
      opt.reset();
      spec = other.spec;
      args_ = {};
    }
    return *this;
  }

  // Binds `o`, keeping the storage of the option bound before (a validator reuses its
  // bound_options line after line).
  void bind(const ast::option& o, const option_spec* s) {
    opt = o;
    spec = s;
    for (std::size_t i = 0; i < unquoted_.size(); ++i)
      args_[i] = i < o.args.size() ? o.args[i].value_view(unquoted_[i]) : std::string_view();
  }

  bool negated() const noexcept { return opt->bang.present(); }
  // Argument `i` as iptables hands it on (quotes removed), empty when absent; valid while this
  // bound_option and the parsed text are. The arguments after the second, which no modelled
  // option takes, are given as written.
  std::string_view arg(std::size_t i = 0) const {
    if (i < args_.size()) return args_[i];
    return i < opt->args.size() ? opt->args[i].text : std::string_view();
  }

 private:
  std::array<std::string_view, 2> args_{};
  std::array<std::string, 2> unquoted_{};  // a quoted argument's value; args_ points into it
};

// A match module or a target, with the options that iptables hands to it.
struct extension_use {
  std::string name;
  std::optional<ast::option> loaded_by;  // the -m/-j/-g option, or -p for an implicit match
  bool implicit = false;                   // loaded by -p, not by -m
  const extension_spec* spec = nullptr;    // null: not modelled (or a verdict/chain jump)
  rstwatch::detail::reuse_list<bound_option> options;

  // Loaded anew, keeping the storage of its name and options.
  void reload(std::string_view ext_name, const ast::option& by, const extension_spec* s,
              bool is_implicit = false) {
    name.assign(ext_name.data(), ext_name.size());
    loaded_by = by;
    implicit = is_implicit;
    spec = s;
    options.clear();
  }

  // The option with that long name (or its alias); null when absent.
  const bound_option* find(std::string_view long_name) const noexcept {
    for (const auto& o : options)
      if (o.spec && (o.spec->name == long_name || o.spec->alias == long_name)) return &o;
    return nullptr;
  }
  bool has(std::string_view long_name) const noexcept { return find(long_name) != nullptr; }
};

// The rule command letters iptables-restore accepts in a file.
enum class command : std::uint8_t { none, append, insert, delete_, replace, new_chain, flush,
                                     delete_chain, zero, policy, rename_chain };

struct rule_view {
  std::optional<ast::line> line;
  command cmd = command::none;
  std::optional<ast::option> command_option;
  std::string chain;  // the command's first argument
  std::optional<ast::option> protocol;
  std::optional<std::uint8_t> protocol_number;  // what the -p value names, when it names one
  std::optional<ast::option> source;
  std::optional<ast::option> destination;
  std::optional<ast::option> in_interface;
  std::optional<ast::option> out_interface;
  std::optional<ast::option> fragment;
  std::optional<ast::option> set_counters;
  rstwatch::detail::reuse_list<extension_use> matches;
  std::optional<ast::option> jump;  // -j or -g
  bool go_to = false;
  std::string target;                       // the name after -j/-g
  std::optional<extension_use> target_use;  // its options (spec null for a verdict or chain)
  std::vector<diagnostic> problems;         // what the extensions themselves refuse

  // Back to an empty view, keeping the storage of its names, lists and extensions for the
  // next line (view_rule() into the same rule_view, line after line).
  void reset() {
    line.reset();
    cmd = command::none;
    command_option.reset();
    chain.clear();
    protocol.reset();
    protocol_number.reset();
    source.reset();
    destination.reset();
    in_interface.reset();
    out_interface.reset();
    fragment.reset();
    set_counters.reset();
    matches.clear();
    jump.reset();
    go_to = false;
    target.clear();
    if (target_use) {
      spare_target_ = std::move(*target_use);
      target_use.reset();
    }
    problems.clear();
  }
  // target_use set to a reloaded extension that reuses the storage of the line before.
  extension_use& use_target() {
    target_use.emplace(std::move(spare_target_));
    return *target_use;
  }

  const extension_use* match(std::string_view name) const noexcept {
    for (const auto& m : matches)
      if (m.name == name) return &m;
    return nullptr;
  }
  // The protocol after -p, lower-cased names as written ("tcp", "6").
  std::string protocol_name() const { return protocol && !protocol->args.empty() ? protocol->args[0].value() : std::string(); }

 private:
  extension_use spare_target_;  // the last target_use, kept for its storage by reset()
};

namespace detail {

// The base options and their lookups are getopt.hpp's: one table for restore, the checks and
// the getopt regrouping.
using rules::detail::base_option;
using rules::detail::find_base;
using rules::detail::find_base_prefix;

inline std::size_t arity(arg_kind k) noexcept {
  return k == arg_kind::none ? 0 : k == arg_kind::tcp_flags || k == arg_kind::sctp_chunks ? 2 : 1;
}

inline diagnostic problem_at(const ast::token& t, std::string message,
                             severity level = severity::error, std::string hint = {}) {
  diagnostic d;
  d.level = level;
  d.where = t.where;
  d.message = std::move(message);
  d.hint = std::move(hint);
  return d;
}

inline bool in_list(std::string_view s, std::initializer_list<std::string_view> names,
                    bool case_insensitive) {
  for (auto n : names)
    if (case_insensitive ? iequals(s, n) : s == n) return true;
  return false;
}

// Every element of a comma-separated list is one of `names`.
inline std::string check_list(std::string_view s, std::initializer_list<std::string_view> names,
                              std::string_view what) {
  while (true) {
    auto comma = s.find(',');
    std::string_view one = s.substr(0, comma);
    if (!in_list(one, names, true)) return "bad " + std::string(what) + " '" + std::string(one) + "'";
    if (comma == std::string_view::npos) return {};
    s.remove_prefix(comma + 1);
  }
}

// The arguments of one modelled option.
inline std::string check_arg(arg_kind kind, const bound_option& o, netfilter::family f,
                             std::string_view proto) {
  // Free text is not looked at: no copy of it (most rules have a comment).
  if (kind == arg_kind::none || kind == arg_kind::anything || kind == arg_kind::text ||
      kind == arg_kind::comment)
    return {};
  const std::string_view a = o.arg(0);
  switch (kind) {
    case arg_kind::none:
    case arg_kind::anything:
    case arg_kind::text:
      return {};
    case arg_kind::port_range: {
      auto r = parse_match_ports(a, proto.empty() ? "tcp" : proto);
      return r ? std::string() : r.error;
    }
    case arg_kind::ct_ports:
      return rules::detail::parse_ct_port_range(a) ? std::string()
                                                   : "Port \"" + std::string(a) + "\" does not resolve to anything";
    case arg_kind::port_list: {
      // libxt_multiport.c: at most XT_MULTI_PORTS (15) ports, a range counts twice.
      std::size_t n = 0;
      std::string_view s = a;
      while (true) {
        auto comma = s.find(',');
        std::string_view one = s.substr(0, comma);
        auto r = parse_port_range(one, proto.empty() ? "tcp" : proto);
        if (!r) return r.error;
        if (!rules::detail::parse_multiport_item(one, proto.empty() ? "tcp" : proto))
          return "invalid port range '" + std::string(one) +
                 "' in a multiport list (both ends written, the first below the second)";
        n += one.find(':') == std::string_view::npos ? 1 : 2;
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
      }
      if (n > 15) return "too many ports specified (at most 15, a range counts as 2)";
      return {};
    }
    case arg_kind::tcp_flags: {
      for (std::size_t i = 0; i < 2; ++i) {
        auto r = parse_tcp_flags(o.arg(i));
        if (!r) return r.error;
      }
      return {};
    }
    case arg_kind::ct_events:
    case arg_kind::ct_expectation_events: {
      auto m = kind == arg_kind::ct_events
                   ? rules::detail::read_ct_events(a, rules::detail::ct_event_names)
                   : rules::detail::read_ct_events(a, rules::detail::ct_expectation_event_names);
      return m ? std::string() : m.error().message;
    }
    case arg_kind::ct_expire: {
      auto e = rules::detail::read_ct_expire(a);
      return e ? std::string() : e.error().message;
    }
    case arg_kind::ct_zone: {
      rules::detail::ct_zone z;
      return rules::detail::read_ct_zone(o.spec ? o.spec->name : "zone", a, z)
                 ? std::string()
                 : "Cannot parse " + std::string(a) + " as a zone ID (a number 0-65535 or 'mark')";
    }
    case arg_kind::sctp_chunks: {
      auto c = rules::detail::read_sctp_chunks(o.arg(0), o.arg(1));
      return c ? std::string() : c.error().message;
    }
    case arg_kind::dccp_types: {
      auto m = rules::detail::read_dccp_types(a);
      return m ? std::string() : m.error().message;
    }
    case arg_kind::dccp_option: {
      auto v = rules::detail::parse_uint(a, 255);
      return v && *v >= 1 ? std::string() : "bad --dccp-option '" + std::string(a) + "' (1-255)";
    }
    case arg_kind::tcp_option:
      return rules::detail::parse_tcp_option(a) ? std::string() : "Bad TCP option '" + std::string(a) + "' (1 to 255)";
    case arg_kind::icmp: {
      auto r = parse_icmp_type(a);
      return r ? std::string() : r.error;
    }
    case arg_kind::icmpv6: {
      auto r = parse_icmpv6_type(a);
      return r ? std::string() : r.error;
    }
    case arg_kind::ctstates:
      return check_list(a, {"INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT"},
                        "ctstate");
    case arg_kind::states:
      return check_list(a, {"INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED"}, "state");
    case arg_kind::ctstatus:
      return check_list(a, {"NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED"}, "ctstatus");
    case arg_kind::ctdir:
      return in_list(a, {"ORIGINAL", "REPLY"}, true) ? std::string() : "bad ctdir '" + std::string(a) + "'";
    case arg_kind::log_prefix:
    case arg_kind::comment:
    case arg_kind::nflog_prefix:
      // xtables.c xtopt_parse_string: .min = 1 for the LOG and NFLOG prefixes.
      if (kind != arg_kind::comment && a.empty())
        return std::string(rules::detail::empty_prefix_refusal);
      return {};
    case arg_kind::log_level: {
      auto r = parse_log_level(a);
      return r ? std::string() : r.error;
    }
    case arg_kind::mark: {
      auto r = parse_mark(a);
      return r ? std::string() : r.error;
    }
    case arg_kind::rate:
      // libxt_limit.c parse_rate(): atoi() of the count, a unit any beginning of
      // second/minute/hour/day in any case.
      if (auto r = rules::detail::parse_limit_rate(a); !r)
        return "bad rate '" + std::string(a) + "'";
      else if (rules::detail::too_fast(*r))
        return "rate too fast '" + std::string(a) + "' (at most 10000/second)";
      return {};
    case arg_kind::burst:
      return rules::detail::parse_uint(a, rules::detail::limit_max_burst)
                 ? std::string()
                 : "bad --limit-burst '" + std::string(a) + "' (0-10000)";
    case arg_kind::u32:
      return to_uint(a, 0xffffffffu) ? std::string() : "bad value '" + std::string(a) + "' (0-4294967295)";
    case arg_kind::u16:
      return to_uint(a, 65535) ? std::string() : "bad value '" + std::string(a) + "' (0-65535)";
    case arg_kind::every: {
      auto v = to_uint(a, 0xffffffffu);
      return v && *v >= 1 ? std::string() : "bad value '" + std::string(a) + "' (1-4294967295)";
    }
    case arg_kind::probability: {
      char* end = nullptr;
      const std::string text(a);
      double p = std::strtod(text.c_str(), &end);
      if (a.empty() || *end != '\0' || !(p >= 0.0 && p <= 1.0)) return "bad probability '" + std::string(a) + "' (0-1)";
      return {};
    }
    case arg_kind::stat_mode:
      return a == "random" || a == "nth" ? std::string() : "bad mode '" + std::string(a) + "' (random or nth)";
    case arg_kind::iprange: {
      auto dash = a.find('-');
      std::string_view s = a;
      unsigned char bytes[16];
      for (std::string_view one : {s.substr(0, dash), dash == std::string_view::npos ? s : s.substr(dash + 1)})
        if (!rules::detail::parse_range_host(one, f, bytes))
          return "bad address '" + std::string(one) + "' in range";
      return {};
    }
    case arg_kind::host_mask:
      return rules::detail::parse_host_mask(a, f) ? std::string()
                                                  : "bad address '" + std::string(a) + "' (host names are not resolved)";
    case arg_kind::addrtype:
      return check_list(a, {"UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST",
                            "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"},
                        "address type");
    case arg_kind::user:
    case arg_kind::group: {
      // libxt_owner.c: a name known to this host, or a number or range.
      auto dash = a.find('-');
      std::string_view s = a;
      // (UINT32_MAX itself is refused: "Bad value for --uid-owner".)
      auto lo = to_uint(s.substr(0, dash), 0xfffffffeu);
      auto hi = dash == std::string_view::npos ? lo : to_uint(s.substr(dash + 1), 0xfffffffeu);
      if (lo && hi) return *lo <= *hi ? std::string() : "bad range '" + std::string(a) + "': the first is above the second";
      bool known = kind == arg_kind::user ? ::getpwnam(std::string(a).c_str()) != nullptr
                                          : ::getgrnam(std::string(a).c_str()) != nullptr;
      return known ? std::string() : "no such " + std::string(kind == arg_kind::user ? "user" : "group") + " '" + std::string(a) + "'";
    }
    case arg_kind::reject_with:
      // libipt_REJECT.c / libip6t_REJECT.c: a name, an alias, or the beginning of one.
      return !rules::detail::reject_type(a, f).empty()
                 ? std::string()
                 : "unknown reject type '" + std::string(a) + "' for " +
                       (f == netfilter::family::ipv6 ? "ip6tables" : "iptables");
    case arg_kind::nat_to: return rules::detail::read_nat_range(a, f).error;
    case arg_kind::to_ports: {
      // A /BASE is MASQUERADE's only: final_check() refuses it in REDIRECT.
      rules::detail::nat_range r;
      rules::detail::read_nat_ports(a, r, true);
      return r.error;
    }
    case arg_kind::proto: {
      auto p = rules::detail::parse_protocol(a);
      if (!p) return "unknown protocol '" + std::string(a) + "'";
      // `! -p all` never matches and iptables refuses it; conntrack's `! --ctproto all` loads.
      if (*p == 0 && o.negated() && !o.spec) return std::string(rules::detail::never_matches_protocol);
      return {};
    }
  }
  return {};
}

// Whether the -p value names one of these protocol numbers (by any name or number).
inline bool is_proto(std::optional<std::uint8_t> n, std::initializer_list<std::uint8_t> any) {
  if (!n) return false;
  for (auto a : any)
    if (*n == a) return true;
  return false;
}

inline std::optional<rules::detail::ports_match> ports_of(const extension_use& e);  // below

// What one extension checks once all its options are known (the x6_fcheck functions).
inline void final_check(const rule_view& r, const extension_use& e, netfilter::family f,
                        std::vector<diagnostic>& out) {
  if (!e.spec || !e.loaded_by) return;
  const ast::token& at = e.loaded_by->name;
  const std::string_view name = e.spec->name;  // icmp6 whether written icmp6 or icmpv6
  const std::optional<std::uint8_t> p = r.protocol_number;
  bool neg_proto = r.protocol && r.protocol->bang.present();
  // With options, iptables-nft makes nft payload matches and only wants -p to name the
  // protocol (inverted or not); without, the kernel's xt_tcp/xt_udp also refuses `! -p`.
  // An xt tcp/udp match stays one (ports_match::compat()) without options, with a
  // --tcp-option, or when its options restrict nothing.
  const bool kept_as_xt = e.options.empty() || ((name == "tcp" || name == "udp") && [&] {
                            auto q = ports_of(e);
                            return q && q->compat();
                          }());
  const bool proto_refused = neg_proto && kept_as_xt;
  if (name == "tcp" && (proto_refused || !is_proto(p, {6})))
    out.push_back(problem_at(at, "the tcp match requires '-p tcp'"));
  if (name == "udp" && (proto_refused || !is_proto(p, {17})))
    out.push_back(problem_at(at, "the udp match requires '-p udp'"));
  // icmp and icmp6 stay xt matches: the kernel wants the protocol, not inverted
  // (ip_tables.c / ip6_tables.c check_match() against the match's .proto).
  // sctp and dccp stay xt matches: the kernel wants the protocol, not inverted (xt_sctp.c,
  // xt_dccp.c .proto).
  if (name == "sctp" && (neg_proto || !is_proto(p, {132})))
    out.push_back(problem_at(at, "the sctp match requires '-p sctp'"));
  if (name == "dccp" && (neg_proto || !is_proto(p, {33})))
    out.push_back(problem_at(at, "the dccp match requires '-p dccp'"));
  if (name == "icmp" && (neg_proto || !is_proto(p, {1})))
    out.push_back(problem_at(at, "the icmp match requires '-p icmp'"));
  if (name == "icmp6" && (neg_proto || !is_proto(p, {58})))
    out.push_back(problem_at(at, "the icmp6 match requires '-p icmpv6'"));
  if (name == "multiport") {
    // Checked when multiport reads its first option (libxt_multiport.c): a -p after it is too late.
    const bool proto_later = r.protocol && !e.options.empty() &&
                             r.protocol->name.offset > e.options.front().opt->name.offset;
    if (neg_proto || proto_later ||
        !is_proto(p, {6, 17, 136, 132, 33}))
      out.push_back(problem_at(at, "multiport needs '-p tcp', '-p udp', '-p udplite', '-p sctp' or '-p dccp'"));
  }
  if (name == "MARK" || name == "CONNMARK")  // libxt_MARK.c, libxt_CONNMARK.c: the bit operations take a value alone
    for (const bound_option& o : e.options)
      if (o.spec && (o.spec->name == "and-mark" || o.spec->name == "or-mark" || o.spec->name == "xor-mark") &&
          o.arg().find('/') != std::string::npos)
        out.push_back(problem_at(o.opt->args[0], "--" + std::string(o.spec->name) + " takes no mask"));
  if (name == "MARK" || name == "CONNMARK") {
    bool operation = false;
    for (const bound_option& o : e.options)
      operation = operation || (o.spec && o.spec->name != "mask" && o.spec->name != "nfmask" &&
                                o.spec->name != "ctmask");
    if (!operation) out.push_back(problem_at(at, rules::detail::no_operation_message(name)));
  }
  if (name == "addrtype" && f == netfilter::family::ipv6) {
    // xt_addrtype.c addrtype_mt_checkentry_v1(): IPv6 routes have no broadcast, blackhole,
    // prohibit, throw, nat or xresolve types.
    for (const bound_option& o : e.options) {
      if (!o.spec || (o.spec->name != "src-type" && o.spec->name != "dst-type")) continue;
      std::string list(o.arg());
      for (auto& c : list) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      for (std::string_view type : {"BROADCAST", "BLACKHOLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"}) {
        std::string_view rest = list;
        bool found = false;
        while (!found) {
          auto comma = rest.find(',');
          found = rest.substr(0, comma) == type;
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
        if (found) {
          out.push_back(problem_at(o.opt->args[0], "address type " + std::string(type) +
                                                       " does not exist for IPv6 (the kernel refuses it)"));
          break;
        }
      }
    }
  }
  if (name == "addrtype" && !e.has("src-type") && !e.has("dst-type"))
    out.push_back(problem_at(at, std::string(rules::detail::addrtype_without_type)));
  if (name == "owner") {
    bool gid_before = false;
    for (const bound_option& o : e.options) {
      if (!o.spec) continue;
      if (o.spec->name == "gid-owner") gid_before = true;
      if (o.spec->name != "suppl-groups") continue;
      std::string why = rules::detail::suppl_groups_refusal(gid_before);
      if (!why.empty()) out.push_back(problem_at(o.opt->name, std::move(why)));
    }
  }
  if (name == "statistic") {
    // Values that do not read as numbers were reported by check_arg().
    auto number = [&](std::string_view key, bool& bad) -> std::optional<std::uint64_t> {
      const bound_option* o = e.find(key);
      if (!o) return std::nullopt;
      auto n = rules::detail::parse_uint(o->arg(), 0xffffffffu);
      bad = bad || !n;
      return n;
    };
    bool bad = false;
    const bound_option* mode = e.find("mode");
    bad = mode && mode->arg() != "random" && mode->arg() != "nth";
    auto every = number("every", bad), packet = number("packet", bad);
    std::string why = rules::detail::statistic_refusal(mode ? mode->arg() : std::string(),
                                                      e.has("probability"), every, packet);
    if (!bad && !why.empty())
      out.push_back(problem_at(e.options.empty() ? at : e.options.front().opt->name, std::move(why)));
  }
  // Free text of which the kernel keeps the start (iptables-nft loads the rest without a word,
  // iptables-save prints the cut text).
  static constexpr struct {
    std::string_view extension, option, what;
    std::size_t kept;
  } cut_text[] = {{"LOG", "log-prefix", "LOG prefix", max_log_prefix},
                  {"comment", "comment", "comment", rules::detail::max_comment},
                  {"NFLOG", "nflog-prefix", "NFLOG prefix", rules::detail::max_nflog_prefix}};
  for (const auto& c : cut_text)
    if (name == c.extension)
      if (auto o = e.find(c.option); o && o->arg().size() > c.kept)
        out.push_back(problem_at(o->opt->args[0],
                                 std::string(c.what) + " of " + std::to_string(o->arg().size()) +
                                     " characters is cut by the kernel to its first " +
                                     std::to_string(c.kept),
                                 severity::warning));
  // Only for a rule not refused yet: a misspelt option leaves its match empty, and the
  // misspelling is the cause iptables names.
  const bool refused = std::any_of(out.begin(), out.end(), [](const diagnostic& d) { return d.level == severity::error; });
  if (!e.spec->target && !refused) {
    auto has = [&e](std::string_view option) { return e.has(option); };
    if (std::string why = rules::detail::missing_options_refusal(name, !e.options.empty(), has); !why.empty())
      out.push_back(problem_at(at, std::move(why)));
  }
  if (name == "conntrack")
    for (const bound_option& o : e.options) {
      if (!o.spec || (o.spec->name != "ctorigsrc" && o.spec->name != "ctorigdst" &&
                      o.spec->name != "ctreplsrc" && o.spec->name != "ctrepldst"))
        continue;
      auto a = rules::detail::parse_host_mask(o.arg(), f);
      const int bytes = f == netfilter::family::ipv4 ? 4 : 16;
      if (a && rules::detail::mask_to_prefix(a->mask, bytes) < 0)
        out.push_back(problem_at(o.opt->args[0],
                                 "iptables-save prints --" + std::string(o.spec->name) +
                                     " without this mask, which is no prefix: the saved rule matches one host",
                                 severity::warning, "use a prefix length (/N)"));
    }
  if (name == "CT" && e.has("helper") && (neg_proto || !p || *p == 0))
    // xt_CT.c xt_ct_set_helper(): "You must specify a L4 protocol and not use inversions on it".
    out.push_back(problem_at(e.find("helper")->opt->name,
                             "CT --helper needs -p with a protocol, not inverted (the kernel refuses the rule)"));
  if (name == "REJECT") {
    if (auto o = e.find("reject-with"); o && rules::detail::reject_type(o->arg(), f) == "tcp-reset" &&
                                        (neg_proto || !is_proto(p, {6})))
      out.push_back(problem_at(o->opt->args[0], "'--reject-with tcp-reset' needs '-p tcp' (the kernel refuses it)"));
  }
  if (name == "MASQUERADE" || name == "REDIRECT" || name == "DNAT" || name == "SNAT") {
    // libxt_NAT.c: --to-destination and --to-source are mandatory (XTOPT_MAND); ports need
    // the number after -p to have them, inverted or not.
    const bool dnat = name == "DNAT", snat = name == "SNAT";
    if ((dnat && !e.has("to-destination")) || (snat && !e.has("to-source")))
      out.push_back(problem_at(at, e.name + ": option \"--" + (dnat ? "to-destination" : "to-source") +
                                       "\" must be specified"));
    bool ports = false;
    if (auto o = e.find("to-ports")) {
      ports = true;
      if (name == "REDIRECT" && o->arg().find('/') != std::string::npos)
        out.push_back(problem_at(o->opt->args[0], "no /BASE port in REDIRECT: '" + std::string(o->arg()) + "'"));
    }
    for (auto key : {"to-destination", "to-source"})
      if (auto o = e.find(key)) ports = ports || rules::detail::read_nat_range(o->arg(), f).has_ports;
    // The protocol as libxt_NAT.c saw it when it read its option: a -p written later is not.
    const bool proto_later = r.protocol && e.loaded_by && r.protocol->name.offset > e.loaded_by->name.offset;
    if (ports && (proto_later || !(p && rules::detail::has_ports(*p))))
      out.push_back(problem_at(at, "a port in " + e.name + " needs -p tcp, udp, sctp or dccp (or icmp)"));
  }
}

}  // namespace detail

// Splits one rule line into command, base matches, match modules and target the way
// iptables' getopt loop does, and checks every option the modelled extensions own.
// Into `r`, whatever it held: a validator's loop reuses one rule_view and its storage.
namespace detail {

// A tcp or udp use's values as restore reads them (rules::detail::ports_match); nullopt when
// one is invalid, which check_arg() reports.
inline std::optional<rules::detail::ports_match> ports_of(const extension_use& e) {
  rules::detail::ports_match p;
  for (auto [name, q] : {std::pair{"source-port", &p.sport}, std::pair{"destination-port", &p.dport}}) {
    if (const bound_option* o = e.find(name)) {
      auto range = rules::detail::parse_match_ports(o->arg(), e.name == "udp");  // tcp or udp
      if (!range) return std::nullopt;
      q->range = *range;
      q->invert = o->negated();
    }
  }
  if (const bound_option* o = e.find("tcp-flags")) {
    auto m = parse_tcp_flags(o->arg(0)), c = parse_tcp_flags(o->arg(1));
    if (!m || !c) return std::nullopt;
    p.mask = *m.value;
    p.cmp = *c.value;
    p.flags_invert = o->negated();
  }
  if (const bound_option* o = e.find("syn")) {
    p.mask = 0x01 | 0x02 | 0x04 | 0x10;
    p.cmp = 0x02;
    p.flags_invert = o->negated();
  }
  if (const bound_option* o = e.find("tcp-option")) {
    auto n = rules::detail::parse_tcp_option(o->arg());
    if (!n) return std::nullopt;
    p.has_option = true;
    p.option = *n;
    p.option_invert = o->negated();
  }
  return p;
}

// Where iptables-nft makes a rule that is not the one written (rules::detail::merged_compares):
// a field of the tcp/udp matches compared twice is applied twice by the kernel but saved once,
// so iptables-save | iptables-restore changes the rule; and a port range of 0:65535 inverted, or
// flags with an empty mask that can never match, is no compare at all in nft, where xt_tcp
// would match no packet.
inline void payload_check(const rule_view& r, std::vector<diagnostic>& out) {
  rules::detail::merged_compares merged;
  for (const auto& e : r.matches) {
    if (!e.spec || (e.name != "tcp" && e.name != "udp") || !e.loaded_by) continue;
    auto p = ports_of(e);
    // The udp match keeps a range written backwards (XTTYPE_PORTRC checks no order): neither
    // xt_udp nor an nft range compare matches any port with it.
    for (auto [q, name] : {std::pair{p ? &p->sport : nullptr, "source-port"},
                           std::pair{p ? &p->dport : nullptr, "destination-port"}})
      if (q && q->range.low > q->range.high)
        if (const bound_option* o = e.find(name))
          out.push_back(problem_at(o->opt->args[0],
                                   "the port range " + std::to_string(q->range.low) + ":" +
                                       std::to_string(q->range.high) + " runs backwards: it matches " +
                                       (q->invert ? "every port" : "no port"),
                                   severity::warning, "write the lower port first"));
    if (!p || p->compat()) continue;
    const ast::token& at = e.loaded_by->name;
    for (auto [q, name] : {std::pair{&p->sport, "--sport"}, std::pair{&p->dport, "--dport"}})
      if (q->full() && q->invert)
        out.push_back(problem_at(at, "'! " + std::string(name) + " 0:65535' matches no packet in xt_" + e.name +
                                         ", but iptables-nft makes no compare of it: this rule matches every port",
                                 severity::warning));
    if (!p->mask && ((p->cmp == 0) == p->flags_invert))
      out.push_back(problem_at(at, "--tcp-flags with an empty mask matches no packet in xt_tcp, but iptables-nft "
                                   "makes no compare of it: this rule matches every packet",
                               severity::warning));
    const bool repeated_before = merged.repeated;
    merged.add(*p);
    if (merged.repeated && !repeated_before) {
      std::string shown = "-m " + e.name;
      merged.print(shown);
      out.push_back(problem_at(at, "a field of this rule's " + e.name + " matches is compared twice: the kernel "
                                   "applies both, but iptables-save shows one match, '" + shown +
                                   "' (and restoring that changes the rule)",
                               severity::warning, "write each port and the flags once"));
    }
  }
}

}  // namespace detail

inline void view_rule(const ast::line& l, netfilter::family f, rule_view& r) {
  r.reset();
  r.line = l;
  if (auto word = l.rule.options.first_word_over(rules::detail::max_word))
    r.problems.push_back(detail::problem_at(*word, "Parameter too long!", severity::error,
                                            "iptables-restore takes words of at most 1023 bytes"));
  // First pass: the base options, so that -p is known before extension options are bound.
  for (const auto& o : l.rule.options) {
    const detail::base_option* b = detail::find_base(o.name.text);
    if (!b) b = detail::find_base_prefix(o.name.text);  // an extension's name may win: below
    if (!b) continue;
    switch (b->letter) {
      case 'A': case 'I': case 'D': case 'R': case 'N': case 'F': case 'X': case 'Z': case 'P':
      case 'E': {
        static constexpr std::string_view letters = "AIDRNFXZPE";
        if (r.command_option) {
          r.problems.push_back(detail::problem_at(o.name, "only one command per line ('" +
                                                              std::string(r.command_option->name.text) +
                                                              "' came first)"));
          break;
        }
        r.command_option = o;
        r.cmd = static_cast<command>(1 + letters.find(b->letter));
        if (!o.args.empty()) o.args[0].value_into(r.chain);
        break;
      }
      case 'p':  // a second -p is refused ("multiple -p flags"): the first is the one read
        if (!r.protocol) r.protocol = o;
        break;
      case 's': r.source = o; break;
      case 'd': r.destination = o; break;
      case 'i': r.in_interface = o; break;
      case 'o': r.out_interface = o; break;
      case 'f': r.fragment = o; break;
      case 'c': r.set_counters = o; break;
      default: break;
    }
  }
  std::string proto = r.protocol_name();
  r.protocol_number = rules::detail::parse_protocol(proto);
  for (auto& c : proto) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // The protocol whose services name ports (libxt_multiport.c check_proto()).
  const std::uint8_t pn = r.protocol_number.value_or(6);
  std::string port_proto = pn == 17 ? "udp" : pn == 132 ? "sctp" : pn == 33 ? "dccp" : pn == 136 ? "udplite" : "tcp";

  // Second pass: -m and -j load extensions; every other option goes to the extension that
  // declares it (the most recently loaded first), or loads the -p protocol's match.
  auto bind = [&](const ast::option& o) -> bool {
    std::string_view t = o.name.text;
    if (t.size() < 3 || t.substr(0, 2) != "--") return false;
    t.remove_prefix(2);
    auto try_in = [&](extension_use& e, bool prefix) -> bool {
      if (!e.spec) return false;
      const option_spec* hit = nullptr;
      int hits = 0;
      for (const auto& s : *e.spec) {
        if (s.name == t || s.alias == t) {
          hit = &s;
          hits = 1;
          break;
        }
        if (prefix && (s.name.substr(0, t.size()) == t || (!s.alias.empty() && s.alias.substr(0, t.size()) == t))) {
          hit = &s;
          ++hits;
        }
      }
      if (hits != 1) return false;
      // An option given again, or one that an earlier option excludes.
      for (const bound_option& earlier : e.options) {
        if (!earlier.spec) continue;
        std::string why = rules::detail::refusal_of_pair(e.name, earlier.spec->name, hit->name);
        if (!why.empty()) {
          r.problems.push_back(detail::problem_at(o.name, std::move(why)));
          break;
        }
      }
      e.options.add().bind(o, hit);
      return true;
    };
    // getopt_long() takes a prefix only when it begins one option of all the loaded
    // extensions together (`-p udp --dport 53 -m multiport --dpo`: --dport and --dports).
    auto prefix_options = [&]() {
      const option_spec* seen[16];
      int n = 0;
      auto count = [&](const extension_use& e) {
        if (!e.spec) return;
        for (const auto& s : *e.spec) {
          if (s.name.substr(0, t.size()) != t && (s.alias.empty() || s.alias.substr(0, t.size()) != t)) continue;
          bool known = false;
          for (int k = 0; k < std::min(n, 16); ++k) known = known || seen[k] == &s;
          if (known) continue;
          if (n < 16) seen[n] = &s;
          ++n;
        }
      };
      if (r.target_use) count(*r.target_use);
      for (const auto& m : r.matches) count(m);
      return n;
    };
    for (bool prefix : {false, true}) {
      // The base options are in the same table: `-p tcp --d 22` begins --delete, --destination
      // and tcp's --destination-port.
      if (prefix && prefix_options() + rules::detail::base_options_begun_by(t).letters > 1) break;
      if (r.target_use && try_in(*r.target_use, prefix)) return true;
      for (auto it = r.matches.rbegin(); it != r.matches.rend(); ++it)
        if (try_in(*it, prefix)) return true;
    }
    // xshared.c command_default(): an unknown option loads the protocol's match once.
    std::string_view pm = r.protocol_number ? rules::detail::implicit_match(*r.protocol_number, f)
                                            : std::string_view();
    // Only a -p given before the option counts: iptables reads the line in order, and
    // `--dport 80 -p tcp` is an unknown option when --dport comes.
    // And only for an option of that match (xshared.c command_default() gets the options no
    // loaded module declared: `! -p tcp -m mac --mac-source X` hands --mac-source to mac).
    const extension_spec* implicit = pm.empty() ? nullptr : find_extension(pm, false);
    auto owned_by = [&t](const extension_spec* spec) {
      if (spec)
        for (const auto& s : *spec)
          if (s.name.substr(0, t.size()) == t || (!s.alias.empty() && s.alias.substr(0, t.size()) == t))
            return true;
      return false;
    };
    if (owned_by(implicit) && !r.match(pm) && r.protocol->name.offset < o.name.offset) {  // `! -p tcp` loads it too
      r.matches.add().reload(pm, *r.protocol, implicit, true);
      for (bool prefix : {false, true}) {
        if (prefix && prefix_options() + rules::detail::base_options_begun_by(t).letters > 1) break;
        if (try_in(r.matches.back(), prefix)) return true;
      }
    }
    // An extension rstwatch does not model takes whatever follows it.
    if (r.target_use && !r.target_use->spec && r.target_use->loaded_by &&
        !find_extension(r.target, true) && known_unmodelled(r.target, true)) {
      r.target_use->options.add().bind(o, nullptr);
      return true;
    }
    for (auto it = r.matches.rbegin(); it != r.matches.rend(); ++it)
      if (!it->spec) {
        it->options.add().bind(o, nullptr);
        return true;
      }
    return false;
  };

  // How an option name that abbreviates a base option stands to the loaded extensions'
  // options: one of them written whole wins (getopt_long takes an exact name first), one it
  // only begins makes the name ambiguous.
  enum class extension_name { none, whole, begun };
  auto in_loaded = [&](std::string_view t) {
    t.remove_prefix(2);
    extension_name found = extension_name::none;
    auto look = [&](const extension_use& e) {
      if (!e.spec) return;
      for (const auto& s : *e.spec) {
        if (s.name == t || s.alias == t) found = extension_name::whole;
        else if (found == extension_name::none &&
                 (s.name.substr(0, t.size()) == t ||
                  (!s.alias.empty() && s.alias.substr(0, t.size()) == t)))
          found = extension_name::begun;
      }
    };
    if (r.target_use) look(*r.target_use);
    for (const auto& m : r.matches) look(m);
    return found;
  };

  std::string scratch;    // an argument's unquoted value, when it has quotes
  bool given[128] = {};  // the base options given so far that may be given once
  for (const auto& o : l.rule.options) {
    const detail::base_option* b = detail::find_base(o.name.text);
    if (!b) {
      // `--j P` after an unmodelled `-m rt` is -j P, as for iptables-restore: not rt's option
      // (found by fuzz/validate: fuzz/regressions/validate/abbreviated-jump-after-an-unmodelled-match).
      if (const detail::base_option* abbreviated = detail::find_base_prefix(o.name.text)) {
        switch (in_loaded(o.name.text)) {
          case extension_name::none: b = abbreviated; break;
          case extension_name::whole: break;  // bound below
          case extension_name::begun:
            r.problems.push_back(detail::problem_at(
                o.name, "unknown option '" + std::string(o.name.text) + "'", severity::error,
                "it abbreviates several options"));
            continue;
        }
      }
    }
    if (b && rules::detail::refused_in_restore(b->letter)) {
      auto why = rules::detail::refusal_in_restore(o.name.text, b->letter);
      r.problems.push_back(
          detail::problem_at(o.name, std::move(why.message), severity::error, std::move(why.hint)));
      continue;
    }
    if (b && rules::detail::given_once(b->letter)) {
      if (given[static_cast<unsigned char>(b->letter)])
        r.problems.push_back(detail::problem_at(
            o.name, std::string("multiple -") + b->letter + " flags not allowed"));
      given[static_cast<unsigned char>(b->letter)] = true;
    }
    if (b) {
      std::size_t want_min = 1, want_max = 1;
      switch (b->letter) {
        case 'A': case 'N': want_min = want_max = 1; break;
        case 'I': case 'D': case 'F': case 'X': want_min = b->letter == 'F' || b->letter == 'X' ? 0 : 1; want_max = 2; break;
        case 'R': case 'P': case 'E': case 'c': want_min = want_max = 2; break;
        case 'Z': want_min = 0; want_max = 2; break;
        case 'f': case '4': case '6': case 'v': want_min = want_max = 0; break;
        default: break;
      }
      if (b->letter == 'D' && o.args.size() == 1) want_max = 1;
      if (o.args.size() < want_min)
        r.problems.push_back(detail::problem_at(o.name, "option '" + std::string(o.name.text) + "' requires an argument"));
      else if (o.args.size() > want_max)
        r.problems.push_back(detail::problem_at(o.args[want_max], "bad argument '" + o.args[want_max].value() + "'"));
      if (b->letter == 'm' && !o.args.empty()) {
        extension_use& e = r.matches.add();
        o.args[0].value_into(e.name);
        const std::string_view module = rules::detail::match_module_name(e.name, f);
        if (!module.empty() && module != e.name) e.name = std::string(module);  // icmpv6: icmp6
        e.reload(e.name, o, module.empty() ? nullptr : find_extension(e.name, false));
        if (module.empty())
          r.problems.push_back(detail::problem_at(
              o.args[0], "no match module '" + std::string(e.name == "icmpv6" ? "icmp6" : e.name) + "' in " +
                             (f == netfilter::family::ipv6 ? "ip6tables" : "iptables") +
                             " 1.8.9 (couldn't load match)",
              severity::error,
              f == netfilter::family::ipv6 ? "ip6tables matches ICMPv6 with -m icmp6" : "iptables matches ICMP with -m icmp"));
        else if (!e.spec && !known_unmodelled(e.name, false))
          r.problems.push_back(detail::problem_at(o.args[0], "no match module '" + e.name + "' in iptables 1.8.9 (couldn't load match)"));
        else if (!e.spec)
          r.problems.push_back(detail::problem_at(o.args[0], "match '" + e.name + "' is not modelled by rstwatch: its options were not verified", severity::warning));
      } else if ((b->letter == 'j' || b->letter == 'g') && !o.args.empty()) {
        if (o.bang.present())
          r.problems.push_back(detail::problem_at(o.bang, "cannot have ! before " + std::string(o.name.text)));
        if (r.jump)
          r.problems.push_back(detail::problem_at(o.name, "more than one target"));
        r.jump = o;
        r.go_to = b->letter == 'g';
        o.args[0].value_into(r.target);
        if (r.go_to && rules::detail::names_a_target(r.target))
          r.problems.push_back(detail::problem_at(o.args[0], "Chain '" + r.target + "' does not exist",
                                                  severity::error,
                                                  "-g goes to a user-defined chain: use -j for a verdict or a target"));
        const extension_spec* spec = find_extension(r.target, true);
        if (!spec && known_unmodelled(r.target, true))
          r.problems.push_back(detail::problem_at(o.args[0], "target '" + r.target + "' is not modelled by rstwatch: its options were not verified", severity::warning));
        if (r.target_use) r.target_use->reload(r.target, o, spec);
        else r.use_target().reload(r.target, o, spec);
      } else if ((b->letter == 's' || b->letter == 'd') && !o.args.empty()) {
        const std::string_view value = o.args[0].value_view(scratch);
        if (o.bang.present() && value.find(',') != std::string_view::npos)
          r.problems.push_back(detail::problem_at(
              o.bang, "! not allowed with multiple source or destination IP addresses"));
        auto c = check_addresses(value, f);
        if (c.problem == address_problem::bad)
          r.problems.push_back(detail::problem_at(o.args[0], c.error));
        else if (std::optional<rules::detail::address> a;
                 o.bang.present() && (a = rules::detail::parse_address(value, f)) &&
                 std::all_of(a->mask, a->mask + 16, [](unsigned char m) { return m == 0; }))
          // iptables-nft would match no packet; the kernel refuses the rule.
          r.problems.push_back(detail::problem_at(o.bang, "'! -" + std::string(1, b->letter) + "' with a /0 mask matches no packet (the kernel refuses the rule)"));
        else if (c.problem == address_problem::host_name)
          r.problems.push_back(detail::problem_at(o.args[0], c.error, severity::warning,
                                                  "write the address: rstwatch does not resolve names"));
      } else if ((b->letter == 'i' || b->letter == 'o') && !o.args.empty() &&
                 o.args[0].value_view(scratch).empty()) {
        r.problems.push_back(detail::problem_at(o.args[0], "Empty interface is likely to be undesired"));
      } else if ((b->letter == 'i' || b->letter == 'o') && !o.args.empty() &&
                 o.args[0].value_view(scratch).size() > 15) {
        // IFNAMSIZ (16) counts the NUL (xtables_parse_interface).
        r.problems.push_back(detail::problem_at(o.args[0], "interface name longer than 15 characters"));
      } else if (b->letter == 'f' && f == netfilter::family::ipv6) {
        r.problems.push_back(detail::problem_at(o.name, "-f is not supported by ip6tables",
                                                severity::error, "match fragments with -m frag"));
      } else if (b->letter == 'p' && !o.args.empty()) {
        auto why = detail::check_arg(arg_kind::proto, bound_option{o, nullptr}, f, {});
        if (!why.empty()) r.problems.push_back(detail::problem_at(o.args[0], why));
      }
      continue;
    }
    if (!bind(o)) {
      // Unknown option: the seed's `--log-level7` glued its value on; say so.
      std::string hint;
      std::string_view t = o.name.text;
      auto suggest = [&](const extension_spec& s) {
        for (const auto& os : s) {
          std::string full = "--" + std::string(os.name);
          if (t.size() > full.size() && t.substr(0, full.size()) == full && detail::arity(os.kind) > 0)
            hint = "did you mean `" + full + " " + std::string(t.substr(full.size())) + "`";
        }
      };
      if (r.target_use && r.target_use->spec) suggest(*r.target_use->spec);
      for (const auto& m : r.matches)
        if (m.spec) suggest(*m.spec);
      if (hint.empty())
        for (auto n : {"tcp", "udp"})
          for (const auto& os : *find_extension(n, false))
            if (t == "--" + std::string(os.name) || (!os.alias.empty() && t == "--" + std::string(os.alias)))
              hint = "'" + std::string(t) + "' belongs to the tcp and udp matches: add '-p tcp' or '-p udp'";
      r.problems.push_back(detail::problem_at(o.name, "unknown option '" + std::string(t) + "'", severity::error, hint));
    }
  }

  // xshared.c: a list on one side makes a '!' on the other side wrong too ("! -s a -d b,c"; the
  // '!' before a list itself was reported above).
  {
    std::string scratch;
    auto listed = [&scratch](const std::optional<ast::option>& o) {
      return o && !o->args.empty() && o->args[0].value_view(scratch).find(',') != std::string_view::npos;
    };
    auto inverted = [](const std::optional<ast::option>& o) { return o && o->bang.present(); };
    for (auto [one, other] : {std::pair{&r.source, &r.destination}, std::pair{&r.destination, &r.source}})
      if (inverted(*one) && !listed(*one) && listed(*other))
        r.problems.push_back(detail::problem_at(
            (*one)->bang, "! not allowed with multiple source or destination IP addresses"));
  }

  // Arity and value checks of every bound option, then each extension's final check.
  auto check_use = [&](const extension_use& e) {
    // The tcp, udp, sctp and dccp matches read their ports each its own way, whatever -p says.
    const std::string_view en = e.name;
    const std::string_view ports_of_match =
        en == "tcp" || en == "udp" || en == "sctp" || en == "dccp" ? en : std::string_view(port_proto);
    for (const auto& bo : e.options) {
      if (!bo.spec) continue;
      if (bo.negated())
        if (std::string why = rules::detail::inversion_refusal(e.spec->name, e.spec->target, bo.spec->name);
            !why.empty()) {
          r.problems.push_back(detail::problem_at(bo.opt->args.empty() ? bo.opt->name : bo.opt->args[0], std::move(why)));
          continue;
        }
      std::size_t n = detail::arity(bo.spec->kind);
      if (bo.opt->args.size() < n) {
        r.problems.push_back(detail::problem_at(bo.opt->name, "'" + std::string(bo.opt->name.text) + "' requires " +
                                                                 (n == 2 ? "two arguments" : "an argument")));
        continue;
      }
      if (bo.opt->args.size() > n) {
        r.problems.push_back(detail::problem_at(bo.opt->args[n], "bad argument '" + bo.opt->args[n].value() + "'"));
        continue;
      }
      auto why = detail::check_arg(bo.spec->kind, bo, f, ports_of_match);
      if (!why.empty()) r.problems.push_back(detail::problem_at(bo.opt->args.empty() ? bo.opt->name : bo.opt->args[0], why));
    }
    detail::final_check(r, e, f, r.problems);
  };
  for (const auto& m : r.matches) check_use(m);
  if (r.target_use) check_use(*r.target_use);
  detail::payload_check(r, r.problems);
  if (r.cmd == command::none)
    r.problems.push_back(detail::problem_at(l.text, "no command given (-A, -I, -D, -R, -N, -F, -X, -Z, -P or -E)"));
}

inline rule_view view_rule(const ast::line& l, netfilter::family f) {
  rule_view r;
  view_rule(l, f, r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Typed views of the modelled extensions most rules use.

template <class T>
struct negatable {
  T value;
  bool negated = false;
};

struct tcp_view {
  std::optional<negatable<port_range>> source_port, destination_port;
  std::optional<negatable<std::pair<std::uint8_t, std::uint8_t>>> flags;  // mask, comparison
  bool syn = false;
  bool syn_negated = false;
  std::optional<negatable<std::uint8_t>> option;
};

namespace detail {
inline std::optional<negatable<port_range>> port_of(const extension_use& e, std::string_view n,
                                                    std::string_view proto) {
  if (auto o = e.find(n))
    if (auto r = parse_match_ports(o->arg(), proto)) return negatable<port_range>{*r.value, o->negated()};
  return std::nullopt;
}
}  // namespace detail

// The tcp or udp match of a rule (explicit or loaded by -p), when its values are valid.
inline std::optional<tcp_view> tcp_of(const rule_view& r, std::string_view proto = "tcp") {
  const extension_use* e = r.match(proto);
  if (!e) return std::nullopt;
  tcp_view v;
  v.source_port = detail::port_of(*e, "source-port", proto);
  v.destination_port = detail::port_of(*e, "destination-port", proto);
  if (auto o = e->find("tcp-flags")) {
    auto m = parse_tcp_flags(o->arg(0)), c = parse_tcp_flags(o->arg(1));
    if (m && c) v.flags = negatable<std::pair<std::uint8_t, std::uint8_t>>{{*m.value, *c.value}, o->negated()};
  }
  if (auto o = e->find("syn")) {
    v.syn = true;
    v.syn_negated = o->negated();
  }
  if (auto o = e->find("tcp-option"))
    if (auto n = rules::detail::parse_tcp_option(o->arg())) v.option = negatable<std::uint8_t>{*n, o->negated()};
  return v;
}

// Whether a tcp match selects segments with RST set, as `--tcp-flags RST RST` (the seed's
// rules) does: RST (0x04) is in the mask and in the compared value, without '!'. --syn
// compares RST to 0 and so never does.
inline bool selects_rst(const tcp_view& v) {
  return v.flags && !v.flags->negated && (v.flags->value.first & 0x04) &&
         (v.flags->value.second & 0x04);
}

struct log_view {
  std::string prefix;       // as the kernel keeps it: at most 29 characters
  std::uint8_t level = 4;   // libxt_LOG.c LOG_DEFAULT_LEVEL (warning)
  bool tcp_sequence = false, tcp_options = false, ip_options = false, uid = false,
       macdecode = false;
};

inline std::optional<log_view> log_of(const rule_view& r) {
  if (!r.target_use || r.target != "LOG") return std::nullopt;
  const extension_use& e = *r.target_use;
  log_view v;
  if (auto o = e.find("log-prefix")) v.prefix = o->arg().substr(0, max_log_prefix);
  if (auto o = e.find("log-level"))
    if (auto l = parse_log_level(o->arg())) v.level = *l.value;
  v.tcp_sequence = e.has("log-tcp-sequence");
  v.tcp_options = e.has("log-tcp-options");
  v.ip_options = e.has("log-ip-options");
  v.uid = e.has("log-uid");
  v.macdecode = e.has("log-macdecode");
  return v;
}


// multiport: the ports of --sports, --dports or --ports (ranges kept as ranges).
struct multiport_view {
  enum class side : std::uint8_t { source, destination, either } which = side::either;
  bool negated = false;
  std::vector<port_range> ports;
};

inline std::optional<multiport_view> multiport_of(const rule_view& r) {
  const extension_use* e = r.match("multiport");
  if (!e || e->options.empty() || !e->options.front().spec) return std::nullopt;
  const bound_option& o = e->options.front();
  multiport_view v;
  v.which = o.spec->name == "source-ports"        ? multiport_view::side::source
            : o.spec->name == "destination-ports" ? multiport_view::side::destination
                                                  : multiport_view::side::either;
  v.negated = o.negated();
  std::string_view s = o.arg();
  std::string proto = r.protocol_name() == "udp" ? "udp" : "tcp";
  while (true) {
    auto comma = s.find(',');
    auto p = parse_port_range(s.substr(0, comma), proto);
    if (!p) return std::nullopt;
    v.ports.push_back(*p.value);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return v;
}

// conntrack --ctstate or state --state: the states in upper case, as written.
struct states_view {
  std::vector<std::string> states;
  bool negated = false;
};

inline std::optional<states_view> states_of(const rule_view& r) {
  const bound_option* o = nullptr;
  if (const extension_use* e = r.match("conntrack")) o = e->find("ctstate");
  if (!o)
    if (const extension_use* e = r.match("state")) o = e->find("state");
  if (!o) return std::nullopt;
  states_view v;
  v.negated = o->negated();
  std::string_view s = o->arg();
  while (true) {
    auto comma = s.find(',');
    std::string one(s.substr(0, comma));
    for (auto& c : one) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    v.states.push_back(one);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return v;
}

// comment: the text, quotes removed.
inline std::optional<std::string> comment_of(const rule_view& r) {
  if (const extension_use* e = r.match("comment"))
    if (const bound_option* o = e->find("comment")) return std::string(o->arg().substr(0, rules::detail::max_comment));
  return std::nullopt;
}

// mark (the match): value and mask.
inline std::optional<negatable<mark_mask>> mark_of(const rule_view& r) {
  if (const extension_use* e = r.match("mark"))
    if (const bound_option* o = e->find("mark"))
      if (auto m = parse_mark(o->arg())) return negatable<mark_mask>{*m.value, o->negated()};
  return std::nullopt;
}

// REJECT: the ICMP (or TCP reset) answer, by its iptables-save name (an alias or abbreviation
// as written is resolved; an unknown one is returned as written); without --reject-with the
// kernel default (icmp-port-unreachable, icmp6-port-unreachable: libipt_REJECT.c /
// libip6t_REJECT.c init).
inline std::optional<std::string> reject_of(const rule_view& r, netfilter::family f) {
  if (!r.target_use || r.target != "REJECT") return std::nullopt;
  if (const bound_option* o = r.target_use->find("reject-with")) {
    std::string_view name = rules::detail::reject_type(o->arg(), f);
    return std::string(name.empty() ? o->arg() : name);
  }
  return std::string(f == netfilter::family::ipv6 ? "icmp6-port-unreachable"
                                                  : "icmp-port-unreachable");
}

// DNAT, SNAT, MASQUERADE, REDIRECT: where to, and the port-mapping flags.
struct nat_view {
  std::string target;  // "DNAT", ...
  std::string to;      // --to-destination / --to-source / --to-ports, as written
  bool random = false, random_fully = false, persistent = false;
};

inline std::optional<nat_view> nat_of(const rule_view& r) {
  if (!r.target_use) return std::nullopt;
  const std::string& t = r.target;
  if (t != "DNAT" && t != "SNAT" && t != "MASQUERADE" && t != "REDIRECT") return std::nullopt;
  const extension_use& e = *r.target_use;
  nat_view v;
  v.target = t;
  for (auto key : {"to-destination", "to-source", "to-ports"})
    if (const bound_option* o = e.find(key)) v.to = o->arg();
  v.random = e.has("random");
  v.random_fully = e.has("random-fully");
  v.persistent = e.has("persistent");
  return v;
}

// NFLOG: group, prefix and the copy limits.
struct nflog_view {
  std::uint16_t group = 0;
  std::string prefix;
  std::optional<std::uint32_t> size;       // --nflog-size (or the older --nflog-range)
  std::optional<std::uint16_t> threshold;  // --nflog-threshold
};

inline std::optional<nflog_view> nflog_of(const rule_view& r) {
  if (!r.target_use || r.target != "NFLOG") return std::nullopt;
  const extension_use& e = *r.target_use;
  nflog_view v;
  if (auto o = e.find("nflog-group"))
    if (auto n = detail::to_uint(o->arg(), 65535)) v.group = static_cast<std::uint16_t>(*n);
  if (auto o = e.find("nflog-prefix")) v.prefix = o->arg().substr(0, rules::detail::max_nflog_prefix);
  for (auto key : {"nflog-range", "nflog-size"})
    if (auto o = e.find(key))
      if (auto n = detail::to_uint(o->arg(), 0xffffffffu)) v.size = static_cast<std::uint32_t>(*n);
  if (auto o = e.find("nflog-threshold"))
    if (auto n = detail::to_uint(o->arg(), 65535)) v.threshold = static_cast<std::uint16_t>(*n);
  return v;
}

}  // namespace rstwatch::rules::checks
