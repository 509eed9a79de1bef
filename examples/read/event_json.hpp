// The JSON contract of rstwatch-read: one object per reset event, every key always present,
// null when unknown. The fuzz targets use this same header to check that what the reader
// writes parses back to the same event.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

#include <rstwatch/event.hpp>

namespace rstwatch::read {

// The keys, in the order they are written.
inline constexpr std::string_view json_keys[] = {
    "time", "uptime", "host", "prefix", "sender", "src",  "sport", "dst",   "dport",  "local",
    "remote", "in",   "out",  "loopback", "seq",  "ack",  "flags", "origin", "event", "source"};

// RFC 3339 text of an envelope time: as written when it carried an offset, else in the local
// zone of this process (where syslog wrote it). Empty when the time or its year is unknown.
inline std::string rfc3339(const civil_time& t) {
  auto offset_seconds = t.utc_offset_seconds();
  if (!offset_seconds || !t.unix_microseconds()) return {};
  int offset = static_cast<int>(*offset_seconds / 60);
  char buf[48];
  char sign = offset < 0 ? '-' : '+';
  int off = offset < 0 ? -offset : offset;
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02u:%02u:%02u", int(t.year),
                        unsigned(t.month), unsigned(t.day), unsigned(t.hour), unsigned(t.minute),
                        unsigned(t.second));
  if (t.microsecond != 0)
    n += std::snprintf(buf + n, sizeof buf - n, ".%06u", unsigned(t.microsecond));
  std::snprintf(buf + n, sizeof buf - n, "%c%02d:%02d", sign, off / 60, off % 60);
  return buf;
}

// Seconds since boot with microseconds, e.g. 2347.180373.
inline double uptime_seconds(kernel_uptime u) {
  return static_cast<double>(u.microseconds) / 1e6;
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

template <class Writer>
void write_endpoint(Writer& w, const std::optional<endpoint>& e, char* scratch) {
  if (!e) {
    w.Null();
    return;
  }
  w.StartObject();
  w.Key("addr");
  write_string(w, address_text(e->address, scratch));
  w.Key("port");
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
  w.Key("time");
  if (std::string t = e.time ? rfc3339(*e.time) : std::string(); !t.empty())
    detail::write_string(w, t);
  else
    w.Null();
  w.Key("uptime");
  if (e.uptime)
    w.Double(uptime_seconds(*e.uptime));
  else
    w.Null();
  w.Key("host");
  if (e.host.empty())
    w.Null();
  else
    detail::write_string(w, e.host);
  w.Key("prefix");
  if (from_log)
    detail::write_string(w, e.prefix);
  else
    w.Null();
  w.Key("sender");
  detail::write_string(w, to_string(e.sender));
  w.Key("src");
  detail::write_string(w, detail::address_text(e.source.address, addr));
  w.Key("sport");
  w.Uint(e.source.port);
  w.Key("dst");
  detail::write_string(w, detail::address_text(e.destination.address, addr));
  w.Key("dport");
  w.Uint(e.destination.port);
  w.Key("local");
  detail::write_endpoint(w, e.local_endpoint(), addr);
  w.Key("remote");
  detail::write_endpoint(w, e.remote_endpoint(), addr);
  // A LOG line always says IN= and OUT= (empty when the hook had no such device); a
  // tracepoint knows no interface at all.
  w.Key("in");
  if (from_log)
    detail::write_string(w, e.in_interface);
  else
    w.Null();
  w.Key("out");
  if (from_log)
    detail::write_string(w, e.out_interface);
  else
    w.Null();
  w.Key("loopback");
  w.Bool(e.loopback);
  w.Key("seq");
  if (e.has_sequence)
    w.Uint(e.sequence);
  else
    w.Null();
  w.Key("ack");
  if (e.has_sequence)
    w.Uint(e.acknowledgment);
  else
    w.Null();
  w.Key("flags");
  w.StartArray();
  for (std::size_t k = 0; k < std::size(tcp_flags::kernel_order); ++k)
    if (e.flags.bits() & tcp_flags::kernel_order[k]) detail::write_string(w, tcp_flags::names[k]);
  w.EndArray();
  w.Key("origin");
  detail::write_string(w, to_string(e.origin));
  w.Key("event");
  if (e.tracepoint.empty())
    w.Null();
  else
    detail::write_string(w, e.tracepoint);
  w.Key("source");
  std::string src(source_name);
  src += ':';
  src += std::to_string(e.line_number);
  detail::write_string(w, src);
  w.EndObject();
}

// The event as one line of JSON text (no newline), for callers without a Writer of their own.
inline std::string event_json(const reset_event& e, std::string_view source_name) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  write_event_json(w, e, source_name);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace rstwatch::read
