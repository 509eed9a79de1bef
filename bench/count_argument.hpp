// A count on a benchmark's command line: only decimal digits, within [min, max]. Anything else
// (a flag such as --help, "1e6", an empty string) is refused rather than read as 0 or as a prefix,
// so a mistyped argument cannot time an empty input and print figures as if it had.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstring>
#include <optional>

namespace rstwatch::bench {

inline std::optional<std::size_t> count_argument(const char* text, std::size_t min,
                                                 std::size_t max) {
  std::size_t value = 0;
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc{} || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

}  // namespace rstwatch::bench
