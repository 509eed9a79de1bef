// The bodies of the six tcp/sock tracepoints rstwatch reads, as zero-copy records, in every
// format kernels from 4.19 to 6.18 print.
#pragma once

#include <cstddef>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include <rstwatch/address.hpp>
#include <rstwatch/trace/detail/scan.hpp>
#include <rstwatch/trace/prefix.hpp>

namespace rstwatch::trace {

// The tracepoints with a typed body, and when the kernel fires them. Everything else is `other`.
enum class event_kind : std::uint8_t {
  other,
  tcp_send_reset,       // this host's TCP stack sent a RST (see trace/reset.hpp)
  tcp_receive_reset,    // tcp_reset() ran for a socket (see trace/reset.hpp)
  inet_sock_set_state,  // every state change of an inet socket: inet_sk_set_state() (4.16+)
  tcp_retransmit_skb,   // each retransmission attempt: tcp_retransmit_skb() (tcp_output.c)
  tcp_destroy_sock,     // a TCP socket is freed: tcp_v4_destroy_sock(), also for IPv6 sockets
  tcp_probe,            // each segment received on an established socket: tcp_rcv_established()
};

inline constexpr std::string_view event_kind_names[] = {
    "other",           "tcp_send_reset",     "tcp_receive_reset", "inet_sock_set_state",
    "tcp_retransmit_skb", "tcp_destroy_sock", "tcp_probe"};

constexpr std::string_view to_string(event_kind k) noexcept {
  return event_kind_names[static_cast<std::size_t>(k)];
}

constexpr event_kind event_kind_of(std::string_view name) noexcept {
  for (std::size_t k = 1; k < std::size(event_kind_names); ++k)
    if (event_kind_names[k] == name) return static_cast<event_kind>(k);
  return event_kind::other;
}

// The events' subsystem directories under tracefs events/ (include/trace/events/tcp.h
// TRACE_SYSTEM tcp; include/trace/events/sock.h TRACE_SYSTEM sock).
inline constexpr std::string_view event_kind_paths[] = {
    "",
    "tcp/tcp_send_reset",
    "tcp/tcp_receive_reset",
    "sock/inet_sock_set_state",
    "tcp/tcp_retransmit_skb",
    "tcp/tcp_destroy_sock",
    "tcp/tcp_probe"};

// TCP states by the kernel's numbers (include/net/tcp_states.h); the tracepoints print them with
// __print_symbolic as "TCP_ESTABLISHED"... tcp_send_reset prints "UNKNOWN" for 0 (no socket,
// 6.10+). TCP_BOUND_INACTIVE (13) is in no tracepoint's symbol table (this 6.18 kernel's
// formats stop at TCP_NEW_SYN_RECV): __print_symbolic prints an unmatched value as "0x%lx"
// (kernel/trace/trace_output.c trace_print_symbols_seq), so numbers are read too.
enum class tcp_state : std::uint8_t {
  unknown,
  established,
  syn_sent,
  syn_recv,
  fin_wait1,
  fin_wait2,
  time_wait,
  close,
  close_wait,
  last_ack,
  listen,
  closing,
  new_syn_recv,
  bound_inactive,
};

inline constexpr std::string_view tcp_state_names[] = {
    "UNKNOWN",       "TCP_ESTABLISHED", "TCP_SYN_SENT",   "TCP_SYN_RECV",     "TCP_FIN_WAIT1",
    "TCP_FIN_WAIT2", "TCP_TIME_WAIT",   "TCP_CLOSE",      "TCP_CLOSE_WAIT",   "TCP_LAST_ACK",
    "TCP_LISTEN",    "TCP_CLOSING",     "TCP_NEW_SYN_RECV", "TCP_BOUND_INACTIVE"};

constexpr std::string_view to_string(tcp_state s) noexcept {
  return tcp_state_names[static_cast<std::size_t>(s)];
}

constexpr std::optional<tcp_state> tcp_state_of(std::string_view name) noexcept {
  // Two states per inet_sock_set_state line: the length and the 6th byte rule out all names but
  // one before any full compare.
  if (name.size() < 7) return std::nullopt;
  for (std::size_t k = 0; k < std::size(tcp_state_names); ++k)
    if (tcp_state_names[k].size() == name.size() && tcp_state_names[k][5] == name[5] &&
        tcp_state_names[k] == name)
      return static_cast<tcp_state>(k);
  return std::nullopt;
}

// Which key=value pairs a body had; one bit each.
enum class field : std::uint32_t {
  family = 1u << 0,     // family=AF_INET|AF_INET6 (5.12+; inet_sock_set_state always)
  sport = 1u << 1,      // sport=%hu
  dport = 1u << 2,      // dport=%hu
  saddr = 1u << 3,      // saddr=%pI4
  daddr = 1u << 4,      // daddr=%pI4
  saddr_v6 = 1u << 5,   // saddrv6=%pI6c
  daddr_v6 = 1u << 6,   // daddrv6=%pI6c
  src = 1u << 7,        // src=%pISpc (tcp_probe; tcp_send_reset 6.10+)
  dest = 1u << 8,       // dest=%pISpc
  state = 1u << 9,      // state=%s
  oldstate = 1u << 10,  // oldstate=%s
  newstate = 1u << 11,  // newstate=%s
  reason = 1u << 12,    // reason=%s (tcp_send_reset 6.10+)
  protocol = 1u << 13,  // protocol=IPPROTO_TCP
  sock_cookie = 1u << 14,
  skbaddr = 1u << 15,
  skaddr = 1u << 16,
  err = 1u << 17,  // err=%d (tcp_retransmit_skb on recent kernels, 6.18 has it)
  probe = 1u << 18,  // the tcp_probe counters (mark= ... rcv_wnd=)
};

// One event body. Scalars are decoded, words are views into the line; `prefix` holds the
// ftrace context. Valid while the parsed line is.
struct record {
  line_prefix prefix;
  event_kind kind = event_kind::other;
  std::uint32_t fields = 0;  // bits of `field`

  ip_family family = ip_family::none;  // from family=, none when not printed
  std::uint16_t sport = 0, dport = 0;  // the socket's local and remote port
  ip_address saddr, daddr;             // IPv4 fields: meaningless for AF_INET6 sockets
  std::string_view saddr_text, daddr_text;  // the same, as printed
  ip_address saddr_v6, daddr_v6;       // IPv6 fields: v4-mapped for AF_INET sockets
  endpoint src, dest;                  // %pISpc pairs
  tcp_state state = tcp_state::unknown, oldstate = tcp_state::unknown,
            newstate = tcp_state::unknown;
  std::string_view reason;    // "TCP_ABORT_ON_DATA", "NO_SOCKET", ... (enum sk_rst_reason)
  std::string_view protocol;  // "IPPROTO_TCP", "IPPROTO_MPTCP", ...
  std::uint64_t sock_cookie = 0;
  std::string_view skbaddr, skaddr;  // hashed pointers as printed (%p)
  std::int32_t err = 0;

  // tcp_probe (include/trace/events/tcp.h TRACE_EVENT(tcp_probe)).
  std::uint32_t mark = 0, data_len = 0, snd_nxt = 0, snd_una = 0, snd_cwnd = 0, ssthresh = 0,
                snd_wnd = 0, srtt = 0, rcv_wnd = 0;

  // key=value pairs this parser does not know (a newer kernel's): skipped, counted.
  std::uint32_t unknown_count = 0;

  constexpr bool has(field f) const noexcept { return (fields & static_cast<std::uint32_t>(f)) != 0; }

  // The address family of the socket: family= when printed; else the IPv6 fields decide
  // (kernels before 5.12 print no family; AF_INET sockets store v4-mapped addresses there,
  // TP_STORE_V4MAPPED).
  constexpr ip_family socket_family() const noexcept {
    if (family != ip_family::none) return family;
    if (has(field::src)) return src.address.family();
    if (has(field::saddr_v6) && !saddr_v6.is_v4_mapped()) return ip_family::v6;
    return ip_family::v4;
  }

  // This socket's own end and the peer's, as the tracepoint took them from the socket (the
  // RST's source for tcp_send_reset; its destination for tcp_receive_reset). For
  // sport/saddr events of an AF_INET6 socket the IPv4 fields hold whatever inet_saddr has
  // (0.0.0.0, or 127.0.0.6 on this machine's captures): the IPv6 fields are used, and a
  // v4-mapped IPv6 address (IPv4 peer of a dual-stack socket) is reported as the IPv4 address
  // that went on the wire.
  constexpr endpoint local() const noexcept {
    if (has(field::src)) return unmapped(src);
    return pick(saddr, saddr_v6, sport);
  }
  constexpr endpoint remote() const noexcept {
    if (has(field::dest)) return unmapped(dest);
    return pick(daddr, daddr_v6, dport);
  }

 private:
  static constexpr ip_address unmap(const ip_address& a) noexcept {
    if (!a.is_v4_mapped()) return a;
    return ip_address::v4(a[12], a[13], a[14], a[15]);
  }
  static constexpr endpoint unmapped(const endpoint& e) noexcept { return {unmap(e.address), e.port}; }
  constexpr endpoint pick(const ip_address& v4, const ip_address& v6, std::uint16_t port) const noexcept {
    bool v6_printed = has(field::saddr_v6) && has(field::daddr_v6);
    if (v6_printed && (socket_family() == ip_family::v6 || !has(field::saddr)))
      return {unmap(v6), port};
    if (has(field::saddr)) return {v4, port};
    return {unmap(v6), port};
  }
};

// Where a body failed and what it wanted there; `offset` counts bytes from the start of the
// line. No allocation: classify() turns it into a rstwatch::diagnostic only on request.
struct parse_error {
  std::size_t offset = 0;
  std::string_view expected;  // a static phrase
};

namespace detail {

using namespace rstwatch::detail::trace_scan;

// An address of the family the key promises (%pI4 or %pI6c), written to `out` only on success
// (an out-parameter: returning std::optional<ip_address> showed up as a copy in profiles).
constexpr bool address_text(std::string_view s, bool v6, ip_address& out) noexcept {
  if (v6) {
    std::array<std::uint8_t, 16> b{};
    if (!ipv6_text(s, b.data())) return false;
    out = ip_address::v6(b);
    return true;
  }
  std::uint8_t b[4] = {};
  if (!dotted_quad(s, b)) return false;
  out = ip_address::v4(b[0], b[1], b[2], b[3]);
  return true;
}

constexpr std::optional<endpoint> parse_sockaddr(std::string_view v) noexcept {
  // %pISpc (lib/vsprintf.c ip4_addr_string_sa / ip6_addr_string_sa): "1.2.3.4:80" or
  // "[fd00::1]:80".
  std::size_t colon = v.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = v.substr(0, colon);
  std::uint16_t port = 0;
  if (!to_unsigned(v.substr(colon + 1), port, 65535)) return std::nullopt;
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return std::nullopt;
    endpoint e{{}, port};
    if (!address_text(host.substr(1, host.size() - 2), true, e.address)) return std::nullopt;
    return e;
  }
  endpoint e{{}, port};
  if (!address_text(host, false, e.address)) return std::nullopt;
  return e;
}

// key == literal with the length known at compile time: the compare becomes a couple of loads
// instead of a call to memcmp (a dozen keys per line on the hot path).
template <std::size_t N>
constexpr bool key_is(std::string_view key, const char (&literal)[N]) noexcept {
  return key.size() == N - 1 && __builtin_memcmp(key.data(), literal, N - 1) == 0;
}

// "::ffff:" + v4 text: the IPv6 field of an AF_INET socket repeats its IPv4 field
// (TP_STORE_V4MAPPED), so comparing text is enough to fill it.
constexpr bool is_mapped_text(std::string_view v6, std::string_view v4) noexcept {
  return !v4.empty() && v6.size() == v4.size() + 7 && key_is(v6.substr(0, 7), "::ffff:") &&
         v6.substr(7) == v4;
}

// Stores one key=value; false when the key is known and the value is not its kind.
inline bool store(record& r, std::string_view key, std::string_view value,
                  std::string_view& expected) noexcept {
  auto set = [&r](field f) { r.fields |= static_cast<std::uint32_t>(f); };
  auto address = [&](ip_address& out, field f, bool want_v6, std::string_view what) {
    if (want_v6) {
      const ip_address& v4 = f == field::saddr_v6 ? r.saddr : r.daddr;
      if (is_mapped_text(value, f == field::saddr_v6 ? r.saddr_text : r.daddr_text)) {
        std::array<std::uint8_t, 16> b{};
        b[10] = b[11] = 0xff;
        for (std::size_t k = 0; k < 4; ++k) b[12 + k] = v4[k];
        out = ip_address::v6(b);
        set(f);
        return true;
      }
    } else {
      (f == field::saddr ? r.saddr_text : r.daddr_text) = value;
    }
    if (!address_text(value, want_v6, out)) {
      expected = what;
      return false;
    }
    set(f);
    return true;
  };
  auto port = [&](std::uint16_t& out, field f, std::string_view what) {
    if (!to_unsigned(value, out, 65535)) {
      expected = what;
      return false;
    }
    set(f);
    return true;
  };
  auto state = [&](tcp_state& out, field f, std::string_view what) {
    auto s = tcp_state_of(value);
    std::uint32_t number = 0;
    if (!s && value.size() > 2 && value[1] == 'x' && to_hex(value, number, 0xffffffffu))
      s = number < std::size(tcp_state_names) ? static_cast<tcp_state>(number) : tcp_state::unknown;
    if (!s) {
      expected = what;
      return false;
    }
    out = *s;
    set(f);
    return true;
  };
  auto u32 = [&](std::uint32_t& out, bool hex) {
    bool ok = hex ? to_hex(value, out, 0xffffffffu) : to_unsigned(value, out, 0xffffffffu);
    if (!ok) {
      expected = hex ? "a hexadecimal number" : "a decimal number";
      return false;
    }
    set(field::probe);
    return true;
  };
  switch (key.size()) {
    case 3:
      if (key_is(key, "src")) {
        auto e = parse_sockaddr(value);
        if (!e) {
          expected = "ADDRESS:PORT or [IPv6]:PORT after src=";
          return false;
        }
        r.src = *e;
        set(field::src);
        return true;
      }
      if (key_is(key, "err")) {
        if (!to_int32(value, r.err)) {
          expected = "a decimal number after err=";
          return false;
        }
        set(field::err);
        return true;
      }
      break;
    case 4:
      if (key_is(key, "dest")) {
        auto e = parse_sockaddr(value);
        if (!e) {
          expected = "ADDRESS:PORT or [IPv6]:PORT after dest=";
          return false;
        }
        r.dest = *e;
        set(field::dest);
        return true;
      }
      if (key_is(key, "mark")) return u32(r.mark, true);
      if (key_is(key, "srtt")) return u32(r.srtt, false);
      break;
    case 5:
      if (key_is(key, "sport")) return port(r.sport, field::sport, "a port number after sport=");
      if (key_is(key, "dport")) return port(r.dport, field::dport, "a port number after dport=");
      if (key_is(key, "saddr")) return address(r.saddr, field::saddr, false, "an IPv4 address after saddr=");
      if (key_is(key, "daddr")) return address(r.daddr, field::daddr, false, "an IPv4 address after daddr=");
      if (key_is(key, "state")) return state(r.state, field::state, "a TCP state name after state=");
      break;
    case 6:
      if (key_is(key, "family")) {
        std::uint32_t number = 0;
        if (value == "AF_INET")
          r.family = ip_family::v4;
        else if (value == "AF_INET6")
          r.family = ip_family::v6;
        else if (value.size() > 2 && value[1] == 'x' && to_hex(value, number, 0xffffu))
          r.family = ip_family::none;  // another family, printed as a number: no IP socket
        else {
          expected = "AF_INET or AF_INET6 after family=";
          return false;
        }
        set(field::family);
        return true;
      }
      if (key_is(key, "reason")) {
        r.reason = value;
        set(field::reason);
        return true;
      }
      if (key_is(key, "skaddr")) {
        r.skaddr = value;
        set(field::skaddr);
        return true;
      }
      break;
    case 7:
      if (key_is(key, "saddrv6")) return address(r.saddr_v6, field::saddr_v6, true, "an IPv6 address after saddrv6=");
      if (key_is(key, "daddrv6")) return address(r.daddr_v6, field::daddr_v6, true, "an IPv6 address after daddrv6=");
      if (key_is(key, "skbaddr")) {
        r.skbaddr = value;
        set(field::skbaddr);
        return true;
      }
      if (key_is(key, "snd_nxt")) return u32(r.snd_nxt, true);
      if (key_is(key, "snd_una")) return u32(r.snd_una, true);
      if (key_is(key, "snd_wnd")) return u32(r.snd_wnd, false);
      if (key_is(key, "rcv_wnd")) return u32(r.rcv_wnd, false);
      break;
    case 8:
      if (key_is(key, "oldstate")) return state(r.oldstate, field::oldstate, "a TCP state name after oldstate=");
      if (key_is(key, "newstate")) return state(r.newstate, field::newstate, "a TCP state name after newstate=");
      if (key_is(key, "protocol")) {
        r.protocol = value;
        set(field::protocol);
        return true;
      }
      if (key_is(key, "data_len")) return u32(r.data_len, false);
      if (key_is(key, "snd_cwnd")) return u32(r.snd_cwnd, false);
      if (key_is(key, "ssthresh")) return u32(r.ssthresh, false);
      break;
    case 11:
      if (key_is(key, "sock_cookie")) {
        if (!to_hex(value, r.sock_cookie, ~std::uint64_t{0})) {
          expected = "a hexadecimal cookie after sock_cookie=";
          return false;
        }
        set(field::sock_cookie);
        return true;
      }
      break;
    default:
      break;
  }
  ++r.unknown_count;
  return true;
}

// The fields without which an event cannot say who talked to whom.
constexpr bool has_endpoints(const record& r) noexcept {
  if (r.has(field::src) && r.has(field::dest)) return true;
  constexpr std::uint32_t ports =
      static_cast<std::uint32_t>(field::sport) | static_cast<std::uint32_t>(field::dport);
  if ((r.fields & ports) != ports) return false;
  bool v4 = r.has(field::saddr) && r.has(field::daddr);
  bool v6 = r.has(field::saddr_v6) && r.has(field::daddr_v6);
  return v4 || v6;
}

}  // namespace detail

// Parses the body of one of the six events into `r` (kind and prefix already set), walking
// "key=value" pairs separated by single spaces. Keys are matched by name, not position, so the
// same code reads every kernel's layout; unknown keys are counted and skipped. On failure returns
// the error (offset relative to the line: prefix.body_offset is added).
inline std::optional<parse_error> parse_body(record& r) noexcept {
  std::string_view body = r.prefix.body;
  std::size_t base = r.prefix.body_offset;
  std::size_t i = 0;
  // Keys and values are scanned eight bytes at a time.
  const char* text = body.data();
  const std::size_t size = body.size();
  while (i < size) {
    std::size_t eq = detail::find_separator<true>(text, i, size);
    if (eq == size || text[eq] != '=' || eq == i) return parse_error{base + i, "key=value"};
    std::size_t end = detail::find_space(text, eq + 1, size);
    std::string_view expected;
    if (!detail::store(r, body.substr(i, eq - i), body.substr(eq + 1, end - eq - 1), expected))
      return parse_error{base + eq + 1, expected};
    i = end;
    while (i < size && text[i] == ' ') ++i;
  }
  if (!detail::has_endpoints(r))
    return parse_error{base + body.size(),
                       "the socket's addresses and ports (sport= dport= saddr= daddr= or src= dest=)"};
  if (r.kind == event_kind::inet_sock_set_state &&
      !(r.has(field::oldstate) && r.has(field::newstate)))
    return parse_error{base + body.size(), "oldstate= and newstate="};
  return std::nullopt;
}

}  // namespace rstwatch::trace
