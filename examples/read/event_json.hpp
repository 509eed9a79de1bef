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

}  // namespace detail

// RapidJSON's Writer with one addition: a string that needs no escaping *by construction* — a
// constant key, an address ip_address::to_chars wrote, a time rfc3339_chars wrote, a flag or
// sender name — is copied in one piece instead of being scanned byte by byte (the scan was a
// third of the JSON output's cost). Everything that comes from the input (prefix, host,
// interfaces, file names) still goes through Writer::String and its escaping.
class json_writer : public rapidjson::Writer<rapidjson::StringBuffer> {
  using base = rapidjson::Writer<rapidjson::StringBuffer>;

 public:
  using base::base;

  // s must be plain_text (checked in debug builds).
  void plain(std::string_view s) {
    assert(detail::plain_text(s));
    Prefix(rapidjson::kStringType);
    char* out = os_->Push(s.size() + 2);
    out[0] = '"';
    if (!s.empty()) std::memcpy(out + 1, s.data(), s.size());  // an empty view may hold null
    out[s.size() + 1] = '"';
    EndValue(true);
  }
  template <std::size_t N>
  void plain_key(const char (&k)[N]) {
    plain(std::string_view(k, N - 1));
  }
};

namespace detail {
// A constant key: copied as it is (plain_text, asserted in debug builds and by the tests).
template <std::size_t N>
void key(json_writer& w, const char (&k)[N]) {
  w.plain_key(k);
}
template <class Writer, std::size_t N>
void key(Writer& w, const char (&k)[N]) {
  w.Key(k, static_cast<rapidjson::SizeType>(N - 1));
}
// Text plain by construction (addresses, times, constant names).
inline void write_ascii(json_writer& w, std::string_view s) { w.plain(s); }
// Text from the input: copied when it is plain (nearly always: "[drds] ", "eth0", a host
// name), else handed to Writer::String for escaping and U+FFFD repair as above.
inline void write_string(json_writer& w, std::string_view s) {
  if (plain_text(s))
    w.plain(s);
  else
    write_string<json_writer>(w, s);
}
template <class Writer>
void write_ascii(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

template <class Writer>
void write_endpoint(Writer& w, const std::optional<endpoint>& e, char* scratch,
                    const endpoint* known = nullptr, std::string_view known_text = {}) {
  if (!e) {
    w.Null();
    return;
  }
  w.StartObject();
  key(w, "addr");
  // The local and remote ends are the RST's source and destination again: their text, made
  // once for "src"/"dst", is reused when given.
  write_ascii(w, known && known->address == e->address ? known_text
                                                        : address_text(e->address, scratch));
  key(w, "port");
  w.Uint(e->port);
  w.EndObject();
}

}  // namespace detail

// Writes `e` as one JSON object. `source_name` is the file the event came from ("-" for stdin).
template <class Writer>
void write_event_json(Writer& w, const reset_event& e, std::string_view source_name) {
  char addr[64];
  const bool from_log = e.origin == event_origin::log;
  w.StartObject();
  detail::key(w, "time");
  char text[rfc3339_max_size];
  if (std::size_t n = e.time ? rfc3339_chars(*e.time, text) : 0)
    detail::write_ascii(w, std::string_view(text, n));
  else
    w.Null();
  detail::key(w, "uptime");
  if (e.uptime)
    w.RawValue(text, uptime_chars(*e.uptime, text), rapidjson::kNumberType);
  else
    w.Null();
  detail::key(w, "host");
  if (e.host.empty())
    w.Null();
  else
    detail::write_string(w, e.host);
  detail::key(w, "prefix");
  if (from_log)
    detail::write_string(w, e.prefix);
  else
    w.Null();
  detail::key(w, "sender");
  detail::write_ascii(w, to_string(e.sender));
  detail::key(w, "src");
  char src_text[64], dst_text[64];
  const std::string_view src = detail::address_text(e.source.address, src_text);
  const std::string_view dst = detail::address_text(e.destination.address, dst_text);
  detail::write_ascii(w, src);
  detail::key(w, "sport");
  w.Uint(e.source.port);
  detail::key(w, "dst");
  detail::write_ascii(w, dst);
  detail::key(w, "dport");
  w.Uint(e.destination.port);
  detail::key(w, "local");
  const auto local = e.local_endpoint(), remote = e.remote_endpoint();
  auto same = [&](const std::optional<endpoint>& ep) -> const endpoint* {
    if (ep && ep->address == e.source.address) return &e.source;
    if (ep && ep->address == e.destination.address) return &e.destination;
    return nullptr;
  };
  auto text_of = [&](const endpoint* k) { return k == &e.source ? src : dst; };
  const endpoint* lk = same(local);
  detail::write_endpoint(w, local, addr, lk, lk ? text_of(lk) : std::string_view());
  detail::key(w, "remote");
  const endpoint* rk = same(remote);
  detail::write_endpoint(w, remote, addr, rk, rk ? text_of(rk) : std::string_view());
  // A LOG line always says IN= and OUT= (empty when the hook had no such device); a
  // tracepoint knows no interface at all.
  detail::key(w, "in");
  if (from_log)
    detail::write_string(w, e.in_interface);
  else
    w.Null();
  detail::key(w, "out");
  if (from_log)
    detail::write_string(w, e.out_interface);
  else
    w.Null();
  detail::key(w, "loopback");
  w.Bool(e.loopback);
  detail::key(w, "seq");
  if (e.has_sequence)
    w.Uint(e.sequence);
  else
    w.Null();
  detail::key(w, "ack");
  if (e.has_sequence)
    w.Uint(e.acknowledgment);
  else
    w.Null();
  detail::key(w, "flags");
  w.StartArray();
  for (std::size_t k = 0; k < std::size(tcp_flags::kernel_order); ++k)
    if (e.flags.bits() & tcp_flags::kernel_order[k]) detail::write_ascii(w, tcp_flags::names[k]);
  w.EndArray();
  detail::key(w, "origin");
  detail::write_ascii(w, to_string(e.origin));
  detail::key(w, "event");
  if (e.tracepoint.empty())
    w.Null();
  else
    detail::write_string(w, e.tracepoint);
  detail::key(w, "source");
  if (source_name.size() <= 200) {  // "file:line" without a heap string
    char src[224];
    if (!source_name.empty()) std::memcpy(src, source_name.data(), source_name.size());
    char* o = src + source_name.size();
    *o++ = ':';
    o = detail::put_uint(o, e.line_number);
    detail::write_string(w, std::string_view(src, static_cast<std::size_t>(o - src)));
  } else {
    detail::write_string(w, std::string(source_name) + ':' + std::to_string(e.line_number));
  }
  w.EndObject();
}

// The event as one line of JSON text (no newline), for callers without a Writer of their own.
inline std::string event_json(const reset_event& e, std::string_view source_name) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  write_event_json(w, e, source_name);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace rstwatch::read
