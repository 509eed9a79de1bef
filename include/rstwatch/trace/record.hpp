// The bodies of the six tcp/sock tracepoints rstwatch reads, as zero-copy records, in every
// format kernels from 4.19 to 6.18 print.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include <rstwatch/address.hpp>
#include <rstwatch/detail/scan.hpp>
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

namespace detail {
// The six names differ in length (9, 14, 16, 17, 18, 19): the length picks the one candidate.
struct event_length_table {
  std::uint8_t kind[32] = {};  // 0 (other): no name of that length
  bool distinct = true;
};
constexpr event_length_table make_event_length_table() noexcept {
  event_length_table t;
  for (std::size_t k = 1; k < std::size(event_kind_names); ++k) {
    const std::size_t n = event_kind_names[k].size();
    if (n >= 32 || t.kind[n] != 0) t.distinct = false;
    else t.kind[n] = static_cast<std::uint8_t>(k);
  }
  return t;
}
inline constexpr event_length_table event_lengths = make_event_length_table();
static_assert(event_lengths.distinct, "event_kind_of() needs names of distinct lengths under 32");
}  // namespace detail

constexpr event_kind event_kind_of(std::string_view name) noexcept {
  // One table load and one compare per line: a loop over the names mispredicted on mixed input.
  if (name.size() >= 32) return event_kind::other;
  const std::uint8_t k = detail::event_lengths.kind[name.size()];
  return k != 0 && rstwatch::detail::trace_scan::same_text(event_kind_names[k], name)
             ? static_cast<event_kind>(k)
             : event_kind::other;
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

namespace detail {
// A hash of the length, the 6th and the last byte: distinct for the 14 names (checked below),
// so one table load picks the only name a text can be.
constexpr std::size_t state_slot(std::string_view name) noexcept {
  return (name.size() * 7 + static_cast<unsigned char>(name.back()) +
          static_cast<unsigned char>(name[5]) * 4u) & 31u;
}
struct state_slots {
  std::uint8_t state[32] = {};
  bool distinct = true;
  constexpr state_slots() {
    for (auto& s : state) s = 0xff;
    for (std::size_t k = 0; k < std::size(tcp_state_names); ++k) {
      auto& s = state[state_slot(tcp_state_names[k])];
      distinct = distinct && s == 0xff;
      s = static_cast<std::uint8_t>(k);
    }
  }
};
inline constexpr state_slots state_table{};
static_assert(state_table.distinct, "state_slot() must tell the TCP state names apart");
}  // namespace detail

constexpr std::optional<tcp_state> tcp_state_of(std::string_view name) noexcept {
  // Two states per inet_sock_set_state line: a table load and one compare each.
  if (name.size() < 7) return std::nullopt;
  const std::uint8_t k = detail::state_table.state[detail::state_slot(name)];
  if (k == 0xff || !rstwatch::detail::trace_scan::same_text(tcp_state_names[k], name))
    return std::nullopt;
  return static_cast<tcp_state>(k);
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

  // Every member equal, views pointing at the same bytes (the fast and general body parsers
  // are checked with it).
  friend bool operator==(const record& a, const record& b) noexcept {
    auto same = line_prefix::same_view;
    return a.prefix == b.prefix && a.kind == b.kind && a.fields == b.fields &&
           a.family == b.family && a.sport == b.sport && a.dport == b.dport &&
           a.saddr == b.saddr && a.daddr == b.daddr && same(a.saddr_text, b.saddr_text) &&
           same(a.daddr_text, b.daddr_text) && a.saddr_v6 == b.saddr_v6 &&
           a.daddr_v6 == b.daddr_v6 && a.src == b.src && a.dest == b.dest &&
           a.state == b.state && a.oldstate == b.oldstate && a.newstate == b.newstate &&
           same(a.reason, b.reason) && same(a.protocol, b.protocol) &&
           a.sock_cookie == b.sock_cookie && same(a.skbaddr, b.skbaddr) &&
           same(a.skaddr, b.skaddr) && a.err == b.err && a.mark == b.mark &&
           a.data_len == b.data_len && a.snd_nxt == b.snd_nxt && a.snd_una == b.snd_una &&
           a.snd_cwnd == b.snd_cwnd && a.ssthresh == b.ssthresh && a.snd_wnd == b.snd_wnd &&
           a.srtt == b.srtt && a.rcv_wnd == b.rcv_wnd && a.unknown_count == b.unknown_count;
  }
  friend bool operator!=(const record& a, const record& b) noexcept { return !(a == b); }

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

// Every member of `r` but the prefix back to its default: every default is all zero bytes, so
// the body is cleared as one block of 16-byte stores. Member by member it took ~45 stores of
// mixed widths per line (the 17-byte addresses leave no member aligned); a memset() of this
// size is `rep stos` under g++'s generic tuning, tens of cycles to start (clang turns the
// stores back into a memset() call, which glibc does with wide stores).
// tests/trace.cpp checks that a reused record ends up as a fresh one.
inline void reset_body(record& r) noexcept {
  static_assert(std::is_standard_layout_v<record> && std::is_trivially_copyable_v<record>,
                "reset_body() clears the record's bytes");
  constexpr std::size_t begin = offsetof(record, kind), size = sizeof(record) - begin;
  rstwatch::detail::scan::zero_bytes<size>(reinterpret_cast<unsigned char*>(&r) + begin);
}

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
inline bool is_mapped_text(std::string_view v6, std::string_view v4) noexcept {
  return !v4.empty() && v6.size() == v4.size() + 7 && equal_literal(v6.data(), "::ffff:") &&
         short_equal(v6.data() + 7, v4.data(), v4.size());
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

namespace detail {

// The layouts kernels print, taken first. Each event's TP_printk prints its keys in a fixed
// order (include/trace/events/tcp.h, sock.h), and every layout from 4.19 to 6.18 is a
// subsequence of one order:
//   skbaddr skaddr family protocol sport dport saddr daddr saddrv6 daddrv6 src dest
//   mark data_len snd_nxt snd_una snd_cwnd ssthresh snd_wnd srtt rcv_wnd
//   state oldstate newstate reason err sock_cookie skbaddr skaddr
// (tcp_send_reset 6.10+ opens with skbaddr= skaddr=, tcp_probe ends with them). Here each key of
// that order costs one literal compare (overlapping 4/8-byte loads) instead of a key scan and a
// dispatch, and each value is converted in the pass that finds its end. It takes a value only
// when the general loop would store exactly the same and stops before the first token it does
// not take (another order, a repeated key, a value it leaves to store()); parse_body's loop goes
// on from there with the same record, so the general code alone decides errors and unknown keys.
// tests/trace.cpp and fuzz/trace.cpp check that both give the same record on every captured
// line, its prefixes and one-byte variants.
// Terminated: the body is the rest of a line in a padded buffer (classify_next() in
// trace/reset.hpp) whose end is not known yet: a '\n' ends it, and reads need no bounds test
// (64 readable bytes follow that '\n'). Every value ends at ' ' or '\n' there, as it ends at ' '
// or the view's end otherwise.
template <bool Terminated = false>
class body_fast_path {
 public:
  body_fast_path(std::string_view body, record& r) noexcept
      : d_(body.data()), n_(body.size()), r_(r) {}

  // Position in the body of the first token not taken. Past a taken token, further spaces are
  // skipped as the general loop skips them; before any, a leading space is its to refuse.
  [[gnu::flatten]] std::size_t run() noexcept {
    take();
    while (pos_ != 0 && (Terminated || pos_ < n_) && d_[pos_] == ' ') ++pos_;
    return pos_;
  }

 private:
  void take() noexcept {
    std::size_t i = 0;
    if (view(i, "skbaddr=", r_.skbaddr, field::skbaddr, pointer_width)) pos_ = i;
    if (view(i, "skaddr=", r_.skaddr, field::skaddr, pointer_width)) pos_ = i;
    if (lit(i, "family=AF_INET")) {
      if (take_end(i)) {
        r_.family = ip_family::v4;
      } else if (room(i, 1) && d_[i] == '6' && (++i, take_end(i))) {
        r_.family = ip_family::v6;
      } else {
        return;
      }
      set(field::family);
      pos_ = i;
    }
    if (view(i, "protocol=", r_.protocol, field::protocol, "IPPROTO_TCP")) pos_ = i;
    if (lit(i, "sport=")) {
      if (!decimal(i, r_.sport, 65535)) return;
      set(field::sport);
      pos_ = i;
    }
    if (lit(i, "dport=")) {
      if (!decimal(i, r_.dport, 65535)) return;
      set(field::dport);
      pos_ = i;
    }
    if (lit(i, "saddr=")) {
      if (!v4_address(i, r_.saddr, r_.saddr_text)) return;
      set(field::saddr);
      pos_ = i;
    }
    if (lit(i, "daddr=")) {
      if (!v4_address(i, r_.daddr, r_.daddr_text)) return;
      set(field::daddr);
      pos_ = i;
    }
    if (lit(i, "saddrv6=")) {
      if (!v6_address(i, r_.saddr_v6, r_.saddr, r_.saddr_text)) return;
      set(field::saddr_v6);
      pos_ = i;
    }
    if (lit(i, "daddrv6=")) {
      if (!v6_address(i, r_.daddr_v6, r_.daddr, r_.daddr_text)) return;
      set(field::daddr_v6);
      pos_ = i;
    }
    if (lit(i, "src=")) {
      if (!sockaddr(i, r_.src)) return;
      set(field::src);
      pos_ = i;
    }
    if (lit(i, "dest=")) {
      if (!sockaddr(i, r_.dest)) return;
      set(field::dest);
      pos_ = i;
    }
    if (lit(i, "mark=")) {
      if (!hex(i, r_.mark, 0xffffffffu)) return;
      set(field::probe);
      pos_ = i;
      if (!probe(i, "data_len=", r_.data_len, false) || !probe(i, "snd_nxt=", r_.snd_nxt, true) ||
          !probe(i, "snd_una=", r_.snd_una, true) || !probe(i, "snd_cwnd=", r_.snd_cwnd, false) ||
          !probe(i, "ssthresh=", r_.ssthresh, false) || !probe(i, "snd_wnd=", r_.snd_wnd, false) ||
          !probe(i, "srtt=", r_.srtt, false) || !probe(i, "rcv_wnd=", r_.rcv_wnd, false))
        return;
    }
    if (lit(i, "state=")) {
      if (!state(i, r_.state)) return;
      set(field::state);
      pos_ = i;
    }
    if (lit(i, "oldstate=")) {
      if (!state(i, r_.oldstate)) return;
      set(field::oldstate);
      pos_ = i;
    }
    if (lit(i, "newstate=")) {
      if (!state(i, r_.newstate)) return;
      set(field::newstate);
      pos_ = i;
    }
    if (view(i, "reason=", r_.reason, field::reason)) pos_ = i;
    if (lit(i, "err=")) {
      const std::size_t end = value_end(i);
      if (!to_int32(std::string_view(d_ + i, end - i), r_.err)) return;
      i = end;
      if (!take_end(i)) return;
      set(field::err);
      pos_ = i;
    }
    if (lit(i, "sock_cookie=")) {
      if (!hex(i, r_.sock_cookie, ~std::uint64_t{0})) return;
      set(field::sock_cookie);
      pos_ = i;
    }
    if (view(i, "skbaddr=", r_.skbaddr, field::skbaddr, pointer_width)) pos_ = i;
    if (view(i, "skaddr=", r_.skaddr, field::skaddr, pointer_width)) pos_ = i;
  }

  void set(field f) noexcept { r_.fields |= static_cast<std::uint32_t>(f); }

  // At least k bytes from i on (always, when Terminated: the padding holds them).
  [[gnu::always_inline]] bool room(std::size_t i, std::size_t k) const noexcept {
    return Terminated || n_ - i >= k;
  }
  // Whether i is the body's end.
  [[gnu::always_inline]] bool at_end(std::size_t i) const noexcept {
    if constexpr (Terminated)
      return d_[i] == '\n';
    else
      return i == n_;
  }
  // The end of the value starting at i: its first ' ', or the body's end.
  [[gnu::always_inline]] std::size_t value_end(std::size_t i) const noexcept {
    if constexpr (Terminated)
      return rstwatch::detail::scan::find_space_or_newline(d_, i);
    else
      return find_space(d_, i, n_);
  }
  // Past a value that ends at `end`: past its space, or at the body's end.
  [[gnu::always_inline]] std::size_t after(std::size_t end) const noexcept {
    return __builtin_expect(at_end(end), 0) ? end : end + 1;
  }

  // Each step below works on a local position: it takes a whole token (and the single space
  // after it) and advances, or returns false; run() commits to pos_ only after whole tokens.
  // The steps are always_inline: g++'s `flatten` on run() inlines the whole call tree, but
  // clang 14's inlines only run()'s own calls, and left every step a call (148 against 96
  // ns/line with them inlined, bench/ab/trace_ab.sh built with clang++-14; g++ unchanged).
  template <std::size_t N>
  [[gnu::always_inline]] bool lit(std::size_t& i, const char (&l)[N]) const noexcept {
    constexpr std::size_t size = N - 1;
    if (!room(i, size) || !rstwatch::detail::scan::equal_literal(d_ + i, l)) return false;
    i += size;
    return true;
  }
  // The end of a value: the end of the body, or one space that the next key follows.
  [[gnu::always_inline]] bool take_end(std::size_t& i) const noexcept {
    if constexpr (Terminated) {  // a space first: most values have one after them
      if (__builtin_expect(d_[i] == ' ', 1)) {
        ++i;
        return true;
      }
      return d_[i] == '\n';
    }
    if (at_end(i)) return true;
    if (d_[i] != ' ') return false;
    ++i;
    return true;
  }
  // The value d_[k, end) as `out`, and i past it: the end of every view() below.
  [[gnu::always_inline]] bool taken_view(std::size_t& i, std::size_t k, std::size_t end,
                                         std::string_view& out, field f) noexcept {
    out = std::string_view(d_ + k, end - k);
    set(f);
    i = after(end);
    return true;
  }
  template <std::size_t N>
  [[gnu::always_inline]] bool view(std::size_t& i, const char (&key)[N], std::string_view& out,
                                   field f) noexcept {
    std::size_t k = i;
    if (!lit(k, key)) return false;
    return taken_view(i, k, value_end(k), out, f);
  }
  // The same for a value that is nearly always `usual` (protocol=IPPROTO_TCP): a test of that
  // text and the space after it, and the end is a constant behind a predicted branch instead
  // of the result of a search (see context_fast() in trace/prefix.hpp).
  template <std::size_t N, std::size_t M>
  [[gnu::always_inline]] bool view(std::size_t& i, const char (&key)[N], std::string_view& out,
                                   field f, const char (&usual)[M]) noexcept {
    constexpr std::size_t length = M - 1;
    std::size_t k = i;
    if (!lit(k, key)) return false;
    const std::size_t end =
        __builtin_expect(room(k, length + 1) &&
                             rstwatch::detail::scan::equal_literal(d_ + k, usual) &&
                             d_[k + length] == ' ',
                         1)
            ? k + length
            : value_end(k);
    return taken_view(i, k, end, out, f);
  }
  // The same for a value nearly always `width` (under 32) bytes long (hashed pointers: %p
  // prints 16 hex digits on 64-bit kernels), tested by one search of its first 32 bytes for
  // the first ' ' or '\n'; the end is then a constant, as above.
  static constexpr std::size_t pointer_width = 16;
  template <std::size_t N>
  [[gnu::always_inline]] bool view(std::size_t& i, const char (&key)[N], std::string_view& out,
                                   field f, std::size_t width) noexcept {
    std::size_t k = i;
    if (!lit(k, key)) return false;
    const std::size_t end =
        __builtin_expect(room(k, 32) &&
                             rstwatch::detail::scan::first_or_newline_at(d_ + k, ' ', width) &&
                             (Terminated || d_[k + width] == ' '),  // else a '\n' is no end
                         1)
            ? k + width
            : value_end(k);
    return taken_view(i, k, end, out, f);
  }
  // to_unsigned()'s set: 1 to 19 digits, at most `max`.
  template <class Int>
  [[gnu::always_inline]] bool decimal(std::size_t& i, Int& out, std::uint64_t max) const noexcept {
    std::size_t k = i;
    std::uint64_t v = 0;
    if (room(i, 8)) {
      // Up to seven digits (ports, most counters) from one load.
      const std::uint64_t t = digits_of(load_le64(d_ + i));
      const unsigned count = leading_digits(t);
      if (count == 0) return false;
      if (count < 8) {
        const std::uint64_t x = digits_value(t, count);
        k = i + count;
        if (x > max || !take_end(k)) return false;
        out = static_cast<Int>(x);
        i = k;
        return true;
      }
    }
    const std::size_t limit = !room(i, 20) ? n_ : i + 20;
    for (unsigned digit; k < limit && (digit = static_cast<unsigned char>(d_[k] - '0')) < 10; ++k)
      v = v * 10 + digit;
    if (k == i || k - i > 19 || v > max || !take_end(k)) return false;
    out = static_cast<Int>(v);
    i = k;
    return true;
  }
  // to_hex()'s set: "0x" dropped when more follows, then 1 to 16 hex digits, at most `max`.
  template <class Int>
  [[gnu::always_inline]] bool hex(std::size_t& i, Int& out, std::uint64_t max) const noexcept {
    std::size_t k = i;
    if (room(k, 3) && d_[k] == '0' && (d_[k + 1] == 'x' || d_[k + 1] == 'X') && d_[k + 2] != ' ' &&
        !at_end(k + 2))
      k += 2;
    const std::size_t start = k;
    std::uint64_t v = 0;
    // One table load per digit: a branch on digit or letter mispredicted on hashed values.
    for (unsigned h; (Terminated || k < n_) && k - start < 17 &&
                     (h = hex_digits.value[static_cast<unsigned char>(d_[k])]) < 16;
         ++k)
      v = (v << 4) | h;
    if (k == start || k - start > 16 || v > max || !take_end(k)) return false;
    out = static_cast<Int>(v);
    i = k;
    return true;
  }
  template <std::size_t N>
  [[gnu::always_inline]] bool probe(std::size_t& i, const char (&key)[N], std::uint32_t& out,
                                    bool is_hex) noexcept {
    std::size_t k = i;
    if (!lit(k, key)) return true;  // not this key: the next step may take it
    if (!(is_hex ? hex(k, out, 0xffffffffu) : decimal(k, out, 0xffffffffu))) return false;
    i = pos_ = k;
    return true;
  }
  // dotted_quad()'s set (1-3 digits per part, each <= 255) at d_[k], converted in place into
  // one word, the first part in its lowest 8 bits (ip_address::assign_v4(word)). An
  // address is at most 15 bytes and the loop reads at most one byte past its last digit: with
  // 16 bytes left (nearly always: more keys follow) no read needs a bounds test.
  [[gnu::always_inline]] bool quad(std::size_t& k, std::uint32_t& word) const noexcept {
    return room(k, 16) ? quad_in<false>(k, word) : quad_in<true>(k, word);
  }
  template <bool Bounded>
  [[gnu::always_inline]] bool quad_in(std::size_t& k, std::uint32_t& word) const noexcept {
    std::size_t j = k;
    std::uint32_t w = 0;
    auto digit_at = [this](std::size_t at, unsigned& digit) {
      return (!Bounded || at < n_) && (digit = static_cast<unsigned char>(d_[at] - '0')) < 10;
    };
    for (int part = 0; part < 4; ++part) {
      if (part != 0) {
        if ((Bounded && j >= n_) || d_[j] != '.') return false;
        ++j;
      }
      // One to three digits, unrolled.
      unsigned v = 0, digit = 0;
      if (!digit_at(j, v)) return false;
      ++j;
      if (digit_at(j, digit)) {
        v = v * 10 + digit;
        ++j;
        if (digit_at(j, digit)) {
          v = v * 10 + digit;
          ++j;
          if (v > 255) return false;
        }
      }
      w |= v << (8 * part);
    }
    k = j;
    word = w;
    return true;
  }
  // An IPv4 field; the text is kept as store() keeps it.
  [[gnu::always_inline]] bool v4_address(std::size_t& i, ip_address& out,
                                         std::string_view& text) const noexcept {
    std::size_t k = i;
    std::uint32_t word = 0;
    if (!quad(k, word)) return false;
    const std::size_t end = k;
    if (!take_end(k)) return false;
    out.assign_v4(word);
    text = std::string_view(d_ + i, end - i);
    i = k;
    return true;
  }
  // store()'s IPv6 field: the v4-mapped copy of the IPv4 field by text (is_mapped_text() on
  // the token, compared in place: the IPv4 text holds no space, so a space or the end right
  // after it ends the token), else %pI6c; neither searches the token's end first.
  [[gnu::always_inline]] bool v6_address(std::size_t& i, ip_address& out, const ip_address& v4,
                                         std::string_view v4_text) const noexcept {
    const std::size_t m = v4_text.size();
    std::size_t end = i + 7 + m;
    if (m != 0 && room(i, 7 + m) && rstwatch::detail::scan::equal_literal(d_ + i, "::ffff:") &&
        short_equal(d_ + i + 7, v4_text.data(), m) && (at_end(end) || d_[end] == ' ')) {
      out.assign_v4_mapped(v4);
    } else {
      std::array<std::uint8_t, 16> b{};
      const std::size_t length = Terminated
                                     ? ipv6_token_in<token_reads::terminated>(d_ + i, 0, b.data())
                                     : ipv6_token(d_ + i, n_ - i, b.data());
      if (length == 0) return false;
      end = i + length;
      out = ip_address::v6(b);
    }
    i = after(end);
    return true;
  }
  // parse_sockaddr()'s "ADDRESS:PORT" for IPv4 in one pass (the token then holds a single ':',
  // the one rfind() would find); "[IPv6]:PORT" through parse_sockaddr().
  [[gnu::always_inline]] bool sockaddr(std::size_t& i, endpoint& out) const noexcept {
    if ((Terminated || i < n_) && d_[i] != '[') {
      std::size_t k = i;
      std::uint32_t word = 0;
      if (!quad(k, word) || (!Terminated && k >= n_) || d_[k] != ':') return false;
      ++k;
      std::uint16_t port = 0;
      if (!decimal(k, port, 65535)) return false;
      out.address.assign_v4(word);
      out.port = port;
      i = k;
      return true;
    }
    const std::size_t end = value_end(i);
    auto e = parse_sockaddr(std::string_view(d_ + i, end - i));
    if (!e) return false;
    out = *e;
    i = after(end);
    return true;
  }
  [[gnu::always_inline]] bool state(std::size_t& i, tcp_state& out) const noexcept {
    const std::size_t end = value_end(i);
    auto s = tcp_state_of(std::string_view(d_ + i, end - i));
    if (!s) return false;  // a number ("0x d"): store() reads those
    out = *s;
    i = after(end);
    return true;
  }

  const char* d_;
  std::size_t n_;
  record& r_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// Parses the body of one of the six events into `r` (kind and prefix already set), walking
// "key=value" pairs separated by single spaces. Keys are matched by name, not position, so the
// same code reads every kernel's layout; unknown keys are counted and skipped. On failure returns
// the error (offset relative to the line: prefix.body_offset is added). `common_shape` false
// skips the fast path for the kernels' own layouts (tests and fuzzing compare the two).
[[gnu::flatten]] inline std::optional<parse_error> parse_body(record& r,
                                                               bool common_shape = true) noexcept {
  std::string_view body = r.prefix.body;
  std::size_t base = r.prefix.body_offset;
  std::size_t i = common_shape ? detail::body_fast_path<>(body, r).run() : 0;
  // Keys and values are scanned eight bytes at a time. The fast path has nearly always taken
  // the whole body: the loop is marked unlikely, as the prefix's general readings are.
  const char* text = body.data();
  const std::size_t size = body.size();
  while (__builtin_expect(i < size, 0)) {
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
