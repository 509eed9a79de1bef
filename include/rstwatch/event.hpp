// One TCP reset, whichever source saw it (a kernel LOG line or a tracepoint): who sent it
// (this host, the peer, or a forwarded packet), its 4-tuple, interfaces, sequence numbers, times.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rstwatch/address.hpp>
#include <rstwatch/time.hpp>

namespace rstwatch {

// Which side put the RST on the wire, seen from the host that logged it.
//  local   — this host sent it (a LOG line with IN= empty and OUT= set; tcp_send_reset)
//  remote  — the peer sent it and this host received it (IN set, OUT empty; tcp_receive_reset)
//  transit — this host forwarded someone else's RST (IN and OUT both set)
// For a LOG line this holds in INPUT, OUTPUT, FORWARD and POSTROUTING. In PREROUTING the kernel
// has not routed the packet yet, OUT= is always empty, so every RST there — also one that will
// be forwarded — reads as remote.
enum class reset_sender : std::uint8_t { local, remote, transit };

inline constexpr std::string_view reset_sender_names[] = {"local", "remote", "transit"};

constexpr std::string_view to_string(reset_sender s) noexcept {
  return reset_sender_names[static_cast<std::size_t>(s)];
}

// Where the event came from.
enum class event_origin : std::uint8_t { log, trace };

inline constexpr std::string_view event_origin_names[] = {"log", "trace"};

constexpr std::string_view to_string(event_origin o) noexcept {
  return event_origin_names[static_cast<std::size_t>(o)];
}

// The TCP header flags, one bit each. AE (accurate ECN, RFC 9768) is printed by kernels since
// 6.x before CWR (net/netfilter/nf_log_syslog.c, nf_log_dump_tcp_header).
class tcp_flags {
 public:
  enum flag : std::uint16_t {
    fin = 1u << 0,
    syn = 1u << 1,
    rst = 1u << 2,
    psh = 1u << 3,
    ack = 1u << 4,
    urg = 1u << 5,
    ece = 1u << 6,
    cwr = 1u << 7,
    ae = 1u << 8,
  };

  constexpr tcp_flags() noexcept = default;
  constexpr explicit tcp_flags(std::uint16_t bits) noexcept : bits_(bits) {}

  constexpr bool has(flag f) const noexcept { return (bits_ & f) != 0; }
  constexpr void set(flag f) noexcept { bits_ = static_cast<std::uint16_t>(bits_ | f); }
  constexpr std::uint16_t bits() const noexcept { return bits_; }
  constexpr bool empty() const noexcept { return bits_ == 0; }

  // The words in the kernel's order, space separated ("ACK RST").
  std::string to_string() const {
    std::string s;
    for (std::size_t k = 0; k < std::size(kernel_order); ++k) {
      if (!(bits_ & kernel_order[k])) continue;
      if (!s.empty()) s += ' ';
      s += names[k];
    }
    return s;
  }

  // The flag a kernel word names, or 0.
  static constexpr std::uint16_t from_word(std::string_view w) noexcept {
    for (std::size_t k = 0; k < std::size(kernel_order); ++k)
      if (names[k] == w) return kernel_order[k];
    return 0;
  }

  friend constexpr bool operator==(tcp_flags a, tcp_flags b) noexcept { return a.bits_ == b.bits_; }
  friend constexpr bool operator!=(tcp_flags a, tcp_flags b) noexcept { return a.bits_ != b.bits_; }

  static constexpr std::uint16_t kernel_order[] = {ae, cwr, ece, urg, ack, psh, rst, syn, fin};
  static constexpr std::string_view names[] = {"AE",  "CWR", "ECE", "URG", "ACK",
                                               "PSH", "RST", "SYN", "FIN"};

 private:
  std::uint16_t bits_ = 0;
};

// A TCP reset. Every std::string_view member points into the text the event was made from (the
// log line, the trace line): it is valid only while that text is — a line source's buffer is
// reused for the next line, so copy what you keep (to_string, std::string(view)).
struct reset_event {
  // When: the envelope's time as written, parsed where it can be, and the kernel's uptime.
  std::string_view time_text;
  std::optional<civil_time> time;
  std::optional<kernel_uptime> uptime;
  std::string_view host;    // empty when the envelope names none (dmesg, /dev/kmsg)
  std::string_view prefix;  // the LOG prefix as printed, trailing space included; empty for trace

  reset_sender sender = reset_sender::local;
  // The RST went over lo: both ends are this host. The kernel logs the same RST twice (once in
  // OUTPUT, once in INPUT); each line is its own event, summaries count the pair once.
  bool loopback = false;

  // The RST packet's own direction.
  endpoint source;
  endpoint destination;

  std::string_view in_interface;   // IN=, empty when none
  std::string_view out_interface;  // OUT=, empty when none

  bool has_sequence = false;  // SEQ=/ACK= appear only with --log-tcp-sequence
  std::uint32_t sequence = 0;
  std::uint32_t acknowledgment = 0;
  std::uint16_t window = 0;
  tcp_flags flags;

  event_origin origin = event_origin::log;
  std::string_view tracepoint;  // "tcp_send_reset", "tcp_receive_reset" for trace events
  std::uint64_t line_number = 0;  // 1-based line of the source, 0 when unknown

  // This host's end of the reset connection: the RST's source when this host sent it, its
  // destination when the peer did; none for a forwarded RST (neither end is this host).
  constexpr std::optional<endpoint> local_endpoint() const noexcept {
    switch (sender) {
      case reset_sender::local: return source;
      case reset_sender::remote: return destination;
      case reset_sender::transit: break;
    }
    return std::nullopt;
  }
  // The other end, under the same rule.
  constexpr std::optional<endpoint> remote_endpoint() const noexcept {
    switch (sender) {
      case reset_sender::local: return destination;
      case reset_sender::remote: return source;
      case reset_sender::transit: break;
    }
    return std::nullopt;
  }

  // "local 10.0.186.75:8182 > 10.0.175.109:9366": the sender, then the RST's direction.
  std::string describe() const {
    return std::string(to_string(sender)) + (loopback ? " loopback " : " ") + source.to_string() +
           " > " + destination.to_string();
  }
};

}  // namespace rstwatch
