// One side of bench/ab/trace_ab.sh: compiled once per revision, with -Drstwatch=rstwatch_a or
// rstwatch_b so that both header trees live in one program, and -DSIDE=a or b to name its entry.
#include <rstwatch/trace/reset.hpp>

#include <chrono>
#include <cstddef>
#include <string_view>
#include <vector>

#define RSTWATCH_AB_CAT2(x, y) x##y
#define RSTWATCH_AB_CAT(x, y) RSTWATCH_AB_CAT2(x, y)

// Classifies every line once; returns the seconds taken and adds a digest of the results to
// `sink` (the two sides must agree on it).
double RSTWATCH_AB_CAT(classify_all_, SIDE)(const std::vector<std::string_view>& lines,
                                            std::size_t& sink) {
  static rstwatch::trace::classified_line c;  // reused, as the reader and the benchmark do
  const auto t0 = std::chrono::steady_clock::now();
  for (std::string_view l : lines) {
    rstwatch::trace::classify(l, c);
    sink += static_cast<std::size_t>(c.kind) + c.rec.sport + c.rec.prefix.pid + c.rec.fields;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
