// The context ftrace prints before every event in `trace` and `trace_pipe`
// ("  <idle>-0     [002] ..s. 9520196.657431: tcp_send_reset: ..."), split into typed views.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include <rstwatch/time.hpp>
#include <rstwatch/trace/detail/scan.hpp>

namespace rstwatch::trace {

// The line prefix, as kernel/trace/trace_output.c trace_print_context() writes it:
//   "%16s-%-7d " comm and pid (4.19: "%-5d"; comm is right-aligned, may hold spaces and '-')
//   "(%7d) " or "(-------) " the TGID, only with options/record-tgid
//   "[%03d] " the CPU
//   the irq-info flags, only with options/irq-info (the default): 4 characters on older kernels
//     (irqs-off, need-resched, hardirq/softirq, preempt depth: the seed's 4.19), 5 on newer ones
//     (+ migrate-disable, since about 5.13; this 6.18 kernel;
//     trace_print_lat_fmt())
//   "%5lu.%06lu: " the timestamp for nanosecond clocks (local, global, mono, boot), or
//     "%12llu: " for counter clocks (counter, x86-tsc)
// then, for an event, "name: " and the event's TP_printk body (trace_raw_output_*()).
// Every view points into the parsed line: valid while that line is.
struct line_prefix {
  std::string_view task;  // comm, leading alignment spaces removed ("<idle>", "C2 CompilerThre")
  std::uint32_t pid = 0;
  bool has_tgid = false;    // the TGID column is present
  bool tgid_known = false;  // "(-------)" prints when the kernel has no TGID for the pid
  std::uint32_t tgid = 0;
  std::uint16_t cpu = 0;
  std::string_view flags;      // "..s.", ".Ns1.", empty without options/irq-info
  std::string_view timestamp;  // "9520196.657431", as printed
  // Microseconds of the timestamp when it has a fraction (the nanosecond clocks); the default
  // "local" clock counts from boot like dmesg's uptime.
  std::optional<kernel_uptime> uptime;
  std::string_view event;  // "tcp_send_reset"; empty when the line is no event (function tracer)
  std::string_view body;   // after "event: ", trailing blanks removed
  std::size_t body_offset = 0;  // where body starts in the line

  // Same values and views of the same bytes (two parses of one line compare equal).
  friend bool operator==(const line_prefix& a, const line_prefix& b) noexcept {
    return same_view(a.task, b.task) && a.pid == b.pid && a.has_tgid == b.has_tgid &&
           a.tgid_known == b.tgid_known && a.tgid == b.tgid && a.cpu == b.cpu &&
           same_view(a.flags, b.flags) && same_view(a.timestamp, b.timestamp) &&
           a.uptime == b.uptime && same_view(a.event, b.event) && same_view(a.body, b.body) &&
           a.body_offset == b.body_offset;
  }
  friend bool operator!=(const line_prefix& a, const line_prefix& b) noexcept { return !(a == b); }

  static bool same_view(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && (a.empty() || a.data() == b.data());
  }
};

namespace detail {

using namespace rstwatch::detail::trace_scan;

// `p = line_prefix{}`, member by member: a whole-object assignment of this size is a block
// clear, which GCC's generic tuning emits as `rep stos` (tens of cycles to start, per line).
// tests/trace.cpp checks that a reused line_prefix and record end up as fresh ones.
inline void reset(line_prefix& p) noexcept {
  p.task = {};
  p.pid = 0;
  p.has_tgid = p.tgid_known = false;
  p.tgid = 0;
  p.cpu = 0;
  p.flags = {};  // no chained assignments: see reset_body(record&)
  p.timestamp = {};
  p.uptime.reset();
  p.event = {};
  p.body = {};
  p.body_offset = 0;
}

// Length of the event name that `text` starts with when it is one of the six rstwatch reads
// followed by ':' (its first eight bytes pick the candidate, one literal compare confirms);
// else 0. The identifier scan after it then stops at once on the ':'.
inline std::size_t known_event_name(const char* text, std::size_t size) noexcept {
  if (size < 16) return size >= 10 && equal_literal(text, "tcp_probe:") ? 9 : 0;
  switch (load_le64(text)) {
    case word8("tcp_send"): return equal_literal(text, "tcp_send_reset:") ? 14 : 0;
    case word8("tcp_rece"):
      return size >= 18 && equal_literal(text, "tcp_receive_reset:") ? 17 : 0;
    case word8("inet_soc"):
      return size >= 20 && equal_literal(text, "inet_sock_set_state:") ? 19 : 0;
    case word8("tcp_retr"):
      return size >= 19 && equal_literal(text, "tcp_retransmit_skb:") ? 18 : 0;
    case word8("tcp_dest"):
      return size >= 17 && equal_literal(text, "tcp_destroy_sock:") ? 16 : 0;
    case word8("tcp_prob"): return equal_literal(text, "tcp_probe:") ? 9 : 0;
    default: return 0;
  }
}

// What right of the CPU field's '[' says, and where the text after its ':' starts.
// The uptime is a flag and a count rather than a std::optional: an optional copied whole is
// one 16-byte load right after the 8-byte and 1-byte stores that made it, which the CPU cannot
// forward from them (a stall on every line; see ip_address::assign_v4).
struct context {
  unsigned cpu = 0;
  std::string_view flags, timestamp;
  bool has_uptime = false;
  std::uint64_t uptime_us = 0;
  std::size_t next = 0;
};

// The general reading of the right side: every width, with or without flags, any clock.
inline bool context_at(std::string_view line, std::size_t open, context& c) noexcept {
  std::size_t i = open + 1;
  std::size_t digits = 0;
  unsigned cpu = 0;
  while (i < line.size() && is_digit(line[i]) && digits < 6) {
    cpu = cpu * 10 + static_cast<unsigned>(line[i] - '0');
    ++i;
    ++digits;
  }
  if (digits == 0 || cpu > 65535 || i + 1 >= line.size() || line[i] != ']' || line[i + 1] != ' ')
    return false;
  i += 2;
  while (i < line.size() && line[i] == ' ') ++i;

  // Flags (optional) then the timestamp. A timestamp starts with a digit; the first flag never
  // does (irqs-off is one of ". d D b B X").
  std::string_view flags;
  if (i < line.size() && !is_digit(line[i])) {
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    flags = line.substr(start, i - start);
    if (flags.size() != 4 && flags.size() != 5) return false;
    while (i < line.size() && line[i] == ' ') ++i;
  }
  std::size_t ts_start = i;
  std::uint64_t seconds = 0;
  std::size_t sec_digits = 0;
  for (unsigned digit; i < line.size() && sec_digits < 19 &&
                      (digit = static_cast<unsigned char>(line[i] - '0')) < 10;
       ++i, ++sec_digits)
    seconds = seconds * 10 + digit;
  if (sec_digits == 0) return false;
  std::optional<kernel_uptime> uptime;
  if (i < line.size() && line[i] == '.') {
    ++i;
    std::uint64_t fraction = 0;
    std::size_t frac_digits = 0;
    for (unsigned digit; i < line.size() && frac_digits < 9 &&
                        (digit = static_cast<unsigned char>(line[i] - '0')) < 10;
         ++i, ++frac_digits)
      fraction = fraction * 10 + digit;
    if (frac_digits == 0) return false;
    for (std::size_t k = frac_digits; k < 6; ++k) fraction *= 10;
    for (std::size_t k = 6; k < frac_digits; ++k) fraction /= 10;
    if (seconds <= (~std::uint64_t{0} - fraction) / 1000000)
      uptime = kernel_uptime{seconds * 1000000 + fraction};
  }
  if (i >= line.size() || line[i] != ':') return false;
  std::string_view timestamp = line.substr(ts_start, i - ts_start);
  ++i;
  c.cpu = cpu;
  c.flags = flags;
  c.timestamp = timestamp;
  c.has_uptime = uptime.has_value();
  c.uptime_us = uptime ? uptime->microseconds : 0;
  c.next = i;
  return true;
}

// The kernel's usual right side, taken first: "[%03d] ", 4 or 5 flags, spaces, and a nanosecond
// clock's "%5lu.%06lu:" (trace_print_context()). Each part is read with word loads and
// unrolled digits; anything else (a wider CPU number, no flags, another clock, more than 12
// digits of seconds) returns false and context_at() decides. When it returns true, `c` is what
// context_at() gives: tests/trace.cpp and fuzz/trace.cpp compare the two.
[[gnu::always_inline]] inline bool context_fast(std::string_view line, std::size_t open,
                                                context& c) noexcept {
  const char* const d = line.data();
  const std::size_t n = line.size();
  std::size_t i = open + 1;
  if (n - i < 5 + 8) return false;
  const unsigned d0 = static_cast<unsigned char>(d[i] - '0'),
                 d1 = static_cast<unsigned char>(d[i + 1] - '0'),
                 d2 = static_cast<unsigned char>(d[i + 2] - '0');
  if (d0 > 9 || d1 > 9 || d2 > 9 || d[i + 3] != ']' || d[i + 4] != ' ') return false;
  const unsigned cpu = d0 * 100 + d1 * 10 + d2;
  i += 5;
  if (is_digit(d[i]) || d[i] == ' ') return false;
  // Positions come from predicted branches where they can, not from the bytes: the kernel
  // prints every line of a trace with the same widths, and a position computed from a byte
  // search or a digit count made everything after it wait for that load and its arithmetic.
  // The bytes are still checked, off that path. The flags' width (4 or 5): the byte after
  // the first four says which.
  const unsigned k = rstwatch::detail::scan::first_byte_equal(load_le64(d + i), ' ');
  const std::size_t width = __builtin_expect(d[i + 4] == ' ', 0) ? 4 : 5;
  if (k != width) return false;
  const std::string_view flags(d + i, width);
  i += width;  // at the ' ' after the flags
  std::size_t ts_start = 0;
  std::uint64_t seconds = 0;
  if (n - i < 16) return false;
  if (__builtin_expect(d[i + 6] == '.', 1)) {
    // "%5lu." under 100000 s of uptime: ' ', then spaces and 1-5 digits that fill five bytes.
    const std::uint64_t t = digits_of(load_le64(d + i + 1));
    // Leading zero bytes of this word are the pad's spaces (byte 5, the '.', is not one).
    const std::uint64_t not_spaces = t ^ digits_of(0x2020202020202020ull);
    const unsigned pad = static_cast<unsigned>(__builtin_ctzll(not_spaces)) / 8;
    if (pad > 4 || leading_digits(t >> (8 * pad)) != 5 - pad) return false;
    seconds = digits_value(t >> (8 * pad), 5 - pad);
    ts_start = i + 1 + pad;
    i += 6;
  } else {
    i = skip_spaces(d, i, n);
    // Seconds: 1 to 7 digits from one load (up to 115 days of uptime), else up to 12 by the
    // loop.
    ts_start = i;
    if (n - i < 8) return false;
    const std::uint64_t t = digits_of(load_le64(d + i));
    const unsigned count = leading_digits(t);
    if (count == 0) return false;
    if (count < 8) {
      seconds = digits_value(t, count);
      i += count;
    } else {
      const std::size_t limit = n - i < 13 ? n : i + 13;
      for (unsigned digit; i < limit && (digit = static_cast<unsigned char>(d[i] - '0')) < 10; ++i)
        seconds = seconds * 10 + digit;
      if (i - ts_start > 12) return false;
    }
  }
  // ".%06lu:" as one word: '.', six digits, ':'.
  if (n - i < 8) return false;
  const std::uint64_t w = load_le64(d + i);
  const std::uint64_t f = digits_of(w) >> 8;  // the six digits in the low bytes, then ':' - '0'
  if ((w & 0xff) != '.' || (w >> 56) != ':' || leading_digits(f) != 6) return false;
  const std::uint64_t fraction = digits_value(f, 6);
  i += 7;
  c.cpu = cpu;
  c.flags = flags;
  c.timestamp = std::string_view(d + ts_start, i - ts_start);
  c.has_uptime = true;
  c.uptime_us = seconds * 1000000 + fraction;
  c.next = i + 1;
  return true;
}

// The general reading of the left side: optional "(tgid)", then "-pid", then the comm, by
// byte loops from '[' leftwards.
inline bool pid_at(std::string_view line, std::size_t open, bool& has_tgid, bool& tgid_known,
                   std::uint32_t& tgid, std::uint32_t& pid, std::size_t& dash) noexcept {
  std::size_t end = open;
  while (end > 0 && line[end - 1] == ' ') --end;
  if (end == open) return false;  // no space between pid/TGID and '['
  if (end > 0 && line[end - 1] == ')') {
    std::size_t close = end - 1;
    std::size_t lp = close;
    while (lp > 0 && line[lp - 1] != '(' && close - lp < 12) --lp;
    if (lp == 0 || line[lp - 1] != '(') return false;
    std::string_view inner = line.substr(lp, close - lp);
    while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
    has_tgid = true;
    if (!inner.empty() && inner.find_first_not_of('-') == std::string_view::npos) {
      tgid_known = false;
    } else if (to_unsigned(inner, tgid, 0xffffffffu)) {
      tgid_known = true;
    } else {
      return false;
    }
    end = lp - 1;
    while (end > 0 && line[end - 1] == ' ') --end;
  }
  // The pid, converted while its start is searched; to_unsigned()'s limits apply.
  std::size_t pid_end = end;
  std::uint64_t pid_value = 0, scale = 1;
  for (unsigned digit; end > 0 && (digit = static_cast<unsigned char>(line[end - 1] - '0')) < 10;
       --end) {
    if (pid_end - end < 19) pid_value += digit * scale;
    scale *= 10;
  }
  if (end == pid_end || end == 0 || line[end - 1] != '-' || pid_end - end > 19 ||
      pid_value > 0xffffffffu)
    return false;
  pid = static_cast<std::uint32_t>(pid_value);
  dash = end - 1;
  return true;
}

// The kernel's usual left side, taken first: "-%-7d" (or "-%-5d") then the spaces before '[',
// no TGID column. Two word loads read it from the right: the spaces up to '[', then 1 to 7
// digits with the '-' before them in the same word. Anything else (a TGID column, 8 or more
// spaces or digits, a line that starts less than 8 bytes before) returns false and the byte
// loops of prefix_at() decide; when it returns true, `pid` and `dash` (the '-') are what they
// find.
inline bool pid_fast(const char* d, std::size_t open, std::uint32_t& pid, std::size_t& dash) noexcept {
  constexpr std::uint64_t lows = 0x7f7f7f7f7f7f7f7full, highs = 0x8080808080808080ull;
  if (open < 8) return false;
  // Exact per-byte flags (no carry leaves a byte: the top bit is masked before adding), so the
  // highest flag can be read with clz.
  const std::uint64_t x = load_le64(d + open - 8) ^ 0x2020202020202020ull;
  const std::uint64_t not_space = (((x & lows) + lows) | x) & highs;
  if (not_space == 0) return false;
  const auto spaces = static_cast<std::size_t>(__builtin_clzll(not_space) / 8);
  if (spaces == 0) return false;
  const std::size_t end = open - spaces;
  if (end < 8) return false;
  const std::uint64_t w = load_le64(d + end - 8);
  const std::uint64_t t = digits_of(w);
  const std::uint64_t not_digit = (((t & lows) + 0x7676767676767676ull) | t) & highs;
  if (not_digit == 0) return false;
  const auto count = static_cast<unsigned>(__builtin_clzll(not_digit) / 8);
  if (count == 0 || ((w >> (8 * (7 - count))) & 0xff) != '-') return false;
  pid = static_cast<std::uint32_t>(digits_value(t >> (8 * (8 - count)), count));
  dash = end - count - 1;
  return true;
}

// Tries the prefix assuming line[open] is the '[' of the CPU field; `common_shape` false skips
// context_fast(). Hand-written rather than a Spirit grammar: this runs for every line of a busy
// trace_pipe and must find the CPU field without backtracking over the comm, which may itself
// contain spaces, '-' and '['.
inline bool prefix_at(std::string_view line, std::size_t open, line_prefix& p,
                      bool common_shape = true) noexcept {
  // The general readings are marked unlikely: g++ then lays them out of the common path's way,
  // which made the whole classifier 5 % faster on the benchmark's lines (bench/ab/trace_ab.sh,
  // three runs of 200 paired rounds: 0.947-0.952), though nothing changed in what runs.
  context c;
  if (__builtin_expect(!(common_shape && context_fast(line, open, c)), 0) &&
      !context_at(line, open, c))
    return false;
  std::size_t i = c.next;
  const unsigned cpu = c.cpu;
  const std::string_view flags = c.flags, timestamp = c.timestamp;

  bool has_tgid = false, tgid_known = false;
  std::uint32_t tgid = 0, pid = 0;
  std::size_t comm_end = 0;
  if (__builtin_expect(!(common_shape && pid_fast(line.data(), open, pid, comm_end)), 0) &&
      !pid_at(line, open, has_tgid, tgid_known, tgid, pid, comm_end))
    return false;
  std::size_t comm_start = skip_spaces(line.data(), 0, comm_end);

  p.task = line.substr(comm_start, comm_end - comm_start);
  p.pid = pid;
  p.has_tgid = has_tgid;
  p.tgid_known = tgid_known;
  p.tgid = tgid;
  p.cpu = static_cast<std::uint16_t>(cpu);
  p.flags = flags;
  p.timestamp = timestamp;
  if (c.has_uptime)
    p.uptime = kernel_uptime{c.uptime_us};
  else
    p.uptime.reset();

  // " event: body". The event name is an identifier closed by ':'.
  if (i < line.size() && line[i] == ' ') ++i;
  std::size_t name_start = i;
  i += known_event_name(line.data() + i, line.size() - i);
  while (i < line.size() && is_identifier(line[i])) ++i;
  std::size_t body_start = name_start;
  if (i > name_start && i < line.size() && line[i] == ':' &&
      (i + 1 == line.size() || line[i + 1] == ' ')) {
    p.event = line.substr(name_start, i - name_start);
    body_start = i + 1 < line.size() ? i + 2 : i + 1;
  } else {
    p.event = {};
  }
  std::size_t body_end = line.size();
  while (body_end > body_start &&
         (line[body_end - 1] == ' ' || line[body_end - 1] == '\t' || line[body_end - 1] == '\r' ||
          line[body_end - 1] == '\n'))
    --body_end;
  if (body_start > body_end) body_start = body_end;
  p.body = line.substr(body_start, body_end - body_start);
  p.body_offset = body_start;
  return true;
}

// prefix_at() for a line whose end is not known yet: d starts a line in a padded buffer (a '\n'
// ends it, and 64 readable bytes follow that '\n'; see classify_next() in trace/reset.hpp). Only
// the kernel's usual shape, at the first '[' before the '\n', and only one of the six events
// known_event_name() knows, with a body (name, ": ", a byte other than '\n'): then `p` is what
// parse_prefix() gives for the line, but for body and body_offset, which the caller sets once
// it has found the line's end; `body_start` is where the body starts and `name_length` the
// length known_event_name() gave. Otherwise false, with `p` in any state, and the caller reads
// the line as a whole.
[[gnu::always_inline]] inline bool prefix_terminated(const char* d, line_prefix& p,
                                                     std::size_t& body_start,
                                                     std::size_t& name_length) noexcept {
  // The CPU field's '[' is at byte 25 when comm and pid fill their widths ("%16s-%-7d "), on
  // nearly every line: tested, the position is that constant (see context_fast()).
  constexpr std::size_t usual_open = 25;
  const std::size_t open =
      __builtin_expect(rstwatch::detail::scan::first_or_newline_at(d, '[', usual_open), 1)
          ? usual_open
          : rstwatch::detail::scan::find_or_newline(d, 0, '[');
  if (d[open] != '[') return false;
  std::uint32_t pid = 0;
  std::size_t comm_end = 0;
  if (!pid_fast(d, open, pid, comm_end)) return false;
  // context_fast() stops at the first byte outside its shape ('\n' is in none of its digits,
  // spaces or separators) and reads at most 40 bytes past '[' but for the spaces before the
  // timestamp: the view it is given ends 64 bytes past '['. The flags are any 4 or 5 bytes
  // but ' ': a '\n' among them would end the line there.
  context c;
  if (!context_fast(std::string_view(d, open + 64), open, c) ||
      rstwatch::detail::scan::first_byte_equal(load_le64(c.flags.data()), '\n') < c.flags.size())
    return false;
  std::size_t i = c.next;
  if (d[i] == ' ') ++i;
  const std::size_t name_start = i;
  name_length = known_event_name(d + i, 64);  // a name it knows, with its ':' after it; else 0
  i += name_length;
  if (name_length == 0 || d[i + 1] != ' ' || d[i + 2] == '\n') return false;
  p.task = std::string_view(d, comm_end).substr(skip_spaces(d, 0, comm_end));
  p.pid = pid;
  p.has_tgid = p.tgid_known = false;
  p.tgid = 0;
  p.cpu = static_cast<std::uint16_t>(c.cpu);
  p.flags = c.flags;
  p.timestamp = c.timestamp;
  p.uptime = kernel_uptime{c.uptime_us};
  p.event = std::string_view(d + name_start, i - name_start);
  body_start = i + 2;
  return true;
}

}  // namespace detail

// Parses the prefix of one line (without its newline). nullopt when the line has no ftrace
// prefix: header lines ("# tracer: nop"), LOG lines, anything else. Never throws.
// The same, filling `p` in place (the classifier's path: no copy of the prefix).
// `common_shape` false skips the fast reading of the kernel's usual shape (tests and fuzzing
// compare the two).
[[gnu::flatten]] inline bool parse_prefix(std::string_view line, line_prefix& p,
                                          bool common_shape = true) noexcept {
  // The CPU field is the first "[digits] " whose left side ends in "-pid" and whose right side
  // is flags and a timestamp: candidates are found with memchr.
  for (std::size_t open = detail::find_byte(line.data(), 0, line.size(), '['); open < line.size();
       open = detail::find_byte(line.data(), open + 1, line.size(), '[')) {
    if (detail::prefix_at(line, open, p, common_shape)) return true;
  }
  return false;
}

inline std::optional<line_prefix> parse_prefix(std::string_view line) noexcept {
  line_prefix p;
  if (!parse_prefix(line, p)) return std::nullopt;
  return p;
}

// trace_pipe reports dropped events as "CPU:%d [LOST %lu EVENTS]" (kernel/trace/trace.c,
// print_trace_line / trace_find_next_entry_inc with iter->lost_events): the count, or nullopt.
inline std::optional<std::uint64_t> lost_events(std::string_view line) noexcept {
  using detail::is_digit;
  constexpr std::string_view cpu = "CPU:", lost = " [LOST ", tail = " EVENTS]";
  if (line.substr(0, cpu.size()) != cpu) return std::nullopt;
  std::size_t i = cpu.size();
  std::size_t start = i;
  while (i < line.size() && is_digit(line[i])) ++i;
  if (i == start || line.substr(i, lost.size()) != lost) return std::nullopt;
  i += lost.size();
  start = i;
  while (i < line.size() && is_digit(line[i])) ++i;
  std::uint64_t n = 0;
  if (!detail::to_unsigned(line.substr(start, i - start), n, ~std::uint64_t{0}))
    return std::nullopt;
  std::string_view rest = line.substr(i);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\r')) rest.remove_suffix(1);
  if (rest != tail) return std::nullopt;
  return n;
}

// Cheap test for auto-detection next to LOG lines: an ftrace line prefix, or a lost-events
// notice. A LOG line never passes (its "[ 12.345678]" dmesg stamp has a '.' inside the
// brackets, and nothing after a LOG prefix's '[' is "digits] flags seconds.micros:").
inline bool looks_like_trace_line(std::string_view line) noexcept {
  return parse_prefix(line).has_value() || lost_events(line).has_value();
}

}  // namespace rstwatch::trace
