// Trace lines as reset events: the line classifier (reset, record, ignored, malformed, lost)
// and the rules, read from the kernel, for what each reset tracepoint means.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/event.hpp>
#include <rstwatch/trace/prefix.hpp>
#include <rstwatch/trace/record.hpp>

namespace rstwatch::trace {

// When the two reset tracepoints fire (net/ipv4/tcp_input.c, tcp_output.c, tcp_ipv4.c,
// net/ipv6/tcp_ipv6.c):
//
// tcp_receive_reset — tcp_reset(), which calls trace_tcp_receive_reset(sk) first, for
//   * a RST accepted by tcp_validate_incoming() (in-window, seq == rcv_nxt; others only get a
//     challenge ACK) or by tcp_rcv_synsent_state_process() (answer to our SYN: "refused");
//   * NO RST AT ALL: tcp_rcv_state_process() calls tcp_reset() itself when data arrives after
//     this side shut down reception (FIN_WAIT1/2, CLOSING, LAST_ACK with RCV_SHUTDOWN:
//     LINUX_MIB_TCPABORTONDATA). tcp_v4_do_rcv()/tcp_v6_do_rcv() then send a RST with
//     tcp_v4_send_reset()/tcp_v6_send_reset(), which fires tcp_send_reset for the same socket
//     microseconds later (6.10+: reason=TCP_ABORT_ON_DATA). See abort_on_data().
//   Resets made by iptables REJECT --reject-with tcp-reset or nft reject (nf_send_reset()) are
//   received like any RST: they show here, at the receiver, and nowhere else.
//   The body names the socket: saddr:sport is this host, so the RST went daddr:dport → saddr:sport.
//
// tcp_send_reset — this host's TCP stack sent a RST:
//   * tcp_send_active_reset() (tcp_output.c): close() with unread data, SO_LINGER 0, abort,
//     tcp_disconnect(), memory pressure, keepalive timeout; always a full socket.
//   * tcp_v4_send_reset()/tcp_v6_send_reset(): answer to a segment. Before 6.10 the tracepoint
//     class (tcp_event_sk_skb) needed a full socket, so it fired only `if (sk_fullsock(sk))`:
//     no event for a closed port (sk NULL) or a TIME_WAIT socket. Since 6.10 (trace: tcp: fully
//     support trace_tcp_send_reset) it fires for every reset: src/dest come from a full socket,
//     else from the reversed incoming segment; a TIME_WAIT socket prints state=TCP_TIME_WAIT
//     reason=TCP_TIMEWAIT_SOCKET, no socket at all state=UNKNOWN reason=NO_SOCKET.
//   Never for REJECT/nft reject: those build the RST in netfilter, outside the TCP stack.
//   The body's source (src= or saddr:sport) is this host: the RST went source → destination.
//
// Tracepoints are kernel-wide: every network namespace's sockets show in every instance.
// Buffer order is not causal order: tcp_send_active_reset() fires its tracepoint after
// tcp_transmit_skb(), so when both ends are on this host (veth, lo) the receiver's
// tcp_receive_reset often comes first (seen in tests/data/trace/this-kernel.txt).

// What a line is: the LOG path's buckets (rstwatch::log::line_kind, same names and order) and
// one more, `lost`, because trace_pipe reports what the kernel dropped.
enum class line_kind : std::uint8_t {
  reset,      // tcp_send_reset or tcp_receive_reset: to_reset() gives the reset_event
  record,     // one of the other four events, parsed
  ignored,    // headers, blank lines, other tracepoints, tracing_mark_write, non-trace text
  malformed,  // a known event whose body the grammar refuses: see error
  lost,       // "CPU:n [LOST m EVENTS]": the kernel dropped m events
};

inline constexpr std::string_view line_kind_names[] = {"reset", "record", "ignored", "malformed",
                                                       "lost"};

constexpr std::string_view to_string(line_kind k) noexcept {
  return line_kind_names[static_cast<std::size_t>(k)];
}

struct classified_line {
  line_kind kind = line_kind::ignored;
  record rec;          // reset, record, malformed (as far as it got)
  parse_error error;   // malformed
  std::uint64_t lost = 0;  // lost
};

namespace detail {

// classify() into `out`, whose kind, record body, error and lost count are at their defaults.
[[gnu::flatten]] inline void classify_into(std::string_view line, classified_line& out) noexcept {
  if (!parse_prefix(line, out.rec.prefix)) {  // on success every member of the prefix is set
    reset(out.rec.prefix);
    if (auto n = lost_events(line)) {
      out.kind = line_kind::lost;
      out.lost = *n;
    }
    return;
  }
  out.rec.kind = event_kind_of(out.rec.prefix.event);
  if (out.rec.kind == event_kind::other) return;
  if (auto e = parse_body(out.rec)) {
    out.kind = line_kind::malformed;
    out.error = *e;
    return;
  }
  out.kind = out.rec.kind == event_kind::tcp_send_reset ||
                     out.rec.kind == event_kind::tcp_receive_reset
                 ? line_kind::reset
                 : line_kind::record;
}

// `out` as a fresh classified_line but for the record's prefix, which parsing sets or resets.
inline void reset_line(classified_line& out) noexcept {
  out.kind = line_kind::ignored;
  out.error = parse_error{};
  out.lost = 0;
  reset_body(out.rec);
}

}  // namespace detail

// Classifies one line (without its newline). No allocation, never throws.
inline classified_line classify(std::string_view line) noexcept {
  classified_line c;
  detail::classify_into(line, c);
  return c;
}

// The same into `out`, reusing its storage: the result is what classify(line) returns,
// whatever `out` held. A reader's loop should use this one: a fresh classified_line per line
// is a 440-byte block clear, which g++ emits as `rep stos` (about a sixth of the classifier's
// time on this machine); here `out` is reset member by member.
inline void classify(std::string_view line, classified_line& out) noexcept {
  detail::reset_line(out);
  detail::classify_into(line, out);
}

// How many readable bytes classify_next() needs after the '\n' that ends a line.
inline constexpr std::size_t next_line_padding = 64;

namespace detail {

// classify_next()'s one pass, for the kernel's usual lines: an event with a typed body, the
// prefix in its common shape, every key=value taken by the body's fast path up to the '\n'. On
// success `out` is what classify() gives for the line and `length` is the line's length; on
// false, `out` is in any state. `out` must come reset (reset_line()).
[[gnu::flatten]] inline bool classify_next_fast(std::string_view rest, classified_line& out,
                                                std::size_t& length) noexcept {
  const char* const d = rest.data();
  std::size_t body_start = 0, name_length = 0;
  record& r = out.rec;
  if (!prefix_terminated(d, r.prefix, body_start, name_length)) return false;
  // The name is one of the six, whose lengths differ: event_kind_of() without its compare.
  r.kind = static_cast<event_kind>(event_lengths.kind[name_length]);
  const std::size_t end =
      body_start + body_fast_path<true>(std::string_view(d + body_start, 0), r).run();
  // The whole body taken, up to the '\n'. parse_prefix() drops trailing ' ', '\t' and '\r'
  // from the body: spaces end a value here too, a '\t' or '\r' would not.
  std::size_t body_end = end;
  while (body_end > body_start && d[body_end - 1] == ' ') --body_end;
  if (d[end] != '\n' || end > rest.size() || body_end == body_start || d[body_end - 1] == '\t' ||
      d[body_end - 1] == '\r')
    return false;
  // parse_body()'s checks once its loop is done (the fast path took every key).
  if (!has_endpoints(r) || (r.kind == event_kind::inet_sock_set_state &&
                            !(r.has(field::oldstate) && r.has(field::newstate))))
    return false;
  r.prefix.body = std::string_view(d + body_start, body_end - body_start);
  r.prefix.body_offset = body_start;
  out.kind = r.kind == event_kind::tcp_send_reset || r.kind == event_kind::tcp_receive_reset
                 ? line_kind::reset
                 : line_kind::record;
  length = end;
  return true;
}

}  // namespace detail

// Classifies the line that `rest` starts with and returns its length (without the '\n'): the
// line is rest up to its first '\n', or all of rest when it holds none. `out` is then what
// classify(line, out) gives. Precondition, as log::line_source::next_span() provides it:
// rest.data()[rest.size()] is a '\n', and next_line_padding readable bytes follow it.
// This is the fast loop for trace text: the kernel's usual lines are classified in one pass
// that also finds their end, where classify() needs the line's end first (a memchr per line,
// about a tenth of a whole pass over a file); any other line falls back to memchr and
// classify().
inline std::size_t classify_next(std::string_view rest, classified_line& out) noexcept {
  detail::reset_line(out);
  std::size_t length = 0;
  if (detail::classify_next_fast(rest, out, length)) return length;
  const void* newline = std::memchr(rest.data(), '\n', rest.size());
  length = newline ? static_cast<std::size_t>(static_cast<const char*>(newline) - rest.data())
                   : rest.size();
  classify(rest.substr(0, length), out);
  return length;
}

// Moves every view in `c` that points into `from` (the line it was classified from) to the same
// offset in `to`, the first byte of a copy of that line: `c` is then what classify() gives for
// the copy, without classifying it again (rstwatch-read keeps tcp_receive_reset lines with a
// copy of their text). Views elsewhere (the static phrase of a parse_error) stay.
inline void rebase(classified_line& c, std::string_view from, const char* to) noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(from.data());
  auto move = [&](std::string_view& v) {
    const auto at = reinterpret_cast<std::uintptr_t>(v.data());
    if (!v.empty() && at >= begin && at - begin <= from.size())
      v = std::string_view(to + (at - begin), v.size());
  };
  line_prefix& p = c.rec.prefix;
  for (std::string_view* v :
       {&p.task, &p.flags, &p.timestamp, &p.event, &p.body, &c.rec.saddr_text, &c.rec.daddr_text,
        &c.rec.reason, &c.rec.protocol, &c.rec.skbaddr, &c.rec.skaddr})
    move(*v);
}

// The malformed line's diagnostic: FILE:LINE:COLUMN, what was expected, what was there.
inline diagnostic to_diagnostic(std::string_view line, const parse_error& e, std::string file = {},
                                std::uint32_t line_number = 1) {
  diagnostic d;
  d.file = std::move(file);
  std::size_t offset = e.offset > line.size() ? line.size() : e.offset;
  d.where = {line_number, static_cast<std::uint32_t>(offset + 1)};
  d.expected = std::string(e.expected);
  d.found = quote_excerpt(line.substr(offset));
  return d;
}

// A reset seen by a tracepoint: the shared reset_event plus what only tracepoints print.
struct trace_reset {
  reset_event event;
  tcp_state state = tcp_state::unknown;  // the socket's state (tcp_send_reset since 5.x)
  bool has_state = false;
  std::string_view reason;  // sk_rst_reason (6.10+ tcp_send_reset): "NO_SOCKET", ...
};

// The reset a tcp_send_reset/tcp_receive_reset record reports; nullopt for other records.
// tcp_send_reset: sender local, RST from the socket's end (src=, or saddr:sport) to the peer.
// tcp_receive_reset: sender remote; sport/dport/saddr/daddr there are the LOCAL socket's, so the
// RST's source is daddr:dport and its destination saddr:sport.
inline std::optional<trace_reset> to_reset(const record& r) noexcept {
  if (r.kind != event_kind::tcp_send_reset && r.kind != event_kind::tcp_receive_reset)
    return std::nullopt;
  trace_reset t;
  reset_event& e = t.event;
  e.origin = event_origin::trace;
  e.tracepoint = r.prefix.event;
  e.time_text = r.prefix.timestamp;
  e.uptime = r.prefix.uptime;
  endpoint here = r.local(), there = r.remote();
  if (r.kind == event_kind::tcp_send_reset) {
    e.sender = reset_sender::local;
    e.source = here;
    e.destination = there;
  } else {
    e.sender = reset_sender::remote;
    e.source = there;
    e.destination = here;
  }
  e.loopback = e.source.address.is_loopback() || e.destination.address.is_loopback();
  e.flags.set(tcp_flags::rst);
  t.has_state = r.has(field::state);
  t.state = r.state;
  t.reason = r.reason;
  return t;
}

// How long after a tcp_receive_reset the tcp_send_reset of the same abort may come, in trace
// time. Both fire in one call chain (tcp_v4_do_rcv() in softirq, or in process context from
// the socket's backlog in __release_sock()), usually 15-50 us apart. A virtual CPU that its
// hypervisor stops, or a preempted backlog, stretches that: with a 1 ms window a CI run on a
// nested VM missed a pair that said reason=TCP_ABORT_ON_DATA. The window only guards against the
// same 4-tuple being reused for a new connection that this host then resets, which takes a whole
// handshake and more.
inline constexpr std::uint64_t abort_on_data_window_us = 100000;

// Whether `send` (tcp_send_reset) shows that `receive` (tcp_receive_reset) was no RST from the
// peer but the kernel's own TCPAbortOnData abort (see above): same socket ends, the send
// follows within `max_gap_us`, and either says reason=TCP_ABORT_ON_DATA (6.10+) or, on kernels
// that print no reason, comes at all — a received RST is never answered with a RST
// (tcp_v4_send_reset(): "Never send a reset in response to a reset"), and before 6.10 the
// socket that tcp_reset() closed fires no tcp_send_reset again, so a send from the same socket
// ends soon after its receive event is the abort. Such a receive event should be dropped or
// marked; the send event is the reset that went on the wire. The CPU is not compared: a
// backlog run in process context may move to another CPU between the two.
inline bool abort_on_data(const record& receive, const record& send,
                          std::uint64_t max_gap_us = abort_on_data_window_us) noexcept {
  if (receive.kind != event_kind::tcp_receive_reset || send.kind != event_kind::tcp_send_reset)
    return false;
  if (send.has(field::reason) && send.reason != "TCP_ABORT_ON_DATA") return false;
  if (receive.local() != send.local() || receive.remote() != send.remote()) return false;
  if (receive.prefix.uptime && send.prefix.uptime) {
    auto a = receive.prefix.uptime->microseconds, b = send.prefix.uptime->microseconds;
    if (b < a || b - a > max_gap_us) return false;
  }
  return true;
}

}  // namespace rstwatch::trace
