// The kernel's LOG record ("PREFIX IN=eth0 OUT= ... PROTO=TCP SPT=.. DPT=.. RST URGP=0") as a
// zero-copy typed view, and its parser: every token nf_log prints, unknown future tokens kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <tuple>

#include <rstwatch/address.hpp>
#include <rstwatch/event.hpp>
#include <rstwatch/log/detail/scan.hpp>

namespace rstwatch::log {

// The transport header nf_log described after "PROTO=".
enum class transport : std::uint8_t { none, tcp, udp, udplite, icmp, icmpv6, ah, esp, other };

inline constexpr std::string_view transport_names[] = {"none", "TCP",    "UDP", "UDPLITE", "ICMP",
                                                       "ICMPv6", "AH", "ESP", "other"};

constexpr std::string_view to_string(transport t) noexcept {
  return transport_names[static_cast<std::size_t>(t)];
}

// Where parsing stopped and what it wanted there; `offset` counts bytes from the start of the
// text handed to the parser. Held by value on the hot path (no allocation); classify turns it
// into a rstwatch::diagnostic with line and column only when a caller asks.
struct parse_error {
  std::size_t offset = 0;
  std::string_view expected;  // a static phrase: "an IPv4 or IPv6 address after SRC="
};

// One IP packet as nf_log printed it: the outer packet of a record, or the packet an ICMP error
// quotes ("[SRC=... ]"). Every std::string_view points into the parsed text.
struct packet_view {
  ip_address source;  // SRC=
  ip_address destination;  // DST=
  std::uint32_t length = 0;  // LEN= of the IP packet (IPv6: payload + 40)

  // IPv4 header (nf_log_syslog.c dump_ipv4_packet).
  std::uint8_t tos = 0;         // TOS=0x.. (TOS bits only)
  std::uint8_t precedence = 0;  // PREC=0x..
  std::uint8_t ttl = 0;         // TTL=
  std::uint16_t id = 0;         // ID=
  bool ce = false, df = false, mf = false;
  std::uint16_t fragment_offset = 0;  // FRAG:n (IPv4), FRAG:n inside IPv6 OPT ( )
  std::string_view ip_options;        // hex inside "OPT (...)" before PROTO= (--log-ip-options)

  // IPv6 header (dump_ipv6_packet).
  std::uint8_t traffic_class = 0;  // TC=
  std::uint8_t hop_limit = 0;      // HOPLIMIT=
  std::uint32_t flow_label = 0;    // FLOWLBL=
  // The extension-header text between FLOWLBL= and PROTO= ("OPT ( FRAG:0 ID:0000abcd ) ",
  // "Unknown Ext Hdr 60"), empty when there is none.
  std::string_view extension_headers;

  transport protocol = transport::none;
  std::uint8_t protocol_number = 0;  // for transport::other: PROTO=<number>
  bool truncated = false;            // "TRUNCATED": the kernel could not read a header
  bool incomplete = false;           // "INCOMPLETE [N bytes]"
  std::uint32_t incomplete_bytes = 0;

  // TCP and UDP (nf_log_dump_tcp_header, nf_log_dump_udp_header).
  bool has_ports = false;
  std::uint16_t source_port = 0;       // SPT=
  std::uint16_t destination_port = 0;  // DPT=
  bool has_sequence = false;           // SEQ= ACK= appear with --log-tcp-sequence only
  std::uint32_t sequence = 0;
  std::uint32_t acknowledgment = 0;
  std::uint16_t window = 0;     // WINDOW=
  std::uint8_t reserved = 0;    // RES=0x..
  tcp_flags flags;              // CWR ECE URG ACK PSH RST SYN FIN (and AE)
  bool has_urgent_pointer = false;  // URGP= closes the flag words: only then are they complete
  std::uint16_t urgent_pointer = 0;
  std::string_view tcp_options;  // hex inside "OPT (...)" after URGP= (--log-tcp-options)
  std::uint16_t udp_length = 0;  // LEN= after SPT= DPT= of UDP

  // ICMP and ICMPv6.
  bool has_icmp = false;
  std::uint8_t icmp_type = 0;  // TYPE=
  std::uint8_t icmp_code = 0;  // CODE=
  std::uint16_t echo_id = 0;   // ID= after TYPE= (echo request/reply)
  std::uint16_t echo_sequence = 0;  // SEQ= after TYPE=
  std::uint8_t parameter = 0;       // PARAMETER= (ICMP parameter problem)
  std::uint32_t pointer = 0;        // POINTER= (ICMPv6 parameter problem, hex)
  ip_address gateway;               // GATEWAY= (ICMP redirect)
  std::uint32_t mtu = 0;            // MTU=
  // The quoted packet of an ICMP error, inside "[" "]": parse it with parse_packet.
  std::string_view quoted_packet;

  std::uint32_t spi = 0;  // SPI=0x.. (AH, ESP)

  ip_family family() const noexcept { return source.family(); }
  bool is_tcp_reset() const noexcept {
    return protocol == transport::tcp && has_ports && flags.has(tcp_flags::rst);
  }

  // Field by field (views by content).
  friend bool operator==(const packet_view& a, const packet_view& b) noexcept {
    auto fields = [](const packet_view& p) {
      return std::tie(p.source, p.destination, p.length, p.tos, p.precedence, p.ttl, p.id, p.ce,
                      p.df, p.mf, p.fragment_offset, p.ip_options, p.traffic_class, p.hop_limit,
                      p.flow_label, p.extension_headers, p.protocol, p.protocol_number,
                      p.truncated, p.incomplete, p.incomplete_bytes, p.has_ports, p.source_port,
                      p.destination_port, p.has_sequence, p.sequence, p.acknowledgment, p.window,
                      p.reserved, p.flags, p.has_urgent_pointer, p.urgent_pointer, p.tcp_options,
                      p.udp_length, p.has_icmp, p.icmp_type, p.icmp_code, p.echo_id,
                      p.echo_sequence, p.parameter, p.pointer, p.gateway, p.mtu, p.quoted_packet,
                      p.spi);
    };
    return fields(a) == fields(b);
  }
  friend bool operator!=(const packet_view& a, const packet_view& b) noexcept { return !(a == b); }
};

// A whole LOG record. Every std::string_view points into the text handed to parse_record: valid
// while that text is (a line source reuses its buffer for the next line).
struct record_view {
  std::string_view text;    // from the prefix to the end (trailing space kept)
  std::string_view prefix;  // --log-prefix as printed: any bytes, may be empty, no separator added
  std::string_view in;      // IN= (empty: the packet was not received: OUTPUT, POSTROUTING)
  std::string_view out;     // OUT= (empty: not routed out: INPUT, PREROUTING)
  std::string_view physical_in;   // PHYSIN= (bridge netfilter)
  std::string_view physical_out;  // PHYSOUT=
  bool has_mac = false;
  std::string_view mac;  // MAC=dst:src:type bytes as printed, may be empty
  std::string_view tunnel;  // TUNNEL=a->b (sit devices)
  std::string_view mac_source, mac_destination, mac_protocol;  // --log-macdecode
  std::string_view vlan_protocol;  // VPROTO=
  std::uint16_t vlan_id = 0;       // VID=
  bool is_arp = false;             // "ARP HTYPE=..." (arptables / nft arp family): no IP packet
  packet_view packet;              // valid when packet.family() != none

  bool has_uid = false;  // UID= GID= (--log-uid, only when the packet has a local socket)
  std::uint32_t uid = 0, gid = 0;
  bool has_mark = false;
  std::uint32_t mark = 0;  // MARK=0x..

  // Tokens this parser does not know (a newer kernel's): kept, never a failure. The first
  // max_unknown are listed; unknown_count counts them all.
  static constexpr std::size_t max_unknown = 4;
  std::string_view unknown[max_unknown];
  std::uint32_t unknown_count = 0;

  bool is_tcp_reset() const noexcept { return packet.is_tcp_reset(); }

  // Field by field (views by content; the unknown tokens beyond max_unknown by count only).
  friend bool operator==(const record_view& a, const record_view& b) noexcept {
    auto fields = [](const record_view& r) {
      return std::tie(r.text, r.prefix, r.in, r.out, r.physical_in, r.physical_out, r.has_mac,
                      r.mac, r.tunnel, r.mac_source, r.mac_destination, r.mac_protocol,
                      r.vlan_protocol, r.vlan_id, r.is_arp, r.packet, r.has_uid, r.uid, r.gid,
                      r.has_mark, r.mark, r.unknown_count);
    };
    if (fields(a) != fields(b)) return false;
    for (std::size_t k = 0; k < max_unknown && k < a.unknown_count; ++k)
      if (a.unknown[k] != b.unknown[k]) return false;
    return true;
  }
  friend bool operator!=(const record_view& a, const record_view& b) noexcept { return !(a == b); }
};

// What the record parser made of a message.
struct record_result {
  enum class status : std::uint8_t {
    not_a_record,  // no "IN=" followed later by " OUT=": not a LOG line at all
    record,        // a well-formed LOG record
    malformed,     // a LOG candidate the grammar refuses: see error
  };
  status state = status::not_a_record;
  record_view record;
  parse_error error;
};

namespace detail {

using namespace rstwatch::detail::scan;

// `p = packet_view{}` and `r = record_view{}`, member by member. g++ compiles the whole-object
// assignment of these 500 bytes as `rep stosq`, whose start-up cost every line paid; with this
// and reset(envelope&), classify() is 5 % faster with g++ and with clang (interleaved A/B in one
// process, both orders). tests/log.cpp checks that a reset record equals a fresh one.
inline void reset(packet_view& p) noexcept {
  p.source = ip_address{};
  p.destination = ip_address{};
  p.length = 0;
  p.tos = 0;
  p.precedence = 0;
  p.ttl = 0;
  p.id = 0;
  p.ce = false;
  p.df = false;
  p.mf = false;
  p.fragment_offset = 0;
  p.ip_options = {};
  p.traffic_class = 0;
  p.hop_limit = 0;
  p.flow_label = 0;
  p.extension_headers = {};
  p.protocol = transport::none;
  p.protocol_number = 0;
  p.truncated = false;
  p.incomplete = false;
  p.incomplete_bytes = 0;
  p.has_ports = false;
  p.source_port = 0;
  p.destination_port = 0;
  p.has_sequence = false;
  p.sequence = 0;
  p.acknowledgment = 0;
  p.window = 0;
  p.reserved = 0;
  p.flags = tcp_flags{};
  p.has_urgent_pointer = false;
  p.urgent_pointer = 0;
  p.tcp_options = {};
  p.udp_length = 0;
  p.has_icmp = false;
  p.icmp_type = 0;
  p.icmp_code = 0;
  p.echo_id = 0;
  p.echo_sequence = 0;
  p.parameter = 0;
  p.pointer = 0;
  p.gateway = ip_address{};
  p.mtu = 0;
  p.quoted_packet = {};
  p.spi = 0;
}

inline void reset(record_view& r) noexcept {
  r.text = {};
  r.prefix = {};
  r.in = {};
  r.out = {};
  r.physical_in = {};
  r.physical_out = {};
  r.has_mac = false;
  r.mac = {};
  r.tunnel = {};
  r.mac_source = {};
  r.mac_destination = {};
  r.mac_protocol = {};
  r.vlan_protocol = {};
  r.vlan_id = 0;
  r.is_arp = false;
  reset(r.packet);
  r.has_uid = false;
  r.uid = 0;
  r.gid = 0;
  r.has_mark = false;
  r.mark = 0;
  for (std::string_view& u : r.unknown) u = {};
  r.unknown_count = 0;
}

// Why this grammar is hand-written and not Spirit X3 (bench/log_bench.cpp, 1,000,000 mixed
// lines, g++-12 -O3, this VM, CPU time): an X3 grammar that does nothing but split each line
// into raw[] tokens takes 201 ns/line, 80% of what this complete scan takes (251 ns/line:
// envelope, every token, addresses, event; 2,300 instructions/line under callgrind) and 80% of
// `grep -c ' RST '` (254 ns/line), before a single field is dispatched or converted; X3 has no
// string_view attribute, so every field would need an action on top. With X3 the goal (<= grep,
// >= 4 M lines/s) is out of reach; this scan meets it (0.92-0.99x grep's time).

// Tokens of the packet part, in the order nf_log_syslog.c prints them; parse_packet walks them
// once, dispatching on the key. Kernel order is not required: order only disambiguates keys
// that appear twice (LEN=, ID=, SEQ=, ACK=, OPT).
class packet_scanner {
 public:
  // `common_shape` false skips the fast path (tests and fuzzing compare the two).
  packet_scanner(std::string_view text, std::size_t base, bool common_shape = true) noexcept
      : s_(text), base_(base), fast_(common_shape) {}

  // Parses from the current position up to the end or a closing ']' of a quoted packet;
  // `record` receives the record-level tokens (MAC, UID, MARK, unknown) when not null.
  bool run(packet_view& p, record_view* record, parse_error& err) noexcept {
    bool seen_src = false, seen_dst = false;
    const char* const d = s_.data();
    const std::size_t n = s_.size();
    if (record && fast_) common_shape(p, *record, seen_src, seen_dst);
    while (true) {
      std::size_t i = i_;
      while (i < n && d[i] == ' ') ++i;
      if (i >= n) {
        i_ = i;
        break;
      }
      tok_ = i;
      if (d[i] == '[') {
        i_ = i;
        if (!quoted(p, err)) return false;
        continue;
      }
      // The key ("SRC" of "SRC=...", or a whole word such as "RST") and what ends it. The
      // fast path finds both in one eight-byte load; keys of 8+ bytes, a ':' in the first
      // eight, or the last bytes of the line take the byte loop.
      std::uint64_t code;
      std::string_view key;
      bool has_value;
      unsigned k = 8;
      std::uint64_t w = 0;
      if (n - i >= 8) {
        w = load_le64(d + i);
        const unsigned eq = first_byte_equal(w, '='), sp = first_byte_equal(w, ' ');
        k = eq < sp ? eq : sp;
        if (first_byte_equal(w, ':') < k) k = 8;
      }
      if (k < 8) {
        code = key_code(w, k);
        key = s_.substr(i, k);
        has_value = d[i + k] == '=';
        i_ = i + k + (has_value ? 1 : 0);
      } else {
        i_ = i;
        key = read_key();
        code = key_code(key);
        has_value = i_ < n && (d[i_] == '=' || (d[i_] == ':' && code == key_code("FRAG")));
        if (has_value) ++i_;
      }
      if (has_value) {
        const std::size_t vpos = i_;
        const std::size_t end = find_space(d, vpos, n);
        i_ = end;
        if (!value(code, key, s_.substr(vpos, end - vpos), vpos, p, record, err, seen_src,
                   seen_dst))
          return false;
        continue;
      }
      if (!word(code, key, p, record, err)) return false;
    }
    if (!seen_src && !seen_dst && p.protocol == transport::none)
      return true;  // no IP packet: ARP, another layer 3 protocol, or TRUNCATED
    if (!seen_src || !seen_dst) {
      err = {base_ + i_, seen_src ? "DST= after SRC=" : "SRC= with the packet's source"};
      return false;
    }
    if (p.protocol == transport::tcp && !p.incomplete && p.fragment_offset == 0 &&
        !p.truncated) {
      if (!p.has_ports) {
        err = {base_ + i_, "SPT= and DPT= in a TCP packet"};
        return false;
      }
      if (record && !p.has_urgent_pointer) {
        // URGP= follows the flag words: without it the line was cut and the flags may be too.
        err = {base_ + i_, "URGP= after the TCP flags (the line is cut)"};
        return false;
      }
    }
    return true;
  }

  // The common shape, taken first. nf_log prints its fields in a fixed order
  // (net/netfilter/nf_log_syslog.c: dump_ipv4_packet, dump_ipv6_packet,
  // nf_log_dump_tcp_header), so nearly every record of a TCP packet reads
  //   [MAC=... ]SRC= DST= LEN= TOS=0x PREC=0x TTL= ID= [CE ][DF ][MF ]PROTO=TCP SPT= DPT=
  //   [SEQ= ACK= ]WINDOW= RES=0x FLAGS... URGP=
  // (IPv6: TC= HOPLIMIT= FLOWLBL= in place of TOS..ID). Here each expected key costs one
  // comparison instead of being searched for and dispatched, and each value is converted in
  // the pass that finds its end. At the first token that differs (another protocol, options,
  // a value this path does not take) it stops before that token, and the general loop goes on
  // from there with the same state: the general loop decides every error, so the two can
  // never disagree. Measured in bench/log_bench.cpp: this halves the cost of a record.
  // (flatten: every helper is inlined here, whatever the size of the caller's translation unit;
  // in a large program GCC otherwise stops inlining string_view::substr and the like.)
  [[gnu::flatten]] void common_shape(packet_view& p, record_view& r, bool& seen_src,
                                     bool& seen_dst) noexcept {
    const char* const d = s_.data();
    const std::size_t n = s_.size();
    std::size_t i = i_;
    if (i < n && d[i] == ' ') ++i;
    i_ = i;  // i_ moves only past whole tokens taken
    if (lit(i, "MAC=")) {
      const std::size_t e = find_space(d, i, n);
      if (e >= n) return;
      r.has_mac = true;
      r.mac = s_.substr(i, e - i);
      i_ = i = e + 1;
    }
    if (!lit(i, "SRC=") || !address(i, p.source)) return;
    seen_src = true;
    i_ = i;
    if (!lit(i, "DST=") || !address(i, p.destination)) return;
    seen_dst = true;
    i_ = i;
    if (!lit(i, "LEN=") || !number(i, p.length)) return;
    i_ = i;
    if (p.source.is_v4()) {
      if (!lit(i, "TOS=0x") || !hex(i, p.tos)) return;
      i_ = i;
      if (!lit(i, "PREC=0x") || !hex(i, p.precedence)) return;
      i_ = i;
      if (!lit(i, "TTL=") || !number(i, p.ttl)) return;
      i_ = i;
      if (!lit(i, "ID=") || !number(i, p.id)) return;
      i_ = i;
      if (lit(i, "CE ")) i_ = i, p.ce = true;
      if (lit(i, "DF ")) i_ = i, p.df = true;
      if (lit(i, "MF ")) i_ = i, p.mf = true;
    } else {
      if (!lit(i, "TC=") || !number(i, p.traffic_class)) return;
      i_ = i;
      if (!lit(i, "HOPLIMIT=") || !number(i, p.hop_limit)) return;
      i_ = i;
      if (!lit(i, "FLOWLBL=") || !number(i, p.flow_label)) return;
      i_ = i;
      if (n - i < 6 || !equal_literal(d + i, "PROTO=")) {
        parse_error unused;
        (void)extension_headers(p, unused);  // never fails
        i = i_;
      }
    }
    if (!lit(i, "PROTO=TCP ")) return;
    p.protocol = transport::tcp;
    p.protocol_number = 6;
    i_ = i;
    if (!lit(i, "SPT=") || !number(i, p.source_port)) return;
    p.has_ports = true;
    i_ = i;
    if (!lit(i, "DPT=") || !number(i, p.destination_port)) return;
    i_ = i;
    if (lit(i, "SEQ=")) {
      if (!number(i, p.sequence)) return;
      p.has_sequence = true;
      i_ = i;
      if (!lit(i, "ACK=") || !number(i, p.acknowledgment)) return;
      i_ = i;
    }
    if (!lit(i, "WINDOW=") || !number(i, p.window)) return;
    i_ = i;
    if (!lit(i, "RES=0x") || !hex(i, p.reserved)) return;
    i_ = i;
    while (n - i >= 4) {  // "ACK RST ": one four-byte compare per flag word
      std::uint16_t f = 0;
      switch (load_le32(d + i)) {
        case word4("CWR "): f = tcp_flags::cwr; break;
        case word4("ECE "): f = tcp_flags::ece; break;
        case word4("URG "): f = tcp_flags::urg; break;
        case word4("ACK "): f = tcp_flags::ack; break;
        case word4("PSH "): f = tcp_flags::psh; break;
        case word4("RST "): f = tcp_flags::rst; break;
        case word4("SYN "): f = tcp_flags::syn; break;
        case word4("FIN "): f = tcp_flags::fin; break;
        default: break;
      }
      if (!f) break;
      p.flags.set(static_cast<tcp_flags::flag>(f));
      i_ = i += 4;
    }
    if (!lit(i, "URGP=") || !number(i, p.urgent_pointer)) return;
    p.has_urgent_pointer = true;
    i_ = i;
    if (lit(i, "OPT (")) {  // --log-tcp-options
      const std::size_t close = s_.find(')', i);
      if (close == std::string_view::npos || close + 1 >= n || d[close + 1] != ' ') return;
      p.tcp_options = trim(s_.substr(i, close - i));
      i_ = i = close + 2;
    }
    if (lit(i, "UID=")) {  // --log-uid, when the packet has a local socket
      if (!number(i, r.uid)) return;
      r.has_uid = true;
      i_ = i;
      if (!lit(i, "GID=") || !number(i, r.gid)) return;
      i_ = i;
    }
    if (lit(i, "MARK=0x")) {
      std::uint32_t mark = 0;
      const std::size_t e = find_space(d, i, n);
      if (e >= n || !parse_hex(s_.substr(i - 2, e - i + 2), mark)) return;
      r.has_mark = true;
      r.mark = mark;
      i_ = i = e + 1;
    }
  }

  // The common shape's steps on a local position: each takes a whole token and its following
  // space, or takes nothing and returns false.
  template <std::size_t N>
  [[gnu::always_inline]] bool lit(std::size_t& i, const char (&l)[N]) const noexcept {
    constexpr std::size_t size = N - 1;
    if (s_.size() - i < size || !equal_literal(s_.data() + i, l)) return false;
    i += size;
    return true;
  }
  template <class T>
  [[gnu::always_inline]] bool number(std::size_t& i, T& out) const noexcept {
    const char* const d = s_.data();
    const std::size_t n = s_.size();
    std::size_t k = i;
    std::uint64_t v = 0;
    while (k < n && is_digit(d[k])) {
      v = v * 10 + static_cast<unsigned>(d[k] - '0');
      if (v > std::numeric_limits<T>::max()) return false;
      ++k;
    }
    // parse_uint's limits: 1 to 20 digits, leading zeros included.
    if (k == i || k - i > 20 || k >= n || d[k] != ' ') return false;
    out = static_cast<T>(v);
    i = k + 1;
    return true;
  }
  template <class T>
  [[gnu::always_inline]] bool hex(std::size_t& i, T& out) const noexcept {
    // The two digits after "0x" of the kernel's %02X, then a space.
    if (s_.size() - i < 3 || s_[i + 2] != ' ') return false;
    const int hi = hex_digit(s_[i]), lo = hex_digit(s_[i + 1]);
    if ((hi | lo) < 0) return false;
    out = static_cast<T>(hi * 16 + lo);
    i += 3;
    return true;
  }
  static constexpr int hex_digit(char c) noexcept {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  }
  // A dotted quad, or the kernel's 39-byte IPv6 form (%pI6), then a space.
  bool address(std::size_t& i, ip_address& out) const noexcept {
    const char* const d = s_.data();
    const std::size_t n = s_.size();
    if (n - i >= 40 && d[i + 4] == ':' && d[i + 39] == ' ') {
      const auto a = ip_address::from_text(s_.substr(i, 39));
      if (!a) return false;
      out = *a;
      i += 40;
      return true;
    }
    std::uint8_t b[4];
    std::size_t k = i;
    for (int part = 0; part < 4; ++part) {
      if (part != 0) {
        if (k >= n || d[k] != '.') return false;
        ++k;
      }
      const std::size_t start = k;
      unsigned v = 0;
      while (k < n && k - start < 3 && is_digit(d[k])) v = v * 10 + static_cast<unsigned>(d[k++] - '0');
      if (k == start || v > 255) return false;
      b[part] = static_cast<std::uint8_t>(v);
    }
    if (k >= n || d[k] != ' ') return false;
    out.assign_v4(b[0], b[1], b[2], b[3]);  // in place: see ip_address::assign_v4
    i = k + 1;
    return true;
  }

  std::size_t position() const noexcept { return i_; }

 private:
  static constexpr std::uint64_t K(std::string_view k) noexcept { return key_code(k); }

  bool at_end() const noexcept { return i_ >= s_.size(); }
  // The scanning loops work on locals: i_ is a size_t member like s_'s length, so stepping i_
  // itself would make the compiler reload the bounds on every byte.
  void skip_spaces() noexcept {
    std::size_t i = i_;
    const std::size_t n = s_.size();
    const char* d = s_.data();
    while (i < n && d[i] == ' ') ++i;
    i_ = i;
  }
  std::string_view read_key() noexcept {
    const std::size_t b = i_, n = s_.size();
    const char* d = s_.data();
    std::size_t i = b;
    while (i < n && d[i] != '=' && d[i] != ' ' && d[i] != ':') ++i;
    i_ = i;
    // FRAG:n (IPv4) uses a colon: "FRAG" is its key. Any other colon belongs to the token.
    if (i_ < s_.size() && s_[i_] == ':') {
      if (s_.substr(b, i_ - b) == "FRAG") return s_.substr(b, 4);
      while (i_ < s_.size() && s_[i_] != '=' && s_[i_] != ' ') ++i_;
    }
    return s_.substr(b, i_ - b);
  }
  // Skips past the ')' that closes "OPT (", returning the text inside.
  bool read_parenthesised(std::string_view& inside, parse_error& err) noexcept {
    skip_spaces();
    if (at_end() || s_[i_] != '(') {
      err = {base_ + i_, "'(' after OPT"};
      return false;
    }
    std::size_t b = ++i_;
    std::size_t close = s_.find(')', b);
    if (close == std::string_view::npos) {
      err = {base_ + s_.size(), "')' closing OPT ("};
      return false;
    }
    inside = trim(s_.substr(b, close - b));
    i_ = close + 1;
    return true;
  }

  // One KEY=value token. `code` is key_code(key): one integer switch instead of string
  // comparisons, with keys of eight bytes or more compared in full.
  bool value(std::uint64_t code, std::string_view key, std::string_view v, std::size_t vpos,
             packet_view& p, record_view* record, parse_error& err, bool& seen_src,
             bool& seen_dst) noexcept {
    auto bad = [&](std::string_view what) {
      err = {base_ + vpos, what};
      return false;
    };
    auto address = [&](ip_address& out, std::string_view what) {
      auto a = ip_address::from_text(v);
      if (!a) return bad(what);
      out = *a;
      return true;
    };
    switch (code) {
      case K("SRC"):
        return address(p.source, "an IPv4 or IPv6 address after SRC=") && (seen_src = true);
      case K("DST"):
        return address(p.destination, "an IPv4 or IPv6 address after DST=") && (seen_dst = true);
      case K("SPT"):
        p.has_ports = true;
        return parse_uint(v, p.source_port) || bad("a port number after SPT=");
      case K("DPT"):
        p.has_ports = true;
        return parse_uint(v, p.destination_port) || bad("a port number after DPT=");
      case K("SEQ"):
        if (p.has_icmp) return parse_uint(v, p.echo_sequence) || bad("a number after SEQ=");
        p.has_sequence = true;
        return parse_uint(v, p.sequence) || bad("a sequence number after SEQ=");
      case K("ACK"):
        return parse_uint(v, p.acknowledgment) || bad("an acknowledgment number after ACK=");
      case K("WINDOW"):
        return parse_uint(v, p.window) || bad("a window after WINDOW=");
      case K("RES"):
        return parse_hex(v, p.reserved) || bad("hex reserved bits after RES=");
      case K("URGP"):
        p.has_urgent_pointer = true;
        return parse_uint(v, p.urgent_pointer) || bad("a number after URGP=");
      case K("LEN"):
        if (p.protocol != transport::none)
          return parse_uint(v, p.udp_length) || bad("a length after LEN=");
        return parse_uint(v, p.length) || bad("a length after LEN=");
      case K("TOS"):
        return parse_hex(v, p.tos) || bad("a hex TOS after TOS=");
      case K("PREC"):
        return parse_hex(v, p.precedence) || bad("a hex PREC after PREC=");
      case K("TTL"):
        return parse_uint(v, p.ttl) || bad("a TTL after TTL=");
      case K("ID"):
        if (p.has_icmp) return parse_uint(v, p.echo_id) || bad("a number after ID=");
        return parse_uint(v, p.id) || bad("a number after ID=");
      case K("PROTO"):
        return protocol(v, p) || bad("a protocol after PROTO=");
      case K("TC"):
        return parse_uint(v, p.traffic_class) || bad("a number after TC=");
      case K("HOPLIMIT"):
        if (key != "HOPLIMIT") break;
        return parse_uint(v, p.hop_limit) || bad("a number after HOPLIMIT=");
      case K("FLOWLBL"):
        if (!parse_uint(v, p.flow_label)) return bad("a number after FLOWLBL=");
        return extension_headers(p, err);
      case K("FRAG"):
        return parse_uint(v, p.fragment_offset) || bad("an offset after FRAG:");
      case K("TYPE"):
        p.has_icmp = true;
        return parse_uint(v, p.icmp_type) || bad("an ICMP type after TYPE=");
      case K("CODE"):
        return parse_uint(v, p.icmp_code) || bad("an ICMP code after CODE=");
      case K("PARAMETER"):
        if (key != "PARAMETER") break;
        return parse_uint(v, p.parameter) || bad("a number after PARAMETER=");
      case K("POINTER"):
        return parse_hex(v, p.pointer) || bad("a hex POINTER=");
      case K("GATEWAY"):
        return address(p.gateway, "an address after GATEWAY=");
      case K("MTU"):
        return parse_uint(v, p.mtu) || bad("a number after MTU=");
      case K("SPI"):
        return parse_hex(v, p.spi) || bad("a hex SPI after SPI=");
      default:
        break;
    }
    if (record) {
      switch (code) {
        case K("MAC"):
          record->has_mac = true;
          record->mac = v;
          return true;
        case K("UID"):
          record->has_uid = true;
          return parse_uint(v, record->uid) || bad("a number after UID=");
        case K("GID"):
          return parse_uint(v, record->gid) || bad("a number after GID=");
        case K("MARK"):
          record->has_mark = true;
          return parse_hex(v, record->mark) || bad("a hex mark after MARK=");
        case K("PHYSIN"):
          return interface(v, record->physical_in, vpos, err);
        case K("PHYSOUT"):
          return interface(v, record->physical_out, vpos, err);
        case K("TUNNEL"):
          record->tunnel = v;
          return true;
        case K("MACSRC"):
          record->mac_source = v;
          return true;
        case K("MACDST"):
          record->mac_destination = v;
          return true;
        case K("MACPROTO"):
          if (key != "MACPROTO") break;
          record->mac_protocol = v;
          return true;
        case K("VPROTO"):
          record->vlan_protocol = v;
          return true;
        case K("VID"):
          return parse_uint(v, record->vlan_id) || bad("a VLAN id");
        case K("HTYPE"):
          return true;
        default:
          break;
      }
    }
    keep_unknown(record);
    return true;
  }

  bool word(std::uint64_t code, std::string_view w, packet_view& p, record_view* record,
            parse_error& err) noexcept {
    switch (code) {
      case K("DF"): return (p.df = true);
      case K("MF"): return (p.mf = true);
      case K("CE"): return (p.ce = true);
      case K("OPT"): {
        std::string_view inside;
        if (!read_parenthesised(inside, err)) return false;
        if (p.protocol == transport::tcp)
          p.tcp_options = inside;
        else
          p.ip_options = inside;
        return true;
      }
      case K("INCOMPLETE"):
        if (w != "INCOMPLETE") break;
        return incomplete(p, err);
      case K("TRUNCATED"):
        if (w != "TRUNCATED") break;
        return (p.truncated = true);
      case K("ARP"):
        if (!record) break;
        return (record->is_arp = true);
      default:
        break;
    }
    if (p.protocol == transport::tcp) {
      if (auto f = tcp_flags::from_word(w)) {
        p.flags.set(static_cast<tcp_flags::flag>(f));
        return true;
      }
    }
    keep_unknown(record);
    return true;
  }

  // "INCOMPLETE [65535 bytes]"
  bool incomplete(packet_view& p, parse_error& err) noexcept {
    skip_spaces();
    std::size_t b = i_;
    std::size_t close = s_.find(']', b);
    if (b >= s_.size() || s_[b] != '[' || close == std::string_view::npos) {
      err = {base_ + b, "'[N bytes]' after INCOMPLETE"};
      return false;
    }
    std::string_view inside = s_.substr(b + 1, close - b - 1);
    std::size_t sp = inside.find(' ');
    p.incomplete = true;
    if (!parse_uint(inside.substr(0, sp), p.incomplete_bytes)) {
      err = {base_ + b + 1, "a byte count after INCOMPLETE ["};
      return false;
    }
    i_ = close + 1;
    return true;
  }

  // The packet an ICMP error quotes: "[SRC=... ] " (dump_ipv4_packet and dump_ipv6_packet
  // recurse once). Brackets inside it ("INCOMPLETE [8 bytes]") are balanced.
  bool quoted(packet_view& p, parse_error& err) noexcept {
    std::size_t b = i_ + 1, k = b, depth = 1;
    for (; k < s_.size() && depth; ++k) {
      if (s_[k] == '[') ++depth;
      if (s_[k] == ']') --depth;
    }
    if (depth) {
      err = {base_ + s_.size(), "']' closing the quoted packet"};
      return false;
    }
    p.quoted_packet = s_.substr(b, k - 1 - b);
    i_ = k;
    return true;
  }

  // The IPv6 extension headers nf_log prints between FLOWLBL= and PROTO= with --log-ip-options
  // ("OPT ( FRAG:1448 ID:8c1b2a3d ) ") or always ("Unknown Ext Hdr 60"): kept as text; the fragment
  // offset is read because a fragment has no ports.
  bool extension_headers(packet_view& p, parse_error&) noexcept {
    skip_spaces();
    std::size_t b = i_;
    std::size_t proto = s_.find("PROTO=", b);
    std::size_t end = proto == std::string_view::npos ? s_.size() : proto;
    if (end == b) return true;
    std::string_view ext = s_.substr(b, end - b);
    p.extension_headers = trim(ext);
    std::size_t frag = ext.find("FRAG:");
    if (frag != std::string_view::npos) {
      std::string_view n = ext.substr(frag + 5);
      n = n.substr(0, n.find(' '));
      (void)parse_uint(n, p.fragment_offset);
    }
    i_ = end;
    return true;
  }

  static bool protocol(std::string_view v, packet_view& p) noexcept {
    static constexpr std::string_view names[] = {"TCP", "UDP", "UDPLITE", "ICMP", "ICMPv6",
                                                 "AH", "ESP"};
    static constexpr transport values[] = {transport::tcp,  transport::udp,    transport::udplite,
                                           transport::icmp, transport::icmpv6, transport::ah,
                                           transport::esp};
    static constexpr std::uint8_t numbers[] = {6, 17, 136, 1, 58, 51, 50};
    for (std::size_t k = 0; k < std::size(names); ++k) {
      if (v == names[k]) {
        p.protocol = values[k];
        p.protocol_number = numbers[k];
        return true;
      }
    }
    if (!parse_uint(v, p.protocol_number)) return false;
    p.protocol = transport::other;
    return true;
  }

  bool interface(std::string_view v, std::string_view& out, std::size_t vpos,
                 parse_error& err) noexcept {
    if (!valid_interface(v)) {
      err = {base_ + vpos, "an interface name (at most 15 bytes)"};
      return false;
    }
    out = v;
    return true;
  }

  void keep_unknown(record_view* record) noexcept {
    if (!record) return;
    if (record->unknown_count < record_view::max_unknown)
      record->unknown[record->unknown_count] = s_.substr(tok_, i_ - tok_);
    ++record->unknown_count;
  }

  std::string_view s_;
  std::size_t base_;
  bool fast_ = true;
  std::size_t i_ = 0;
  std::size_t tok_ = 0;  // where the current token starts
};

}  // namespace detail

// Parses the packet part of a record, or the packet an ICMP error quotes (packet_view's
// quoted_packet): "SRC=... DST=... LEN=... PROTO=TCP SPT=... ". Offsets in errors count from
// the start of `text`.
inline bool parse_packet(std::string_view text, packet_view& out, parse_error& error) noexcept {
  out = packet_view{};
  detail::packet_scanner scanner(text, 0);
  return scanner.run(out, nullptr, error);
}

// Finds the record in a kernel message and parses it.
//
// The record starts where the kernel's "%sIN=%s OUT=%s " begins (nf_log_dump_packet_common in
// net/netfilter/nf_log_syslog.c): the first "IN=" followed by a device name and " OUT=". All
// before it is the prefix, whatever it holds (brackets, spaces, "IN=" text of its own, or
// nothing between it and IN= as in "Firewall:IN=eth0"). A message without "IN=" and a later
// " OUT=" is not a record; one that has them but breaks the grammar is malformed.
namespace detail {
inline record_result::status parse_record_with(std::string_view message, record_view& rec,
                                               parse_error& error, bool common_shape) noexcept {
  using status = record_result::status;
  std::size_t from = 0;
  std::size_t in_pos = std::string_view::npos;
  bool candidate = false;
  // The usual case first: the first "IN=" is the record's, its device ends at " OUT=".
  if (const std::size_t at = message.find("IN="); at != std::string_view::npos) {
    const std::size_t sp = detail::find_space(message.data(), at + 3, message.size());
    if (message.size() - sp >= 5 && detail::equal_literal(message.data() + sp, " OUT=")) {
      in_pos = at;
      candidate = true;
    }
  }
  while (in_pos == std::string_view::npos) {
    std::size_t at = message.find("IN=", from);
    if (at == std::string_view::npos) break;
    std::size_t later_out = message.find(" OUT=", at + 3);
    if (later_out == std::string_view::npos) break;
    candidate = true;
    std::size_t sp = message.find(' ', at + 3);
    if (sp == later_out) {
      in_pos = at;
      break;
    }
    from = at + 3;
  }
  if (!candidate) return status::not_a_record;
  if (in_pos == std::string_view::npos) {
    std::size_t at = message.find("IN=");
    error = {message.find(' ', at), "' OUT=' right after the IN= device name"};
    return status::malformed;
  }
  reset(rec);
  rec.text = message;
  rec.prefix = message.substr(0, in_pos);
  std::size_t in_begin = in_pos + 3;
  std::size_t in_end = detail::find_space(message.data(), in_begin, message.size());
  rec.in = message.substr(in_begin, in_end - in_begin);
  std::size_t out_begin = in_end + 5;
  std::size_t out_end = detail::find_space(message.data(), out_begin, message.size());
  rec.out = message.substr(out_begin, out_end - out_begin);
  if (!detail::valid_interface(rec.in)) {
    error = {in_begin, "an interface name after IN= (at most 15 bytes)"};
    return status::malformed;
  }
  if (!detail::valid_interface(rec.out)) {
    error = {out_begin, "an interface name after OUT= (at most 15 bytes)"};
    return status::malformed;
  }
  detail::packet_scanner scanner(message.substr(out_end), out_end, common_shape);
  if (!scanner.run(rec.packet, &rec, error)) return status::malformed;
  return status::record;
}
}  // namespace detail

inline record_result::status parse_record(std::string_view message, record_view& rec,
                                          parse_error& error) noexcept {
  return detail::parse_record_with(message, rec, error, true);
}

// The same, returning the record by value.
inline record_result parse_record(std::string_view message) noexcept {
  record_result r;
  r.state = parse_record(message, r.record, r.error);
  return r;
}

}  // namespace rstwatch::log
