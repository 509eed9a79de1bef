// Parse rate of trace_pipe lines: writes a 1,000,000-line trace file from the captured lines in
// tests/data/trace, times `grep -c` on it as the baseline, then reads and classifies every
// line, in the same run, in both of the library's loops: line_source::next() and classify() (a
// line found first, then read), and line_source::next_span() and classify_next() (one pass that
// also finds the line's end; rstwatch-read's loop once a file's lines are trace text). Prints
// lines/s, ns/line, MB/s and the ratios to grep.
// classify() fills one reused classified_line, as the LOG bench does (a fresh one per line costs
// g++'s `rep stos` block clear); the by-value call took ~2-5 ns/line more in same-run A/B runs.
#include "count_argument.hpp"

#include <rstwatch/log/line_source.hpp>
#include <rstwatch/trace/reset.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
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

double best(std::vector<double> v) { return *std::min_element(v.begin(), v.end()); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<std::size_t> total = 1000000;
  if (argc > 2 ||
      (argc == 2 && !(total = rstwatch::bench::count_argument(argv[1], 1, 1000000000)))) {
    std::fprintf(stderr, "usage: rstwatch-bench-trace [LINES, 1 to 10^9; default 1000000]\n");
    return 2;
  }
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
    for (std::size_t i = 0; i < *total; ++i) out << samples[i % samples.size()] << '\n';
  }
  // Written back before timing: a file still under writeback made whichever pass read it first
  // or second pay 15-20 % more (grep 127 ms right after writing, 107 ms later).
  if (int fd = ::open(path.c_str(), O_RDONLY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }

  // Baseline: grep counting the reset lines, the cheapest useful pass over the same file.
  unsigned long grep_count = 0;
  auto grep_pass = [&](double& wall, double& cpu) {
    auto t0 = clock_type::now();
    double c0 = cpu_seconds(RUSAGE_CHILDREN);
    std::string cmd = "LC_ALL=C grep -c _reset: " + path;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[64] = {};
    if (!p || !std::fgets(buf, sizeof buf, p)) std::exit(1);
    ::pclose(p);
    wall = seconds_since(t0);
    cpu = cpu_seconds(RUSAGE_CHILDREN) - c0;
    grep_count = std::strtoul(buf, nullptr, 10);
  };

  // The parser through rstwatch::log::line_source, the reader's own line source (read() into
  // one reused 256 KiB buffer, constant memory, no allocation per line, a partial last line
  // carried over). `split`: the loop only splits lines, the part of the cost any reader pays;
  // `line_then_classify`: next() and classify(); `classify_next`: next_span() and
  // classify_next(), which finds each line's end while it reads the line.
  enum class loop { split, line_then_classify, classify_next };
  std::size_t counts[5] = {}, next_counts[5] = {};
  rstwatch::trace::classified_line c;
  std::size_t lines = 0, bytes = 0;
  static_assert(rstwatch::log::line_source::padding >= rstwatch::trace::next_line_padding);
  auto pass = [&](loop how, double& wall, double& cpu) {
    lines = bytes = 0;
    std::size_t* tally = how == loop::classify_next ? next_counts : counts;
    std::fill(tally, tally + 5, 0);
    auto t0 = clock_type::now();
    double c0 = cpu_seconds(RUSAGE_SELF);
    rstwatch::log::line_source source(path.c_str());
    if (!source.good()) std::exit(1);
    if (how == loop::classify_next) {
      for (std::string_view rest; source.next_span(rest);) {
        const std::size_t n = rstwatch::trace::classify_next(rest, c);
        source.advance(n);
        ++tally[static_cast<std::size_t>(c.kind)];
        ++lines;
        bytes += n + 1;
      }
    } else {
      for (std::string_view line; source.next(line);) {
        if (how == loop::line_then_classify) {
          rstwatch::trace::classify(line, c);
          ++tally[static_cast<std::size_t>(c.kind)];
        }
        ++lines;
        bytes += line.size() + 1;
      }
    }
    wall = seconds_since(t0);
    cpu = cpu_seconds(RUSAGE_SELF) - c0;
  };

  // Rounds of the three passes in turn, after one untimed pass: each figure below is the
  // fastest and the median of its rounds, so a neighbour's burst on the shared machine moves
  // the median, not the best, and no pass is the first to read the file.
  constexpr int rounds = 5;
  std::vector<double> grep_wall, grep_cpu, split_cpu, parse_wall, parse_cpu, next_wall, next_cpu;
  double w = 0, u = 0;
  pass(loop::split, w, u);
  for (int r = 0; r < rounds; ++r) {
    grep_pass(w, u);
    grep_wall.push_back(w);
    grep_cpu.push_back(u);
    pass(loop::split, w, u);
    split_cpu.push_back(u);
    pass(loop::line_then_classify, w, u);
    parse_wall.push_back(w);
    parse_cpu.push_back(u);
    pass(loop::classify_next, w, u);
    next_wall.push_back(w);
    next_cpu.push_back(u);
  }
  ::unlink(path.c_str());

  using rstwatch::trace::line_kind;
  const double g = best(grep_cpu), p = best(parse_cpu), sp = best(split_cpu), q = best(next_cpu);
  std::printf("lines            %zu (%.1f MB), best and median of %d rounds, CPU time\n", lines,
              bytes / 1e6, rounds);
  std::printf("grep -c          cpu %.3f s (median %.3f)  wall %.3f s  %.2f M lines/s/core  (%lu reset lines)\n",
              g, median(grep_cpu), best(grep_wall), lines / g / 1e6, grep_count);
  std::printf("trace::classify  cpu %.3f s (median %.3f)  wall %.3f s  %.2f M lines/s/core  %.1f ns/line  %.0f MB/s\n",
              p, median(parse_cpu), best(parse_wall), lines / p / 1e6, p * 1e9 / lines, bytes / p / 1e6);
  std::printf("of which split    cpu %.3f s (read + find newline); classify alone %.1f ns/line, "
              "%.2f M lines/s/core\n",
              sp, (p - sp) * 1e9 / lines, lines / (p - sp) / 1e6);
  std::printf("ratio            %.2f x grep's CPU time (medians %.2f x, wall %.2f x)\n", p / g,
              median(parse_cpu) / median(grep_cpu), best(parse_wall) / best(grep_wall));
  std::printf(
      "classify_next    cpu %.3f s (median %.3f)  wall %.3f s  %.2f M lines/s/core  %.1f ns/line  "
      "%.0f MB/s\n",
      q, median(next_cpu), best(next_wall), lines / q / 1e6, q * 1e9 / lines, bytes / q / 1e6);
  std::printf("ratio            %.2f x grep's CPU time (medians %.2f x, wall %.2f x)\n", q / g,
              median(next_cpu) / median(grep_cpu), best(next_wall) / best(grep_wall));
  std::printf("buckets          reset %zu  record %zu  ignored %zu  malformed %zu  lost %zu\n",
              counts[0], counts[1], counts[2], counts[3], counts[4]);
  // The reset count must agree with grep's: both see every tcp_send/receive_reset line; and
  // both loops must put every line in the same bucket.
  const bool same = std::equal(std::begin(counts), std::end(counts), std::begin(next_counts));
  if (!same) std::printf("the two loops counted the buckets differently\n");
  return same && counts[static_cast<std::size_t>(line_kind::reset)] == grep_count ? 0 : 2;
}
