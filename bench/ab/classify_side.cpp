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
#if defined(RSTWATCH_AB_NEXT)
  // classify_next() over the lines as one text: they are consecutive in trace_ab.cpp's buffer,
  // which has a '\n' after the last one and padding after that.
  const char* p = lines.front().data();
  const char* const end = lines.back().data() + lines.back().size();
  while (p < end) {
    p += rstwatch::trace::classify_next(std::string_view(p, static_cast<std::size_t>(end - p)), c) +
         1;
    sink += static_cast<std::size_t>(c.kind) + c.rec.sport + c.rec.prefix.pid + c.rec.fields;
  }
#else
  for (std::string_view l : lines) {
    rstwatch::trace::classify(l, c);
    sink += static_cast<std::size_t>(c.kind) + c.rec.sport + c.rec.prefix.pid + c.rec.fields;
  }
#endif
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
