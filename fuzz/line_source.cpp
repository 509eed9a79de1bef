// Fuzz target for the reader's line source: a byte stream cut into arbitrary chunks must give
// the same lines as splitting it at once — partial lines held until their newline, a last line
// without one delivered, an overlong line cut to the buffer and its rest skipped; and read with
// next_span()/advance(), alone or alternating with next(), the same lines, each span followed by
// a '\n' and the readable padding.
// Input: byte 0 picks the buffer capacity, byte 1 seeds the chunk sizes, the rest is the stream.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <rstwatch/log/line_source.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t capacity = 8 + data[0];
  std::uint32_t seed = data[1] | 1u;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  // What the lines must be.
  std::vector<std::string_view> want;
  for (std::size_t at = 0; at < stream.size();) {
    std::size_t nl = stream.find('\n', at);
    std::size_t end = nl == std::string_view::npos ? stream.size() : nl;
    want.push_back(stream.substr(at, std::min(end - at, capacity)));
    at = nl == std::string_view::npos ? stream.size() : nl + 1;
  }

  // mode 0: next() only; 1: next_span() only; 2: the two alternating.
  for (int mode = 0; mode < 3; ++mode) {
    std::size_t pos = 0;
    std::uint32_t chunk_seed = seed;
    rstwatch::log::line_source src(
        [&](char* buf, std::size_t n) {
          chunk_seed = chunk_seed * 1103515245u + 12345u;  // chunk sizes from 1 to 16 bytes
          std::size_t k =
              std::min({n, stream.size() - pos, std::size_t(1 + (chunk_seed >> 16) % 16)});
          std::copy(stream.data() + pos, stream.data() + pos + k, buf);
          pos += k;
          return k;
        },
        capacity);
    std::size_t i = 0;
    for (;; ++i) {
      std::string_view line;
      if (mode == 0 || (mode == 2 && i % 2 == 0)) {
        if (!src.next(line)) break;
      } else {
        std::string_view rest;
        if (!src.next_span(rest)) break;
        if (rest.data()[rest.size()] != '\n') std::abort();
        unsigned sum = 0;  // the padding must be readable
        for (std::size_t k = 1; k <= rstwatch::log::line_source::padding; ++k)
          sum += static_cast<unsigned char>(rest.data()[rest.size() + k]);
        if (sum == ~0u) std::abort();
        line = rest.substr(0, rest.find('\n'));
        src.advance(line.size());
      }
      if (i >= want.size() || line != want[i]) std::abort();
      if (src.line_number() != i + 1) std::abort();
    }
    if (i != want.size()) std::abort();
  }
  return 0;
}
