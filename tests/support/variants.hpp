// Inputs near real ones, for differential tests of a fast path against its general twin:
// every prefix of each line (a cut anywhere) and each line with one byte replaced by a byte
// from `odd` (chosen by a seeded generator, so a failure reproduces).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace rstwatch::test {

template <class F, std::size_t N>
void for_each_variant(const std::vector<std::string>& lines, const char (&odd)[N],
                      std::uint32_t seed, F&& visit) {
  std::mt19937 rng(seed);
  for (const auto& l : lines) {
    for (std::size_t n = 0; n <= l.size(); ++n) visit(std::string_view(l).substr(0, n));
    for (std::size_t at = 0; at < l.size(); ++at) {
      std::string v = l;
      v[at] = odd[rng() % N];
      visit(std::string_view(v));
    }
  }
}

}  // namespace rstwatch::test
