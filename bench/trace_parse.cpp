// Parse rate of trace_pipe lines: writes a 1,000,000-line trace file from the captured lines in
// tests/data/trace, times `grep -c` on it as the baseline, then reads and classifies every
// line, in the same run. Prints lines/s, ns/line, MB/s and the ratio to grep.
// classify() fills one reused classified_line, as the LOG bench does (a fresh one per line costs
// g++'s `rep stos` block clear); the by-value call took ~2-5 ns/line more in same-run A/B runs.
#include <rstwatch/log/line_source.hpp>
#include <rstwatch/trace/reset.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// CPU seconds (user + system) of this process or of its waited-for children. The machine is
// shared: wall time depends on the neighbours, CPU time much less, so the rates per core use it.
double cpu_seconds(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t total = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000000;
  std::string data_dir = RSTWATCH_TRACE_DATA;
  std::vector<std::string> samples;
  for (const char* name : {"/this-kernel.txt", "/seed-4.19.txt", "/kernel-5.10.txt"}) {
    std::ifstream in(data_dir + name);
    for (std::string l; std::getline(in, l);) samples.push_back(l);
  }
  if (samples.empty()) {
    std::cerr << "no sample lines under " << data_dir << "\n";
    return 1;
  }
  std::string path = "/tmp/rstwatch-trace-bench-" + std::to_string(::getpid()) + ".txt";
  {
    std::ofstream out(path);
    for (std::size_t i = 0; i < total; ++i) out << samples[i % samples.size()] << '\n';
  }

  // Baseline: grep counting the reset lines, the cheapest useful pass over the same file.
  auto t0 = clock_type::now();
  double c0 = cpu_seconds(RUSAGE_CHILDREN);
  std::string cmd = "LC_ALL=C grep -c _reset: " + path;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[64] = {};
  if (!p || !std::fgets(buf, sizeof buf, p)) return 1;
  ::pclose(p);
  double grep_s = seconds_since(t0);
  double grep_cpu = cpu_seconds(RUSAGE_CHILDREN) - c0;
  unsigned long grep_count = std::strtoul(buf, nullptr, 10);

  // The parser, the way rstwatch-read runs it: rstwatch::log::line_source, the reader's own line
  // splitter (read() into one reused 256 KiB buffer, constant memory, no allocation per line, a
  // partial last line carried over). With classify=false the same loop only splits lines: the
  // part of the cost any reader pays.
  std::size_t counts[5] = {};
  rstwatch::trace::classified_line c;
  std::size_t lines = 0, bytes = 0;
  auto pass = [&](bool classify) {
    lines = bytes = 0;
    rstwatch::log::line_source source(path.c_str());
    if (!source.good()) return;
    for (std::string_view line; source.next(line);) {
      if (classify) {
        rstwatch::trace::classify(line, c);
        ++counts[static_cast<std::size_t>(c.kind)];
      }
      ++lines;
      bytes += line.size() + 1;
    }
  };
  c0 = cpu_seconds(RUSAGE_SELF);
  pass(false);
  double split_cpu = cpu_seconds(RUSAGE_SELF) - c0;

  t0 = clock_type::now();
  c0 = cpu_seconds(RUSAGE_SELF);
  pass(true);
  double parse_s = seconds_since(t0);
  double parse_cpu = cpu_seconds(RUSAGE_SELF) - c0;
  ::unlink(path.c_str());

  using rstwatch::trace::line_kind;
  std::printf("lines            %zu (%.1f MB)\n", lines, bytes / 1e6);
  std::printf("grep -c          wall %.3f s  cpu %.3f s  %.2f M lines/s/core  (%lu reset lines)\n",
              grep_s, grep_cpu, lines / grep_cpu / 1e6, grep_count);
  std::printf("trace::classify  wall %.3f s  cpu %.3f s  %.2f M lines/s/core  %.1f ns/line  %.0f MB/s\n",
              parse_s, parse_cpu, lines / parse_cpu / 1e6, parse_cpu * 1e9 / lines,
              bytes / parse_cpu / 1e6);
  std::printf("of which split    cpu %.3f s (read + find newline); classify alone %.1f ns/line, "
              "%.2f M lines/s/core\n",
              split_cpu, (parse_cpu - split_cpu) * 1e9 / lines, lines / (parse_cpu - split_cpu) / 1e6);
  std::printf("ratio            %.2f x grep's CPU time (%.2f x its wall time)\n", parse_cpu / grep_cpu,
              parse_s / grep_s);
  std::printf("buckets          reset %zu  record %zu  ignored %zu  malformed %zu  lost %zu\n",
              counts[0], counts[1], counts[2], counts[3], counts[4]);
  // The reset count must agree with grep's: both see every tcp_send/receive_reset line.
  return counts[static_cast<std::size_t>(line_kind::reset)] == grep_count ? 0 : 2;
}
