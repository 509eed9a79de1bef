// One call per log line: a TCP reset event, another LOG record, an ignored line, or a malformed
// LOG record with its diagnostic. A line source plus classify() is a complete reader.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/event.hpp>
#include <rstwatch/log/envelope.hpp>
#include <rstwatch/log/record.hpp>

namespace rstwatch::log {

enum class line_kind : std::uint8_t {
  reset,      // a LOG record of a TCP packet with RST set: `event` is filled
  record,     // another LOG record (SYN, UDP, ICMP, ...): `record` is filled
  ignored,    // not a LOG record (other kernel or daemon messages, kmsg continuation lines)
  malformed,  // a LOG candidate (IN= then OUT=) the grammar refuses: `error` says where and why
};

inline constexpr std::string_view line_kind_names[] = {"reset", "record", "ignored", "malformed"};

constexpr std::string_view to_string(line_kind k) noexcept {
  return line_kind_names[static_cast<std::size_t>(k)];
}

struct classify_options {
  // The year for envelopes that have none (traditional syslog): the reader's --year or the
  // file's modification time. A line whose month lies after reference_month belongs to the
  // year before (December lines read in January). 0 leaves the year unknown.
  std::int32_t reference_year = 0;
  unsigned reference_month = 12;

  // A --year option: every month of that year.
  static constexpr classify_options for_year(std::int32_t year) noexcept {
    return classify_options{year, 12};
  }

  // The last line of a log file was written when the file was last modified: its year and
  // month (local time, as syslog writes) date every line that has no year. Unknown (year 0)
  // when the file cannot be stat'ed.
  static classify_options from_modification_time(const char* path) noexcept {
    struct stat st {};
    std::tm tm{};
    if (::stat(path, &st) != 0 || !::localtime_r(&st.st_mtime, &tm)) return {};
    return classify_options{tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1)};
  }
};

// Everything known about one line. Views point into the line: valid while it is.
struct classified_line {
  line_kind kind = line_kind::ignored;
  std::string_view line;
  std::uint64_t line_number = 0;
  rstwatch::log::envelope envelope;
  record_view record;  // reset and record
  reset_event event;   // reset
  parse_error error;   // malformed: offset counts from the start of the line

  // The compiler-style diagnostic of a malformed line: "FILE:LINE:COL: error: expected X,
  // found Y". Allocates; call it only for the lines you report.
  diagnostic to_diagnostic(std::string_view file = {}) const {
    diagnostic d;
    d.file = std::string(file);
    d.where = position_of(line, error.offset);
    d.where.line = static_cast<std::uint32_t>(line_number);
    d.expected = std::string(error.expected);
    d.found = quote_excerpt(line.substr(error.offset < line.size() ? error.offset : line.size()));
    return d;
  }
};

namespace detail {

// The sender follows from which devices the hook knew (nf_log_dump_packet_common prints "" for
// a missing device): see reset_sender. A record with neither device cannot be placed; the
// kernel prints none from an IP hook, so it is refused as malformed by classify.
inline void fill_event(const classified_line& c, reset_event& e) noexcept {
  const record_view& r = c.record;
  const packet_view& p = r.packet;
  // Every member is assigned (no `e = reset_event{}` first: zeroing the whole event per line
  // showed in profiles); a member added to reset_event must be set here too.
  e.tracepoint = {};
  e.time_text = c.envelope.time_text;
  e.time = c.envelope.time;
  e.uptime = c.envelope.uptime;
  e.host = c.envelope.host;
  e.prefix = r.prefix;
  e.sender = r.in.empty() ? reset_sender::local
             : r.out.empty() ? reset_sender::remote
                             : reset_sender::transit;
  auto is_lo = [](std::string_view d) { return d.size() == 2 && d[0] == 'l' && d[1] == 'o'; };
  e.loopback = is_lo(r.in) || is_lo(r.out);
  e.source = {p.source, p.source_port};
  e.destination = {p.destination, p.destination_port};
  e.in_interface = r.in;
  e.out_interface = r.out;
  e.has_sequence = p.has_sequence;
  e.sequence = p.sequence;
  e.acknowledgment = p.acknowledgment;
  e.window = p.window;
  e.flags = p.flags;
  e.origin = event_origin::log;
  e.line_number = c.line_number;
}

}  // namespace detail

// Classifies `line` (without its newline) into `out`, reusing its storage. Never throws,
// never allocates.
inline void classify(std::string_view line, std::uint64_t line_number, classified_line& out,
                     const classify_options& options = {}) noexcept {
  out.line = line;
  out.line_number = line_number;
  parse_envelope(line, out.envelope);  // in place: a returned envelope was copied in pieces
  if (out.envelope.time && out.envelope.time->year == 0 && options.reference_year != 0)
    out.envelope.time->resolve_year(options.reference_year, options.reference_month);
  if (out.envelope.kind == envelope_kind::kmsg_continuation) {
    out.kind = line_kind::ignored;
    return;
  }
  const std::string_view message = out.envelope.message;
  const std::size_t base = static_cast<std::size_t>(message.data() - line.data());
  switch (parse_record(message, out.record, out.error)) {
    case record_result::status::not_a_record:
      out.kind = line_kind::ignored;
      return;
    case record_result::status::malformed:
      out.kind = line_kind::malformed;
      out.error.offset += base;
      return;
    case record_result::status::record:
      break;
  }
  if (out.record.in.empty() && out.record.out.empty()) {
    out.kind = line_kind::malformed;
    out.error = {base + out.record.prefix.size(), "a device after IN= or OUT="};
    return;
  }
  if (!out.record.is_tcp_reset()) {
    out.kind = line_kind::record;
    return;
  }
  out.kind = line_kind::reset;
  detail::fill_event(out, out.event);
}

// The same, returning a fresh value.
inline classified_line classify(std::string_view line, std::uint64_t line_number = 0,
                                const classify_options& options = {}) noexcept {
  classified_line c;
  classify(line, line_number, c, options);
  return c;
}

// Every line is counted once: lines == resets + records + ignored + malformed.
struct line_counts {
  std::uint64_t lines = 0;
  std::uint64_t resets = 0;
  std::uint64_t records = 0;
  std::uint64_t ignored = 0;
  std::uint64_t malformed = 0;

  void add(line_kind k) noexcept {
    ++lines;
    switch (k) {
      case line_kind::reset: ++resets; break;
      case line_kind::record: ++records; break;
      case line_kind::ignored: ++ignored; break;
      case line_kind::malformed: ++malformed; break;
    }
  }
};

}  // namespace rstwatch::log
