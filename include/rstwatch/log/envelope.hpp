// What a logger wrapped around a kernel message (syslog, journalctl, dmesg, /dev/kmsg),
// detected per line without configuration: time, host, tag, kernel uptime, and the message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <rstwatch/log/detail/scan.hpp>
#include <rstwatch/time.hpp>

namespace rstwatch::log {

enum class envelope_kind : std::uint8_t {
  none,                // no envelope recognised: the whole line is the message
  syslog_traditional,  // "Nov 25 05:55:38 host kernel: msg" (also journalctl -o short)
  syslog_precise,      // "Nov 25 05:55:38.123456 host kernel: msg" (journalctl -o short-precise)
  syslog_rfc3339,      // "2026-11-25T05:55:38.123456+00:00 host kernel: msg" (rsyslog's
                       // RSYSLOG_FileFormat, Debian 12's default; journalctl -o short-iso[-precise])
  monotonic,           // "[  505.687716] host kernel: msg" (journalctl -o short-monotonic)
  dmesg,               // "[  505.687716] msg"
  dmesg_raw,           // "<7>[  505.687716] msg" (dmesg -r)
  dmesg_time,          // "[Wed Nov 25 13:46:05 2026] msg" (dmesg -T)
  kmsg,                // "7,485,505687716,-;msg" (a /dev/kmsg record)
  kmsg_continuation,   // " SUBSYSTEM=net" (a /dev/kmsg dictionary line of the record before)
};

inline constexpr std::string_view envelope_kind_names[] = {
    "none",    "syslog", "syslog-precise", "rfc3339",  "monotonic",
    "dmesg",   "dmesg-raw", "dmesg-time", "kmsg",     "kmsg-continuation"};

constexpr std::string_view to_string(envelope_kind k) noexcept {
  return envelope_kind_names[static_cast<std::size_t>(k)];
}

// A line taken apart. Views point into the line.
struct envelope {
  envelope_kind kind = envelope_kind::none;
  std::string_view time_text;       // the time as written, empty when none
  std::optional<civil_time> time;   // parsed wall-clock time (year 0 for traditional syslog)
  std::optional<kernel_uptime> uptime;  // the kernel's "[ 2347.180373]" or the kmsg timestamp
  std::string_view host;            // empty when the envelope names none
  std::string_view tag;             // "kernel" (without ':'), empty when none
  int level = -1;                   // syslog level 0..7 from "<7>" or kmsg, -1 when unknown
  std::uint64_t sequence = 0;       // kmsg record number
  std::string_view message;         // what the kernel printed
};

namespace detail {

using namespace rstwatch::detail::scan;

// `e = envelope{}`, member by member: g++ compiles the whole-object assignment as `rep stosq`,
// whose start-up cost is paid on every line (see reset(record_view&) in log/record.hpp).
// tests/log.cpp checks that a reset envelope equals a fresh one.
inline void reset(envelope& e) noexcept {
  e.kind = envelope_kind::none;
  e.time_text = {};
  e.time.reset();
  e.uptime.reset();
  e.host = {};
  e.tag = {};
  e.level = -1;
  e.sequence = 0;
  e.message = {};
}

// "[ 2347.180373]": '[', optional spaces, seconds, '.', microseconds, ']'.
// (kernel/printk/printk.c print_time: "[%5lu.%06lu]")
constexpr bool read_uptime(std::string_view s, std::size_t& i, kernel_uptime& u) noexcept {
  std::size_t k = i;
  if (k >= s.size() || s[k] != '[') return false;
  ++k;
  while (k < s.size() && s[k] == ' ') ++k;
  std::uint64_t sec = 0;
  std::size_t digits = 0;
  while (k < s.size() && is_digit(s[k]) && digits < 12) {
    sec = sec * 10 + static_cast<unsigned>(s[k++] - '0');
    ++digits;
  }
  if (digits == 0 || k >= s.size() || s[k] != '.') return false;
  ++k;
  std::uint64_t usec = 0;
  digits = 0;
  while (k < s.size() && is_digit(s[k]) && digits < 9) {
    usec = usec * 10 + static_cast<unsigned>(s[k++] - '0');
    ++digits;
  }
  if (digits != 6 || k >= s.size() || s[k] != ']') return false;
  u.microseconds = sec * 1000000 + usec;
  i = k + 1;
  return true;
}

constexpr bool read_fixed(std::string_view s, std::size_t& i, std::size_t n, unsigned& v) noexcept {
  if (i + n > s.size()) return false;
  v = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (!is_digit(s[i + k])) return false;
    v = v * 10 + static_cast<unsigned>(s[i + k] - '0');
  }
  i += n;
  return true;
}

constexpr bool expect(std::string_view s, std::size_t& i, char c) noexcept {
  if (i >= s.size() || s[i] != c) return false;
  ++i;
  return true;
}

// "HH:MM:SS" with an optional ".ffffff" fraction (1..9 digits, kept to microseconds).
constexpr bool read_clock(std::string_view s, std::size_t& i, civil_time& t, bool& fraction) noexcept {
  unsigned h = 0, m = 0, sec = 0;
  if (!read_fixed(s, i, 2, h) || !expect(s, i, ':') || !read_fixed(s, i, 2, m) ||
      !expect(s, i, ':') || !read_fixed(s, i, 2, sec) || h > 23 || m > 59 || sec > 60)
    return false;
  t.hour = static_cast<std::uint8_t>(h);
  t.minute = static_cast<std::uint8_t>(m);
  t.second = static_cast<std::uint8_t>(sec);
  fraction = false;
  if (i < s.size() && s[i] == '.') {
    std::size_t k = i + 1, digits = 0;
    std::uint32_t us = 0;
    while (k < s.size() && is_digit(s[k])) {
      if (digits < 6) us = us * 10 + static_cast<unsigned>(s[k] - '0');
      ++digits;
      ++k;
    }
    if (digits == 0 || digits > 9) return false;
    for (std::size_t d = digits; d < 6; ++d) us *= 10;
    t.microsecond = us;
    fraction = true;
    i = k;
  }
  return true;
}

// "Nov 25" or "Nov  5" (RFC 3164 pads the day with a space).
constexpr bool read_month_day(std::string_view s, std::size_t& i, civil_time& t) noexcept {
  if (i + 6 > s.size()) return false;
  unsigned month = rstwatch::detail::month_from_abbreviation(s.substr(i, 3));
  if (month == 0 || s[i + 3] != ' ') return false;
  i += 4;
  unsigned day = 0;
  if (s[i] == ' ') {
    ++i;
    if (!read_fixed(s, i, 1, day)) return false;
  } else if (!read_fixed(s, i, 2, day)) {
    if (!read_fixed(s, i, 1, day)) return false;
  }
  if (day < 1 || day > 31) return false;
  t.month = static_cast<std::uint8_t>(month);
  t.day = static_cast<std::uint8_t>(day);
  return true;
}

// "2026-11-25T05:55:38[.ffffff](Z|+00:00|+0000)".
constexpr bool read_iso(std::string_view s, std::size_t& i, civil_time& t) noexcept {
  unsigned y = 0, mo = 0, d = 0;
  if (!read_fixed(s, i, 4, y) || !expect(s, i, '-') || !read_fixed(s, i, 2, mo) ||
      !expect(s, i, '-') || !read_fixed(s, i, 2, d) || !expect(s, i, 'T') || mo < 1 || mo > 12 ||
      d < 1 || d > 31)
    return false;
  t.year = static_cast<std::int32_t>(y);
  t.month = static_cast<std::uint8_t>(mo);
  t.day = static_cast<std::uint8_t>(d);
  bool fraction = false;
  if (!read_clock(s, i, t, fraction)) return false;
  if (i < s.size() && s[i] == 'Z') {
    ++i;
    t.has_offset = true;
    return true;
  }
  if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return false;
  int sign = s[i++] == '-' ? -1 : 1;
  unsigned oh = 0, om = 0;
  if (!read_fixed(s, i, 2, oh)) return false;
  if (i < s.size() && s[i] == ':') ++i;
  if (!read_fixed(s, i, 2, om) || oh > 23 || om > 59) return false;
  t.has_offset = true;
  t.offset_minutes = static_cast<std::int16_t>(sign * static_cast<int>(oh * 60 + om));
  return true;
}

// "Wed Nov 25 13:46:05 2026" (dmesg -T; local time, util-linux ctime format).
constexpr bool read_ctime(std::string_view s, std::size_t& i, civil_time& t) noexcept {
  if (i + 4 > s.size() || s[i + 3] != ' ') return false;
  i += 4;
  if (!read_month_day(s, i, t) || !expect(s, i, ' ')) return false;
  bool fraction = false;
  unsigned y = 0;
  if (!read_clock(s, i, t, fraction) || !expect(s, i, ' ') || !read_fixed(s, i, 4, y)) return false;
  t.year = static_cast<std::int32_t>(y);
  return true;
}

inline std::string_view word_at(std::string_view s, std::size_t i) noexcept {
  if (i >= s.size()) return {};
  return s.substr(i, find_space(s.data(), i, s.size()) - i);
}

// Whether w holds c; a plain loop, as the words here are too short for a memchr call to pay.
constexpr bool holds(std::string_view w, char c) noexcept {
  for (char x : w)
    if (x == c) return true;
  return false;
}

// A syslog tag: "kernel:" or "name[123]:".
constexpr bool is_tag(std::string_view w) noexcept {
  if (w.size() < 2 || w.back() != ':') return false;
  w.remove_suffix(1);
  if (w.back() == ']') {
    std::size_t bracket = w.find('[');
    if (bracket == std::string_view::npos) return false;
    w = w.substr(0, bracket);
  } else if (holds(w, '[')) {
    return false;
  }
  if (w.empty()) return false;
  for (char c : w) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || c == '=' || c == '[' || c == ']' || u >= 0x7f) return false;
  }
  return true;
}

// After a syslog time: "[HOST] [TAG: ]MESSAGE", then the kernel's uptime if imklog kept it.
[[gnu::flatten]] inline void read_host_tag(std::string_view s, std::size_t i, envelope& e) noexcept {
  std::string_view w1 = word_at(s, i);
  if (is_tag(w1)) {
    e.tag = w1.substr(0, w1.size() - 1);
    i += w1.size() + 1;
  } else if (!w1.empty() && !holds(w1, '=') && w1[0] != '[' &&
             i + w1.size() < s.size()) {
    e.host = w1;
    i += w1.size() + 1;
    if (s.size() - i >= 8 && equal_literal(s.data() + i, "kernel: ")) {  // the usual tag
      e.tag = s.substr(i, 6);
      i += 8;
    } else if (std::string_view w2 = word_at(s, i); is_tag(w2)) {
      e.tag = w2.substr(0, w2.size() - 1);
      i += w2.size() + 1;
    }
  }
  if (i > s.size()) i = s.size();
  kernel_uptime u;
  std::size_t k = i;
  if (read_uptime(s, k, u)) {
    e.uptime = u;
    i = k < s.size() && s[k] == ' ' ? k + 1 : k;
  }
  e.message = s.substr(i);
}

}  // namespace detail

// Recognises the envelope of one line (no trailing newline) by its shape, into `e`. Never
// fails: a line no envelope fits is all message (kind none).
[[gnu::flatten]] inline void parse_envelope(std::string_view line, envelope& e) noexcept {
  using namespace detail;
  reset(e);
  e.message = line;
  if (line.empty()) return;
  const char c = line[0];
  std::size_t i = 0;
  civil_time t;
  if (c == ' ' || c == '\t') {
    e.kind = envelope_kind::kmsg_continuation;
    return;
  }
  if (is_digit(c)) {
    // "PRI,SEQ,USEC,FLAGS[,...];message" (Documentation/ABI/testing/dev-kmsg).
    std::size_t semi = line.find(';');
    std::size_t comma = line.find(',');
    if (comma != std::string_view::npos && semi != std::string_view::npos && comma < semi) {
      std::string_view head = line.substr(0, semi);
      std::size_t c2 = head.find(',', comma + 1);
      std::size_t c3 = c2 == std::string_view::npos ? c2 : head.find(',', c2 + 1);
      unsigned pri = 0;
      std::uint64_t seq = 0, usec = 0;
      if (c3 != std::string_view::npos && parse_uint(head.substr(0, comma), pri) &&
          parse_uint(head.substr(comma + 1, c2 - comma - 1), seq) &&
          parse_uint(head.substr(c2 + 1, c3 - c2 - 1), usec)) {
        e.kind = envelope_kind::kmsg;
        e.level = static_cast<int>(pri & 7);
        e.sequence = seq;
        e.uptime = kernel_uptime{usec};
        e.time_text = head.substr(c2 + 1, c3 - c2 - 1);
        e.message = line.substr(semi + 1);
        return;
      }
    }
    if (read_iso(line, i, t) && i < line.size() && line[i] == ' ') {
      e.kind = envelope_kind::syslog_rfc3339;
      e.time_text = line.substr(0, i);
      e.time = t;
      read_host_tag(line, i + 1, e);
    }
    return;
  }
  if (c == '<') {
    // "<7>[  505.687716] msg": syslog level in angle brackets (dmesg -r prints facility too).
    std::size_t close = line.find('>');
    unsigned pri = 0;
    if (close == std::string_view::npos || close > 5 || !parse_uint(line.substr(1, close - 1), pri))
      return;
    e.kind = envelope_kind::dmesg_raw;
    e.level = static_cast<int>(pri & 7);
    i = close + 1;
    kernel_uptime u;
    std::size_t k = i;
    if (read_uptime(line, k, u)) {
      e.uptime = u;
      e.time_text = line.substr(i, k - i);
      i = k < line.size() && line[k] == ' ' ? k + 1 : k;
    }
    e.message = line.substr(i);
    return;
  }
  if (c == '[') {
    kernel_uptime u;
    if (read_uptime(line, i, u)) {
      e.uptime = u;
      e.time_text = line.substr(0, i);
      std::size_t m = i < line.size() && line[i] == ' ' ? i + 1 : i;
      // journalctl -o short-monotonic adds "host kernel:"; dmesg prints the message at once.
      std::string_view w1 = word_at(line, m);
      std::size_t after = m + w1.size() + 1;
      if (!w1.empty() && w1[0] != '[' && after < line.size() &&
          word_at(line, after) == "kernel:") {
        e.kind = envelope_kind::monotonic;
        e.host = w1;
        e.tag = line.substr(after, 6);  // "kernel", as a view of the line like every field
        e.message = line.substr(after + 8 < line.size() ? after + 8 : line.size());
        return;
      }
      e.kind = envelope_kind::dmesg;
      e.message = line.substr(m);
      return;
    }
    i = 1;
    if (read_ctime(line, i, t) && i < line.size() && line[i] == ']') {
      e.kind = envelope_kind::dmesg_time;
      e.time_text = line.substr(1, i - 1);
      e.time = t;
      ++i;
      e.message = line.substr(i < line.size() && line[i] == ' ' ? i + 1 : i);
    }
    return;
  }
  if (read_month_day(line, i, t) && expect(line, i, ' ')) {
    bool fraction = false;
    if (read_clock(line, i, t, fraction) && i < line.size() && line[i] == ' ') {
      e.kind = fraction ? envelope_kind::syslog_precise : envelope_kind::syslog_traditional;
      e.time_text = line.substr(0, i);
      e.time = t;
      read_host_tag(line, i + 1, e);
    }
  }
  return;
}

// The same, returning a fresh value.
inline envelope parse_envelope(std::string_view line) noexcept {
  envelope e;
  parse_envelope(line, e);
  return e;
}

}  // namespace rstwatch::log
