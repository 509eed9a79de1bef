// How fast rstwatch turns a kernel log into reset events, against the tools a user would try:
// cat, wc -l, grep -c ' RST ', fwlogwatch, all on the same generated file in the same run; and
// against the least an X3 grammar must do on the same lines (split them into tokens).
//
//   rstwatch-bench-log [--lines N] [--file PATH] [--keep] [--only-rstwatch] [--no-fwlogwatch]
//
// The file mixes, like a busy host's kern.log: ~70% RST records in all three sender shapes
// (IPv4 and IPv6, with and without SEQ/OPT/UID/MARK), ~10% other LOG records (SYN, UDP, ICMP
// errors quoting a packet), ~20% ordinary syslog lines; Debian's rsyslog envelope with imklog's
// uptime. Prints lines/s, bytes/s, ns/line and ratios; it asserts nothing (no timed tests).
#include "count_argument.hpp"

#include <rstwatch/rstwatch.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <boost/spirit/home/x3.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Writes `lines` lines to `path`; returns the byte count.
std::size_t generate(const std::string& path, std::size_t lines) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::mt19937_64 rng(20260425);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  static const char* months[] = {"Apr", "May", "Nov", "Dec"};
  static const char* ordinary[] = {
      "systemd[1]: Started session-4123.scope - Session 4123 of User admin.",
      "CRON[88123]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
      "kernel: [ 2347.180373] x_tables: ip_tables: DNAT target: only valid in nat table, not filter",
      "sshd[4412]: Accepted publickey for admin from 10.0.171.173 port 50522 ssh2: ED25519 SHA256:x",
      "kernel: [ 2347.181000] ipt_REJECT: TCP_RESET invalid for non-tcp",
  };
  std::string line;
  std::size_t bytes = 0;
  char buf[1024];
  double uptime = 2000.0;
  for (std::size_t n = 0; n < lines; ++n) {
    uptime += 0.000137;
    int hh = static_cast<int>(n / 40000) % 24, mm = static_cast<int>(n / 700) % 60,
        ss = static_cast<int>(n / 12) % 60;
    std::snprintf(buf, sizeof buf, "%s %2d %02d:%02d:%02d vb ", months[n % 4], 1 + static_cast<int>(n % 28), hh, mm, ss);
    line = buf;
    std::size_t kind = pick(100);
    if (kind >= 80) {
      line += ordinary[pick(5)];
    } else {
      std::snprintf(buf, sizeof buf, "kernel: [%12.6f] [drds] ", uptime);
      line += buf;
      const bool v6 = pick(4) == 0;
      const std::size_t shape = pick(3);  // 0 local, 1 remote, 2 transit
      line += shape == 0 ? "IN= OUT=eth0 " : shape == 1 ? "IN=eth0 OUT= " : "IN=eth0 OUT=eth1 ";
      if (shape != 0) line += "MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 ";
      unsigned a = 1 + pick(250), b = 1 + pick(250), sport = 1024 + pick(60000),
               dport = pick(2) ? 8182 : 3306;
      if (v6) {
        std::snprintf(buf, sizeof buf,
                      "SRC=fd00:0000:0000:0000:0000:0000:%04x:%04x DST=fd00:0000:0000:0000:"
                      "0000:0000:0000:%04x LEN=60 TC=0 HOPLIMIT=64 FLOWLBL=%u ",
                      a, b, a + b, static_cast<unsigned>(pick(1048576)));
      } else {
        std::snprintf(buf, sizeof buf,
                      "SRC=10.0.%u.%u DST=10.0.%u.%u LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=%u DF ",
                      a, b, b, a, static_cast<unsigned>(pick(65536)));
      }
      line += buf;
      if (kind < 70) {
        std::snprintf(buf, sizeof buf, "PROTO=TCP SPT=%u DPT=%u ", dport, sport);
        line += buf;
        if (pick(4) != 0) {
          std::snprintf(buf, sizeof buf, "SEQ=%u ACK=%u ", static_cast<unsigned>(rng()),
                        static_cast<unsigned>(rng()));
          line += buf;
        }
        line += "WINDOW=0 RES=0x00 ACK RST URGP=0 ";
        if (pick(3) == 0) line += "OPT (0101080A03E6FA49D073D201) ";
        if (shape != 2 && pick(2)) line += "UID=0 GID=0 ";
        if (pick(5) == 0) line += "MARK=0x2a ";
      } else if (kind < 74) {
        std::snprintf(buf, sizeof buf,
                      "PROTO=ICMP TYPE=3 CODE=3 [SRC=10.0.%u.%u DST=10.0.%u.%u LEN=29 TOS=0x00 "
                      "PREC=0x00 TTL=64 ID=38530 DF PROTO=UDP SPT=%u DPT=9 LEN=9 ] ",
                      b, a, a, b, sport);
        line += buf;
      } else if (kind < 77) {
        std::snprintf(buf, sizeof buf, "PROTO=UDP SPT=%u DPT=53 LEN=41 ", sport);
        line += buf;
      } else {
        std::snprintf(buf, sizeof buf,
                      "PROTO=TCP SPT=%u DPT=%u WINDOW=64240 RES=0x00 SYN URGP=0 "
                      "OPT (020405B40402080AAE0FF6D3000000000103030A) ",
                      sport, dport);
        line += buf;
      }
    }
    line += '\n';
    bytes += std::fwrite(line.data(), 1, line.size(), f);
  }
  std::fclose(f);
  return bytes;
}

// Wall and CPU (user + system) seconds. The machine may be shared: CPU time is the stable
// measure, wall time also counts the neighbours.
struct timing {
  double wall = 0, cpu = 0;
  bool operator<(const timing& o) const { return cpu < o.cpu; }
};

double cpu_seconds(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct run_result {
  timing seconds;
  rstwatch::log::line_counts counts;
  std::uint64_t checksum = 0;  // keeps the optimizer from dropping the work
};

// Not inlined so that callgrind --toggle-collect can count its instructions alone.
[[gnu::noinline]] run_result run_rstwatch(const std::string& path) {
  using namespace rstwatch::log;
  run_result r;
  auto t0 = clock_type::now();
  const double c0 = cpu_seconds(RUSAGE_SELF);
  line_source src(path.c_str());
  classified_line c;
  for (std::string_view line; src.next(line);) {
    classify(line, src.line_number(), c, {2026, 11});
    r.counts.add(c.kind);
    if (c.kind == line_kind::reset) r.checksum += c.event.source.port + c.event.destination.port;
  }
  r.seconds = {seconds_since(t0), cpu_seconds(RUSAGE_SELF) - c0};
  return r;
}

// The least any X3 grammar for these lines must do: split the message into tokens (raw[] views,
// no conversion, no dispatch). If this alone is slower than the complete hand-written parse,
// X3 cannot reach the goal for the hot record grammar.
run_result run_x3_tokens(const std::string& path) {
  namespace x3 = boost::spirit::x3;
  run_result r;
  auto t0 = clock_type::now();
  const double c0 = cpu_seconds(RUSAGE_SELF);
  rstwatch::log::line_source src(path.c_str());
  std::uint64_t tokens = 0;
  auto count = [&](auto& ctx) {
    auto& range = x3::_attr(ctx);
    tokens += static_cast<std::uint64_t>(range.end() - range.begin()) != 0;
  };
  auto const token = x3::raw[x3::lexeme[+(x3::char_ - ' ')]][count];
  auto const line_rule = *x3::lit(' ') >> -(token % +x3::lit(' ')) >> *x3::lit(' ');
  for (std::string_view line; src.next(line);) {
    const char* first = line.data();
    const char* last = first + line.size();
    (void)x3::parse(first, last, line_rule);
    r.counts.add(rstwatch::log::line_kind::ignored);
  }
  r.checksum = tokens;
  r.seconds = {seconds_since(t0), cpu_seconds(RUSAGE_SELF) - c0};
  return r;
}

// The command's wall time and the CPU time of everything it ran (the shell, each side of a
// pipe).
timing time_command(const std::string& cmd) {
  auto t0 = clock_type::now();
  const double c0 = cpu_seconds(RUSAGE_CHILDREN);
  int st = std::system(cmd.c_str());
  timing t{seconds_since(t0), cpu_seconds(RUSAGE_CHILDREN) - c0};
  if (st != 0) std::fprintf(stderr, "  (%s exited with %d)\n", cmd.c_str(), st);
  return t;
}

void row(const char* name, timing t, std::size_t lines, std::size_t bytes, timing base) {
  const double l = static_cast<double>(lines), cpu = t.cpu > 0 ? t.cpu : 1e-9;
  std::printf("%-34s wall %7.3f s  cpu %7.3f s %7.2f Mlines/s %7.1f MB/s %7.1f ns/line  "
              "%6.2fx wall %6.2fx cpu\n",
              name, t.wall, t.cpu, l / cpu / 1e6, static_cast<double>(bytes) / cpu / 1e6,
              cpu * 1e9 / l, t.wall / base.wall, t.cpu / (base.cpu > 0 ? base.cpu : 1e-9));
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t lines = 1000000;
  std::string path = "/tmp/rstwatch-bench-" + std::to_string(::getpid()) + ".log";
  bool keep = false, only = false, fwlogwatch = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--lines" && i + 1 < argc) {
      auto n = rstwatch::bench::count_argument(argv[++i], 1, 1000000000);
      if (!n) {
        std::fprintf(stderr, "%s: --lines wants a count from 1 to 10^9, not '%s'\n", argv[0],
                     argv[i]);
        return 2;
      }
      lines = *n;
    } else if (a == "--file" && i + 1 < argc) path = argv[++i];
    else if (a == "--keep") keep = true;
    else if (a == "--only-rstwatch") only = true;
    else if (a == "--no-fwlogwatch") fwlogwatch = false;
    else return std::fprintf(stderr, "usage: %s [--lines N] [--file PATH] [--keep] [--only-rstwatch] [--no-fwlogwatch]\n", argv[0]), 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as measured, even through a pipe
  std::size_t bytes = generate(path, lines);
  std::printf("file: %s, %zu lines, %.1f MB\n", path.c_str(), lines, static_cast<double>(bytes) / 1e6);

  run_result best;
  for (int k = 0; k < (only ? 1 : 3); ++k) {
    auto r = run_rstwatch(path);
    if (k == 0 || r.seconds < best.seconds) best = r;  // by CPU time
  }
  const auto& n = best.counts;
  std::printf("rstwatch counts: %llu lines = %llu resets + %llu other LOG records + %llu ignored + "
              "%llu malformed (checksum %llu)\n",
              static_cast<unsigned long long>(n.lines), static_cast<unsigned long long>(n.resets),
              static_cast<unsigned long long>(n.records), static_cast<unsigned long long>(n.ignored),
              static_cast<unsigned long long>(n.malformed),
              static_cast<unsigned long long>(best.checksum));
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  std::printf("max RSS of this process after the rstwatch runs: %ld KiB\n\n", ru.ru_maxrss);
  row("rstwatch classify (best of 3)", best.seconds, lines, bytes, best.seconds);
  if (!only) {
    auto x3r = run_x3_tokens(path);
    row("X3 token split only (no fields)", x3r.seconds, lines, bytes, best.seconds);
    const std::string q = "'" + path + "'";
    // Best of 3 for the fast tools too, so a neighbour's build does not decide the ratio.
    auto best_of = [&](const std::string& cmd) {
      timing b = time_command(cmd);
      for (int k = 0; k < 2; ++k) b = std::min(b, time_command(cmd));
      return b;
    };
    row("cat > /dev/null", best_of("cat " + q + " > /dev/null"), lines, bytes, best.seconds);
    row("wc -l", best_of("wc -l < " + q + " > /dev/null"), lines, bytes, best.seconds);
    // grep stops at the first match when its output is /dev/null: pipe it.
    row("grep -c ' RST ' | cat", best_of("grep -c ' RST ' " + q + " | cat > /dev/null"), lines,
        bytes, best.seconds);
    if (fwlogwatch && std::system("command -v fwlogwatch > /dev/null") == 0) {
      // fwlogwatch's summary is superlinear in distinct connections (here: 20,000 lines take
      // 1.3 s, 100,000 take 47 s), so the whole file would take hours. Both tools read the same
      // first fw_lines lines for this row; the ratio compares like with like.
      const std::size_t fw_lines = std::min<std::size_t>(lines, 100000);
      const std::string slice = path + ".head";
      std::system(("head -n " + std::to_string(fw_lines) + " " + q + " > '" + slice + "'").c_str());
      timing rs = run_rstwatch(slice).seconds;
      for (int k = 0; k < 2; ++k) rs = std::min(rs, run_rstwatch(slice).seconds);
      const timing fw = time_command("fwlogwatch -o /dev/null '" + slice + "' > /dev/null 2>&1");
      std::printf("\nfirst %zu lines only:\n", fw_lines);
      const std::size_t slice_bytes = bytes / lines * fw_lines;  // approximate, for MB/s only
      row("rstwatch classify (best of 3)", rs, fw_lines, slice_bytes, rs);
      row("fwlogwatch (once)", fw, fw_lines, slice_bytes, rs);
      ::unlink(slice.c_str());
    }
  }
  if (!keep) ::unlink(path.c_str());
}
