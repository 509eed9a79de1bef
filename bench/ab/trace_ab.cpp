// Interleaved A/B of the trace classifier: both revisions in one process, run alternately on
// the same lines, and the median of the per-round ratios B/A. On this project's VMs the speed
// of a binary moves 20-40 % in phases of seconds, so separate runs of two builds cannot show a
// 3 % change; adjacent rounds in one process can (an A/A run gives 1.00 with quartiles ±2 %).
//   trace_ab [LINE_INDEX|-1] [ROUNDS]   (see trace_ab.sh)
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

double classify_all_a(const std::vector<std::string_view>&, std::size_t&);
double classify_all_b(const std::vector<std::string_view>&, std::size_t&);

int main(int argc, char** argv) {
  // The benchmark's mix: the captured lines of this kernel, the seed and 5.10, cycled.
  std::vector<std::string> samples;
  for (const char* name : {"/this-kernel.txt", "/seed-4.19.txt", "/kernel-5.10.txt"}) {
    std::ifstream in(std::string(RSTWATCH_TRACE_DATA) + name);
    for (std::string l; std::getline(in, l);) samples.push_back(l);
  }
  const long pick = argc > 1 ? std::atol(argv[1]) : -1;  // >= 0: that sample line only
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
  if (samples.empty() || pick >= static_cast<long>(samples.size()) || rounds < 1) {
    std::fprintf(stderr, "usage: trace_ab [LINE_INDEX < %zu, or -1 for all] [ROUNDS >= 1]\n",
                 samples.size());
    return 2;
  }
  std::string text;
  for (std::size_t i = 0; i < 100000; ++i) {
    text += pick >= 0 ? samples[static_cast<std::size_t>(pick)] : samples[i % samples.size()];
    text += '\n';
  }
  const std::size_t text_size = text.size();
  text.append(64, '\0');  // classify_next()'s padding (AB_LOOP=next)
  std::vector<std::string_view> lines;
  for (std::size_t b = 0; b < text_size;) {
    const std::size_t e = text.find('\n', b);
    lines.emplace_back(text.data() + b, e - b);
    b = e + 1;
  }
  std::vector<double> a, b, ratio;
  std::size_t sink_a = 0, sink_b = 0;
  for (int r = 0; r < rounds; ++r) {  // alternate which side goes first
    double ta, tb;
    if (r % 2 != 0) {
      tb = classify_all_b(lines, sink_b);
      ta = classify_all_a(lines, sink_a);
    } else {
      ta = classify_all_a(lines, sink_a);
      tb = classify_all_b(lines, sink_b);
    }
    a.push_back(ta);
    b.push_back(tb);
    ratio.push_back(tb / ta);
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::sort(ratio.begin(), ratio.end());
  const double n = static_cast<double>(lines.size());
  auto at = [](const std::vector<double>& v, double q) {
    return v[static_cast<std::size_t>(q * (v.size() - 1))];
  };
  std::printf("A best %.1f median %.1f ns/line | B best %.1f median %.1f ns/line\n",
              a.front() * 1e9 / n, at(a, 0.5) * 1e9 / n, b.front() * 1e9 / n, at(b, 0.5) * 1e9 / n);
  std::printf("B/A median of %d paired rounds %.3f (quartiles %.3f %.3f)\n", rounds, at(ratio, 0.5),
              at(ratio, 0.25), at(ratio, 0.75));
  if (sink_a != sink_b) {
    std::printf("the two sides classified the lines differently\n");
    return 1;
  }
  return 0;
}
