// Value parsers and printers shared by the canonical forms of iptables options: addresses and
// masks, ports and services, numbers with masks, and iptables-save's quoting of strings.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include <rstwatch/netfilter.hpp>

namespace rstwatch::rules {

// Rule files are for one family, ipv4 (iptables) or ipv6 (ip6tables); inet is nftables only.
using netfilter::family;

}  // namespace rstwatch::rules

namespace rstwatch::rules::detail {

// A counter as iptables-restore reads one, with sscanf("%llu"): an optional sign, then at
// least one decimal digit; beyond 64 bits it saturates and a '-' wraps it, as strtoull() does
// ("-1" is 18446744073709551615). `whole` wants nothing after the digits (in "[p:b]" the next
// character must be ':' or ']'); -c's arguments are read as far as they are digits
// ("0x10" is 0).
inline std::optional<std::uint64_t> parse_counter(std::string_view s, bool whole = true) {
  std::size_t i = 0;
  const bool minus = i < s.size() && s[i] == '-';
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  const std::size_t digits = i;
  std::uint64_t v = 0;
  bool saturated = false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const unsigned d = static_cast<unsigned>(s[i] - '0');
    if (v > (~std::uint64_t{0} - d) / 10) saturated = true;
    else v = v * 10 + d;
  }
  if (i == digits || (whole && i != s.size())) return std::nullopt;
  if (saturated) return ~std::uint64_t{0};
  return minus ? ~v + 1 : v;
}

// iptables-save quotes a value unless it is made only of [_-0-9a-zA-Z], and escapes '"', '\\'
// and '\'' inside the quotes (libxtables/xtables.c xtables_save_string()).
inline void append_saved_string(std::string& out, std::string_view value) {
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  };
  bool quote = value.empty();
  for (char c : value) quote = quote || !plain(c);
  if (!quote) {
    out += value;
    return;
  }
  out += '"';
  std::size_t run = 0;  // bytes of `value` not yet appended
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c != '"' && c != '\\' && c != '\'') continue;
    out.append(value.data() + run, i - run);
    out += '\\';
    run = i;
  }
  out.append(value.data() + run, value.size() - run);
  out += '"';
}

inline std::string save_string(std::string_view value) {
  std::string s;
  s.reserve(value.size() + 2);
  append_saved_string(s, value);
  return s;
}

inline std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

// The number xtables_strtoul(s, &end, &v, 0, max) reads at the start of `s`, and where it
// stops: white space and a '+' first (a '-' refused), then hexadecimal after "0x" followed by a
// hexadecimal digit, octal after '0', or decimal, as far as the digits go; nullopt when there
// is no digit, or the number is above `max` or 64 bits.
struct number_prefix {
  std::uint64_t value;
  std::size_t end;
};
inline std::optional<number_prefix> read_number_prefix(std::string_view s, std::uint64_t max) {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) ++i;
  if (i < s.size() && s[i] == '+') ++i;
  if (i == s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
  auto digit = [](char c) -> unsigned {
    return c >= '0' && c <= '9'   ? static_cast<unsigned>(c - '0')
           : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
           : c >= 'A' && c <= 'F' ? static_cast<unsigned>(c - 'A' + 10)
                                  : 99u;
  };
  unsigned base = 10;
  if (s[i] == '0' && i + 2 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X') && digit(s[i + 2]) < 16) {
    base = 16;
    i += 2;
  } else if (s[i] == '0') {
    base = 8;
  }
  std::uint64_t v = 0;
  bool overflow = false;
  for (; i < s.size() && digit(s[i]) < base; ++i) {
    const unsigned d = digit(s[i]);
    if (v > (~std::uint64_t{0} - d) / base) overflow = true;
    else v = v * base + d;
  }
  if (overflow || v > max) return std::nullopt;
  return number_prefix{v, i};
}

// An unsigned number as xtables_strtoul() reads it (libxtables xtables_strtoul_base() with
// base 0): white space first is skipped and a '-' after it refused, then strtoumax() must read
// the whole text: an optional '+', then "0x" and hexadecimal digits, '0' and octal digits, or
// decimal digits; beyond 64 bits (ERANGE) or above `max` it is no number. " 22", "+5", "0x50"
// and "010" (8) are numbers; "080", "0x", "++5" and "5 " are not.
inline std::optional<std::uint64_t> parse_uint(std::string_view s, std::uint64_t max) {
  auto p = read_number_prefix(s, max);
  if (!p || p->end != s.size()) return std::nullopt;  // strtoumax() would stop before the end
  return p->value;
}

inline std::optional<std::uint32_t> parse_u32(std::string_view s) {
  auto v = parse_uint(s, 0xffffffffu);
  if (!v) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

// `value[/mask]` as the mark and connmark matches and targets read it.
struct value_mask {
  std::uint32_t value = 0;
  std::uint32_t mask = 0xffffffffu;
  bool has_mask = false;
};

inline std::optional<value_mask> parse_value_mask(std::string_view s) {
  value_mask vm;
  auto slash = s.find('/');
  auto v = parse_u32(s.substr(0, slash));
  if (!v) return std::nullopt;
  vm.value = *v;
  if (slash != std::string_view::npos) {
    auto m = parse_u32(s.substr(slash + 1));
    if (!m) return std::nullopt;
    vm.mask = *m;
    vm.has_mask = true;
  }
  return vm;
}

// A port number or a service name from the services database, as xtables_parse_port() does.
inline std::optional<std::uint16_t> parse_port(std::string_view s, std::string_view proto) {
  if (s.empty()) return std::nullopt;
  if (auto n = parse_uint(s, 0xffff)) return static_cast<std::uint16_t>(*n);  // "80", "0x50", "+80"
  std::string name(s), p(proto);
  if (const servent* se = ::getservbyname(name.c_str(), p.empty() ? nullptr : p.c_str()))
    return static_cast<std::uint16_t>(ntohs(static_cast<std::uint16_t>(se->s_port)));
  return std::nullopt;
}

struct port_range {
  std::uint16_t low = 0;
  std::uint16_t high = 0xffff;
};

// `a`, `a:b`, `a:` or `:b` (libxt_tcp.c parse_tcp_ports()).
inline std::optional<port_range> parse_port_range(std::string_view s, std::string_view proto) {
  auto colon = s.find(':');
  port_range r;
  if (colon == std::string_view::npos) {
    auto p = parse_port(s, proto);
    if (!p) return std::nullopt;
    r.low = r.high = *p;
    return r;
  }
  std::string_view a = s.substr(0, colon), b = s.substr(colon + 1);
  if (!a.empty()) {
    auto p = parse_port(a, proto);
    if (!p) return std::nullopt;
    r.low = *p;
  }
  if (!b.empty()) {
    auto p = parse_port(b, proto);
    if (!p) return std::nullopt;
    r.high = *p;
  }
  if (r.low > r.high) return std::nullopt;
  return r;
}

// A port or port range of XTTYPE_PORTRC options (libxtables xtoptions.c xtopt_parse_mport()):
// conntrack's --ctorigsrcport and the like, and the udp match's --sport/--dport, as iptables
// 1.8.9 reads them: `[A][:[B]]`, an empty end being 0 or 65535 and the order of the two not
// checked ("5:1" stays). Each end goes to getaddrinfo(NULL, A, NULL) (xtables_getportbyname()),
// found by asking the real iptables-restore: glibc reads A with strtoul(A, &end, 10) (white
// space and a sign first; "010" is 10, "0x10" is no number) and, when that takes the whole
// text, stores it in an int: a negative int ("2147483648", "-1") sends A to the services
// database, any other keeps its low 16 bits ("65536" is 0, "-4294967274" is 22). A service name
// of any protocol is taken ("http" for udp too).
inline std::optional<std::uint16_t> parse_ct_port(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) ++i;
  const bool minus = i < s.size() && s[i] == '-';
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  const std::size_t digits = i;
  std::uint64_t v = 0;
  bool overflow = false;  // strtoul() then returns ULONG_MAX, whatever the sign
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const unsigned d = static_cast<unsigned>(s[i] - '0');
    if (v > (~std::uint64_t{0} - d) / 10) overflow = true;
    else v = v * 10 + d;
  }
  if (i > digits && i == s.size()) {
    const std::uint64_t u = overflow ? ~std::uint64_t{0} : minus ? ~v + 1 : v;
    const auto n = static_cast<std::int32_t>(static_cast<std::uint32_t>(u));
    if (n >= 0) return static_cast<std::uint16_t>(n & 0xffff);
  }
  if (s.empty()) return std::nullopt;
  std::string name(s);
  if (const servent* se = ::getservbyname(name.c_str(), nullptr))
    return static_cast<std::uint16_t>(ntohs(static_cast<std::uint16_t>(se->s_port)));
  return std::nullopt;
}
inline std::optional<port_range> parse_ct_port_range(std::string_view s) {
  const auto colon = s.find(':');
  port_range r;
  std::string_view a = s.substr(0, colon);
  if (colon == std::string_view::npos && a.empty()) {
    r.low = r.high = 0;  // one empty end: 0 (strsep() gives "", which counts as given)
    return r;
  }
  if (colon == std::string_view::npos || !a.empty()) {
    auto p = parse_ct_port(a);
    if (!p) return std::nullopt;
    r.low = r.high = *p;
  }
  if (colon != std::string_view::npos) {
    r.high = 0xffff;
    if (colon + 1 < s.size()) {
      auto p = parse_ct_port(s.substr(colon + 1));
      if (!p) return std::nullopt;
      r.high = *p;
    }
  }
  return r;
}

// The ports of a tcp or udp match's --sport/--dport: libxt_tcp.c reads them with
// xtables_parse_port() (numbers base 0, tcp services, the first not above the second:
// parse_port_range()), libxt_udp.c as XTTYPE_PORTRC (parse_ct_port_range()).
inline std::optional<port_range> parse_match_ports(std::string_view s, bool udp) {
  return udp ? parse_ct_port_range(s) : parse_port_range(s, "tcp");
}

// ---- TCP flags (libxt_tcp.c tcp_flag_names) ----

inline constexpr struct {
  std::string_view name;
  std::uint8_t bit;
} tcp_flag_names[] = {{"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08},
                      {"ACK", 0x10}, {"URG", 0x20}, {"ALL", 0x3f}, {"NONE", 0}};

// libxt_tcp.c parse_tcp_flag(): the list is cut with strtok() at commas, so empty names
// ("SYN,", ",SYN") are skipped; each name compared with strcasecmp(). On failure `bad`, when
// given, views the first name that is none.
inline std::optional<std::uint8_t> parse_tcp_flags(std::string_view s, std::string_view* bad = nullptr) {
  std::uint8_t v = 0;
  while (true) {
    auto comma = s.find(',');
    std::string_view f = s.substr(0, comma);
    bool found = f.empty();
    for (auto& n : tcp_flag_names) {
      if (n.name.size() == f.size() &&
          std::equal(f.begin(), f.end(), n.name.begin(),
                     [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; })) {
        v = static_cast<std::uint8_t>(v | n.bit);
        found = true;
      }
    }
    if (!found) {
      if (bad) *bad = f;
      return std::nullopt;
    }
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return v;
}

inline std::string print_tcp_flags(std::uint8_t f) {
  if (f == 0) return "NONE";
  std::string s;
  for (int i = 0; i < 6; ++i)
    if (f & tcp_flag_names[i].bit) {
      if (!s.empty()) s += ',';
      s += tcp_flag_names[i].name;
    }
  return s;
}

// --tcp-option: an option kind 1 to 255 (libxt_tcp.c refuses 0: "Bad TCP option").
inline std::optional<std::uint8_t> parse_tcp_option(std::string_view s) {
  auto n = parse_uint(s, 255);
  if (!n || *n == 0) return std::nullopt;
  return static_cast<std::uint8_t>(*n);
}

// One element of a multiport list (libxt_multiport.c): a port, or a range with both ends
// written and the first below the second (iptables refuses "80:", ":80" and "80:80").
inline std::optional<port_range> parse_multiport_item(std::string_view s, std::string_view proto) {
  const auto colon = s.find(':');
  if (colon != std::string_view::npos && (colon == 0 || colon + 1 == s.size())) return std::nullopt;
  auto r = parse_port_range(s, proto);
  if (r && colon != std::string_view::npos && r->low == r->high) return std::nullopt;
  return r;
}

inline std::string print_port_range(port_range r, char sep = ':') {
  if (r.low == r.high) return std::to_string(r.low);
  return std::to_string(r.low) + sep + std::to_string(r.high);
}

// One tcp or udp match's options as struct xt_tcp / xt_udp holds them: the last of each kind.
struct ports_match {
  struct ports {
    bool invert = false;
    port_range range{};  // 0:65535 unless given
    bool full() const noexcept { return range.low == 0 && range.high == 0xffff; }
  } sport, dport;
  bool flags_invert = false;
  std::uint8_t mask = 0, cmp = 0;  // --syn is --tcp-flags FIN,SYN,RST,ACK SYN
  bool has_option = false, option_invert = false;
  std::uint64_t option = 0;

  // nft.c add_nft_tcp()/add_nft_udp() (1.8.9): iptables-nft keeps the match as an xt match
  // (nft "compat") when it has a --tcp-option, or restricts nothing at all (tcp_all_zero(),
  // udp_all_zero()); otherwise it becomes payload compares (see the merge in
  // command_line.hpp).
  bool compat() const noexcept {
    const bool all_zero = sport.full() && dport.full() && !sport.invert && !dport.invert &&
                          mask == 0 && cmp == 0 && !flags_invert && !has_option;
    return has_option || all_zero;
  }
};

// As libxt_tcp.c tcp_save() / libxt_udp.c udp_save() print an xt match, in iptables-save's
// order: sport, dport, tcp-option, then the flags. A port range of 0:65535 never prints, even
// inverted; flags print with a mask or inverted.
inline void print_ports_match(const ports_match& p, std::string& out) {
  for (const auto& [q, name] : {std::pair<const ports_match::ports&, std::string_view>{p.sport, "sport"},
                                {p.dport, "dport"}}) {
    if (q.full()) continue;
    out += q.invert ? " ! --" : " --";
    out += name;
    out += ' ';
    out += print_port_range(q.range);
  }
  if (p.has_option) {
    out += p.option_invert ? " ! --tcp-option " : " --tcp-option ";
    out += std::to_string(p.option);
  }
  if (p.mask || p.flags_invert) {
    out += p.flags_invert ? " ! --tcp-flags " : " --tcp-flags ";
    out += print_tcp_flags(p.mask);
    out += ' ';
    out += print_tcp_flags(p.cmp);
  }
}

// What iptables-save shows of the payload-class tcp/udp matches of one rule (not compat()):
// iptables-nft makes a compare of the flags when their mask is not empty and of each port
// range that is not 0:65535 (nft.c add_nft_tcp(), add_nft_tcpudp()); reading the rule back
// (nft-shared.c) puts every compare into ONE match where the first compare was, a later value
// replacing an earlier one and an inverted compare leaving its field inverted for good (only
// != sets the flag, == never clears it). The kernel still applies every compare.
struct merged_compares {
  ports_match value;
  bool sport = false, dport = false, flags = false;  // compared at least once

  bool repeated = false;  // a field compared twice: the kernel applies both, the save shows one

  // Folds in one more match's compares; whether it made any.
  bool add(const ports_match& p) noexcept {
    bool compared = false;
    repeated = repeated || (p.mask && flags) || (!p.sport.full() && sport) ||
               (!p.dport.full() && dport);
    if (p.mask) {
      value.mask = p.mask;
      value.cmp = p.cmp;
      value.flags_invert = value.flags_invert || p.flags_invert;
      flags = compared = true;
    }
    for (auto [from, to, set] : {std::tuple{&p.sport, &value.sport, &sport},
                                 std::tuple{&p.dport, &value.dport, &dport}}) {
      if (from->full()) continue;
      ports_match::ports q = *from;
      // expr_gen_range_cmp16(): "! 0:N" is compared as ">= N+1", which reads back as
      // N+1:65535 uninverted ("! --dport :5" saves as "--dport 6:65535").
      if (q.invert && q.range.low == 0 && q.range.high != 0) {
        q.range.low = static_cast<std::uint16_t>(q.range.high + 1);
        q.range.high = 0xffff;
        q.invert = false;
      }
      to->range = q.range;
      to->invert = to->invert || q.invert;
      *set = compared = true;
    }
    return compared;
  }
  // The options iptables-save prints for the merged match.
  void print(std::string& out) const {
    print_ports_match(value, out);
  }
};


// An address and mask as -s/-d hold them (network byte order for IPv4, bytes for IPv6).
struct address {
  family fam = family::ipv4;
  unsigned char addr[16] = {};
  unsigned char mask[16] = {};
};

inline int mask_to_prefix(const unsigned char* mask, int bytes) {
  int bits = 0;
  int i = 0;
  for (; i < bytes && mask[i] == 0xff; ++i) bits += 8;
  if (i < bytes) {
    unsigned char m = mask[i];
    int b = 0;
    while (m & 0x80) {
      ++b;
      m = static_cast<unsigned char>(m << 1);
    }
    if (m != 0) return -1;
    bits += b;
    for (++i; i < bytes; ++i)
      if (mask[i] != 0) return -1;
  }
  return bits;
}

inline void prefix_to_mask(int prefix, unsigned char* mask, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    int b = prefix - 8 * i;
    mask[i] = b >= 8 ? 0xff : b <= 0 ? 0 : static_cast<unsigned char>(0xff << (8 - b));
  }
}

// An IPv4 address as iptables 1.8.9 reads one, without a name service:
// xtables_numeric_to_ipaddr() takes one to four parts, each 0-255 as xtables_strtoul() reads
// it (base 0, so "010" is 8), the missing ones zero at the end ("10.1" is 10.1.0.0); failing
// that, iptables hands the text to getaddrinfo(), whose inet_aton() reading takes one number
// for the whole address ("167772161"), or a last part that fills the bytes left
// ("10.1.300" is 10.1.1.44).
// `numeric_only` stops after the first reading (libxt_iprange.c takes no other).
inline bool parse_ipv4(std::string_view s, unsigned char out[4], bool numeric_only = false) {
  std::string_view parts[4];
  std::size_t n = 0;
  for (std::size_t start = 0;;) {
    if (n == 4) return false;
    std::size_t dot = s.find('.', start);
    parts[n++] = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  bool small = true;  // every part 0-255: xtables_numeric_to_ipaddr()
  std::uint64_t v[4] = {};
  for (std::size_t i = 0; i < n; ++i) {
    auto p = parse_uint(parts[i], 0xffffffffu);
    if (!p) return false;
    v[i] = *p;
    small = small && *p <= 255;
  }
  if (small) {
    for (std::size_t i = 0; i < 4; ++i) out[i] = i < n ? static_cast<unsigned char>(v[i]) : 0;
    return true;
  }
  if (numeric_only) return false;
  // inet_aton(): no sign, each part but the last one byte, the last one the rest.
  for (std::size_t i = 0; i < n; ++i)
    if (parts[i][0] == '+' || (i + 1 < n && v[i] > 255)) return false;
  const int rest = static_cast<int>(4 - (n - 1));  // bytes the last part fills
  if (rest < 4 && v[n - 1] >> (8 * rest)) return false;
  std::uint32_t a = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) a |= static_cast<std::uint32_t>(v[i]) << (24 - 8 * i);
  a |= static_cast<std::uint32_t>(v[n - 1]);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(a >> (24 - 8 * i));
  return true;
}

// Numeric addresses only: iptables resolves host names when it loads a rule, rstwatch never
// does (a name yields nullopt and the caller says so).
// The mask after the last '/' of an address (xtables.c parse_ipmask() / parse_ip6mask()): a
// prefix length as xtables_strtoui() reads it, or a mask in address form; false when neither.
inline bool parse_mask(std::string_view m, family fam, unsigned char* mask) {
  const int bytes = fam == family::ipv4 ? 4 : 16;
  if (!m.empty() && m.find_first_not_of(" \t\n\v\f\r+0123456789xXabcdefABCDEF") == std::string_view::npos &&
      m.find('.') == std::string_view::npos && m.find(':') == std::string_view::npos) {
    auto p = parse_uint(m, static_cast<std::uint64_t>(bytes) * 8);
    if (!p) return false;
    prefix_to_mask(static_cast<int>(*p), mask, bytes);
    return true;
  }
  std::string ms(m);
  return ::inet_pton(fam == family::ipv4 ? AF_INET : AF_INET6, ms.c_str(), mask) == 1;
}

// Whether an address with this text has a mask of all zeros ("any/0", "x/0.0.0.0"): iptables
// then reads no host at all (xtables_ipparse_any(): "if a null mask is given, the name is
// ignored"), so a name or even a bad address before it is no error.
inline bool has_zero_mask(std::string_view s, family fam) {
  const auto slash = s.rfind('/');
  if (slash == std::string_view::npos) return false;
  unsigned char mask[16] = {};
  if (!parse_mask(s.substr(slash + 1), fam, mask)) return false;
  for (unsigned char b : mask)
    if (b) return false;
  return true;
}

inline std::optional<address> parse_address(std::string_view s, family fam) {
  address a;
  a.fam = fam;
  const int bytes = fam == family::ipv4 ? 4 : 16;
  const int af = fam == family::ipv4 ? AF_INET : AF_INET6;
  const auto slash = s.rfind('/');  // strrchr(), as xtables_ipparse_any() looks for it
  if (slash == std::string_view::npos) prefix_to_mask(bytes * 8, a.mask, bytes);
  else if (!parse_mask(s.substr(slash + 1), fam, a.mask)) return std::nullopt;
  if (slash != std::string_view::npos &&
      std::all_of(a.mask, a.mask + bytes, [](unsigned char m) { return m == 0; }))
    return a;  // the host is not read (has_zero_mask()): all zeros
  const std::string_view host = s.substr(0, slash);
  if (fam == family::ipv4) {
    if (!parse_ipv4(host, a.addr)) return std::nullopt;
  } else {
    // No IPv6 text inet_pton() takes is longer than 45 bytes ("ffff:…:255.255.255.255").
    char text[64];
    if (host.size() >= sizeof text) return std::nullopt;
    std::memcpy(text, host.data(), host.size());
    text[host.size()] = '\0';
    if (::inet_pton(af, text, a.addr) != 1) return std::nullopt;
  }
  for (int i = 0; i < bytes; ++i) a.addr[i] &= a.mask[i];
  return a;
}

// One end of an iprange range: libxt_iprange.c reads IPv4 with xtables_numeric_to_ipaddr()
// alone (no inet_aton() forms: "167772161" is refused), IPv6 with inet_pton(); no mask.
inline bool parse_range_host(std::string_view s, family fam, unsigned char* out) {
  if (fam == family::ipv4) return parse_ipv4(s, out, true);
  return ::inet_pton(AF_INET6, std::string(s).c_str(), out) == 1;
}

// ADDRESS[/MASK] as libxtables reads a host and mask (XTTYPE_HOSTMASK: conntrack's
// --ctorigsrc and the like): the address through getaddrinfo(), so IPv4 in inet_aton()'s forms
// only ("10.1" is 10.0.0.1, unlike -s), the mask a prefix length or an address; the host bits
// are kept, not masked ("10.0.0.1/8" stays).
inline std::optional<address> parse_host_mask(std::string_view s, family fam) {
  address a;
  a.fam = fam;
  const int bytes = fam == family::ipv4 ? 4 : 16;
  const auto slash = s.find('/');
  std::string host(s.substr(0, slash));
  in_addr v4{};
  if (fam == family::ipv4) {
    // inet_aton() also takes what follows a space; a word here has none but a quoted one.
    if (host.empty() || host.find_first_of(" \t\n") != std::string::npos || ::inet_aton(host.c_str(), &v4) == 0)
      return std::nullopt;
    std::memcpy(a.addr, &v4, 4);
  } else if (::inet_pton(AF_INET6, host.c_str(), a.addr) != 1) {
    return std::nullopt;
  }
  auto with_mask = parse_address(std::string(fam == family::ipv4 ? "0.0.0.0" : "::") +
                                     (slash == std::string_view::npos ? std::string() : std::string(s.substr(slash))),
                                 fam);
  if (!with_mask) return std::nullopt;
  std::memcpy(a.mask, with_mask->mask, static_cast<std::size_t>(bytes));
  return a;
}

inline std::string print_host(const unsigned char* addr, family fam) {
  if (fam == family::ipv4) {
    // inet_ntop()'s dotted quad, without its trip through sprintf.
    std::string s;
    s.reserve(15);
    for (int i = 0; i < 4; ++i) {
      char digits[4];
      auto r = std::to_chars(digits, digits + sizeof digits, static_cast<unsigned>(addr[i]));
      if (i) s += '.';
      s.append(digits, static_cast<std::size_t>(r.ptr - digits));
    }
    return s;
  }
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(fam == family::ipv4 ? AF_INET : AF_INET6, addr, buf, sizeof buf);
  return buf;
}

inline bool all_zero(const unsigned char* p, int bytes) {
  for (int i = 0; i < bytes; ++i)
    if (p[i]) return false;
  return true;
}

// `addr/prefix`, or `addr/dotted-mask` when the mask is not a prefix (iptables/xshared.c
// save_ipv4_addr(), save_ipv6_addr()).
inline std::string print_address(const address& a) {
  const int bytes = a.fam == family::ipv4 ? 4 : 16;
  int prefix = mask_to_prefix(a.mask, bytes);
  std::string s = print_host(a.addr, a.fam);
  s += '/';
  s += prefix >= 0 ? std::to_string(prefix) : print_host(a.mask, a.fam);
  return s;
}

// Whether -s/-d with this value is left out of iptables-save output: a zero mask matches all.
inline bool matches_everything(const address& a) {
  return all_zero(a.mask, a.fam == family::ipv4 ? 4 : 16);
}

// Protocol names iptables itself knows before asking /etc/protocols (libxtables/xtables.c
// xtables_chain_protos[]); -p prints the name whenever one exists.
struct protocol_name {
  std::string_view name;
  std::uint8_t number;
};
inline constexpr protocol_name chain_protos[] = {
    {"tcp", 6},     {"sctp", 132}, {"udp", 17},  {"udplite", 136}, {"icmp", 1},
    {"icmpv6", 58}, {"ipv6-icmp", 58}, {"esp", 50}, {"ah", 51},    {"ipv6-mh", 135},
    {"mh", 135},    {"all", 0}};

// xtables_parse_protocol(): a number as xtables_strtoui() reads it (base 0, "+6", "0x6"), else
// a name of the table above or of /etc/protocols ("3pc" is a name).
inline std::optional<std::uint8_t> parse_protocol(std::string_view s) {
  if (s.empty()) return std::nullopt;  // no such name in /etc/protocols: do not read it
  if (auto n = parse_uint(s, 255)) return static_cast<std::uint8_t>(*n);
  auto lower_equal = [s](std::string_view name) {  // name is lower case
    if (name.size() != s.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
      if (c != name[i]) return false;
    }
    return true;
  };
  for (auto& p : chain_protos)
    if (lower_equal(p.name)) return p.number;
  std::string lower;
  for (char c : s) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (const protoent* pe = ::getprotobyname(lower.c_str()))
    return static_cast<std::uint8_t>(pe->p_proto);
  return std::nullopt;
}

// The name -p prints for a protocol number: /etc/protocols' first (iptables-save asks
// getprotobynumber() before its own table: 58 is ipv6-icmp, 135 mobility-header on Debian),
// then the table above, else the number.
// Looked up once per process: getprotobynumber() reads /etc/protocols on every call, which
// cost more than the rest of restore() on a 100,000-rule file.
inline const std::string& print_protocol(std::uint8_t n, family fam) {
  (void)fam;
  static const std::array<std::string, 256> names = [] {
    std::array<std::string, 256> all;
    for (unsigned i = 0; i < 256; ++i) {
      if (const protoent* pe = ::getprotobynumber(static_cast<int>(i))) {
        all[i] = pe->p_name;
        continue;
      }
      for (auto& p : chain_protos)
        if (p.number == i && p.name != "all" && all[i].empty()) all[i] = std::string(p.name);
      if (all[i].empty()) all[i] = std::to_string(i);
    }
    ::endprotoent();
    return all;
  }();
  return names[n];
}

// The match a -p protocol loads for an option nothing else knows (xshared.c load_proto()):
// "tcp", "udp", "sctp", "dccp", "icmp" (IPv4) or "icmp6" (IPv6); empty for any other protocol
// rstwatch models.
inline std::string_view implicit_match(std::uint8_t proto, family fam) noexcept {
  return proto == 6 ? "tcp" : proto == 17 ? "udp" : proto == 132 ? "sctp" : proto == 33 ? "dccp"
         : proto == 1 && fam == family::ipv4 ? "icmp"
         : proto == 58 && fam == family::ipv6 ? "icmp6" : "";
}

// iptables refuses an inverted -p 0 ("rule would never match protocol").
inline constexpr std::string_view never_matches_protocol = "rule would never match protocol";

// Whether `name` begins with `text`, letters compared without regard to case: the
// strncasecmp(name, text, strlen(text)) == 0 that iptables' extensions use to read names they
// let users abbreviate (ICMP and REJECT types, limit units).
inline bool begins_ignoring_case(std::string_view name, std::string_view text) noexcept {
  if (text.size() > name.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(name[i])))
      return false;
  return true;
}

// ICMP and ICMPv6 type names as libxtables 1.8.9 knows them (xtables_icmp names of
// libipt_icmp.c and libip6t_icmp6.c); code_min..code_max is 0..0xff for every code. The
// names are the same for iptables-restore, the checks and iptables-save.
struct icmp_name {
  std::string_view name;
  std::uint8_t type, code_min, code_max;
};

inline constexpr icmp_name icmp_names[] = {
    {"any", 0xff, 0, 0xff},
    {"echo-reply", 0, 0, 0xff},
    {"pong", 0, 0, 0xff},
    {"destination-unreachable", 3, 0, 0xff},
    {"network-unreachable", 3, 0, 0},
    {"host-unreachable", 3, 1, 1},
    {"protocol-unreachable", 3, 2, 2},
    {"port-unreachable", 3, 3, 3},
    {"fragmentation-needed", 3, 4, 4},
    {"source-route-failed", 3, 5, 5},
    {"network-unknown", 3, 6, 6},
    {"host-unknown", 3, 7, 7},
    {"network-prohibited", 3, 9, 9},
    {"host-prohibited", 3, 10, 10},
    {"TOS-network-unreachable", 3, 11, 11},
    {"TOS-host-unreachable", 3, 12, 12},
    {"communication-prohibited", 3, 13, 13},
    {"host-precedence-violation", 3, 14, 14},
    {"precedence-cutoff", 3, 15, 15},
    {"source-quench", 4, 0, 0xff},
    {"redirect", 5, 0, 0xff},
    {"network-redirect", 5, 0, 0},
    {"host-redirect", 5, 1, 1},
    {"TOS-network-redirect", 5, 2, 2},
    {"TOS-host-redirect", 5, 3, 3},
    {"echo-request", 8, 0, 0xff},
    {"ping", 8, 0, 0xff},
    {"router-advertisement", 9, 0, 0xff},
    {"router-solicitation", 10, 0, 0xff},
    {"time-exceeded", 11, 0, 0xff},
    {"ttl-exceeded", 11, 0, 0xff},
    {"ttl-zero-during-transit", 11, 0, 0},
    {"ttl-zero-during-reassembly", 11, 1, 1},
    {"parameter-problem", 12, 0, 0xff},
    {"ip-header-bad", 12, 0, 0},
    {"required-option-missing", 12, 1, 1},
    {"timestamp-request", 13, 0, 0xff},
    {"timestamp-reply", 14, 0, 0xff},
    {"address-mask-request", 17, 0, 0xff},
    {"address-mask-reply", 18, 0, 0xff},
};

inline constexpr icmp_name icmpv6_names[] = {
    {"destination-unreachable", 1, 0, 0xff},
    {"no-route", 1, 0, 0},
    {"communication-prohibited", 1, 1, 1},
    {"beyond-scope", 1, 2, 2},
    {"address-unreachable", 1, 3, 3},
    {"port-unreachable", 1, 4, 4},
    {"failed-policy", 1, 5, 5},
    {"reject-route", 1, 6, 6},
    {"packet-too-big", 2, 0, 0xff},
    {"time-exceeded", 3, 0, 0xff},
    {"ttl-exceeded", 3, 0, 0xff},
    {"ttl-zero-during-transit", 3, 0, 0},
    {"ttl-zero-during-reassembly", 3, 1, 1},
    {"parameter-problem", 4, 0, 0xff},
    {"bad-header", 4, 0, 0},
    {"unknown-header-type", 4, 1, 1},
    {"unknown-option", 4, 2, 2},
    {"echo-request", 128, 0, 0xff},
    {"ping", 128, 0, 0xff},
    {"echo-reply", 129, 0, 0xff},
    {"pong", 129, 0, 0xff},
    {"router-solicitation", 133, 0, 0xff},
    {"router-advertisement", 134, 0, 0xff},
    {"neighbour-solicitation", 135, 0, 0xff},
    {"neighbor-solicitation", 135, 0, 0xff},
    {"neighbour-advertisement", 136, 0, 0xff},
    {"neighbor-advertisement", 136, 0, 0xff},
    {"redirect", 137, 0, 0xff},
};

// The ICMP type a value names, as iptables reads it: the entry whose name the value begins,
// letters in any case ("echo-req", "ECHO-REQUEST"); a value that begins two entries is
// ambiguous ("echo": echo-reply or echo-request), one that begins none is a number
// ("8", "3/4", "0x8"), read by the caller.
struct icmp_match {
  const icmp_name* found = nullptr;
  const icmp_name* also = nullptr;  // a second entry the value begins: ambiguous
};
template <std::size_t N>
icmp_match match_icmp_name(std::string_view v, const icmp_name (&names)[N]) noexcept {
  icmp_match m;
  for (const icmp_name& n : names) {
    if (!begins_ignoring_case(n.name, v)) continue;
    if (m.found) {
      m.also = &n;
      return m;
    }
    m.found = &n;
  }
  return m;
}

// Why iptables refuses an ambiguous ICMP type name, in its words.
inline std::string ambiguous_icmp(std::string_view v, const icmp_match& m, std::string_view what) {
  return "Ambiguous " + std::string(what) + " type `" + std::string(v) + "': `" +
         std::string(m.found->name) + "' or `" + std::string(m.also->name) + "'?";
}

// A limit rate as libxt_limit.c parse_rate() reads it: the count is atoi() of the text (its
// leading digits: "10abc/s" is 10, "0x10/s" is 0 and refused), the unit after '/' any
// beginning of second, minute, hour or day in any case ("1/SECOND", "10/m"). The count and the
// seconds per unit; nullopt for a bad rate.
struct limit_rate {
  std::uint64_t count = 0;
  std::uint32_t per = 1;
};
inline std::optional<limit_rate> parse_limit_rate(std::string_view v) {
  limit_rate r;
  const auto slash = v.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view unit = v.substr(slash + 1);
    auto is = [unit](std::string_view full) { return !unit.empty() && begins_ignoring_case(full, unit); };
    if (is("second")) r.per = 1;
    else if (is("minute")) r.per = 60;
    else if (is("hour")) r.per = 3600;
    else if (is("day")) r.per = 86400;
    else return std::nullopt;
  }
  std::size_t i = 0;
  while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
  if (i < v.size() && v[i] == '+') ++i;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) {
    r.count = r.count * 10 + static_cast<std::uint64_t>(v[i] - '0');
    if (r.count > 0xffffffffu) return std::nullopt;  // beyond what the kernel's u32 holds
  }
  if (r.count == 0) return std::nullopt;
  return r;
}

// libxt_limit.c keeps a rate as the average interval in 1/10000 s (XT_LIMIT_SCALE): more than
// 10,000 a second is "Rate too fast"; --limit-burst is at most 10,000 (the option's .max).
// iptables-restore 1.8.9 refuses both beyond that.
inline constexpr std::uint32_t limit_scale = 10000;
inline constexpr std::uint32_t limit_max_burst = 10000;
inline bool too_fast(const limit_rate& r) noexcept { return r.count / r.per > limit_scale; }

}  // namespace rstwatch::rules::detail
