// A check the LOG-line fuzz targets share: every view a parser returns lies inside its input.
#pragma once

#include <cstdlib>
#include <string_view>

namespace rstwatch::fuzz {

inline void inside(std::string_view whole, std::string_view part) {
  if (part.empty()) return;
  if (part.data() < whole.data() || part.data() + part.size() > whole.data() + whole.size())
    std::abort();
}

}  // namespace rstwatch::fuzz
