// The kernel's LOG record ("PREFIX IN=eth0 OUT= ... PROTO=TCP SPT=.. DPT=.. RST URGP=0") as a
// zero-copy typed view, and its parser: every token nf_log prints, unknown future tokens kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

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

// Why this grammar is hand-written and not Spirit X3 (bench/log_bench.cpp, 1,000,000 mixed
// lines, g++-12 -O3, this VM): an X3 grammar that does nothing but split each line into
// raw[] tokens takes 191 ns/line, 80% of `grep -c ' RST '`'s 237 ns/line, before a single field
// is dispatched or converted; X3 has no string_view attribute, so every field would need an
// action on top. The complete scan below (envelope, every token, addresses, event) takes
// 341 ns/line (4.7k instructions/line under callgrind), still above grep: the goal
// (<= grep, >= 4M lines/s) is not met yet, and X3 would move it further away.

// Tokens of the packet part, in the order nf_log_syslog.c prints them; parse_packet walks them
// once, dispatching on the key. Kernel order is not required: order only disambiguates keys
// that appear twice (LEN=, ID=, SEQ=, ACK=, OPT).
class packet_scanner {
 public:
  packet_scanner(std::string_view text, std::size_t base) noexcept : s_(text), base_(base) {}

  // Parses from the current position up to the end or a closing ']' of a quoted packet;
  // `record` receives the record-level tokens (MAC, UID, MARK, unknown) when not null.
  bool run(packet_view& p, record_view* record, parse_error& err) noexcept {
    bool seen_src = false, seen_dst = false;
    while (true) {
      skip_spaces();
      if (at_end()) break;
      tok_ = i_;
      if (s_[i_] == '[') {
        if (!quoted(p, err)) return false;
        continue;
      }
      const std::string_view key = read_key();  // "SRC" for "SRC=...", the word otherwise
      const bool has_value = i_ < s_.size() && (s_[i_] == '=' || (s_[i_] == ':' && key == "FRAG"));
      if (has_value) ++i_;
      const std::size_t vpos = i_;
      if (has_value) {
        std::string_view v = read_word();
        if (!value(key, v, vpos, p, record, err, seen_src, seen_dst)) return false;
        continue;
      }
      if (!word(key, p, record, err)) return false;
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

  std::size_t position() const noexcept { return i_; }

 private:
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
  std::string_view read_word() noexcept {
    // Most values are short (ports, TTL=64): a plain loop; long ones (addresses, MAC=, OPT
    // hex) go to memchr, whose call costs more than it saves below ~16 bytes.
    const std::size_t b = i_, n = s_.size();
    const char* d = s_.data();
    const std::size_t short_end = b + 16 < n ? b + 16 : n;
    std::size_t i = b;
    while (i < short_end && d[i] != ' ') ++i;
    if (i == short_end && i < n && d[i] != ' ') {
      const void* sp = std::memchr(d + i, ' ', n - i);
      i = sp ? static_cast<std::size_t>(static_cast<const char*>(sp) - d) : n;
    }
    i_ = i;
    return s_.substr(b, i - b);
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

  bool value(std::string_view key, std::string_view v, std::size_t vpos, packet_view& p,
             record_view* record, parse_error& err, bool& seen_src, bool& seen_dst) noexcept {
    const bool after_proto = p.protocol != transport::none;
    auto bad = [&](std::string_view what) {
      err = {base_ + vpos, what};
      return false;
    };
    switch (key.size() ? key[0] : '\0') {
      case 'S':
        if (key == "SRC") {
          auto a = ip_address::from_text(v);
          if (!a) return bad("an IPv4 or IPv6 address after SRC=");
          p.source = *a;
          seen_src = true;
          return true;
        }
        if (key == "SPT") {
          if (!parse_uint(v, p.source_port)) return bad("a port number after SPT=");
          p.has_ports = true;
          return true;
        }
        if (key == "SEQ") {
          if (p.has_icmp) return parse_uint(v, p.echo_sequence) || bad("a number after SEQ=");
          p.has_sequence = true;
          return parse_uint(v, p.sequence) || bad("a sequence number after SEQ=");
        }
        if (key == "SPI") return parse_hex(v, p.spi) || bad("a hex SPI after SPI=");
        break;
      case 'D':
        if (key == "DST") {
          auto a = ip_address::from_text(v);
          if (!a) return bad("an IPv4 or IPv6 address after DST=");
          p.destination = *a;
          seen_dst = true;
          return true;
        }
        if (key == "DPT") {
          if (!parse_uint(v, p.destination_port)) return bad("a port number after DPT=");
          p.has_ports = true;
          return true;
        }
        break;
      case 'L':
        if (key == "LEN") {
          if (after_proto) return parse_uint(v, p.udp_length) || bad("a length after LEN=");
          return parse_uint(v, p.length) || bad("a length after LEN=");
        }
        break;
      case 'T':
        if (key == "TOS") return parse_hex(v, p.tos) || bad("a hex TOS after TOS=");
        if (key == "TTL") return parse_uint(v, p.ttl) || bad("a TTL after TTL=");
        if (key == "TC") return parse_uint(v, p.traffic_class) || bad("a number after TC=");
        if (key == "TYPE") {
          p.has_icmp = true;
          return parse_uint(v, p.icmp_type) || bad("an ICMP type after TYPE=");
        }
        if (key == "TUNNEL" && record) {
          record->tunnel = v;
          return true;
        }
        break;
      case 'P':
        if (key == "PROTO") return protocol(v, p) || bad("a protocol after PROTO=");
        if (key == "PREC") return parse_hex(v, p.precedence) || bad("a hex PREC after PREC=");
        if (key == "PARAMETER") return parse_uint(v, p.parameter) || bad("a number after PARAMETER=");
        if (key == "POINTER") return parse_hex(v, p.pointer) || bad("a hex POINTER=");
        if (record && key == "PHYSIN") return interface(v, record->physical_in, vpos, err);
        if (record && key == "PHYSOUT") return interface(v, record->physical_out, vpos, err);
        break;
      case 'I':
        if (key == "ID") {
          if (p.has_icmp) return parse_uint(v, p.echo_id) || bad("a number after ID=");
          return parse_uint(v, p.id) || bad("a number after ID=");
        }
        break;
      case 'H':
        if (key == "HOPLIMIT") return parse_uint(v, p.hop_limit) || bad("a number after HOPLIMIT=");
        if (key == "HTYPE" && record) return true;
        break;
      case 'F':
        if (key == "FLOWLBL") {
          if (!parse_uint(v, p.flow_label)) return bad("a number after FLOWLBL=");
          return extension_headers(p, err);
        }
        break;
      case 'A':
        if (key == "ACK") {
          return parse_uint(v, p.acknowledgment) || bad("an acknowledgment number after ACK=");
        }
        break;
      case 'W':
        if (key == "WINDOW") return parse_uint(v, p.window) || bad("a window after WINDOW=");
        break;
      case 'R':
        if (key == "RES") return parse_hex(v, p.reserved) || bad("hex reserved bits after RES=");
        break;
      case 'U':
        if (key == "URGP") {
          p.has_urgent_pointer = true;
          return parse_uint(v, p.urgent_pointer) || bad("a number after URGP=");
        }
        if (key == "UID" && record) {
          record->has_uid = true;
          return parse_uint(v, record->uid) || bad("a number after UID=");
        }
        break;
      case 'G':
        if (key == "GID" && record) return parse_uint(v, record->gid) || bad("a number after GID=");
        if (key == "GATEWAY") {
          auto a = ip_address::from_text(v);
          if (!a) return bad("an address after GATEWAY=");
          p.gateway = *a;
          return true;
        }
        break;
      case 'C':
        if (key == "CODE") return parse_uint(v, p.icmp_code) || bad("an ICMP code after CODE=");
        break;
      case 'M':
        if (key == "MTU") return parse_uint(v, p.mtu) || bad("a number after MTU=");
        if (record) {
          if (key == "MARK") {
            record->has_mark = true;
            return parse_hex(v, record->mark) || bad("a hex mark after MARK=");
          }
          if (key == "MAC") {
            record->has_mac = true;
            record->mac = v;
            return true;
          }
          if (key == "MACSRC") return (record->mac_source = v, true);
          if (key == "MACDST") return (record->mac_destination = v, true);
          if (key == "MACPROTO") return (record->mac_protocol = v, true);
        }
        break;
      case 'V':
        if (record && key == "VPROTO") return (record->vlan_protocol = v, true);
        if (record && key == "VID") return parse_uint(v, record->vlan_id) || bad("a VLAN id");
        break;
      default:
        break;
    }
    if (key == "FRAG") return parse_uint(v, p.fragment_offset) || bad("an offset after FRAG:");
    keep_unknown(record);
    return true;
  }

  bool word(std::string_view w, packet_view& p, record_view* record, parse_error& err) noexcept {
    if (w.size() <= 3) {
      if (auto f = tcp_flags::from_word(w)) {
        if (p.protocol == transport::tcp) {
          p.flags.set(static_cast<tcp_flags::flag>(f));
          return true;
        }
      }
      if (w == "DF") return (p.df = true);
      if (w == "MF") return (p.mf = true);
      if (w == "CE") return (p.ce = true);
    }
    if (w == "OPT") {
      std::string_view inside;
      if (!read_parenthesised(inside, err)) return false;
      if (p.protocol == transport::tcp)
        p.tcp_options = inside;
      else
        p.ip_options = inside;
      return true;
    }
    if (w == "INCOMPLETE") {
      // "INCOMPLETE [65535 bytes]"
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
    if (w == "TRUNCATED") return (p.truncated = true);
    if (w == "ARP" && record) return (record->is_arp = true);
    keep_unknown(record);
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
inline record_result::status parse_record(std::string_view message, record_view& rec,
                                          parse_error& error) noexcept {
  using status = record_result::status;
  std::size_t from = 0;
  std::size_t in_pos = std::string_view::npos;
  bool candidate = false;
  while (true) {
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
  rec = record_view{};
  rec.text = message;
  rec.prefix = message.substr(0, in_pos);
  std::size_t in_begin = in_pos + 3;
  std::size_t in_end = message.find(' ', in_begin);
  rec.in = message.substr(in_begin, in_end - in_begin);
  std::size_t out_begin = in_end + 5;
  std::size_t out_end = message.find(' ', out_begin);
  if (out_end == std::string_view::npos) out_end = message.size();
  rec.out = message.substr(out_begin, out_end - out_begin);
  if (!detail::valid_interface(rec.in)) {
    error = {in_begin, "an interface name after IN= (at most 15 bytes)"};
    return status::malformed;
  }
  if (!detail::valid_interface(rec.out)) {
    error = {out_begin, "an interface name after OUT= (at most 15 bytes)"};
    return status::malformed;
  }
  detail::packet_scanner scanner(message.substr(out_end), out_end);
  if (!scanner.run(rec.packet, &rec, error)) return status::malformed;
  return status::record;
}

// The same, returning the record by value.
inline record_result parse_record(std::string_view message) noexcept {
  record_result r;
  r.state = parse_record(message, r.record, r.error);
  return r;
}

}  // namespace rstwatch::log
