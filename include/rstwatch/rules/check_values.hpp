// Typed values of iptables option arguments: ports and ranges, TCP flags, ICMP types, log
// levels, marks, addresses. Each parser accepts exactly what the iptables 1.8.9 extension
// accepts and says why it refuses the rest; the views and the validator share them.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <rstwatch/netfilter.hpp>
#include <rstwatch/rules/detail/values.hpp>

namespace rstwatch::rules::checks {

// A parsed value, or the reason iptables would refuse the text.
template <class T>
struct parsed {
  std::optional<T> value;
  std::string error;  // set when !value
  explicit operator bool() const noexcept { return value.has_value(); }
  static parsed fail(std::string why) { return parsed{std::nullopt, std::move(why)}; }
};

namespace detail {

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// A number as xtables_strtoul() reads it: rules::detail::parse_uint(), which restore uses too.
inline std::optional<std::uint64_t> to_uint(std::string_view s, std::uint64_t max) {
  return rules::detail::parse_uint(s, max);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Ports (libxt_tcp.c / libxt_udp.c parse_port via xtables_parse_port(): a number 0–65535 or a
// service name from /etc/services).

struct port_range {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  bool single() const noexcept { return first == last; }
};

// The number or service name restore reads too (rules::detail::parse_port), with a reason.
inline parsed<std::uint16_t> parse_port(std::string_view s, std::string_view proto = "tcp") {
  if (auto v = rules::detail::parse_port(s, proto)) return {*v, {}};
  return parsed<std::uint16_t>::fail("invalid port/service '" + std::string(s) + "'");
}

// `P`, `P:Q`, `:Q` (from 0), `P:` (to 65535); min > max is refused (libxt_tcp.c parse_ports).
inline parsed<port_range> parse_port_range(std::string_view s, std::string_view proto = "tcp") {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) {
    auto p = parse_port(s, proto);
    if (!p) return parsed<port_range>::fail(p.error);
    return {port_range{*p.value, *p.value}, {}};
  }
  std::string_view a = s.substr(0, colon), b = s.substr(colon + 1);
  std::uint16_t lo = 0, hi = 65535;
  if (!a.empty()) {
    auto p = parse_port(a, proto);
    if (!p) return parsed<port_range>::fail(p.error);
    lo = *p.value;
  }
  if (!b.empty()) {
    auto p = parse_port(b, proto);
    if (!p) return parsed<port_range>::fail(p.error);
    hi = *p.value;
  }
  if (lo > hi) return parsed<port_range>::fail("invalid port range (min > max)");
  return {port_range{lo, hi}, {}};
}

// The --sport/--dport of the tcp and sctp matches (parse_port_range() above, services of that
// protocol) or of the udp and dccp matches, which read them as XTTYPE_PORTRC, as restore does
// (rules::detail::parse_ct_port_range(): "5:1" stays, services of any protocol, "010" is 10,
// "0x16" is refused). `match` is the match's name.
inline parsed<port_range> parse_match_ports(std::string_view s, std::string_view match) {
  if (match != "udp" && match != "dccp") return parse_port_range(s, match);
  if (auto r = rules::detail::parse_ct_port_range(s)) return {port_range{r->low, r->high}, {}};
  return parsed<port_range>::fail("Port \"" + std::string(s) + "\" does not resolve to anything");
}

// ---------------------------------------------------------------------------------------------
// TCP flags (libxt_tcp.c tcp_flag_names, compared with strcasecmp).

// A comma-separated list of flag names, as the mask or the comparison of --tcp-flags: restore's
// reading (rules::detail::parse_tcp_flags), with the name it stops at.
inline parsed<std::uint8_t> parse_tcp_flags(std::string_view s) {
  std::string_view bad;
  if (auto v = rules::detail::parse_tcp_flags(s, &bad)) return {*v, {}};
  return parsed<std::uint8_t>::fail("unknown TCP flag '" + std::string(bad) + "'");
}

// ---------------------------------------------------------------------------------------------
// ICMP and ICMPv6 types (libxt_icmp.h icmp_codes / icmpv6_codes): a name, or `type[/code]`.

struct icmp_type {
  std::uint8_t type = 0;
  std::optional<std::uint8_t> code;  // none: any code
  bool any = false;                  // the name "any" (icmp only)
};

template <std::size_t N>
parsed<icmp_type> parse_icmp_type_in(std::string_view s, const rules::detail::icmp_name (&names)[N],
                                     std::string_view what) {
  const rules::detail::icmp_match m = rules::detail::match_icmp_name(s, names);
  if (m.also) return parsed<icmp_type>::fail(rules::detail::ambiguous_icmp(s, m, what));
  if (const rules::detail::icmp_name* n = m.found) {
    icmp_type t{n->type, std::nullopt, n->type == 0xff};
    if (n->code_min == n->code_max) t.code = n->code_min;
    return {t, {}};
  }
  // Numbers as xtables_strtoui() reads them: base 0 ("8", "0x8", "010").
  auto slash = s.find('/');
  auto type = detail::to_uint(s.substr(0, slash), 255);
  if (type) {
    icmp_type t{static_cast<std::uint8_t>(*type), std::nullopt, false};
    if (slash == std::string_view::npos) return {t, {}};
    if (auto code = detail::to_uint(s.substr(slash + 1), 255)) {
      t.code = static_cast<std::uint8_t>(*code);
      return {t, {}};
    }
  }
  return parsed<icmp_type>::fail("unknown " + std::string(what) + " type '" + std::string(s) + "'");
}

inline parsed<icmp_type> parse_icmp_type(std::string_view s) {
  return parse_icmp_type_in(s, rules::detail::icmp_names, "ICMP");
}
inline parsed<icmp_type> parse_icmpv6_type(std::string_view s) {
  return parse_icmp_type_in(s, rules::detail::icmpv6_names, "ICMPv6");
}

// ---------------------------------------------------------------------------------------------
// LOG levels (libxt_LOG.c: xtables_strtoui(…, 0, 7) or one of log_names, compared exactly).

struct log_level_name {
  std::string_view name;
  std::uint8_t level;
};
inline constexpr log_level_name log_level_names[] = {
    {"alert", 1}, {"crit", 2},    {"debug", 7},  {"emerg", 0},   {"error", 3},
    {"info", 6},  {"notice", 5},  {"panic", 0},  {"warning", 4},
};

inline parsed<std::uint8_t> parse_log_level(std::string_view s) {
  if (auto v = detail::to_uint(s, 7)) return {static_cast<std::uint8_t>(*v), {}};
  for (const auto& n : log_level_names)
    if (n.name == s) return {n.level, {}};
  return parsed<std::uint8_t>::fail(
      "log level '" + std::string(s) +
      "' unknown (0-7 or emerg alert crit error warning notice info debug panic)");
}

// The kernel's LOG prefix buffer (struct xt_log_info, include/uapi/linux/netfilter/xt_LOG.h)
// is 30 bytes with the NUL: 29 characters survive, the rest is cut.
inline constexpr std::size_t max_log_prefix = 29;

// ---------------------------------------------------------------------------------------------
// Marks: `value[/mask]`, both 32-bit, any base (xtables_parse_mark_mask()).

struct mark_mask {
  std::uint32_t value = 0;
  std::uint32_t mask = 0xffffffffu;
  bool has_mask = false;
};

inline parsed<mark_mask> parse_mark(std::string_view s) {
  auto slash = s.find('/');
  auto v = detail::to_uint(s.substr(0, slash), 0xffffffffu);
  if (!v) return parsed<mark_mask>::fail("bad mark value '" + std::string(s) + "'");
  mark_mask m{static_cast<std::uint32_t>(*v), 0xffffffffu, false};
  if (slash != std::string_view::npos) {
    auto k = detail::to_uint(s.substr(slash + 1), 0xffffffffu);
    if (!k) return parsed<mark_mask>::fail("bad mark mask '" + std::string(s) + "'");
    m.mask = static_cast<std::uint32_t>(*k);
    m.has_mask = true;
  }
  return {m, {}};
}

// ---------------------------------------------------------------------------------------------
// Addresses of -s/-d: `address[/prefix|/mask]`, comma-separated lists allowed
// (xtables_ipparse_multiple / xtables_ip6parse_multiple). A name is resolved by iptables at
// load time; rstwatch never resolves and reports it as a host name instead.

struct network {
  std::array<unsigned char, 16> address{};
  unsigned prefix = 32;
  bool v6 = false;
};

enum class address_problem : std::uint8_t { none, host_name, bad };

struct address_check {
  address_problem problem = address_problem::none;
  std::string error;
};

namespace detail {

inline bool all_of_chars(std::string_view s, std::string_view allowed) {
  for (char c : s)
    if (allowed.find(c) == std::string_view::npos) return false;
  return !s.empty();
}

// A mask written as an address: iptables takes non-contiguous masks too
// (xtables_ipparse_multiple / xtables_ip6parse_multiple); the prefix is its count of ones.
template <std::size_t N>
unsigned mask_bits(const unsigned char (&m)[N]) {
  unsigned n = 0;
  for (unsigned char b : m)
    for (int i = 0; i < 8; ++i) n += (b >> i) & 1u;
  return n;
}

}  // namespace detail

inline parsed<network> parse_network(std::string_view s, netfilter::family f) {
  bool v6 = f == netfilter::family::ipv6;
  network n;
  n.v6 = v6;
  n.prefix = v6 ? 128 : 32;
  auto slash = s.rfind('/');
  std::string addr(s.substr(0, slash));
  if (v6 ? ::inet_pton(AF_INET6, addr.c_str(), n.address.data()) != 1
         : !rules::detail::parse_ipv4(addr, n.address.data()))
    return parsed<network>::fail("host/network '" + addr + "' is not an IPv" +
                                 (v6 ? "6" : "4") + " address");
  if (slash != std::string_view::npos) {
    std::string_view m = s.substr(slash + 1);
    if (auto bits = detail::to_uint(m, v6 ? 128 : 32)) {
      n.prefix = static_cast<unsigned>(*bits);
    } else {
      std::string ms(m);
      unsigned char v4mask[4];
      unsigned char v6mask[16];
      if (!v6 && ::inet_pton(AF_INET, ms.c_str(), v4mask) == 1)
        n.prefix = detail::mask_bits(v4mask);
      else if (v6 && ::inet_pton(AF_INET6, ms.c_str(), v6mask) == 1)
        n.prefix = detail::mask_bits(v6mask);
      else
        return parsed<network>::fail("invalid mask '" + ms + "'");
    }
  }
  return {n, {}};
}

// Checks every element of a -s/-d list. Text that cannot be an address literal (it has a
// letter, and for IPv4 no ':') is a host name: a warning, since iptables resolves it.
inline address_check check_addresses(std::string_view s, netfilter::family f) {
  while (true) {
    auto comma = s.find(',');
    std::string_view one = s.substr(0, comma);
    if (rules::detail::has_zero_mask(one, f)) {  // iptables reads no host: "any/0"
      if (comma == std::string_view::npos) break;
      s.remove_prefix(comma + 1);
      continue;
    }
    std::string_view host = one.substr(0, one.rfind('/'));
    unsigned char v4[4];
    bool literal = f == netfilter::family::ipv6
                       ? host.find(':') != std::string_view::npos
                       : detail::all_of_chars(host, "0123456789.") ||
                             rules::detail::parse_ipv4(host, v4);
    // An IPv4 literal is no IPv6 host: ip6tables' getaddrinfo(AF_INET6) finds nothing for it.
    if (f == netfilter::family::ipv6 && !host.empty() && detail::all_of_chars(host, "0123456789."))
      return {address_problem::bad, "'" + std::string(host) +
                                        "' is an IPv4 address: ip6tables takes IPv6 addresses"};
    if (!literal && detail::all_of_chars(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                               "0123456789.-_")) {
      // A name: its mask, if any, must still be valid.
      return {address_problem::host_name, "host name '" + std::string(host) +
                                               "' is resolved by iptables when the file is loaded"};
    }
    auto n = parse_network(one, f);
    if (!n) return {address_problem::bad, n.error};
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return {};
}

}  // namespace rstwatch::rules::checks
