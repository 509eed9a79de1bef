// Translate a restore file into an nftables script: one table per iptables table, base chains
// with the type, hook and priority of the netfilter model, and the modelled matches and
// targets as nft expressions. A rule rstwatch cannot translate is an error naming it and its
// line, never a silent approximation.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/netfilter.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/check_rule.hpp>
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>

namespace rstwatch::rules {

struct nft_options {
  netfilter::family family = netfilter::family::ipv4;  // ipv6 for ip6tables files
  std::string file_name;                                // shown in diagnostics
};

namespace checks::detail {

struct nft_failure {
  ast::token at;
  std::string why;
};

// nft(8) STATEMENTS: log levels by name, emerg … debug.
inline constexpr std::string_view nft_log_levels[] = {"emerg", "alert", "crit",   "err",
                                                      "warn",  "notice", "info", "debug"};

// nft(8) TCP HEADER EXPRESSION: flag names in lower case, bit order of libxt_tcp.c.
inline std::string nft_tcp_flags(std::uint8_t bits) {
  static constexpr std::string_view names[] = {"fin", "syn", "rst", "psh", "ack", "urg"};
  std::string s;
  for (int i = 0; i < 6; ++i)
    if (bits & (1u << i)) {
      if (!s.empty()) s += '|';
      s += names[i];
    }
  return s;
}

inline std::string nft_quoted(const std::string& s, const ast::token& at,
                              std::optional<nft_failure>& fail) {
  if (s.find('"') != std::string::npos && !fail)
    fail = nft_failure{at, "a '\"' inside a string has no nft spelling"};
  if (s.find('\n') != std::string::npos && !fail)  // a quote left open took the line's newline
    fail = nft_failure{at, "a newline inside a string has no nft spelling"};
  return "\"" + s + "\"";
}

inline std::string nft_range(port_range r) {
  return r.single() ? std::to_string(r.first)
                    : std::to_string(r.first) + "-" + std::to_string(r.last);
}

// Whether a mask written as an address is ones then zeros.
inline bool contiguous_mask(const std::string& mask, bool v6) {
  unsigned char b[16] = {};
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, mask.c_str(), b) != 1) return false;
  bool zero_seen = false;
  for (int i = 0; i < (v6 ? 16 : 4); ++i)
    for (int bit = 7; bit >= 0; --bit) {
      bool one = (b[i] >> bit) & 1;
      if (one && zero_seen) return false;
      zero_seen = zero_seen || !one;
    }
  return true;
}

// The nft expression of one rule, or why there is none.
inline std::string nft_rule(const rule_view& v, netfilter::family f,
                            std::optional<nft_failure>& fail) {
  std::vector<std::string> parts;
  std::string comment;
  auto no = [&](const ast::token& at, std::string why) {
    if (!fail) fail = nft_failure{at, std::move(why)};
  };
  auto op = [](bool negated) { return negated ? std::string("!= ") : std::string(); };
  const bool v6 = f == netfilter::family::ipv6;

  // -f: a second or later IPv4 fragment (net/ipv4/netfilter/ip_tables.c ip_packet_match:
  // a fragment offset other than 0).
  if (v.fragment && v6) no(v.fragment->name, "ip6tables -f has no translation in rstwatch");
  if (v.fragment && !v6)
    parts.push_back(std::string("ip frag-off & 0x1fff ") + (v.fragment->bang.present() ? "== 0" : "!= 0"));
  std::string proto = v.protocol_name();
  for (auto& c : proto) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v.protocol && proto != "all" && proto != "0")
    parts.push_back("meta l4proto " + op(v.protocol->bang.present()) +
                    (proto == "icmp6" || proto == "ipv6-icmp" ? std::string("icmpv6") : proto));

  for (auto [o, dir] : {std::pair{v.source, "saddr"}, std::pair{v.destination, "daddr"}}) {
    if (!o || o->args.empty()) continue;
    std::string all = o->args[0].value();
    std::vector<std::string> items;
    std::string masked;  // a non-contiguous mask: `ip saddr & MASK == NET`
    std::string_view s = all;
    while (true) {
      auto comma = s.find(',');
      std::string one(s.substr(0, comma));
      auto slash = one.find('/');
      auto n = parse_network(one, f);
      if (!n) {
        no(o->args[0], "address '" + one + "' (a host name) has no translation");
      } else if (slash != std::string::npos &&
                 !detail::to_uint(std::string_view(one).substr(slash + 1), 128)) {
        // A mask written as an address is a prefix when contiguous, else a bitwise and.
        if (!contiguous_mask(one.substr(slash + 1), v6)) {
          if (all.find(',') != std::string::npos)
            no(o->args[0], "a non-contiguous mask inside an address list has no translation");
          masked = one.substr(slash + 1);
          one = one.substr(0, slash);
        } else {
          one = one.substr(0, slash) + "/" + std::to_string(n.value->prefix);
        }
      }
      items.push_back(one);
      if (comma == std::string_view::npos) break;
      s.remove_prefix(comma + 1);
    }
    std::string set = items.size() == 1 ? items[0] : "{ " + [&] {
      std::string j;
      for (auto& i : items) j += (j.empty() ? "" : ", ") + i;
      return j;
    }() + " }";
    if (!masked.empty())
      parts.push_back(std::string(v6 ? "ip6 " : "ip ") + dir + " & " + masked +
                      (o->bang.present() ? " != " : " == ") + set);
    else
      parts.push_back(std::string(v6 ? "ip6 " : "ip ") + dir + " " + op(o->bang.present()) + set);
  }
  for (auto [o, key] : {std::pair{v.in_interface, "iifname"}, std::pair{v.out_interface, "oifname"}}) {
    if (!o || o->args.empty()) continue;
    std::string name = o->args[0].value();
    if (name == "+") {  // any interface: nothing to match (nft refuses an all-wildcard name)
      if (o->bang.present()) no(o->args[0], "'! " + std::string(o->name.text) + " +' matches nothing");
      continue;
    }
    if (!name.empty() && name.back() == '+') name.back() = '*';  // iptables' wildcard
    parts.push_back(std::string(key) + " " + op(o->bang.present()) + nft_quoted(name, o->args[0], fail));
  }

  for (const auto& m : v.matches) {
    const ast::token& at = m.loaded_by ? (m.implicit ? m.loaded_by->name : m.loaded_by->args[0])
                                       : v.line->text;
    if (m.name == "tcp" || m.name == "udp" || m.name == "sctp" || m.name == "dccp") {
      for (const auto& o : m.options) {
        std::string key = std::string(o.spec->name);
        if (key == "source-port" || key == "destination-port") {
          auto r = parse_match_ports(o.arg(), m.name);
          if (r && r.value->first > r.value->last)  // udp keeps "5:1"; nft refuses such a range
            no(o.opt->args[0], "the port range " + std::to_string(r.value->first) + ":" +
                                   std::to_string(r.value->last) + " runs backwards: nft has no such range");
          else if (r)
            parts.push_back(m.name + (key == "source-port" ? " sport " : " dport ") +
                            op(o.negated()) + nft_range(*r.value));
        } else if (key == "tcp-flags") {
          auto mask = parse_tcp_flags(std::string(o.arg(0))), comp = parse_tcp_flags(std::string(o.arg(1)));
          if (mask && comp && *mask.value)
            parts.push_back("tcp flags & (" + nft_tcp_flags(*mask.value) + ") " +
                            (o.negated() ? "!= " : "== ") +
                            (*comp.value ? nft_tcp_flags(*comp.value) : std::string("0")));
        } else if (key == "tcp-option") {
          // nft(8) TCP OPTIONS: the kinds nft names (RFC 793, 1323, 2018).
          static constexpr std::string_view kinds[] = {"eol", "nop", "maxseg", "window",
                                                       "sack-perm", "sack", "", "", "timestamp"};
          auto n = detail::to_uint(std::string(o.arg()), 255);
          if (!n || *n >= std::size(kinds) || kinds[*n].empty())
            no(o.opt->args[0], "TCP option " + std::string(o.arg()) + " has no nft name");
          else
            parts.push_back("tcp option " + std::string(kinds[*n]) +
                            (o.negated() ? " missing" : " exists"));
        } else if (key == "syn") {
          parts.push_back(std::string("tcp flags & (fin|syn|rst|ack) ") +
                          (o.negated() ? "!= " : "== ") + "syn");
        } else {
          no(o.opt->name, "'--" + key + "' has no translation in rstwatch");
        }
      }
    } else if (m.name == "icmp" || m.name == "icmp6") {
      for (const auto& o : m.options) {
        auto t = m.name == "icmp" ? parse_icmp_type(std::string(o.arg())) : parse_icmpv6_type(std::string(o.arg()));
        if (!t || t.value->any) continue;
        std::string word = m.name == "icmp" ? "icmp" : "icmpv6";
        if (t.value->code && o.negated()) no(o.opt->name, "a negated ICMP type with a code has no translation");
        parts.push_back(word + " type " + op(o.negated()) + std::to_string(t.value->type));
        if (t.value->code) parts.push_back(word + " code " + std::to_string(*t.value->code));
      }
    } else if (m.name == "multiport") {
      for (const auto& o : m.options) {
        std::string key(o.spec->name);
        if (key == "ports") {
          no(o.opt->name, "multiport --ports (source or destination) has no translation");
          continue;
        }
        std::string list, s = std::string(o.arg());
        std::string_view rest = s;
        while (true) {
          auto comma = rest.find(',');
          auto r = parse_port_range(rest.substr(0, comma), proto);
          if (r) list += (list.empty() ? "" : ", ") + nft_range(*r.value);
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
        parts.push_back(proto + (key == "source-ports" ? " sport " : " dport ") + op(o.negated()) +
                        "{ " + list + " }");
      }
    } else if (m.name == "conntrack" || m.name == "state") {
      for (const auto& o : m.options) {
        std::string key(o.spec->name);
        if (key == "ctstatus") {
          // libxt_conntrack.c status names → nft(8) CT EXPRESSION status flags.
          std::string st = std::string(o.arg());
          for (auto& c : st) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          if (st.find("none") != std::string::npos)
            no(o.opt->args[0], "ctstatus NONE has no translation in rstwatch");
          parts.push_back("ct status " + op(o.negated()) + st);
          continue;
        }
        if (key != "ctstate" && key != "state") {
          no(o.opt->name, "conntrack '--" + key + "' has no translation in rstwatch");
          continue;
        }
        std::string states = std::string(o.arg());
        for (auto& c : states) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string plain, status;
        std::string_view rest = states;
        while (true) {
          auto comma = rest.find(',');
          std::string one(rest.substr(0, comma));
          // libxt_conntrack.c: SNAT and DNAT are conntrack status bits, not states.
          std::string& into = one == "snat" || one == "dnat" ? status : plain;
          into += (into.empty() ? "" : ",") + one;
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
        if (!status.empty() && (!plain.empty() || o.negated()))
          no(o.opt->args[0], "SNAT/DNAT mixed with states or negated has no translation");
        if (!plain.empty()) parts.push_back("ct state " + op(o.negated()) + plain);
        if (!status.empty()) parts.push_back("ct status " + status);
      }
    } else if (m.name == "comment") {
      // nft refuses a rule comment of more than 128 characters ("comment too long, 128
      // characters maximum allowed"); a comment says nothing about packets, so the translation
      // keeps what fits.
      if (auto o = m.find("comment"))
        comment = " comment " + nft_quoted(std::string(o->arg()).substr(0, 128), o->opt->args[0], fail);
    } else if (m.name == "mark" || m.name == "connmark") {
      // The same --mark value[/mask], of the packet (mark) or of its connection (connmark).
      const std::string key = m.name == "mark" ? "meta mark" : "ct mark";
      if (auto o = m.find("mark"))
        if (auto mk = parse_mark(std::string(o->arg()))) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "0x%x", mk.value->value);
          std::string value = buf;
          if (mk.value->has_mask && mk.value->mask != 0xffffffffu) {
            std::snprintf(buf, sizeof buf, "0x%x", mk.value->mask);
            parts.push_back(key + " & " + buf + (o->negated() ? " != " : " == ") + value);
          } else {
            parts.push_back(key + " " + op(o->negated()) + value);
          }
        }
    } else if (m.name == "iprange") {
      for (const auto& o : m.options)
        parts.push_back(std::string(v6 ? "ip6 " : "ip ") +
                        (o.spec->name == "src-range" ? "saddr " : "daddr ") + op(o.negated()) +
                        std::string(o.arg()));
    } else if (m.name == "owner") {
      for (const auto& o : m.options) {
        std::string key(o.spec->name), a = std::string(o.arg());
        auto dash = a.find('-');
        bool numeric = detail::to_uint(std::string_view(a).substr(0, dash), 0xffffffffu) &&
                       (dash == std::string::npos ||
                        detail::to_uint(std::string_view(a).substr(dash + 1), 0xffffffffu));
        if ((key != "uid-owner" && key != "gid-owner") || !numeric) {
          no(o.opt->name, "owner '--" + key + "' other than a numeric uid/gid has no translation");
          continue;
        }
        parts.push_back(std::string(key == "uid-owner" ? "meta skuid " : "meta skgid ") +
                        op(o.negated()) + a);
      }
    } else if (m.name == "addrtype") {
      // libxt_addrtype.c → nft(8) FIB EXPRESSIONS: `fib saddr|daddr [. iif|. oif] type T`.
      std::string iface = m.has("limit-iface-in") ? " . iif" : m.has("limit-iface-out") ? " . oif" : "";
      for (const auto& o : m.options) {
        std::string key(o.spec->name);
        if (key != "src-type" && key != "dst-type") continue;
        std::string types = std::string(o.arg());
        for (auto& c : types) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (std::string_view bad : {"throw", "nat", "xresolve"})
          if (types.find(bad) != std::string::npos)
            no(o.opt->args[0], "address type '" + std::string(bad) + "' has no nft name");
        std::string set = types.find(',') == std::string::npos ? types : "{ " + [&] {
          std::string j;
          for (char c : types) j += c == ',' ? std::string(", ") : std::string(1, c);
          return j;
        }() + " }";
        parts.push_back(std::string("fib ") + (key == "src-type" ? "saddr" : "daddr") + iface +
                        " type " + op(o.negated()) + set);
      }
    } else if (m.name == "statistic") {
      // xt_statistic.c: random matches when (random & 0x7fffffff) < lround(p * 2^31)
      // (libxt_statistic.c); nth counts packets modulo --every, starting at --packet.
      const bound_option* mode = m.find("mode");
      bool neg = mode && mode->negated();
      if (mode && std::string(mode->arg()) == "random" && m.has("probability")) {
        double p = std::strtod(std::string(m.find("probability")->arg()).c_str(), nullptr);
        auto n = static_cast<unsigned long long>(std::llround(p * 2147483648.0));
        parts.push_back("numgen random mod 2147483648 " + std::string(neg ? ">= " : "< ") + std::to_string(n));
      } else if (mode && std::string(mode->arg()) == "nth" && m.has("every")) {
        std::string packet(m.has("packet") ? m.find("packet")->arg() : "0");
        parts.push_back("numgen inc mod " + std::string(m.find("every")->arg()) + (neg ? " != " : " == ") + packet);
      } else {
        no(at, "this statistic match has no translation in rstwatch");
      }
    } else if (m.name == "limit") {
      std::string rate = "3/hour";  // libxt_limit.c XT_LIMIT_AVG default
      std::string burst = "5";      // XT_LIMIT_BURST default
      if (auto o = m.find("limit")) rate = std::string(o->arg());
      if (auto o = m.find("limit-burst")) burst = std::string(o->arg());
      auto slash = rate.find('/');
      std::string n = rate.substr(0, slash), unit = "second";
      if (slash != std::string::npos) {
        std::string u = rate.substr(slash + 1);
        for (std::string_view full : {"second", "minute", "hour", "day"})
          if (full.substr(0, u.size()) == u) unit = std::string(full);
      }
      parts.push_back("limit rate " + n + "/" + unit + " burst " + burst + " packets");
    } else {
      no(at, "match '" + m.name + "' has no nftables translation in rstwatch");
    }
  }

  // The target.
  const extension_use* t = v.target_use ? &*v.target_use : nullptr;
  auto has_other = [&](std::initializer_list<std::string_view> known) {
    if (!t) return;
    for (const auto& o : t->options) {
      bool ok = false;
      for (auto k : known) ok = ok || (o.spec && o.spec->name == k);
      if (!ok) no(o.opt->name, "'" + std::string(o.opt->name.text) + "' of " + v.target + " has no translation in rstwatch");
    }
  };
  std::string verdict;
  if (v.target.empty()) {
    verdict = "counter";
  } else if (v.target == "ACCEPT" || v.target == "DROP" || v.target == "RETURN") {
    verdict = v.target == "ACCEPT" ? "accept" : v.target == "DROP" ? "drop" : "return";
  } else if (v.target == "LOG") {
    auto log = log_of(v);
    has_other({"log-prefix", "log-level", "log-tcp-sequence", "log-tcp-options", "log-ip-options", "log-uid", "log-macdecode"});
    verdict = "log";
    if (auto o = t->find("log-prefix")) verdict += " prefix " + nft_quoted(log->prefix, o->opt->args[0], fail);
    verdict += " level " + std::string(nft_log_levels[log->level & 7]);
    if (log->tcp_sequence || log->tcp_options)
      verdict += std::string(" flags tcp ") +
                 (log->tcp_sequence && log->tcp_options ? "sequence,options"
                  : log->tcp_sequence                   ? "sequence"
                                                        : "options");
    if (log->ip_options) verdict += " flags ip options";
    if (log->uid) verdict += " flags skuid";
    if (log->macdecode) verdict += " flags ether";
  } else if (v.target == "NFLOG") {
    has_other({"nflog-group", "nflog-prefix", "nflog-range", "nflog-size", "nflog-threshold"});
    verdict = "log group " + std::string(t->has("nflog-group") ? t->find("nflog-group")->arg() : "0");
    if (auto o = t->find("nflog-prefix")) verdict += " prefix " + nft_quoted(std::string(o->arg()), o->opt->args[0], fail);
    if (auto o = t->find("nflog-size")) verdict += " snaplen " + std::string(o->arg());
    else if (auto r = t->find("nflog-range")) verdict += " snaplen " + std::string(r->arg());
    if (auto o = t->find("nflog-threshold")) verdict += " queue-threshold " + std::string(o->arg());
  } else if (v.target == "REJECT") {
    has_other({"reject-with"});
    std::string with = *checks::reject_of(v, f);
    // libipt_REJECT.c / libip6t_REJECT.c names → nft(8) REJECT STATEMENT names.
    static const std::map<std::string, std::string> v4 = {
        {"icmp-net-unreachable", "net-unreachable"}, {"net-unreach", "net-unreachable"},
        {"icmp-host-unreachable", "host-unreachable"}, {"host-unreach", "host-unreachable"},
        {"icmp-proto-unreachable", "prot-unreachable"}, {"proto-unreach", "prot-unreachable"},
        {"icmp-port-unreachable", "port-unreachable"}, {"port-unreach", "port-unreachable"},
        {"icmp-net-prohibited", "net-prohibited"}, {"net-prohib", "net-prohibited"},
        {"icmp-host-prohibited", "host-prohibited"}, {"host-prohib", "host-prohibited"},
        {"icmp-admin-prohibited", "admin-prohibited"}, {"admin-prohib", "admin-prohibited"}};
    static const std::map<std::string, std::string> v6map = {
        {"icmp6-no-route", "no-route"}, {"no-route", "no-route"},
        {"icmp6-adm-prohibited", "admin-prohibited"}, {"adm-prohibited", "admin-prohibited"},
        {"icmp6-addr-unreachable", "addr-unreachable"}, {"addr-unreach", "addr-unreachable"},
        {"icmp6-port-unreachable", "port-unreachable"}, {"port-unreach", "port-unreachable"},
        {"icmp6-policy-fail", "policy-fail"}, {"policy-fail", "policy-fail"},
        {"icmp6-reject-route", "reject-route"}, {"reject-route", "reject-route"}};
    if (with == "tcp-reset" || with == "tcp-rst") {
      verdict = "reject with tcp reset";
    } else {
      const auto& table = v6 ? v6map : v4;
      auto it = table.find(with);
      if (it != table.end()) verdict = std::string("reject with ") + (v6 ? "icmpv6" : "icmp") + " type " + it->second;
    }
  } else if (v.target == "DNAT" || v.target == "SNAT") {
    has_other({"to-destination", "to-source", "random", "random-fully", "persistent"});
    const bound_option* o = t->find(v.target == "DNAT" ? "to-destination" : "to-source");
    if (!o) {
      no(v.jump->args[0], v.target + " without an address has no translation");
    } else {
      // The range as iptables reads it (read_nat_range: "0x50", "a-a", "[a]x:80" ...), printed
      // in the canonical form nft reads too; nft has no base port (libxt_NAT's /BASE).
      auto r = rules::detail::read_nat_range(std::string(o->arg()), f);
      if (r.has_base) no(o->opt->args[0], "a base port (/BASE) has no nft translation");
      verdict = (v.target == "DNAT" ? "dnat to " : "snat to ") +
                rules::detail::print_nat_range(r, f, true);
    }
    std::string flags;
    for (auto [key, word] : {std::pair{"random", "random"}, std::pair{"random-fully", "fully-random"},
                             std::pair{"persistent", "persistent"}})
      if (t->has(key)) flags += (flags.empty() ? " " : ",") + std::string(word);
    verdict += flags;
  } else if (v.target == "MASQUERADE" || v.target == "REDIRECT") {
    has_other({"to-ports", "random", "random-fully"});
    verdict = v.target == "MASQUERADE" ? "masquerade" : "redirect";
    if (auto o = t->find("to-ports")) {
      rules::detail::nat_range r;
      rules::detail::read_nat_ports(std::string(o->arg()), r, true);
      if (r.has_base) no(o->opt->args[0], "a base port (/BASE) has no nft translation");
      r.has_base = false;
      verdict += " to " + rules::detail::print_nat_range(r, f, false);
    }
    if (t->has("random")) verdict += " random";
    if (t->has("random-fully")) verdict += " fully-random";
  } else if (v.target == "MARK") {
    has_other({"set-mark", "set-xmark", "or-mark", "and-mark", "xor-mark"});
    // libxt_MARK.c: --or-mark/--and-mark/--xor-mark change bits, --set-(x)mark sets them.
    std::string how = "set";
    const bound_option* o = nullptr;
    for (auto [key, word] : {std::pair{"set-xmark", "set"}, std::pair{"set-mark", "set"},
                             std::pair{"or-mark", "or"}, std::pair{"and-mark", "and"},
                             std::pair{"xor-mark", "xor"}})
      if (!o && t->has(key)) {
        o = t->find(key);
        how = word;
      }
    auto mk = o ? parse_mark(std::string(o->arg())) : parsed<mark_mask>::fail("");
    if (!mk) {
      no(v.jump->args[0], "this MARK has no translation in rstwatch");
    } else if (how == "set" && mk.value->has_mask && mk.value->mask != 0xffffffffu) {
      // xt_MARK.c: mark = (mark & ~mask) ^ value; --set-mark V/M is --set-xmark V/(V|M)
      // (libxt_MARK.c), so clearing ~M then or-ing V is the same.
      char keep[32], value[32];
      std::snprintf(keep, sizeof keep, "0x%x", ~mk.value->mask);
      std::snprintf(value, sizeof value, "0x%x", mk.value->value);
      bool xmark = o->spec && o->spec->name == "set-xmark";
      verdict = std::string("meta mark set meta mark and ") + keep + (xmark ? " xor " : " or ") + value;
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%x", mk.value->value);
      verdict = how == "set" ? std::string("meta mark set ") + buf
                             : "meta mark set meta mark " + how + " " + buf;
    }
  } else if (v.target == "TRACE" && t && t->options.empty()) {
    verdict = "meta nftrace set 1";
  } else if (v.target == "NOTRACK" ||
             (v.target == "CT" && t && t->options.size() == 1 &&
              t->options[0].opt->name.text == "--notrack" && t->options[0].opt->args.empty())) {
    verdict = "notrack";
  } else if (v.target == "CONNMARK") {
    // libxt_CONNMARK.c revision 2, with the default masks of 0xffffffff.
    has_other({"save-mark", "restore-mark", "set-mark", "set-xmark"});
    const bound_option* set = t->find("set-xmark");
    if (!set) set = t->find("set-mark");
    auto full = [&](const char* key) {
      const bound_option* o = t->find(key);
      auto mk = o ? parse_mark(std::string(o->arg())) : parsed<mark_mask>::fail("");
      return !o || (mk && mk.value->value == 0xffffffffu);
    };
    if (t->has("save-mark") && full("nfmask") && full("ctmask") && full("mask")) {
      verdict = "ct mark set meta mark";
    } else if (t->has("restore-mark") && full("nfmask") && full("ctmask") && full("mask")) {
      verdict = "meta mark set ct mark";
    } else if (set) {
      auto mk = parse_mark(std::string(set->arg()));
      if (mk && (!mk.value->has_mask || mk.value->mask == 0xffffffffu)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "0x%x", mk.value->value);
        verdict = std::string("ct mark set ") + buf;
      }
    }
    if (verdict.empty()) no(v.jump->args[0], "CONNMARK with partial masks has no translation in rstwatch");
  } else if (!netfilter::parse_target(v.target) && !known_unmodelled(v.target, true)) {
    verdict = (v.go_to ? "goto " : "jump ") + v.target;
  } else {
    no(v.jump->args[0], "target '" + v.target + "' has no nftables translation in rstwatch");
  }

  std::string s;
  for (const auto& p : parts) s += p + " ";
  return s + verdict + comment;
}

}  // namespace checks::detail

// The nftables script for `f`, or the first rule that has no translation (named with its line).
// The file is evaluated first as iptables-restore evaluates it (rules::restore: -A -I -D -R -N
// -F -X -Z -P -E applied, in order), and the resulting ruleset is what gets translated: each
// table the file names becomes an nft table whose base chains carry the hook and priority of the
// netfilter model and the policy the file left, then its user chains. Validate the file first:
// to_nft assumes iptables would accept it (what restore() itself refuses comes back as is).
[[nodiscard]] inline result<std::string> to_nft(const ast::file& f, const nft_options& o = {}) {
  restore_options ro;
  ro.fam = o.family;
  ro.file_name = o.file_name;
  auto rs = restore(empty_ruleset(o.family), f, ro);
  if (!rs) return std::move(rs).error();

  // A rule of the result came from the file line saved_rule::where names. Its translation is
  // tried on that line as written, so that the error points at the token that has no
  // translation; a line that translates there is reported at its start.
  std::unordered_map<std::uint32_t, std::size_t> lines;  // line number -> index in f.lines
  for (std::size_t i = 0; i < f.lines.size(); ++i) lines.emplace(f.lines[i].text.where.line, i);
  auto failure = [&](const saved_rule& r, const std::string& why_here) {
    diagnostic d;
    d.file = o.file_name;
    d.where = r.where;
    std::string text, why = why_here;
    if (auto it = lines.find(r.where.line); it != lines.end()) {
      const ast::line l = f.lines[it->second];  // a view made on access
      text = std::string(l.text.text);
      checks::rule_view v = checks::view_rule(l, o.family);
      std::optional<checks::detail::nft_failure> fail;
      for (const auto& p : v.problems)
        if (p.level == severity::error && !fail)
          fail = checks::detail::nft_failure{l.text, p.message};
      if (!fail) (void)checks::detail::nft_rule(v, o.family, fail);
      if (fail) d.where = fail->at.where, why = fail->why;
    }
    d.message = "rule at line " + std::to_string(r.where.line) + " ('" + text +
                "') cannot be translated to nftables: " + why;
    return d;
  };

  std::string out;
  const std::string fam(netfilter::nft_name(o.family));
  for (const saved_table& t : rs->tables) {
    if (!t.exists) continue;
    const std::string name(t.name);
    const auto tbl = netfilter::parse_table(t.name);
    if (!tbl) continue;  // restore() knows only the five tables
    // The table's rules as iptables-save prints them, read back as one file: each becomes a
    // rule view, in the order of `made` (a chain's rules in order, chains as saved).
    std::string text = "*" + name + "\n";
    std::vector<std::pair<const saved_chain*, const saved_rule*>> made;
    t.for_each_chain([&](const saved_chain& c) {
      for (const saved_rule& r : c.rules) {
        text += "-A " + c.name;
        text += t.spec(r);
        text += "\n";
        made.emplace_back(&c, &r);
      }
    });
    text += "COMMIT\n";
    auto saved = parse(text);
    if (!saved) return saved.error();  // print_saved's text always parses (tests/rules/saved.cpp)
    std::map<const saved_chain*, std::vector<std::string>> translated;
    std::size_t k = 0;
    for (const auto& l : saved->lines) {
      if (l.kind != ast::line_kind::rule) continue;
      if (k == made.size()) break;  // one rule line per saved rule: never more (checked below)
      const auto [chain, rule] = made[k++];
      checks::rule_view v = checks::view_rule(l, o.family);
      for (const auto& p : v.problems)
        if (p.level == severity::error) return failure(*rule, p.message);
      std::optional<checks::detail::nft_failure> fail;
      std::string nft = checks::detail::nft_rule(v, o.family, fail);
      if (fail) return failure(*rule, fail->why);
      translated[chain].push_back(std::move(nft));
    }
    if (k != made.size()) {
      diagnostic d;
      d.file = o.file_name;
      d.message = "internal error: the " + name + " table's rules did not read back one per line";
      return d;
    }
    auto rules_of = [&](const saved_chain& c) {
      if (auto r = translated.find(&c); r != translated.end())
        for (const auto& rule : r->second) out += "\t\t" + rule + "\n";
    };
    // Declaring then flushing the table makes the script replace it, as iptables-restore does.
    out += "table " + fam + " " + name + "\nflush table " + fam + " " + name + "\n";
    out += "table " + fam + " " + name + " {\n";
    for (const saved_chain& c : t.builtins) {
      const auto h = netfilter::builtin_chain(c.name);
      if (!h) continue;
      std::string policy = c.policy;
      for (auto& ch : policy) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out += "\tchain " + c.name + " {\n\t\ttype " +
             std::string(netfilter::nft_chain_type(*tbl, *h)) + " hook " +
             std::string(netfilter::to_string(*h)) + " priority " +
             std::to_string(netfilter::hook_priority(*tbl, *h)) + "; policy " + policy + ";\n";
      rules_of(c);
      out += "\t}\n";
    }
    for (const saved_chain* c : t.user_by_name()) {
      out += "\tchain " + c->name + " {\n";
      rules_of(*c);
      out += "\t}\n";
    }
    out += "}\n";
  }
  return out;
}

}  // namespace rstwatch::rules
