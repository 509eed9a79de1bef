// The matches and targets rstwatch models: which options each accepts and how iptables-save
// 1.8.9 prints them (the save() callbacks of iptables' extensions/libxt_*.c, libipt_*.c and
// libip6t_*.c, checked against the real iptables-save in tests/rules/saved.cpp).
#pragma once

#include <pwd.h>
#include <grp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <rstwatch/detail/reuse_list.hpp>
#include <rstwatch/diagnostic.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/detail/values.hpp>

namespace rstwatch::rules::detail {

// One option given to an extension: its canonical long name, '!' and arguments.
struct given_option {
  std::string_view name;  // canonical long name, e.g. "dport"
  bool invert = false;
  rstwatch::detail::reuse_list<std::string> args;  // kept from line to line by the reader
  source_position where;  // of its value (of its name when it has none); line 0: unknown
};

struct option_spec {
  std::string_view name;   // long name without "--"
  std::string_view canon;  // the name it is an alias of ("" = itself)
  int nargs;               // 0 or 1 (2 for --tcp-flags)
};

struct save_input {
  const rstwatch::detail::reuse_list<given_option>& opts;
  family fam;
  std::uint8_t proto;          // -p value, 0 when absent
  source_position proto_at{};  // where -p is written (line 0: absent)
};

// The -p protocol as an extension saw it when it read option `o`: iptables reads the line in
// order, so a -p written after the option is not known to it yet (0).
inline std::uint8_t proto_when_read(const save_input& in, const given_option& o) noexcept {
  return in.proto_at.line != 0 && in.proto_at.column < o.where.column ? in.proto : 0;
}

// An extension's printer appends what iptables-save prints for its options to `out` (which
// holds the rule so far: no string per extension); the diagnostic when an option is refused,
// after which `out` is not to be used.
using save_fn = std::optional<diagnostic> (*)(const save_input&, std::string& out);

// A printer written as a function that returns its text, as a save_fn (for the extensions
// rules rarely use; the ones kube-proxy writes on every rule append directly).
template <result<std::string> (*F)(const save_input&)>
std::optional<diagnostic> appending(const save_input& in, std::string& out) {
  auto r = F(in);
  if (!r) return std::move(r).error();
  out += *r;
  return std::nullopt;
}

struct extension {
  std::string_view name;
  bool target;
  std::vector<option_spec> options;
  save_fn save;
};

inline diagnostic option_error(const given_option& o, std::string message,
                               std::string hint = {}) {
  diagnostic d;
  // Point at the value when there is one: that is what is wrong.
  d.where = o.where;
  d.message = std::move(message);
  d.hint = std::move(hint);
  return d;
}

inline std::string bad_value(const given_option& o) {
  return "invalid value '" + (o.args.empty() ? std::string() : o.args[0]) + "' for --" +
         std::string(o.name);
}

inline std::string inv(const given_option& o) { return o.invert ? " !" : ""; }

// ---- tcp / udp (libxt_tcp.c tcp_save(), libxt_udp.c udp_save()) --------------------------


inline result<ports_match> read_ports_match(const save_input& in, bool tcp) {
  // iptables-nft turns the options into nft payload matches, and refuses them unless -p names
  // the protocol (inverted or not); without options the kernel's xt_tcp/xt_udp decides
  // (rules::validate() says so).
  if (!in.opts.empty() && in.proto != (tcp ? 6 : 17)) {
    const given_option& o = in.opts.front();
    return option_error(o, tcp ? "TCP match requires '-p tcp'" : "UDP match requires '-p udp'");
  }
  ports_match p;
  for (auto& o : in.opts) {
    if (o.name == "sport" || o.name == "dport") {
      auto r = parse_match_ports(o.args.at(0), !tcp);
      if (!r)
        return option_error(o, tcp ? "invalid port/service '" + o.args[0] + "' specified"
                                   : "Port \"" + o.args[0] + "\" does not resolve to anything");
      ports_match::ports& q = o.name == "sport" ? p.sport : p.dport;
      q.invert = o.invert;
      q.range = *r;
    } else if (o.name == "tcp-flags") {
      auto m = parse_tcp_flags(o.args.at(0));
      auto c = parse_tcp_flags(o.args.at(1));
      if (!m || !c) return option_error(o, "unknown TCP flag in '" + o.args[0] + " " + o.args[1] + "'");
      p.flags_invert = o.invert;
      p.mask = *m;
      p.cmp = *c;
    } else if (o.name == "syn") {
      p.flags_invert = o.invert;
      p.mask = 0x01 | 0x02 | 0x04 | 0x10;  // FIN,SYN,RST,ACK
      p.cmp = 0x02;                        // SYN
    } else if (o.name == "tcp-option") {
      auto n = parse_tcp_option(o.args.at(0));
      if (!n) return option_error(o, "Bad TCP option '" + o.args[0] + "' (1 to 255)");
      p.has_option = true;
      p.option_invert = o.invert;
      p.option = *n;
    }
  }
  return p;
}

inline std::optional<diagnostic> save_ports_match(const save_input& in, bool tcp, std::string& out) {
  auto p = read_ports_match(in, tcp);
  if (!p) return p.error();
  print_ports_match(*p, out);
  return std::nullopt;
}

inline std::optional<diagnostic> save_tcp(const save_input& in, std::string& out) {
  return save_ports_match(in, true, out);
}
inline std::optional<diagnostic> save_udp(const save_input& in, std::string& out) {
  return save_ports_match(in, false, out);
}

// ---- sctp / dccp (libxt_sctp.c, libxt_dccp.c: xt matches, saved as iptables-save 1.8.9 does) ---

inline diagnostic error_message(std::string message) {
  diagnostic d;
  d.message = std::move(message);
  return d;
}

// strcasecmp(a, b) == 0.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && begins_ignoring_case(a, b);
}

// conntrack's --ctexpire, an XTTYPE_UINT32RC (libxtables xtopt_parse_mint()): one or two
// numbers split by ':', each read by xtables_strtoul() base 0 as far as a number goes ("010" is
// 8, "0xa" 10, " 10" 10); an empty first is 0, an empty second the largest, and one number is
// both ends. The errors are iptables' own.
inline result<std::pair<std::uint64_t, std::uint64_t>> read_ct_expire(std::string_view v) {
  using range = std::pair<std::uint64_t, std::uint64_t>;
  constexpr std::uint64_t max = 0xffffffffu;
  std::uint64_t values[2] = {0, max};
  int n = 0;
  for (std::size_t at = 0;;) {
    if (n == 2)
      return result<range>(error_message(
          "conntrack: Too many components for option \"--ctexpire\" (max: 2)"));
    std::size_t end = at;
    std::uint64_t value = n == 1 ? max : 0;
    if (at < v.size() && v[at] != ':') {
      auto p = read_number_prefix(v.substr(at), max);
      if (!p)
        return result<range>(error_message("conntrack: bad value for option \"--ctexpire\" near \"" +
                                           std::string(v.substr(at)) + "\", or out of range (0-4294967295)."));
      value = p->value;
      end = at + p->end;
      if (end < v.size() && v[end] != ':')
        return result<range>(error_message("conntrack: Argument to \"--ctexpire\" has unexpected characters near \"" +
                                           std::string(v.substr(end)) + "\"."));
    }
    values[n++] = value;
    if (end >= v.size()) break;
    at = end + 1;
  }
  if (n == 1) values[1] = values[0];
  return range{values[0], values[1]};
}

// libxt_sctp.c's chunk table: name, chunk type, and the flag letters by bit (bit 7 first; a
// '-' is no flag, yet libxt_sctp.c takes "-" as one: bit 7).
struct sctp_chunk_name {
  std::string_view name;
  std::uint8_t type;
  std::string_view flags;
};
inline constexpr sctp_chunk_name sctp_chunk_names[] = {
    {"DATA", 0, "----IUBE"},          {"INIT", 1, "--------"},        {"INIT_ACK", 2, "--------"},
    {"SACK", 3, "--------"},          {"HEARTBEAT", 4, "--------"},   {"HEARTBEAT_ACK", 5, "--------"},
    {"ABORT", 6, "-------T"},         {"SHUTDOWN", 7, "--------"},    {"SHUTDOWN_ACK", 8, "--------"},
    {"ERROR", 9, "--------"},         {"COOKIE_ECHO", 10, "--------"}, {"COOKIE_ACK", 11, "--------"},
    {"ECN_ECNE", 12, "--------"},     {"ECN_CWR", 13, "--------"},    {"SHUTDOWN_COMPLETE", 14, "-------T"},
    {"I_DATA", 64, "----IUBE"},       {"RE_CONFIG", 130, "--------"}, {"PAD", 132, "--------"},
    {"ASCONF", 193, "--------"},      {"ASCONF_ACK", 128, "--------"}, {"FORWARD_TSN", 192, "--------"},
    {"I_FORWARD_TSN", 194, "--------"}};

// --chunk-types MATCH LIST as libxt_sctp.c parse_sctp_chunks() reads it and sctp_save() prints
// it. Its quirks are the kernel's data: flags are kept per *row* of the table above
// (save_chunk_flag_info() gets the row, print_chunks() looks for the chunk type), so the flags
// of I_DATA and later rows are kept but never printed; at most four chunks carry flags
// (XT_NUM_SCTP_FLAGS).
struct sctp_chunks {
  std::string_view match;            // "any", "all" or "only"
  std::uint64_t map[4] = {};         // chunk types present
  bool all = false;                  // "ALL": every type
  struct flag_info { std::size_t row; std::uint8_t flag, mask; };
  flag_info flags[4] = {};
  std::size_t flag_count = 0;
};

inline result<sctp_chunks> read_sctp_chunks(std::string_view match, std::string_view list) {
  sctp_chunks c;
  auto fail = [](std::string m) { return result<sctp_chunks>(error_message(std::move(m))); };
  if (iequals(match, "any")) c.match = "any";
  else if (iequals(match, "all")) c.match = "all";
  else if (iequals(match, "only")) c.match = "only";
  else return fail("Match type has to be one of \"ALL\", \"ANY\" or \"ONLY\"");
  if (iequals(list, "ALL")) {
    c.all = true;
    return c;
  }
  if (iequals(list, "NONE")) return c;
  for (std::size_t start = 0; start <= list.size();) {  // strtok(","): empty items vanish
    const std::size_t comma = std::min(list.find(',', start), list.size());
    std::string_view item = list.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    const std::size_t colon = item.find(':');
    const std::string_view name = item.substr(0, colon);
    std::size_t row = 0;
    while (row < std::size(sctp_chunk_names) && !iequals(sctp_chunk_names[row].name, name)) ++row;
    if (row == std::size(sctp_chunk_names)) return fail("Unknown sctp chunk `" + std::string(name) + "'");
    const std::uint8_t type = sctp_chunk_names[row].type;
    c.map[type / 64] |= std::uint64_t{1} << (type % 64);
    if (colon == std::string_view::npos) continue;
    for (char f : item.substr(colon + 1)) {
      const char upper = f >= 'a' && f <= 'z' ? static_cast<char>(f - 'a' + 'A') : f;
      const std::size_t at = sctp_chunk_names[row].flags.find(upper);
      if (at == std::string_view::npos)
        return fail("Invalid flags for chunk type " + std::to_string(row));
      const auto bit = static_cast<std::uint8_t>(1u << (7 - at));
      std::size_t k = 0;
      while (k < c.flag_count && c.flags[k].row != row) ++k;
      if (k == c.flag_count) {
        if (c.flag_count == std::size(c.flags))
          return fail("Number of chunk types with flags exceeds currently allowed limit. Increasing "
                      "this limit involves changing IPT_NUM_SCTP_FLAGS and recompiling both the "
                      "kernel space and user space modules");
        c.flags[c.flag_count++] = {row, 0, 0};
      }
      c.flags[k].mask |= bit;
      if (f >= 'A' && f <= 'Z') c.flags[k].flag |= bit;
    }
  }
  return c;
}

inline void print_sctp_chunks(const sctp_chunks& c, std::string& out) {
  out += ' ';
  out += c.match;
  bool any = false;
  for (auto w : c.map) any = any || w != 0;
  if (c.all || !any) {
    out += c.all ? " ALL" : " NONE";
    return;
  }
  bool first = true;
  for (unsigned type = 0; type < 256; ++type) {
    if (!(c.map[type / 64] >> (type % 64) & 1)) continue;
    out += first ? ' ' : ',';
    first = false;
    for (const auto& n : sctp_chunk_names)
      if (n.type == type) out += n.name;
    for (std::size_t k = 0; k < c.flag_count; ++k) {
      if (c.flags[k].row != type || !c.flags[k].mask) continue;  // the row, compared to a type
      out += ':';
      for (int bit = 7; bit >= 0; --bit) {
        if (!(c.flags[k].mask >> bit & 1)) continue;
        const char letter = sctp_chunk_names[type].flags[static_cast<std::size_t>(7 - bit)];
        out += (c.flags[k].flag >> bit & 1) || letter < 'A' || letter > 'Z'
                   ? letter
                   : static_cast<char>(letter - 'A' + 'a');
      }
    }
  }
}

// The sctp match's --sport/--dport: libxt_sctp.c parse_sctp_ports(), xtables_parse_port() for
// "sctp" on each end, the first not above the second.
inline result<port_range> read_sctp_ports(std::string_view s) {
  auto r = parse_port_range(s, "sctp");
  if (r) return *r;
  const auto colon = s.find(':');
  for (std::string_view end : {s.substr(0, colon), colon == std::string_view::npos ? std::string_view() : s.substr(colon + 1)})
    if (!end.empty() && !parse_port(end, "sctp"))
      return result<port_range>(error_message("invalid port/service `" + std::string(end) + "' specified"));
  return result<port_range>(error_message("invalid portrange (min > max)"));
}

inline void print_match_ports(const given_option& o, std::string_view name, const port_range& r,
                              std::string& out) {
  out += inv(o);
  out += " --";
  out += name;
  out += ' ';
  out += std::to_string(r.low);
  if (r.low != r.high) out += ":" + std::to_string(r.high);
}

inline result<std::string> save_sctp(const save_input& in) {
  std::string sport, dport, chunks;
  for (auto& o : in.opts) {
    if (o.name == "sport" || o.name == "dport") {
      auto r = read_sctp_ports(o.args.at(0));
      if (!r) return option_error(o, r.error().message);
      (o.name == "sport" ? sport : dport).clear();
      print_match_ports(o, o.name, *r, o.name == "sport" ? sport : dport);
    } else if (o.name == "chunk-types") {
      auto c = read_sctp_chunks(o.args.at(0), o.args.at(1));
      if (!c) return option_error(o, c.error().message);
      chunks = inv(o) + " --chunk-types";
      print_sctp_chunks(*c, chunks);
    }
  }
  return sport + dport + chunks;
}

// libxt_dccp.c's packet types, by bit.
inline constexpr std::string_view dccp_types[] = {"REQUEST", "RESPONSE", "DATA",  "ACK",
                                                  "DATAACK", "CLOSEREQ", "CLOSE", "RESET",
                                                  "SYNC",    "SYNCACK",  "INVALID"};

// --dccp-types as parse_dccp_types() reads it (names in any case, empty items skipped); the
// mask, or the unknown name.
inline result<std::uint16_t> read_dccp_types(std::string_view list) {
  std::uint16_t mask = 0;
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    std::string_view item = list.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    std::size_t i = 0;
    while (i < std::size(dccp_types) && !iequals(dccp_types[i], item)) ++i;
    if (i == std::size(dccp_types))
      return result<std::uint16_t>(error_message("Unknown DCCP type `" + std::string(item) + "'"));
    mask = static_cast<std::uint16_t>(mask | (1u << i));
  }
  return mask;
}

// The dccp match: ports as XTTYPE_PORTRC (parse_ct_port_range()), --dccp-option an XTTYPE_UINT8
// of 1 to 255; dccp_save() prints ports, types (by bit), then the option.
inline result<std::string> save_dccp(const save_input& in) {
  std::string sport, dport, types, option;
  for (auto& o : in.opts) {
    if (o.name == "sport" || o.name == "dport") {
      auto r = parse_ct_port_range(o.args.at(0));
      if (!r) return option_error(o, "Port \"" + o.args[0] + "\" does not resolve to anything");
      (o.name == "sport" ? sport : dport).clear();
      print_match_ports(o, o.name, *r, o.name == "sport" ? sport : dport);
    } else if (o.name == "dccp-types") {
      auto m = read_dccp_types(o.args.at(0));
      if (!m) return option_error(o, m.error().message);
      types = inv(o) + " --dccp-types ";
      bool first = true;
      for (std::size_t i = 0; i < std::size(dccp_types); ++i)
        if (*m >> i & 1) {
          if (!first) types += ',';
          first = false;
          types += dccp_types[i];
        }
    } else if (o.name == "dccp-option") {
      auto v = parse_uint(o.args.at(0), 255);
      if (!v || *v < 1)
        return option_error(o, "dccp: bad value for option \"--dccp-option\", or out of range (1-255).");
      option = inv(o) + " --dccp-option " + std::to_string(*v);
    }
  }
  return sport + dport + types + option;
}

// ---- icmp / icmp6 (libipt_icmp.c, libip6t_icmp6.c and libxtables' icmp type tables) -------

template <std::size_t N>
inline result<std::string> save_icmp_like(const save_input& in, const icmp_name (&names)[N],
                                          std::string_view option, bool has_any) {
  std::string out;
  for (auto& o : in.opts) {
    const std::string& v = o.args.at(0);
    std::optional<icmp_name> t;
    const icmp_match m = match_icmp_name(v, names);
    if (m.also) return option_error(o, ambiguous_icmp(v, m, has_any ? "ICMP" : "ICMPv6"));
    if (m.found) t = *m.found;
    if (!t) {
      auto slash = v.find('/');
      auto type = parse_uint(std::string_view(v).substr(0, slash), 255);
      if (type) {
        icmp_name n{"", static_cast<std::uint8_t>(*type), 0, 0xff};
        if (slash != std::string::npos) {
          auto code = parse_uint(std::string_view(v).substr(slash + 1), 255);
          if (!code) type.reset();
          else n.code_min = n.code_max = static_cast<std::uint8_t>(*code);
        }
        if (type) t = n;
      }
    }
    if (!t) return option_error(o, "invalid ICMP type '" + v + "'");
    out = inv(o) + " --" + std::string(option) + " ";
    if (has_any && t->type == 0xff) {
      out += "any";
    } else {
      out += std::to_string(t->type);
      if (t->code_min != 0 || t->code_max != 0xff) out += "/" + std::to_string(t->code_min);
    }
  }
  return out;
}

inline result<std::string> save_icmp(const save_input& in) {
  return save_icmp_like(in, icmp_names, "icmp-type", true);
}
inline result<std::string> save_icmp6(const save_input& in) {
  return save_icmp_like(in, icmpv6_names, "icmpv6-type", false);
}

// ---- multiport (libxt_multiport.c multiport_save1()) -------------------------------------

inline result<std::string> save_multiport(const save_input& in) {
  std::string out;
  // libxt_multiport.c check_proto(): services are looked up for the -p protocol's name.
  std::string_view proto = in.proto == 17    ? "udp"
                           : in.proto == 132 ? "sctp"
                           : in.proto == 33  ? "dccp"
                           : in.proto == 136 ? "udplite"
                                             : "tcp";
  for (auto& o : in.opts) {
    std::string list;
    std::string_view s = o.args.at(0);
    int count = 0;
    while (true) {
      auto comma = s.find(',');
      auto r = parse_multiport_item(s.substr(0, comma), proto);
      if (!r) return option_error(o, "invalid port/service '" + std::string(s.substr(0, comma)) + "' specified");
      if (!list.empty()) list += ',';
      list += print_port_range(*r);
      count += r->low == r->high ? 1 : 2;
      if (comma == std::string_view::npos) break;
      s.remove_prefix(comma + 1);
    }
    if (count > 15) return option_error(o, "too many ports specified (at most 15)");
    out = inv(o) + " --" + std::string(o.name) + " " + list;
  }
  return out;
}

// ---- conntrack and state (libxt_conntrack.c conntrack_dump(), libxt_state.c) ---------------

inline constexpr std::string_view ct_states[] = {"INVALID",   "NEW",  "RELATED", "ESTABLISHED",
                                                 "UNTRACKED", "SNAT", "DNAT"};
inline constexpr std::string_view ct_statuses[] = {"NONE", "EXPECTED", "SEEN_REPLY", "ASSURED",
                                                   "CONFIRMED"};

// A comma list of names from `table`, printed back in the table's order.
template <std::size_t N>
inline std::optional<std::string> canonical_list(std::string_view s, const std::string_view (&table)[N],
                                                 std::size_t usable) {
  bool seen[N] = {};
  while (true) {
    auto comma = s.find(',');
    std::string_view w = s.substr(0, comma);
    bool found = false;
    for (std::size_t i = 0; i < usable; ++i)
      if (w.size() == table[i].size() &&
          std::equal(w.begin(), w.end(), table[i].begin(), [](char a, char b) {
            return std::toupper(static_cast<unsigned char>(a)) == b;
          }))
        seen[i] = found = true;
    if (!found) return std::nullopt;
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  std::string out;
  for (std::size_t i = 0; i < usable; ++i)
    if (seen[i]) out += (out.empty() ? "" : ",") + std::string(table[i]);
  return out;
}

inline result<std::string> save_conntrack(const save_input& in) {
  static constexpr std::string_view order[] = {
      "ctstate",      "ctproto",      "ctorigsrc",    "ctorigdst",    "ctreplsrc",
      "ctrepldst",    "ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport",
      "ctstatus",     "ctexpire",     "ctdir"};
  std::string parts[std::size(order)];
  for (auto& o : in.opts) {
    std::size_t i = 0;
    while (order[i] != o.name) ++i;
    const std::string& v = o.args.empty() ? std::string() : o.args[0];
    std::string text;
    if (o.name == "ctstate") {
      auto l = canonical_list(v, ct_states, std::size(ct_states));
      if (!l) return option_error(o, "bad ctstate '" + v + "'");
      text = *l;
    } else if (o.name == "ctstatus") {
      auto l = canonical_list(v, ct_statuses, std::size(ct_statuses));
      if (!l) return option_error(o, "bad ctstatus '" + v + "'");
      // NONE is no bit: beside others it vanishes from the mask conntrack_dump_status() prints.
      if (*l != "NONE" && l->rfind("NONE,", 0) == 0) l->erase(0, 5);
      text = *l;
    } else if (o.name == "ctproto") {
      auto p = parse_protocol(v);
      if (!p) return option_error(o, "unknown protocol '" + v + "'");
      text = std::to_string(*p);
    } else if (o.name == "ctorigsrc" || o.name == "ctorigdst" || o.name == "ctreplsrc" ||
               o.name == "ctrepldst") {
      auto a = parse_host_mask(v, in.fam);
      if (!a) return option_error(o, "invalid address '" + v + "' (host names are not resolved)");
      // conntrack_dump_addr(): a full mask prints no suffix.
      int bytes = in.fam == family::ipv4 ? 4 : 16;
      int prefix = mask_to_prefix(a->mask, bytes);
      text = print_host(a->addr, in.fam);
      // A mask that is no prefix is not printed at all (found with iptables-save 1.8.9: the
      // kernel keeps it, so the saved rule reads back as a host; check warns).
      if (prefix >= 0 && prefix != bytes * 8) text += "/" + std::to_string(prefix);
    } else if (o.name == "ctdir") {
      // libxt_conntrack.c compares with strcasecmp and prints the upper-case name.
      auto is = [&v](std::string_view name) {
        return v.size() == name.size() &&
               std::equal(v.begin(), v.end(), name.begin(), [](char a, char b) {
                 return std::toupper(static_cast<unsigned char>(a)) == b;
               });
      };
      if (is("ORIGINAL")) text = "ORIGINAL";
      else if (is("REPLY")) text = "REPLY";
      else return option_error(o, bad_value(o));
    } else if (o.name == "ctexpire") {
      auto r = read_ct_expire(v);
      if (!r) return option_error(o, r.error().message);
      const auto [low, high] = *r;
      text = low == high ? std::to_string(low) : std::to_string(low) + ":" + std::to_string(high);
    } else {
      auto r = parse_ct_port_range(v);
      if (!r) return option_error(o, "Port \"" + v + "\" does not resolve to anything");
      text = print_port_range(*r);
    }
    parts[i] = inv(o) + " --" + std::string(o.name) + (o.name == "ctdir" ? " " : " ") + text;
  }
  std::string out;
  for (auto& p : parts) out += p;
  return out;
}

inline result<std::string> save_state(const save_input& in) {
  std::string out;
  for (auto& o : in.opts) {
    auto l = canonical_list(o.args.at(0), ct_states, 5);
    if (!l) return option_error(o, "bad state '" + o.args[0] + "'");
    out = inv(o) + " --state " + *l;
  }
  return out;
}

// ---- comment, mark, connmark, limit, iprange, addrtype, owner, statistic -------------------

// What the kernel keeps of free text (iptables-nft loads longer text without a word and
// iptables-save prints the cut text): xt_comment's 256 bytes and the nft log expression's 128,
// each with its NUL. LOG's 29 is max_log_prefix in check_values.hpp.
inline constexpr std::size_t max_comment = 255;
inline constexpr std::size_t max_nflog_prefix = 127;

inline std::optional<diagnostic> save_comment(const save_input& in, std::string& out) {
  // iptables-nft 1.8.9 loads a longer comment without a word and keeps its first 255
  // characters (xt_comment's 256 bytes with the NUL), as it cuts LOG prefixes.
  for (auto& o : in.opts) {
    out += " --comment ";
    append_saved_string(out, std::string_view(o.args[0]).substr(0, max_comment));
  }
  return std::nullopt;
}

// The last --mark given prints.
inline std::optional<diagnostic> save_mark_match(const save_input& in, std::string& out) {
  const given_option* last = nullptr;
  value_mask vm{};
  for (auto& o : in.opts) {
    auto v = parse_value_mask(o.args.at(0));
    if (!v) return option_error(o, bad_value(o));
    last = &o;
    vm = *v;
  }
  if (!last) return std::nullopt;
  out += last->invert ? " ! --mark " : " --mark ";
  out += hex(vm.value);
  if (vm.mask != 0xffffffffu) {
    out += '/';
    out += hex(vm.mask);
  }
  return std::nullopt;
}

inline result<std::string> save_limit(const save_input& in) {
  // libxt_limit.c: rates are kept as an average interval in 1/10000 s (XT_LIMIT_SCALE);
  // print_rate() picks the largest unit that divides it evenly enough.
  constexpr std::uint32_t scale = limit_scale;
  std::uint32_t avg = scale * 3600 / 3, burst = 5;
  for (auto& o : in.opts) {
    const std::string& v = o.args.at(0);
    if (o.name == "limit") {
      auto r = parse_limit_rate(v);
      if (!r) return option_error(o, "bad rate '" + v + "'");
      if (too_fast(*r)) return option_error(o, "rate too fast '" + v + "'");
      avg = static_cast<std::uint32_t>(std::uint64_t{scale} * r->per / r->count);
    } else {
      auto n = parse_uint(v, limit_max_burst);
      if (!n) return option_error(o, "bad --limit-burst '" + v + "'");
      burst = static_cast<std::uint32_t>(*n);
    }
  }
  static constexpr struct {
    std::string_view name;
    std::uint32_t mult;
  } rates[] = {{"day", scale * 86400}, {"hour", scale * 3600}, {"min", scale * 60}, {"sec", scale}};
  std::size_t i = 1;
  for (; i < std::size(rates); ++i)
    if (avg > rates[i].mult || rates[i].mult / avg < rates[i].mult % avg) break;
  std::string out = " --limit " + std::to_string(rates[i - 1].mult / avg) + "/" +
                    std::string(rates[i - 1].name);
  // The default burst prints nothing, and neither does 0 (iptables-save 1.8.9 shows
  // `--limit-burst 0` as no burst at all).
  if (burst != 5 && burst != 0) out += " --limit-burst " + std::to_string(burst);
  return out;
}

inline result<std::string> save_iprange(const save_input& in) {
  std::string src, dst;
  for (auto& o : in.opts) {
    const std::string& v = o.args.at(0);
    const auto dash = v.find('-');
    unsigned char a[16] = {}, b[16] = {};
    if (!parse_range_host(std::string_view(v).substr(0, dash), in.fam, a) ||
        !parse_range_host(dash == std::string::npos ? std::string_view(v)
                                                    : std::string_view(v).substr(dash + 1),
                          in.fam, b))
      return option_error(o, "invalid address range '" + v + "'");
    std::string text = inv(o) + " --" + std::string(o.name) + " " + print_host(a, in.fam) +
                       "-" + print_host(b, in.fam);
    (o.name == "src-range" ? src : dst) = text;
  }
  return src + dst;
}

inline constexpr std::string_view addr_types[] = {
    "UNSPEC", "UNICAST", "LOCAL",       "BROADCAST", "ANYCAST", "MULTICAST",
    "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT",     "XRESOLVE"};

// libxt_addrtype.c addrtype_check(): one of the two types must be given.
inline constexpr std::string_view addrtype_without_type = "addrtype: you must specify --src-type or --dst-type";

inline result<std::string> save_addrtype(const save_input& in) {
  std::string src, dst, in_if, out_if;
  for (auto& o : in.opts) {
    if (o.name == "limit-iface-in") {
      in_if = " --limit-iface-in";
    } else if (o.name == "limit-iface-out") {
      out_if = " --limit-iface-out";
    } else {
      auto l = canonical_list(o.args.at(0), addr_types, std::size(addr_types));
      if (!l) return option_error(o, "bad address type '" + o.args[0] + "'");
      (o.name == "src-type" ? src : dst) = inv(o) + " --" + std::string(o.name) + " " + *l;
    }
  }
  if (src.empty() && dst.empty()) {
    // libxt_addrtype.c addrtype_check(); the caller points at the -m option.
    diagnostic d;
    d.message = addrtype_without_type;
    return d;
  }
  return src + dst + in_if + out_if;
}

// Why libxt_owner refuses --suppl-groups (its owner_parse()): it only widens a --gid-owner
// given before it (an inverted one is refused before: inversion_refusal()); empty when it
// takes it.
inline std::string suppl_groups_refusal(bool gid_owner_before) {
  if (!gid_owner_before) return "owner: --suppl-groups needs a --gid-owner before it";
  return {};
}

inline result<std::string> save_owner(const save_input& in) {
  std::string sock, uid, gid, suppl;
  for (auto& o : in.opts) {
    if (o.name == "socket-exists") {
      sock = inv(o) + " --socket-exists";
      continue;
    }
    if (o.name == "suppl-groups") {
      std::string why = suppl_groups_refusal(!gid.empty());
      if (!why.empty()) return option_error(o, std::move(why));
      suppl = " --suppl-groups";
      continue;
    }
    const std::string& v = o.args.at(0);
    bool is_uid = o.name == "uid-owner";
    auto dash = v.find('-');
    auto id = [&](std::string_view s) -> std::optional<std::uint32_t> {
      if (auto n = parse_uint(s, 0xfffffffeu)) return static_cast<std::uint32_t>(*n);
      std::string name(s);
      if (is_uid) {
        if (const passwd* pw = ::getpwnam(name.c_str())) return pw->pw_uid;
      } else if (const group* gr = ::getgrnam(name.c_str())) {
        return gr->gr_gid;
      }
      return std::nullopt;
    };
    auto lo = id(std::string_view(v).substr(0, dash));
    auto hi = dash == std::string::npos ? lo : id(std::string_view(v).substr(dash + 1));
    if (!lo || !hi) return option_error(o, "unknown user or group '" + v + "'");
    if (*lo > *hi) return option_error(o, "bad " + std::string(o.name) + " range '" + v + "': the first is above the second");
    std::string text = inv(o) + " --" + std::string(o.name) + " " + std::to_string(*lo);
    if (*lo != *hi) text += "-" + std::to_string(*hi);
    (is_uid ? uid : gid) = text;
  }
  return sock + uid + gid + suppl;
}

// What libxt_statistic's final check (statistic_check()) refuses once every option is read,
// given the mode as written ("random", "nth" or empty), whether --probability came, and the
// values of --every and --packet; empty when it takes them. A rule with `-m statistic` and no
// option at all is random mode without a probability, as iptables-restore 1.8.9 says.
inline std::string statistic_refusal(std::string_view mode, bool probability,
                                     std::optional<std::uint64_t> every,
                                     std::optional<std::uint64_t> packet) {
  if (mode.empty() && !probability && !every && !packet)
    return "--probability must be specified when using random mode";
  if (mode.empty()) return "statistic: no --mode given";
  if (mode == "random") return probability ? std::string() : "statistic: --mode random needs --probability";
  if (!every) return "statistic: --mode nth needs --every";
  if (!packet) return "statistic: option \"--every\" also requires \"--packet\".";
  if (*packet > *every - 1) return "statistic: --packet must be less than --every";
  return {};
}

// What iptables-save prints for a --probability `p` (0 to 1) into `buf`: xt_statistic keeps a
// 31-bit fraction, lround(p * 2^31) (libxt_statistic.c), printed "%.11f". The exact decimal of
// fixed / 2^31 to 11 places is fixed * 5^11 / 2^20, rounded half to even as printf rounds:
// integer arithmetic, no printf.
inline std::string_view print_probability(double p, char (&buf)[13]) {
  const auto fixed = static_cast<std::uint64_t>(std::lround(p * 0x80000000u));
  const std::uint64_t scaled = fixed * 48828125u;  // < 2^31 * 5^11 < 2^57
  std::uint64_t q = scaled >> 20;
  const std::uint64_t rest = scaled & 0xfffff;
  if (rest > 0x80000 || (rest == 0x80000 && (q & 1))) ++q;
  constexpr std::uint64_t one = 100000000000u;  // 10^11
  buf[0] = static_cast<char>('0' + q / one);
  buf[1] = '.';
  for (std::uint64_t f = q % one, i = 12; i > 1; --i, f /= 10) buf[i] = static_cast<char>('0' + f % 10);
  return std::string_view(buf, 13);
}

inline std::optional<diagnostic> save_statistic(const save_input& in, std::string& out) {
  std::string mode;
  std::optional<double> probability;
  std::optional<std::uint32_t> every, packet;
  bool invert = false;
  const given_option* first = in.opts.empty() ? nullptr : &in.opts.front();
  for (auto& o : in.opts) {
    const std::string& v = o.args.at(0);
    if (o.name == "mode") {
      if (v != "random" && v != "nth") return option_error(o, "bad mode '" + v + "'");
      mode = v;
    } else if (o.name == "probability") {
      char* end = nullptr;
      double p = std::strtod(v.c_str(), &end);
      if (end != v.c_str() + v.size() || !(p >= 0.0 && p <= 1.0))
        return option_error(o, "invalid --probability '" + v + "', must be between 0 and 1");
      probability = p;
      invert = invert || o.invert;
    } else if (o.name == "every") {
      auto n = parse_uint(v, 0xffffffffu);
      if (!n || *n == 0) return option_error(o, bad_value(o));
      every = static_cast<std::uint32_t>(*n);
      invert = invert || o.invert;
    } else {
      auto n = parse_uint(v, 0xffffffffu);
      if (!n) return option_error(o, bad_value(o));
      packet = static_cast<std::uint32_t>(*n);
    }
  }
  if (!first) {
    // `-m statistic` alone: the caller points at the -m option.
    diagnostic d;
    d.message = statistic_refusal({}, false, std::nullopt, std::nullopt);
    return d;
  }
  if (std::string why = statistic_refusal(mode, probability.has_value(), every, packet); !why.empty())
    return option_error(*first, std::move(why));
  std::string_view neg = invert ? " !" : "";
  if (mode == "random") {
    char buf[13];
    out += " --mode random";
    out += neg;
    out += " --probability ";
    out += print_probability(*probability, buf);
    return std::nullopt;
  }
  out += " --mode nth";
  out += neg;
  out += " --every ";
  out += std::to_string(*every);
  out += " --packet ";
  out += std::to_string(*packet);
  return std::nullopt;
}

// ---- targets -------------------------------------------------------------------------------

inline constexpr struct {
  std::string_view name;
  int level;
} log_levels[] = {{"alert", 1}, {"crit", 2},  {"debug", 7},  {"emerg", 0},  {"error", 3},
                  {"info", 6},  {"notice", 5}, {"panic", 0}, {"warning", 4}};

inline std::optional<int> parse_log_level(std::string_view v) {
  if (auto n = parse_uint(v, 7)) return static_cast<int>(*n);
  for (auto& l : log_levels)
    if (l.name == v) return l.level;
  return std::nullopt;
}

// libxt_LOG.c LOG_save(): prefix, level (unless 4, the default), then the flags in a fixed order.
// libxt_LOG.c and libxt_NFLOG.c give their prefix options `.min = 1`: xtopt_parse_string()
// refuses an empty one.
inline constexpr std::string_view empty_prefix_refusal =
    "the prefix may not be empty (iptables: \"Argument must have a minimum length of 1 characters\")";

inline result<std::string> save_log(const save_input& in) {
  std::string prefix;
  int level = 4;
  static constexpr std::string_view flags[] = {"log-tcp-sequence", "log-tcp-options",
                                               "log-ip-options", "log-uid", "log-macdecode"};
  bool set[std::size(flags)] = {};
  for (auto& o : in.opts) {
    if (o.name == "log-prefix") {
      const std::string& p = o.args.at(0);
      if (p.empty()) return option_error(o, std::string(empty_prefix_refusal));
      if (p.find('\n') != std::string::npos)
        return option_error(o, "Newlines not allowed in --log-prefix");
      // iptables-nft 1.8.9 loads a longer prefix without a word and keeps its first 29
      // characters (xt_LOG's prefix[30] with the NUL): iptables-save prints the cut prefix.
      prefix = " --log-prefix " + save_string(std::string_view(p).substr(0, 29));
    } else if (o.name == "log-level") {
      auto l = parse_log_level(o.args.at(0));
      if (!l)
        return option_error(o, "log level '" + o.args[0] + "' unknown",
                            "use 0-7 or emerg alert crit error warning notice info debug");
      level = *l;
    } else {
      for (std::size_t i = 0; i < std::size(flags); ++i)
        if (flags[i] == o.name) set[i] = true;
    }
  }
  std::string out = prefix;
  if (level != 4) out += " --log-level " + std::to_string(level);
  for (std::size_t i = 0; i < std::size(flags); ++i)
    if (set[i]) out += " --" + std::string(flags[i]);
  return out;
}

// libxt_NFLOG.c nflog_print(); --nflog-range is accepted, warned about and not kept by the
// nf_tables backend, so it never prints.
inline result<std::string> save_nflog(const save_input& in) {
  std::string prefix, group, size, threshold;
  for (auto& o : in.opts) {
    const std::string& v = o.args.at(0);
    if (o.name == "nflog-prefix") {
      if (v.empty()) return option_error(o, std::string(empty_prefix_refusal));
      // The nft log expression keeps 127 characters (a 128-byte prefix with its NUL), as it
      // keeps LOG's first 29: iptables-save prints the cut prefix.
      prefix = " --nflog-prefix " + save_string(std::string_view(v).substr(0, max_nflog_prefix));
      continue;
    }
    const bool u16 = o.name == "nflog-group" || o.name == "nflog-threshold";
    auto n = parse_uint(v, u16 ? 0xffff : 0xffffffffu);
    if (!n) return option_error(o, bad_value(o));
    // iptables-nft keeps NFLOG as an nft `log` expression: a group or queue threshold of 0
    // is no attribute, and iptables-save prints none (a threshold of 1 does print).
    if (o.name == "nflog-group") group = *n ? " --nflog-group " + std::to_string(*n) : "";
    else if (o.name == "nflog-size") size = " --nflog-size " + std::to_string(*n);
    else if (o.name == "nflog-threshold") threshold = *n ? " --nflog-threshold " + std::to_string(*n) : "";
  }
  return prefix + group + size + threshold;
}

struct reject_name {
  std::string_view name, alias;
};
inline constexpr reject_name reject4[] = {
    {"icmp-net-unreachable", "net-unreach"},   {"icmp-host-unreachable", "host-unreach"},
    {"icmp-proto-unreachable", "proto-unreach"}, {"icmp-port-unreachable", "port-unreach"},
    {"icmp-net-prohibited", "net-prohib"},     {"icmp-host-prohibited", "host-prohib"},
    {"tcp-reset", "tcp-rst"},                  {"icmp-admin-prohibited", "admin-prohib"}};
inline constexpr reject_name reject6[] = {
    {"icmp6-no-route", "no-route"},           {"icmp6-adm-prohibited", "adm-prohibited"},
    {"icmp6-addr-unreachable", "addr-unreach"}, {"icmp6-port-unreachable", "port-unreach"},
    {"tcp-reset", "tcp-reset"},  // no tcp-rst alias in ip6tables: it refuses that spelling
    {"icmp6-policy-fail", "policy-fail"},     {"icmp6-reject-route", "reject-route"}};

// The reject type `arg` names, by its name in iptables-save: libipt_REJECT.c and
// libip6t_REJECT.c take the first entry of their table whose name or alias begins with `arg`,
// letters in any case ("port" is icmp-port-unreachable, "i" or "" icmp-net-unreachable,
// "TCP-RST" tcp-reset). Empty when none does.
inline std::string_view reject_type(std::string_view arg, family fam) noexcept {
  auto begins = [arg](std::string_view name) { return begins_ignoring_case(name, arg); };
  auto look = [&](const auto& table) -> std::string_view {
    for (const reject_name& r : table)  // the saved name as written: nearly every rule
      if (r.name == arg) return r.name;
    for (const reject_name& r : table)
      if (begins(r.name) || begins(r.alias)) return r.name;
    return {};
  };
  return fam == family::ipv4 ? look(reject4) : look(reject6);
}

inline std::optional<diagnostic> save_reject(const save_input& in, std::string& out) {
  std::string_view with = in.fam == family::ipv4 ? "icmp-port-unreachable" : "icmp6-port-unreachable";
  for (auto& o : in.opts) {
    const std::string& v = o.args.at(0);
    with = reject_type(v, in.fam);
    if (with.empty()) return option_error(o, "unknown reject type '" + v + "'");
    if (with == "tcp-reset" && in.proto != 6)
      return option_error(o, "--reject-with tcp-reset needs -p tcp (the kernel refuses the rule)");
  }
  out += " --reject-with ";
  out += with;
  return std::nullopt;
}

// A NAT target's range as libxt_NAT.c (iptables 1.8.9) reads it, found by asking the real
// iptables-restore and iptables-save (tests/data/rules/nat_range_spellings.rules):
//   IPv4  [ADDR[-ADDR]][:PORT[-PORT[/BASE]]]
//   IPv6  [ADDR[-ADDR]]:PORT[-PORT[/BASE]]  (brackets; anything between ']' and the first ':'
//         after it is ignored, and without a ':' so is everything after ']'), :PORTS (one ':',
//         no address), or ADDR[-ADDR]
// Addresses are read with inet_pton() (no -s/-d forms, no mask); a range of one address is that
// address. Ports are numbers as iptables reads them (base 0, a leading '+'), the first not
// above the second; BASE, only after a port range, is read as strtoul() reads (leading digits,
// the rest ignored) and must be 1 to 65535. Without ports there must be an address.
struct nat_range {
  std::string error;      // why it does not read; empty when it does
  std::string addresses;  // as iptables-save prints them; empty for none
  bool has_ports = false;
  std::uint16_t lo = 0, hi = 0;
  bool has_base = false;
  std::uint16_t base = 0;
};

// Whether xtables_strtoui(s, &end, &port, 0, UINT16_MAX) reads a port number at the start of
// `s` (read_number_prefix()).
inline bool starts_with_port_number(std::string_view s) {
  return read_number_prefix(s, 0xffff).has_value();
}

// PORT[-PORT[/BASE]] into `r`; false (and r.error) when it does not read. When no number in
// range starts the text, libxt_NAT.c parse_ports() takes the whole text as a service name of
// any protocol (getservbyname(text, NULL): "http", "ms-sql-s"), one port, no range.
inline bool read_nat_ports(std::string_view p, nat_range& r, bool base_allowed) {
  if (!starts_with_port_number(p)) {
    if (!p.empty())
      if (const servent* se = ::getservbyname(std::string(p).c_str(), nullptr)) {
        r.has_ports = true;
        r.lo = r.hi = static_cast<std::uint16_t>(ntohs(static_cast<std::uint16_t>(se->s_port)));
        return true;
      }
    r.error = "port or port range '" + std::string(p) + "' not valid";
    return false;
  }
  const auto dash = p.find('-');
  std::string_view hi_text = dash == std::string_view::npos ? p : p.substr(dash + 1), base_text;
  const auto slash = dash == std::string_view::npos ? std::string_view::npos : hi_text.find('/');
  if (slash != std::string_view::npos) {
    base_text = hi_text.substr(slash + 1);
    hi_text = hi_text.substr(0, slash);
  }
  auto lo = parse_uint(p.substr(0, dash), 0xffff);
  auto hi = parse_uint(hi_text, 0xffff);
  if (!lo || !hi) {
    r.error = "port or port range '" + std::string(p) + "' not valid";
    return false;
  }
  if (*lo > *hi) {
    r.error = "port range '" + std::string(p) + "' runs backwards";
    return false;
  }
  if (slash != std::string_view::npos) {
    std::size_t digits = base_text.size() > 0 && base_text[0] == '+' ? 1 : 0;
    std::string tmp(base_text.substr(digits));
    char* end = nullptr;
    errno = 0;
    const unsigned long long b = tmp.empty() || !std::isdigit(static_cast<unsigned char>(tmp[0]))
                                     ? 0
                                     : std::strtoull(tmp.c_str(), &end, 0);
    if (!base_allowed || errno != 0 || b == 0 || b > 0xffff) {
      r.error = base_allowed ? "bad base port '" + std::string(base_text) + "' (1 to 65535)"
                             : "no /BASE port here: '" + std::string(p) + "'";
      return false;
    }
    r.has_base = true;
    r.base = static_cast<std::uint16_t>(b);
  }
  r.has_ports = true;
  r.lo = static_cast<std::uint16_t>(*lo);
  r.hi = static_cast<std::uint16_t>(*hi);
  return true;
}

inline nat_range read_nat_range(std::string_view v, family fam) {
  nat_range r;
  std::string_view addrs = v, ports;
  bool port_part = false;
  if (fam == family::ipv6) {
    if (v.size() > 1 && v[0] == ':' && v[1] != ':') {  // ":PORTS" (what iptables-save prints for
      addrs = {};                                     // "[]:PORTS"); "::1" is an address
      ports = v.substr(1);
      port_part = true;
    } else if (!v.empty() && v[0] == '[') {
      const auto close = v.find(']');
      if (close == std::string_view::npos) {
        r.error = "missing ']' in '" + std::string(v) + "'";
        return r;
      }
      addrs = v.substr(1, close - 1);
      const auto colon = v.find(':', close + 1);
      if (colon != std::string_view::npos) {
        ports = v.substr(colon + 1);
        port_part = true;
      }
    }
  } else if (const auto colon = v.find(':'); colon != std::string_view::npos) {
    addrs = v.substr(0, colon);
    ports = v.substr(colon + 1);
    port_part = true;
  }
  if (!addrs.empty() || !port_part) {
    auto host = [fam](std::string_view text, unsigned char* out) {
      std::string t(text);
      return ::inet_pton(fam == family::ipv4 ? AF_INET : AF_INET6, t.c_str(), out) == 1;
    };
    const auto dash = addrs.find('-');
    unsigned char a[16], b[16];
    if (!host(addrs.substr(0, dash), a) ||
        (dash != std::string_view::npos && !host(addrs.substr(dash + 1), b))) {
      r.error = "bad IP address or range '" + std::string(addrs) + "'";
      return r;
    }
    r.addresses = print_host(a, fam);
    if (dash != std::string_view::npos) {
      std::string second = print_host(b, fam);
      if (second != r.addresses) r.addresses += "-" + second;
    }
  }
  if (port_part) read_nat_ports(ports, r, true);
  return r;
}

// As iptables-save prints it; SNAT and MASQUERADE keep no base port and print "/0" for one.
inline std::string print_nat_range(const nat_range& r, family fam, bool keep_base) {
  std::string out = r.addresses;
  if (!r.has_ports) return out;
  if (fam == family::ipv6 && !out.empty()) out = "[" + out + "]";
  out += ":" + std::to_string(r.lo);
  if (r.lo != r.hi) out += "-" + std::to_string(r.hi);
  if (r.has_base) out += "/" + std::to_string(keep_base ? r.base : 0);
  return out;
}

// libxt_NAT.c: ports need a protocol that has them (the number after -p, even inverted); its
// list has ICMP too (IPPROTO_ICMP, also for ip6tables), though its message does not say so.
inline bool has_ports(std::uint8_t proto) noexcept {
  return proto == 6 || proto == 17 || proto == 132 || proto == 33 || proto == 1;
}
inline constexpr std::string_view ports_need_protocol =
    "Need TCP, UDP, SCTP or DCCP with port specification";

// The NAT flags, after the range, in this order whatever the order given.
inline void append_nat_flags(const save_input& in, std::string& out) {
  bool random = false, fully = false, persistent = false;
  for (auto& o : in.opts) {
    if (o.name == "random") random = true;
    if (o.name == "random-fully") fully = true;
    if (o.name == "persistent") persistent = true;
  }
  if (random) out += " --random";
  if (fully) out += " --random-fully";
  if (persistent) out += " --persistent";
}

inline std::optional<diagnostic> save_dnat_snat(const save_input& in, std::string_view to,
                                                std::string& out) {
  const given_option* given = nullptr;
  for (auto& o : in.opts) {
    if (o.name != to) continue;
    given = &o;
    nat_range r = read_nat_range(o.args.at(0), in.fam);
    if (!r.error.empty()) return option_error(o, std::move(r.error));
    if (r.has_ports && !has_ports(proto_when_read(in, o))) return option_error(o, std::string(ports_need_protocol));
    out += " --";
    out += to;
    out += ' ';
    out += print_nat_range(r, in.fam, to == "to-destination");
  }
  if (!given) {
    // XTOPT_MAND; the caller points at the -j option.
    diagnostic d;
    d.message = std::string(to == "to-destination" ? "DNAT" : "SNAT") + ": option \"--" +
                std::string(to) + "\" must be specified";
    return d;
  }
  append_nat_flags(in, out);
  return std::nullopt;
}

inline std::optional<diagnostic> save_dnat(const save_input& in, std::string& out) {
  return save_dnat_snat(in, "to-destination", out);
}
inline std::optional<diagnostic> save_snat(const save_input& in, std::string& out) {
  return save_dnat_snat(in, "to-source", out);
}

// MASQUERADE and REDIRECT --to-ports PORT[-PORT], MASQUERADE also with a /BASE it prints as /0.
inline std::optional<diagnostic> save_to_ports(const save_input& in, bool base_allowed,
                                               std::string& out) {
  std::string main;
  for (auto& o : in.opts) {
    if (o.name != "to-ports") continue;
    nat_range r;
    if (!read_nat_ports(o.args.at(0), r, base_allowed)) return option_error(o, std::move(r.error));
    if (!has_ports(proto_when_read(in, o))) return option_error(o, std::string(ports_need_protocol));
    main = " --to-ports " + print_nat_range(r, in.fam, false).substr(1);
  }
  out += main;
  append_nat_flags(in, out);
  return std::nullopt;
}
inline std::optional<diagnostic> save_masquerade(const save_input& in, std::string& out) {
  return save_to_ports(in, true, out);
}
inline std::optional<diagnostic> save_redirect(const save_input& in, std::string& out) {
  return save_to_ports(in, false, out);
}

// MARK and CONNMARK need an operation (their x6_fcheck): iptables-restore 1.8.9 says
// "MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required" and "CONNMARK
// target: No operation specified". The text, shared with the check.
inline std::string no_operation_message(std::string_view target) {
  return std::string(target) + ": no operation given (" +
         (target == "MARK" ? "--set-xmark, --set-mark, --and-mark, --or-mark or --xor-mark"
                           : "--set-xmark, --set-mark, --and-mark, --or-mark, --xor-mark, "
                             "--save-mark or --restore-mark") +
         ")";
}
// The caller points at the -j option.
inline diagnostic no_operation_refusal(std::string_view target, const save_input&) {
  diagnostic d;
  d.message = no_operation_message(target);
  return d;
}

// MARK (libxt_MARK.c mark_tg_save()): every form is saved as --set-xmark value/mask.
// The last option given prints, as --set-xmark.
inline std::optional<diagnostic> save_mark_target(const save_input& in, std::string& out) {
  bool any = false;
  std::uint32_t last_value = 0, last_mask = 0;
  for (auto& o : in.opts) {
    auto vm = parse_value_mask(o.args.at(0));
    if (!vm) return option_error(o, bad_value(o));
    std::uint32_t value = vm->value, mask = vm->mask;
    if (o.name == "set-mark") {
      // libxt_MARK.c: --set-mark value/mask zeroes mask and sets value: xmark mask | value.
      mask = vm->has_mask ? vm->mask | vm->value : 0xffffffffu;
    } else if (o.name == "set-xmark") {
    } else if (vm->has_mask) {
      return option_error(o, "--" + std::string(o.name) + " takes no mask");
    } else if (o.name == "and-mark") {
      value = 0;
      mask = ~vm->value;
    } else if (o.name == "or-mark") {
      mask = vm->value;
    } else if (o.name == "xor-mark") {
      mask = 0;
    }
    any = true;
    last_value = value;
    last_mask = mask;
  }
  if (!any) return no_operation_refusal("MARK", in);
  out += " --set-xmark ";
  out += hex(last_value);
  out += '/';
  out += hex(last_mask);
  return std::nullopt;
}

// CONNMARK (libxt_CONNMARK.c connmark_tg_save(), revision 1). The mark operations keep their mask where
// --ctmask (and --mask) keep theirs, so the last of them written wins: "--set-mark 1
// --ctmask 3" is --set-xmark 0x1/0x3, "--ctmask 3 --set-mark 1" is 0x1/0xffffffff.
inline result<std::string> save_connmark_target(const save_input& in) {
  std::string mode;
  std::uint32_t value = 0, nfmask = 0xffffffffu, ctmask = 0xffffffffu;
  for (auto& o : in.opts) {
    if (o.name == "save-mark" || o.name == "restore-mark") {
      mode = o.name;
      continue;
    }
    auto vm = parse_value_mask(o.args.at(0));
    if (!vm) return option_error(o, bad_value(o));
    if (o.name == "mask") {
      nfmask = ctmask = vm->value;
    } else if (o.name == "nfmask") {
      nfmask = vm->value;
    } else if (o.name == "ctmask") {
      ctmask = vm->value;
    } else {
      mode = "set-xmark";
      value = vm->value;
      ctmask = vm->mask;
      if (vm->has_mask && o.name != "set-mark" && o.name != "set-xmark")  // as MARK: no mask
        return option_error(o, "CONNMARK: bad value for option \"--" + std::string(o.name) +
                                   "\", or out of range (0-4294967295).");
      if (o.name == "set-mark") ctmask = vm->has_mask ? vm->mask | vm->value : 0xffffffffu;  // as MARK
      if (o.name == "and-mark") { value = 0; ctmask = ~vm->value; }
      if (o.name == "or-mark") ctmask = vm->value;
      if (o.name == "xor-mark") ctmask = 0;
    }
  }
  if (mode.empty()) return no_operation_refusal("CONNMARK", in);
  if (mode == "set-xmark") return " --set-xmark " + hex(value) + "/" + hex(ctmask);
  return " --" + mode + " --nfmask " + hex(nfmask) + " --ctmask " + hex(ctmask);
}

// The CT target (libxt_CT.c, revision 2 as iptables-nft 1.8.9 loads it). Events by name, as
// strsep() and strcmp() read them (case matters, an empty name is unknown), printed in the
// table's order; a zone is a number (xtables_strtoul(), 0-65535) or "mark" in any case, each
// --zone/--zone-orig/--zone-reply adding its direction and replacing the number, printed as
// "--zone" with "-orig" or "-reply" when only that direction was given, and not at all for
// zone 0 without "mark".
inline constexpr std::string_view ct_event_names[] = {"new",       "related", "destroy", "reply",
                                                      "assured",   "protoinfo", "helper", "mark",
                                                      "natseqinfo", "secmark"};
inline constexpr std::string_view ct_expectation_event_names[] = {"new"};

template <std::size_t N>
inline result<std::uint32_t> read_ct_events(std::string_view list, const std::string_view (&names)[N]) {
  std::uint32_t mask = 0;
  for (std::size_t start = 0;;) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string_view item = list.substr(start, comma - start);
    std::size_t i = 0;
    while (i < N && names[i] != item) ++i;
    if (i == N)
      return result<std::uint32_t>(error_message("Unknown event type \"" + std::string(item) + "\""));
    mask |= 1u << i;
    if (comma == list.size()) return mask;
    start = comma + 1;
  }
}

template <std::size_t N>
inline void print_ct_events(std::string_view option, std::uint32_t mask,
                            const std::string_view (&names)[N], std::string& out) {
  if (!mask) return;
  out += " --";
  out += option;
  char sep = ' ';
  for (std::size_t i = 0; i < N; ++i)
    if (mask >> i & 1) {
      out += sep;
      out += names[i];
      sep = ',';
    }
}

struct ct_zone {
  std::uint16_t id = 0;
  bool orig = false, reply = false, mark = false;
};

// One --zone, --zone-orig or --zone-reply value into `z`; false when it is neither a number
// nor "mark".
inline bool read_ct_zone(std::string_view option, std::string_view value, ct_zone& z) {
  if (option == "zone-orig") z.orig = true;
  if (option == "zone-reply") z.reply = true;
  z.id = 0;
  if (iequals(value, "mark")) {
    z.mark = true;
    return true;
  }
  auto v = parse_uint(value, 0xffff);
  if (!v) return false;
  z.id = static_cast<std::uint16_t>(*v);
  return true;
}

inline result<std::string> save_ct(const save_input& in) {
  bool notrack = false;
  std::string_view helper, timeout;
  std::uint32_t events = 0, expectation_events = 0;
  ct_zone zone;
  for (auto& o : in.opts) {
    if (o.name == "notrack") {
      notrack = true;
    } else if (o.name == "helper") {
      helper = o.args.at(0);
    } else if (o.name == "timeout") {
      timeout = o.args.at(0);
    } else if (o.name == "ctevents" || o.name == "expevents") {
      auto m = o.name == "ctevents" ? read_ct_events(o.args.at(0), ct_event_names)
                                    : read_ct_events(o.args.at(0), ct_expectation_event_names);
      if (!m) return option_error(o, m.error().message);
      (o.name == "ctevents" ? events : expectation_events) = *m;
    } else if (!read_ct_zone(o.name, o.args.at(0), zone)) {
      return option_error(o, "Cannot parse " + o.args[0] + " as a zone ID");
    }
  }
  std::string out;
  if (notrack) out += " --notrack";
  if (!helper.empty()) out += " --helper " + std::string(helper);
  if (!timeout.empty()) out += " --timeout " + std::string(timeout);
  print_ct_events("ctevents", events, ct_event_names, out);
  print_ct_events("expevents", expectation_events, ct_expectation_event_names, out);
  if (zone.mark || zone.id) {
    out += " --zone";
    if (zone.orig && !zone.reply) out += "-orig";
    if (zone.reply && !zone.orig) out += "-reply";
    out += zone.mark ? std::string(" mark") : " " + std::to_string(zone.id);
  }
  return out;
}

inline result<std::string> save_nothing(const save_input&) { return std::string(); }

// The modelled extensions. Option names are iptables' long names; aliases point at the
// canonical name. An extension that is not here is kept as written.
inline const std::vector<extension>& extensions() {
  static const std::vector<extension> all = {
      {"tcp", false,
       {{"sport", "", 1}, {"source-port", "sport", 1}, {"dport", "", 1},
        {"destination-port", "dport", 1}, {"tcp-flags", "", 2}, {"syn", "", 0},
        {"tcp-option", "", 1}},
       save_tcp},
      {"udp", false,
       {{"sport", "", 1}, {"source-port", "sport", 1}, {"dport", "", 1},
        {"destination-port", "dport", 1}},
       save_udp},
      {"icmp", false, {{"icmp-type", "", 1}}, appending<save_icmp>},
      {"icmp6", false, {{"icmpv6-type", "", 1}}, appending<save_icmp6>},
      {"multiport", false,
       {{"sports", "", 1}, {"source-ports", "sports", 1}, {"dports", "", 1},
        {"destination-ports", "dports", 1}, {"ports", "", 1}},
       appending<save_multiport>},
      {"conntrack", false,
       {{"ctstate", "", 1}, {"ctproto", "", 1}, {"ctorigsrc", "", 1}, {"ctorigdst", "", 1},
        {"ctreplsrc", "", 1}, {"ctrepldst", "", 1}, {"ctorigsrcport", "", 1},
        {"ctorigdstport", "", 1}, {"ctreplsrcport", "", 1}, {"ctrepldstport", "", 1},
        {"ctstatus", "", 1}, {"ctexpire", "", 1}, {"ctdir", "", 1}},
       appending<save_conntrack>},
      {"state", false, {{"state", "", 1}}, appending<save_state>},
      {"comment", false, {{"comment", "", 1}}, save_comment},
      {"mark", false, {{"mark", "", 1}}, save_mark_match},
      {"connmark", false, {{"mark", "", 1}}, save_mark_match},
      {"limit", false, {{"limit", "", 1}, {"limit-burst", "", 1}}, appending<save_limit>},
      {"iprange", false, {{"src-range", "", 1}, {"dst-range", "", 1}}, appending<save_iprange>},
      {"addrtype", false,
       {{"src-type", "", 1}, {"dst-type", "", 1}, {"limit-iface-in", "", 0},
        {"limit-iface-out", "", 0}},
       appending<save_addrtype>},
      {"owner", false,
       {{"uid-owner", "", 1}, {"gid-owner", "", 1}, {"socket-exists", "", 0},
        {"suppl-groups", "", 0}},
       appending<save_owner>},
      {"statistic", false,
       {{"mode", "", 1}, {"probability", "", 1}, {"every", "", 1}, {"packet", "", 1}},
       save_statistic},
      {"LOG", true,
       {{"log-level", "", 1}, {"log-prefix", "", 1}, {"log-tcp-sequence", "", 0},
        {"log-tcp-options", "", 0}, {"log-ip-options", "", 0}, {"log-uid", "", 0},
        {"log-macdecode", "", 0}},
       appending<save_log>},
      {"NFLOG", true,
       {{"nflog-group", "", 1}, {"nflog-prefix", "", 1}, {"nflog-range", "", 1},
        {"nflog-size", "", 1}, {"nflog-threshold", "", 1}},
       appending<save_nflog>},
      {"REJECT", true, {{"reject-with", "", 1}}, save_reject},
      {"DNAT", true,
       {{"to-destination", "", 1}, {"random", "", 0},
        {"persistent", "", 0}},
       save_dnat},
      {"SNAT", true,
       {{"to-source", "", 1}, {"random", "", 0}, {"random-fully", "", 0}, {"persistent", "", 0}},
       save_snat},
      {"MASQUERADE", true,
       {{"to-ports", "", 1}, {"random", "", 0}, {"random-fully", "", 0}},
       save_masquerade},
      {"REDIRECT", true, {{"to-ports", "", 1}, {"random", "", 0}}, save_redirect},
      // Rarely used: last, as find_extension() compares names in this order.
      {"sctp", false,
       {{"sport", "", 1}, {"source-port", "sport", 1}, {"dport", "", 1},
        {"destination-port", "dport", 1}, {"chunk-types", "", 2}},
       appending<save_sctp>},
      {"dccp", false,
       {{"sport", "", 1}, {"source-port", "sport", 1}, {"dport", "", 1},
        {"destination-port", "dport", 1}, {"dccp-types", "", 1}, {"dccp-option", "", 1}},
       appending<save_dccp>},
      {"MARK", true,
       {{"set-mark", "", 1}, {"set-xmark", "", 1}, {"and-mark", "", 1}, {"or-mark", "", 1},
        {"xor-mark", "", 1}},
       save_mark_target},
      {"CONNMARK", true,
       {{"set-mark", "", 1}, {"set-xmark", "", 1}, {"and-mark", "", 1}, {"or-mark", "", 1},
        {"xor-mark", "", 1}, {"save-mark", "", 0}, {"restore-mark", "", 0}, {"mask", "", 1},
        {"nfmask", "", 1}, {"ctmask", "", 1}},
       appending<save_connmark_target>},
      {"CT", true,
       {{"notrack", "", 0}, {"helper", "", 1}, {"timeout", "", 1}, {"ctevents", "", 1},
        {"expevents", "", 1}, {"zone-orig", "", 1}, {"zone-reply", "", 1}, {"zone", "", 1}},
       appending<save_ct>},
      {"NOTRACK", true, {}, appending<save_nothing>},
      {"TRACE", true, {}, appending<save_nothing>},
  };
  return all;
}

// Extensions iptables 1.8.9 ships that rstwatch does not model (the extensions/ directory):
// they load, their options are kept as written and reported as not verified.
inline constexpr std::string_view unmodelled_matches[] = {
    "ah", "bpf", "cgroup", "cluster", "connbytes", "connlabel", "connlimit", "cpu",
    "devgroup", "dscp", "dst", "ecn", "esp", "eui64", "frag", "hashlimit", "hbh", "helper", "hl",
    "ipcomp", "ipv6header", "ipvs", "length", "mac", "mh", "nfacct", "osf", "physdev", "pkttype",
    "policy", "quota", "rateest", "realm", "recent", "rpfilter", "rt", "set", "socket",
    "string", "tcpmss", "time", "tos", "ttl", "u32", "udplite",
};
inline constexpr std::string_view unmodelled_targets[] = {
    "AUDIT", "CHECKSUM", "CLASSIFY", "CONNSECMARK", "CT", "DSCP", "ECN", "HL", "HMARK",
    "IDLETIMER", "LED", "NETMAP", "NFQUEUE", "NOTRACK", "RATEEST", "SECMARK", "SET", "SNPT",
    "DNPT", "SYNPROXY", "TCPMSS", "TCPOPTSTRIP", "TEE", "TOS", "TPROXY", "TRACE", "TTL",
};

// An extension takes each of its options once (xtables' option parser: "option \"--x\" can
// only be used once"; libxt_tcp.c: "Only one `--source-port' allowed"), and some options
// exclude others (the .excl of their xt_option_entry). Option names here are the ones
// iptables puts in its messages: the long spellings (source-port, destination-ports).
inline std::string_view message_name(std::string_view canonical) noexcept {
  if (canonical == "sport") return "source-port";
  if (canonical == "dport") return "destination-port";
  if (canonical == "sports") return "source-ports";
  if (canonical == "dports") return "destination-ports";
  return canonical;
}

struct exclusive_options {
  std::string_view extension;
  std::string_view names[7];
};
inline constexpr exclusive_options exclusive_groups[] = {
    {"tcp", {"syn", "tcp-flags"}},
    {"multiport", {"source-ports", "destination-ports", "ports"}},
    {"MARK", {"set-xmark", "set-mark", "and-mark", "or-mark", "xor-mark"}},
    {"CONNMARK",
     {"set-xmark", "set-mark", "and-mark", "or-mark", "xor-mark", "save-mark", "restore-mark"}},
    {"CONNMARK", {"mask", "nfmask"}},
    {"CONNMARK", {"mask", "ctmask"}},
    {"statistic", {"probability", "every"}},
    {"statistic", {"probability", "packet"}},
    {"addrtype", {"limit-iface-in", "limit-iface-out"}},
    {"NFLOG", {"nflog-range", "nflog-size"}},
};

// Why iptables refuses option `later` of extension `ext` after option `earlier` of the same
// extension (both message names); empty when it takes both. Checked against iptables-restore
// 1.8.9 by tests/rules/validate.cpp.
inline std::string refusal_of_pair(std::string_view ext, std::string_view earlier,
                                   std::string_view later) {
  auto in_group = [](const exclusive_options& g, std::string_view n) {
    for (std::string_view m : g.names)
      if (!m.empty() && m == n) return true;
    return false;
  };
  for (const exclusive_options& g : exclusive_groups) {
    if (g.extension != ext || !in_group(g, earlier) || !in_group(g, later)) continue;
    if (ext == "tcp") return "Only one of `--syn' or `--tcp-flags' allowed";
    if (earlier == later) break;
    return std::string(ext) + ": option \"--" + std::string(earlier) +
           "\" cannot be used together with \"--" + std::string(later) + "\"";
  }
  if (earlier != later) return {};
  if (ext == "tcp" || ext == "sctp") return "Only one `--" + std::string(later) + "' allowed";
  return std::string(ext) + ": option \"--" + std::string(later) + "\" can only be used once.";
}

// Whether a '!' may come before an option of a modelled extension (`option` by its canonical
// name): the options iptables 1.8.9 declares with XTOPT_INVERT, or whose old-style parser
// reads the flag. For any other, xtables_option_parse() refuses the rule with the message
// returned; empty when the option may be inverted. No target option may be.
inline std::string inversion_refusal(std::string_view ext, bool target, std::string_view option) {
  struct fixed {
    std::string_view ext, option;
  };
  static constexpr fixed never[] = {
      {"comment", "comment"},   {"limit", "limit"},     {"limit", "limit-burst"},
      {"conntrack", "ctdir"},   {"statistic", "mode"},  {"statistic", "packet"},
      {"addrtype", "limit-iface-in"}, {"addrtype", "limit-iface-out"},
      {"owner", "suppl-groups"}};
  bool refused = target;
  for (const fixed& f : never) refused = refused || (f.ext == ext && f.option == option);
  if (!refused) return {};
  return std::string(ext) + ": option \"--" + std::string(message_name(option)) +
         "\" cannot be inverted.";
}

// The module `-m NAME` loads in this family: ip6tables' "icmpv6" is icmp6 (libip6t_icmp6.c's
// alias); icmp is iptables' only and icmp6 ip6tables' only (registered for NFPROTO_IPV4 and
// NFPROTO_IPV6). Empty when this family has no such module; `name` itself when no rule here
// renames it.
inline std::string_view match_module_name(std::string_view name, family fam) noexcept {
  if (name == "icmpv6") name = "icmp6";
  if ((name == "icmp6" && fam == family::ipv4) || (name == "icmp" && fam == family::ipv6)) return {};
  return name;
}

// What a modelled match says when it is loaded without the options it needs (XTOPT_MAND or
// its own final check, iptables 1.8.9's words); empty when it has them. `has` tells whether
// an option (by canonical name) was given.
template <class Has>
inline std::string missing_options_refusal(std::string_view ext, bool any_option, Has has) {
  for (std::string_view one : {"comment", "state", "mark"}) {
    const std::string_view option = one == "mark" ? "mark" : one;
    if ((ext == one || (one == "mark" && ext == "connmark")) && !has(option))
      return std::string(ext) + ": option \"--" + std::string(option) + "\" must be specified";
  }
  if (ext == "conntrack" && !any_option) return "conntrack: At least one option is required";
  if (ext == "multiport" && !any_option) return "multiport expection an option";
  if (ext == "iprange" && !has("src-range") && !has("dst-range"))
    return "iprange match: You must specify `--src-range' or `--dst-range'";
  if (ext == "owner" && !has("uid-owner") && !has("gid-owner") && !has("socket-exists") &&
      !has("suppl-groups"))  // which has its own refusal first
    return "owner: At least one of --uid-owner, --gid-owner or --socket-exists is required";
  return {};
}

inline bool ships_unmodelled(std::string_view name, bool target) noexcept {
  if (target)
    return std::find(std::begin(unmodelled_targets), std::end(unmodelled_targets), name) !=
           std::end(unmodelled_targets);
  return std::find(std::begin(unmodelled_matches), std::end(unmodelled_matches), name) !=
         std::end(unmodelled_matches);
}

inline const extension* find_extension(std::string_view name, bool target) {
  for (auto& e : extensions())
    if (e.target == target && e.name == name) return &e;
  return nullptr;
}

// Whether `name` after -j/-g is a verdict or a target iptables 1.8.9 has: no chain has such a
// name, so `-g NAME` finds none ("Chain 'NAME' does not exist").
inline bool names_a_target(std::string_view name) {
  return name == "ACCEPT" || name == "DROP" || name == "RETURN" || name == "QUEUE" ||
         find_extension(name, true) != nullptr || ships_unmodelled(name, true);
}

}  // namespace rstwatch::rules::detail
