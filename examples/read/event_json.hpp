// The JSON contract of rstwatch-read: one object per reset event, every key always present,
// null when unknown. The fuzz targets use this same header to check that what the reader
// writes parses back to the same event.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cassert>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

#include <rstwatch/event.hpp>

namespace rstwatch::read {

// The keys, in the order they are written.
inline constexpr std::string_view json_keys[] = {
    "time", "uptime", "host", "prefix", "sender", "src",  "sport", "dst",   "dport",  "local",
    "remote", "in",   "out",  "loopback", "seq",  "ack",  "flags", "origin", "event", "source"};

namespace detail {
// Writes v in exactly `width` decimal digits (zero-padded) and returns the end.
inline char* put_digits(char* out, std::uint64_t v, int width) {
  for (int k = width - 1; k >= 0; --k, v /= 10) out[k] = static_cast<char>('0' + v % 10);
  return out + width;
}
// Writes v in decimal, without padding, and returns the end.
inline char* put_uint(char* out, std::uint64_t v) {
  char tmp[20];
  int n = 0;
  do tmp[n++] = static_cast<char>('0' + v % 10); while (v /= 10);
  while (n) *out++ = tmp[--n];
  return out;
}
}  // namespace detail

// Longest RFC 3339 text written here: "-99999-12-31T23:59:60.999999+23:59" fits with room.
inline constexpr std::size_t rfc3339_max_size = 48;

// RFC 3339 text of an envelope time into buf (rfc3339_max_size bytes): as written when it
// carried an offset, else in the local zone of this process (where syslog wrote it). Returns
// the length; 0 when the time or its year is unknown. Digits are written by hand rather than
// by snprintf: this runs for every event of a JSON or CSV output.
inline std::size_t rfc3339_chars(const civil_time& t, char* buf) {
  auto offset_seconds = t.utc_offset_seconds();
  if (!offset_seconds || !t.unix_microseconds() || t.year < 0 || t.year > 9999) return 0;
  const int offset = static_cast<int>(*offset_seconds / 60);
  const int off = offset < 0 ? -offset : offset;
  char* o = buf;
  o = detail::put_digits(o, static_cast<std::uint64_t>(t.year), 4);
  *o++ = '-';
  o = detail::put_digits(o, t.month, 2);
  *o++ = '-';
  o = detail::put_digits(o, t.day, 2);
  *o++ = 'T';
  o = detail::put_digits(o, t.hour, 2);
  *o++ = ':';
  o = detail::put_digits(o, t.minute, 2);
  *o++ = ':';
  o = detail::put_digits(o, t.second, 2);
  if (t.microsecond != 0) {
    *o++ = '.';
    o = detail::put_digits(o, t.microsecond, 6);
  }
  *o++ = offset < 0 ? '-' : '+';
  o = detail::put_digits(o, static_cast<std::uint64_t>(off / 60), 2);
  *o++ = ':';
  o = detail::put_digits(o, static_cast<std::uint64_t>(off % 60), 2);
  return static_cast<std::size_t>(o - buf);
}

// rfc3339_chars of the last time asked for, made again only when the time changes (a log's
// consecutive lines mostly share their second). Empty when the time has no RFC 3339 form.
class rfc3339_cache {
 public:
  std::string_view text(const civil_time& t) {
    if (!(known_ && same(t, time_))) {
      time_ = t;
      size_ = rfc3339_chars(t, text_);
      known_ = true;
    }
    return std::string_view(text_, size_);
  }

 private:
  static bool same(const civil_time& a, const civil_time& b) noexcept {
    return a.year == b.year && a.month == b.month && a.day == b.day && a.hour == b.hour &&
           a.minute == b.minute && a.second == b.second && a.microsecond == b.microsecond &&
           a.has_offset == b.has_offset && a.offset_minutes == b.offset_minutes;
  }
  civil_time time_;
  char text_[rfc3339_max_size];
  std::size_t size_ = 0;
  bool known_ = false;
};

inline std::string rfc3339(const civil_time& t) {
  char buf[rfc3339_max_size];
  return std::string(buf, rfc3339_chars(t, buf));
}

// Seconds since boot with microseconds, e.g. 2347.180373.
inline double uptime_seconds(kernel_uptime u) {
  return static_cast<double>(u.microseconds) / 1e6;
}

// The same as exact decimal text ("2347.180373", always six decimals) into buf (32 bytes):
// no binary floating point on the way, so the JSON number is the kernel's, digit for digit.
inline std::size_t uptime_chars(kernel_uptime u, char* buf) {
  char* o = detail::put_uint(buf, u.microseconds / 1000000);
  *o++ = '.';
  o = detail::put_digits(o, u.microseconds % 1000000, 6);
  return static_cast<std::size_t>(o - buf);
}

namespace detail {

// RFC 5952 text of `a` in `scratch` (at least ip_address::max_text_size bytes).
inline std::string_view address_text(const ip_address& a, char* scratch) {
  return std::string_view(scratch, static_cast<std::size_t>(a.to_chars(scratch) - scratch));
}

// Length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF).
inline std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if ((c == 0xe0 && b(1) < 0xa0) || (c == 0xed && b(1) > 0x9f)) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((c == 0xf0 && b(1) < 0x90) || (c == 0xf4 && b(1) > 0x8f)) return 0;
    return 4;
  }
  return 0;
}

// JSON text must be Unicode (RFC 8259 8.1), but a LOG prefix, a host name or a file name may
// hold any bytes: each byte that is not part of valid UTF-8 is written as U+FFFD, so the
// output always parses. Valid text (nearly always plain ASCII) is written as it is.
template <class Writer>
void write_string(Writer& w, std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return;
  }
  std::string clean(s.substr(0, i));
  while (i < s.size()) {
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      clean += "\xEF\xBF\xBD";
      ++i;
    } else {
      clean.append(s.data() + i, n);
      i += n;
    }
  }
  w.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
}

// Whether JSON can hold s between quotes as it is: printable ASCII without '"' or '\\'.
constexpr bool plain_text(std::string_view s) noexcept {
  for (char c : s)
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  return true;
}

template <class Writer, std::size_t N>
void key(Writer& w, const char (&k)[N]) {
  w.Key(k, static_cast<rapidjson::SizeType>(N - 1));
}
template <class Writer>
void write_ascii(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// {"addr": ..., "port": ...} or null, for the other trace records (trace_lines.hpp).
template <class Writer>
void write_endpoint(Writer& w, const std::optional<endpoint>& e, char* scratch) {
  if (!e) {
    w.Null();
    return;
  }
  w.StartObject();
  key(w, "addr");
  write_ascii(w, address_text(e->address, scratch));
  key(w, "port");
  w.Uint(e->port);
  w.EndObject();
}

}  // namespace detail

// Writes reset events as JSON text. The object's shape is fixed by the contract above: every
// key, always, in json_keys order. So the punctuation and keys are constant text, copied in
// pieces the compiler turns into a few stores, and only the values vary; going through
// RapidJSON's Writer for the structure (its level stack and comma bookkeeping, per key and
// per value) was two thirds of the cost of a JSON line. The values: numbers and the texts
// rstwatch makes (times, addresses, flag and sender names) are plain by construction; text
// from the input (host, prefix, interfaces, tracepoint, file name) is copied when plain_text
// and otherwise escaped by RapidJSON's Writer::String, after U+FFFD repair (write_string).
class event_json_writer {
 public:
  static constexpr std::size_t fixed_size = 1024;

  // Appends `e` as one JSON object, without a newline, to `out`. `source_name` is the file
  // the event came from ("-" for stdin).
  void write(std::string& out, const reset_event& e, std::string_view source_name) {
    const bool from_log = e.origin == event_origin::log;
    // The keys, punctuation and every value but the input's texts fit in fixed_size bytes
    // (the longest such object is about 650: tests/read_outputs.cpp); each input text at most
    // grows sixfold (a control byte becomes \u00XX) plus its quotes.
    const std::size_t bound =
        fixed_size + 6 * (e.host.size() + e.prefix.size() + e.in_interface.size() +
                          e.out_interface.size() + e.tracepoint.size() + source_name.size()) +
        6 * 2;
    const std::size_t start = out.size();
    out.resize(start + bound);  // written below, then cut to what was written
    char* const begin = out.data() + start;
    char* o = begin;

    o = put(o, "{\"time\":");
    if (std::string_view t = e.time ? time_.text(*e.time) : std::string_view(); !t.empty()) {
      *o++ = '"';
      o = copy(o, t.data(), t.size());
      *o++ = '"';
    } else {
      o = put(o, "null");
    }
    o = put(o, ",\"uptime\":");
    o = e.uptime ? o + uptime_chars(*e.uptime, o) : put(o, "null");
    o = put(o, ",\"host\":");
    o = e.host.empty() ? put(o, "null") : text(o, e.host);
    o = put(o, ",\"prefix\":");
    o = from_log ? text(o, e.prefix) : put(o, "null");
    o = put(o, ",\"sender\":");
    o = quoted(o, to_string(e.sender));
    // An address's text at p, p moved past it; the text is kept for "local" and "remote".
    auto address = [](char*& p, const ip_address& a) {
      char* const start = p;
      p = a.to_chars(p);
      return std::string_view(start, static_cast<std::size_t>(p - start));
    };
    o = put(o, ",\"src\":\"");
    const std::string_view src_text = address(o, e.source.address);
    o = put(o, "\",\"sport\":");
    o = detail::put_uint(o, e.source.port);
    o = put(o, ",\"dst\":\"");
    const std::string_view dst_text = address(o, e.destination.address);
    o = put(o, "\",\"dport\":");
    o = detail::put_uint(o, e.destination.port);
    // The local and remote ends are the RST's source and destination again: their text, just
    // written for "src" and "dst", is copied rather than made again.
    auto endpoint_json = [&](char* p, const std::optional<endpoint>& ep) {
      if (!ep) return put(p, "null");
      p = put(p, "{\"addr\":\"");
      if (ep->address == e.source.address)
        p = copy(p, src_text.data(), src_text.size());
      else if (ep->address == e.destination.address)
        p = copy(p, dst_text.data(), dst_text.size());
      else
        p = ep->address.to_chars(p);
      p = put(p, "\",\"port\":");
      p = detail::put_uint(p, ep->port);
      *p++ = '}';
      return p;
    };
    o = put(o, ",\"local\":");
    o = endpoint_json(o, e.local_endpoint());
    o = put(o, ",\"remote\":");
    o = endpoint_json(o, e.remote_endpoint());
    // A LOG line always says IN= and OUT= (empty when the hook had no such device); a
    // tracepoint knows no interface at all.
    o = put(o, ",\"in\":");
    o = from_log ? text(o, e.in_interface) : put(o, "null");
    o = put(o, ",\"out\":");
    o = from_log ? text(o, e.out_interface) : put(o, "null");
    o = e.loopback ? put(o, ",\"loopback\":true,\"seq\":") : put(o, ",\"loopback\":false,\"seq\":");
    o = e.has_sequence ? detail::put_uint(o, e.sequence) : put(o, "null");
    o = put(o, ",\"ack\":");
    o = e.has_sequence ? detail::put_uint(o, e.acknowledgment) : put(o, "null");
    o = put(o, ",\"flags\":[");
    bool first = true;
    for (std::size_t k = 0; k < std::size(tcp_flags::kernel_order); ++k)
      if (e.flags.bits() & tcp_flags::kernel_order[k]) {
        if (!first) *o++ = ',';
        first = false;
        o = quoted(o, tcp_flags::names[k]);
      }
    o = put(o, "],\"origin\":");
    o = quoted(o, to_string(e.origin));
    o = put(o, ",\"event\":");
    o = e.tracepoint.empty() ? put(o, "null") : text(o, e.tracepoint);
    o = put(o, ",\"source\":");
    // "file:line": the name's plainness is worked out once per file, the digits are plain.
    if (source_name.data() != source_.data() || source_name.size() != source_.size()) {
      source_ = source_name;
      source_plain_ = detail::plain_text(source_name);
    }
    if (source_plain_) {
      *o++ = '"';
      o = copy(o, source_name.data(), source_name.size());
      *o++ = ':';
      o = detail::put_uint(o, e.line_number);
      *o++ = '"';
    } else {
      std::string whole(source_name);
      whole += ':';
      whole += std::to_string(e.line_number);
      o = text(o, whole);
    }
    *o++ = '}';
    out.resize(start + static_cast<std::size_t>(o - begin));
  }

 private:
  template <std::size_t N>
  static char* put(char* o, const char (&literal)[N]) {
    std::memcpy(o, literal, N - 1);
    return o + N - 1;
  }
  static char* copy(char* o, const char* s, std::size_t n) {
    if (n) std::memcpy(o, s, n);  // an empty view may hold a null pointer
    return o + n;
  }
  // Text plain by construction, between quotes.
  static char* quoted(char* o, std::string_view s) {
    assert(detail::plain_text(s));
    *o++ = '"';
    o = copy(o, s.data(), s.size());
    *o++ = '"';
    return o;
  }
  // Text from the input: copied when plain (nearly always: "[drds] ", "eth0", a host name),
  // else escaped and repaired by RapidJSON as write_string does.
  char* text(char* o, std::string_view s) {
    if (detail::plain_text(s)) return quoted(o, s);
    escaped_.Clear();
    escaper_.Reset(escaped_);
    detail::write_string(escaper_, s);
    return copy(o, escaped_.GetString(), escaped_.GetSize());
  }
  rapidjson::StringBuffer escaped_;
  rapidjson::Writer<rapidjson::StringBuffer> escaper_{escaped_};
  std::string_view source_;
  bool source_plain_ = false;
  rfc3339_cache time_;
};

// The event as one line of JSON text (no newline), for callers without a writer of their own.
inline std::string event_json(const reset_event& e, std::string_view source_name) {
  std::string out;
  event_json_writer().write(out, e, source_name);
  return out;
}

}  // namespace rstwatch::read
