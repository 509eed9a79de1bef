// rstwatch-read: reads kernel LOG lines (syslog files, rotated .gz sets, stdin, a followed file,
// /dev/kmsg) and answers, for every TCP reset, which side sent it and the connection's 4-tuple.
#include <signal.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <rstwatch/rstwatch.hpp>

#include "read/filter.hpp"
#include "read/follow.hpp"
#include "read/input.hpp"
#include "read/kmsg.hpp"
#include "read/output.hpp"
#include "read/rotation.hpp"
#include "read/summary.hpp"
#include "read/trace_lines.hpp"

namespace rr = rstwatch::read;
namespace rl = rstwatch::log;

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void on_signal(int) { stop_requested = true; }

struct options {
  std::vector<std::string> files;
  bool follow = false;
  bool trace = false;
  std::string events = "resets";
  bool kmsg = false;
  bool since_boot = false;
  std::vector<std::string> senders;
  std::vector<std::uint16_t> ports;
  std::vector<std::string> addrs;
  std::string prefix;
  std::string since, until;
  std::string format = "table";
  bool summary = false;
  int year = 0;
  bool strict = false;
  std::size_t max_diagnostics = 20;
};

// "2026-04-26T15:27:36+08:00", "2026-04-26 15:27:36" or "2026-04-26" (local time without an
// offset) as Unix microseconds.
std::optional<std::int64_t> parse_time_option(const std::string& text) {
  rstwatch::civil_time t;
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char sep = 0;
  int used = 0;
  int n = std::sscanf(text.c_str(), "%4u-%2u-%2u%n%c%2u:%2u%n:%2u%n", &y, &mo, &d, &used, &sep, &h,
                      &mi, &used, &s, &used);
  if (n < 3 || (n > 3 && sep != 'T' && sep != ' ') || n == 4 || n == 5) return std::nullopt;
  t.year = static_cast<std::int32_t>(y);
  t.month = static_cast<std::uint8_t>(mo);
  t.day = static_cast<std::uint8_t>(d);
  t.hour = static_cast<std::uint8_t>(h);
  t.minute = static_cast<std::uint8_t>(mi);
  t.second = static_cast<std::uint8_t>(s);
  std::string_view rest = std::string_view(text).substr(static_cast<std::size_t>(used));
  if (!rest.empty()) {
    if (rest == "Z" || rest == "z") {
      t.has_offset = true;
    } else {
      int oh = 0, om = 0;
      char sign = 0;
      if (std::sscanf(std::string(rest).c_str(), "%c%2d:%2d", &sign, &oh, &om) != 3 ||
          (sign != '+' && sign != '-'))
        return std::nullopt;
      t.has_offset = true;
      t.offset_minutes = static_cast<std::int16_t>((sign == '-' ? -1 : 1) * (oh * 60 + om));
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return t.unix_microseconds();
}

// Traditional syslog lines carry no year: take it from --year, else from the file's
// modification time (a live log was written up to now), else from the clock (stdin, kmsg).
rl::classify_options year_reference(const options& o, const std::string& path) {
  if (o.year) return rl::classify_options::for_year(o.year);
  if (path != "-")
    if (auto c = rl::classify_options::from_modification_time(path.c_str()); c.reference_year)
      return c;
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  return rl::classify_options{tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1)};
}

// The progress line on a terminal: bytes and lines read, lines/s, events so far.
class progress {
 public:
  explicit progress(bool enabled) : enabled_(enabled) {}
  void update(std::uint64_t bytes, const rl::line_counts& c) {
    if (!enabled_ || (c.lines & 0xffff) != 0) return;
    auto now = clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r\033[K%.1f MB, %llu lines, %.0f lines/s, %llu events", bytes / 1e6,
                 static_cast<unsigned long long>(c.lines), secs > 0 ? c.lines / secs : 0.0,
                 static_cast<unsigned long long>(c.resets));
    shown_ = true;
  }
  void erase() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  using clock = std::chrono::steady_clock;
  bool enabled_;
  bool shown_ = false;
  clock::time_point start_ = clock::now(), last_ = start_;
};

struct totals {
  rl::line_counts counts;
  std::uint64_t lost = 0;
  std::uint64_t truncations = 0;
  std::uint64_t rotations = 0;
  std::uint64_t overlong = 0;
  std::uint64_t diagnostics_shown = 0;
};

// Reads every line of `src`: classify, filter, hand each matching reset to the sink or the
// summary. Malformed lines are reported (the first few in full) and counted.
// LOG and trace lines may mix in one input; the grammar that took the previous line goes
// first. LOG first: log::classify(), and a line no LOG record claims, outside any envelope,
// that looks like trace text goes to the tracer. Trace first: trace::classify_next() reads
// the line as it finds its end, and a line that is certainly trace text (see
// trace_lines::certainly_trace) skips the log classifier; any other goes the LOG-first way,
// so both orders put every line in the same place.
void read_source(rr::byte_source& src, const options& o, const rl::classify_options& copts,
                 const rr::filter& f, rr::sink* out, rr::summary* sum, totals& t,
                 progress& prog, rr::trace_lines& tracer) {
  rl::line_source lines([&src](char* buf, std::size_t n) { return src.read(buf, n); });
  // The input went quiet: a held tcp_receive_reset is the peer's reset after all, and what is
  // written so far goes out.
  src.on_idle = [&] {
    tracer.flush(t.counts);
    std::fflush(stdout);
  };
  rl::classified_line c;
  rl::envelope scratch;
  bool trace_first = false;
  for (;;) {
    std::string_view line;
    // Trace first: the tracer's current line is this line, classified.
    const bool classified_as_trace = trace_first;
    if (trace_first) {
      std::string_view rest;
      if (!lines.next_span(rest)) break;
      line = rest.substr(0, tracer.classify_next(rest));
      lines.advance(line.size());
    } else if (!lines.next(line)) {
      break;
    }
    if (lines.truncated()) ++t.overlong;
    if (classified_as_trace && tracer.certainly_trace(line, scratch)) {
      tracer.take(line, lines.line_number(), src.name(), t.counts);
      prog.update(src.position(), t.counts);
      continue;
    }
    rl::classify(line, lines.line_number(), c, copts);
    // Saved trace_pipe text mixes with LOG lines: a line no LOG record claims may be one.
    // (A line with a syslog, journal or dmesg envelope is not one: only the others are tried.)
    if (c.kind == rl::line_kind::ignored &&
        (c.envelope.kind == rl::envelope_kind::none ||
         c.envelope.kind == rl::envelope_kind::kmsg_continuation) &&
        rstwatch::trace::looks_like_trace_line(line)) {
      if (!classified_as_trace) tracer.classify(line);
      tracer.take(line, lines.line_number(), src.name(), t.counts);
      trace_first = true;
      prog.update(src.position(), t.counts);
      continue;
    }
    if (c.kind != rl::line_kind::ignored) trace_first = false;
    t.counts.add(c.kind);
    if (c.kind == rl::line_kind::reset) {
      if (f.matches(c.event)) {
        if (sum) sum->add(c.event);
        if (out) out->event(c.event, src.name());
      }
    } else if (c.kind == rl::line_kind::malformed) {
      if (t.diagnostics_shown++ < o.max_diagnostics) {
        prog.erase();
        auto d = c.to_diagnostic(src.name());
        std::fprintf(stderr, "%s\n", rstwatch::format_with_source(d, line).c_str());
      }
    }
    prog.update(src.position(), t.counts);
  }
  src.on_idle = nullptr;
  tracer.flush(t.counts);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{
      "rstwatch-read: which side sent each TCP reset, and the connection's 4-tuple, from kernel "
      "LOG lines (syslog/journal/dmesg files, rotated .gz sets, stdin, /dev/kmsg)"};
  app.add_option("files", o.files, "log files, oldest first if they are one rotated set; - or none: stdin");
  app.add_flag("-f,--follow", o.follow, "keep reading as lines arrive, across log rotation");
  app.add_flag("--kmsg", o.kmsg, "read the kernel log live from /dev/kmsg");
  app.add_flag("--since-boot", o.since_boot, "with --kmsg: start at the oldest record kept");
  app.add_flag("--trace", o.trace,
               "watch the tcp tracepoints live through a private ftrace instance (root)");
  app.add_option("--events", o.events,
                 "resets, or all: with --format json also the other tracepoint records")
      ->check(CLI::IsMember({"resets", "all"}));
  app.add_option("--sender", o.senders, "only resets sent by: local, remote, transit")
      ->check(CLI::IsMember({"local", "remote", "transit"}))
      ->allow_extra_args(false);  // one value per use: `--sender remote FILE` keeps FILE a file
  app.add_option("--port", o.ports, "only resets with this port on either side")
      ->allow_extra_args(false);
  app.add_option("--addr", o.addrs, "only resets with an address in IP or CIDR on either side")
      ->allow_extra_args(false);
  app.add_option("--prefix", o.prefix, "only LOG lines with this prefix (surrounding spaces ignored)");
  app.add_option("--since", o.since, "only resets at or after this time (RFC 3339 or YYYY-MM-DD[ HH:MM[:SS]])");
  app.add_option("--until", o.until, "only resets before this time");
  app.add_option("--format", o.format, "table, json (JSON lines) or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  app.add_flag("--summary", o.summary, "print counts by sender, top peers and ports, resets over time");
  app.add_option("--year", o.year, "the year of syslog lines that carry none (default: the file's mtime)");
  app.add_flag("--strict", o.strict, "exit with status 2 when any line is malformed");
  app.get_option("--kmsg")->excludes("files")->excludes("--follow");
  app.get_option("--trace")->excludes("files")->excludes("--follow")->excludes("--kmsg");
  app.get_option("--since-boot")->needs("--kmsg");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 1;  // --help is success; every usage error is status 1
  }

  rr::filter f;
  for (auto& s : o.senders)
    f.senders.push_back(s == "local" ? rstwatch::reset_sender::local
                        : s == "remote" ? rstwatch::reset_sender::remote
                                        : rstwatch::reset_sender::transit);
  f.ports = o.ports;
  for (auto& a : o.addrs) {
    auto n = rstwatch::parse_network(a);
    if (!n) {
      std::fprintf(stderr, "rstwatch-read: --addr %s: %s\n", a.c_str(), n.error().what().c_str());
      return 1;
    }
    f.networks.push_back(*n);
  }
  if (!o.prefix.empty()) f.prefix = o.prefix;
  for (auto [text, slot] : {std::pair{&o.since, &f.since_us}, std::pair{&o.until, &f.until_us}}) {
    if (text->empty()) continue;
    *slot = parse_time_option(*text);
    if (!*slot) {
      std::fprintf(stderr, "rstwatch-read: cannot read the time '%s' (use RFC 3339 or YYYY-MM-DD HH:MM:SS)\n",
                   text->c_str());
      return 1;
    }
  }

  const bool live = o.follow || o.kmsg || o.trace;
  if (live) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
  }
  rr::format fmt = o.format == "json" ? rr::format::json
                   : o.format == "csv" ? rr::format::csv
                                       : rr::format::table;
  // Live modes flush every event at once, so a pipe sees it within the 100 ms poll.
  std::unique_ptr<rr::sink> out;
  std::unique_ptr<rr::summary> sum;
  if (o.summary)
    sum = std::make_unique<rr::summary>();
  else
    out = rr::make_sink(fmt, stdout, live);
  static char stdout_buffer[1 << 19];  // half the 1 MiB pipe below: fewer wake-ups of the reader
  std::setvbuf(stdout, stdout_buffer, _IOFBF, sizeof stdout_buffer);
  // Into a pipe, a whole file's JSON or CSV is hundreds of megabytes: a 1 MiB pipe (the
  // default fs.pipe-max-size) instead of 64 KiB lets each side run longer between wake-ups.
  // Best effort: a smaller limit, or not a pipe, leaves things as they are.
  if (!live) {
    struct stat st {};
    if (::fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode))
      (void)::fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
  }

  totals t;
  progress prog(!live && ::isatty(STDERR_FILENO));
  rr::trace_lines tracer(f, out.get(), sum.get(), o.events == "all" && fmt == rr::format::json,
                         stdout, live, o.max_diagnostics);
  int status = 0;
  try {
    if (o.trace) {
      status = rr::watch_tracepoints(tracer, t.counts, f, o.events == "all", stop_requested);
    } else if (o.kmsg) {
      rr::kmsg_source src(stop_requested, o.since_boot);
      read_source(src, o, year_reference(o, "-"), f, out.get(), sum.get(), t, prog, tracer);
      t.lost += src.lost();
    } else {
      if (o.files.empty()) o.files.push_back("-");
      if (o.follow && o.files.size() != 1) {
        std::fprintf(stderr, "rstwatch-read: --follow reads exactly one file\n");
        return 1;
      }
      for (const auto& path : rr::order_rotated_set(o.files)) {
        auto copts = year_reference(o, path);
        if (o.follow && path != "-") {
          rr::follow_source src(path, stop_requested);
          read_source(src, o, copts, f, out.get(), sum.get(), t, prog, tracer);
          t.truncations += src.truncations();
          t.rotations += src.rotations();
        } else {
          auto src = rr::open_input(path);
          read_source(*src, o, copts, f, out.get(), sum.get(), t, prog, tracer);
        }
      }
    }
  } catch (const rr::io_error& e) {
    prog.erase();
    std::fprintf(stderr, "rstwatch-read: %s\n", e.what());
    status = 1;
  }
  prog.erase();
  if (out) out->finish();
  if (sum) {
    if (fmt == rr::format::json)
      sum->print_json(stdout);
    else
      sum->print_text(stdout, ::isatty(STDOUT_FILENO));
    std::fflush(stdout);
  }
  t.diagnostics_shown += tracer.diagnostics_shown();
  if (t.diagnostics_shown > o.max_diagnostics)
    std::fprintf(stderr, "rstwatch-read: %llu more malformed lines not shown\n",
                 static_cast<unsigned long long>(t.diagnostics_shown - o.max_diagnostics));
  // The accounting line: every line read lands in exactly one bucket.
  std::fprintf(stderr,
               "rstwatch-read: %llu lines: %llu resets, %llu other records, %llu ignored, "
               "%llu malformed",
               static_cast<unsigned long long>(t.counts.lines),
               static_cast<unsigned long long>(t.counts.resets),
               static_cast<unsigned long long>(t.counts.records),
               static_cast<unsigned long long>(t.counts.ignored),
               static_cast<unsigned long long>(t.counts.malformed));
  t.lost += tracer.lost();
  if (o.kmsg || o.trace || tracer.lost())
    std::fprintf(stderr, ", %llu lost", static_cast<unsigned long long>(t.lost));
  if (o.follow)
    std::fprintf(stderr, ", %llu rotations, %llu truncations",
                 static_cast<unsigned long long>(t.rotations),
                 static_cast<unsigned long long>(t.truncations));
  if (t.overlong) std::fprintf(stderr, ", %llu overlong lines cut", static_cast<unsigned long long>(t.overlong));
  std::fprintf(stderr, "\n");
  if (status == 0 && o.strict && t.counts.malformed) status = 2;
  return status;
}
