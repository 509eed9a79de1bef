// Word-at-a-time helpers shared by the LOG and trace line scanners: eight bytes are tested in a
// few ALU operations instead of eight compare-and-branch steps. Nothing here allocates or throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rstwatch::detail::scan {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Eight bytes at p as one little-endian integer (byte 0 lowest), whatever the host's order.
inline std::uint64_t load_le64(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  return w;
}

inline std::uint32_t load_le32(const char* p) noexcept {
  std::uint32_t w;
  std::memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap32(w);
#endif
  return w;
}

// A four-byte literal as load_le32 reads it.
constexpr std::uint32_t word4(const char (&w)[5]) noexcept {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(w[0])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(w[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(w[2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(w[3])) << 24;
}

// Eight bytes of a literal as load_le64 reads them.
constexpr std::uint64_t word8(const char (&w)[9]) noexcept {
  std::uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = v << 8 | static_cast<unsigned char>(w[k]);
  return v;
}

// Whether the N-1 bytes at p equal the literal l (the caller checked that they exist). Word
// loads per side, the last one overlapping, instead of a memcmp call, which compilers keep for
// odd sizes: one word per 8 bytes (two for 8 to 16; three for the 17 to 24 of the longest
// tracepoint names, whose middle bytes two words would leave unread).
template <std::size_t N>
[[gnu::always_inline]] inline bool equal_literal(const char* p, const char (&l)[N]) noexcept {
  constexpr std::size_t size = N - 1;
  if constexpr (size >= 8) {
    for (std::size_t k = 8; k + 8 < size; k += 8)  // unrolled: size is a constant
      if (load_le64(p + k) != load_le64(l + k)) return false;
    return load_le64(p) == load_le64(l) && load_le64(p + size - 8) == load_le64(l + size - 8);
  } else if constexpr (size >= 4) {
    return load_le32(p) == load_le32(l) && load_le32(p + size - 4) == load_le32(l + size - 4);
  } else {
    for (std::size_t k = 0; k < size; ++k)
      if (p[k] != l[k]) return false;
    return true;
  }
}

// Zeroes p[0, N) with straight-line 16-byte stores (SSE2), the last one overlapping: a
// std::memset() of a few hundred bytes compiles to `rep stos` under g++'s generic tuning.
template <std::size_t N, std::size_t... K>
[[gnu::always_inline]] inline void zero_blocks(unsigned char* p,
                                               std::index_sequence<K...>) noexcept {
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  (_mm_storeu_si128(reinterpret_cast<__m128i*>(p + 16 * K), zero), ...);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p + N - 16), zero);
#else
  std::memset(p, 0, N);
#endif
}
template <std::size_t N>
[[gnu::always_inline]] inline void zero_bytes(unsigned char* p) noexcept {
  static_assert(N >= 16);
  zero_blocks<N>(p, std::make_index_sequence<N / 16>{});
}

// Index (0..7) of the first byte of w equal to c, or 8 when none is. The classic zero-byte
// test: bytes above the first match may be flagged falsely (borrow), the lowest flag never is.
constexpr unsigned first_byte_equal(std::uint64_t w, unsigned char c) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  const std::uint64_t x = w ^ (ones * c);
  const std::uint64_t t = (x - ones) & ~x & highs;
  return t ? static_cast<unsigned>(__builtin_ctzll(t)) / 8 : 8;
}

// Index of the first byte in d[i, n) that equals c (Equal) or differs from it (!Equal), or n.
// With SSE2 (every x86-64) sixteen bytes are one compare and one mask, and the last fewer than 16
// are the view's last 16 bytes loaded once; otherwise eight bytes per word, then single bytes.
// Nothing outside [0, n) is read. The tokens searched are 5-40 bytes: against the word-only
// loop, one 16-byte step fewer per token was 3-5 % of the trace classifier's time (interleaved
// A/B runs, session 7); a memchr call per token costs more than it saves.
template <bool Equal>
inline std::size_t find_first(const char* d, std::size_t i, std::size_t n, char c) noexcept {
#if defined(__SSE2__)
  const __m128i wanted = _mm_set1_epi8(c);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
    unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, wanted)));
    if (!Equal) m ^= 0xffffu;
    if (m) return i + static_cast<std::size_t>(__builtin_ctz(m));
  }
  // Fewer than 16 bytes left in a view of at least 16: one load of the view's last 16 bytes,
  // the mask shifted past those before i, instead of a word loop and a byte loop (a line's last
  // value ends here).
  if (i < n && n >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + n - 16));
    unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, wanted)));
    if (!Equal) m ^= 0xffffu;
    m >>= i - (n - 16);
    return m ? i + static_cast<std::size_t>(__builtin_ctz(m)) : n;
  }
#endif
  const std::uint64_t repeated = 0x0101010101010101ull * static_cast<unsigned char>(c);
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t w = load_le64(d + i);
    if (Equal) {
      const unsigned k = first_byte_equal(w, static_cast<unsigned char>(c));
      if (k < 8) return i + k;
    } else if (const std::uint64_t x = w ^ repeated) {
      return i + static_cast<std::size_t>(__builtin_ctzll(x) / 8);  // little-endian load
    }
  }
  while (i < n && (d[i] == c) == !Equal) ++i;
  return i;
}

// Index of the first byte equal to a or to '\n' at or after d[i], with no bound: for a line in a
// padded buffer (see log::line_source::next_span()), where a '\n' is known to follow and at
// least 16 readable bytes follow that '\n'.
inline std::size_t find_or_newline(const char* d, std::size_t i, char a) noexcept {
#if defined(__SSE2__)
  const __m128i wanted = _mm_set1_epi8(a), newline = _mm_set1_epi8('\n');
  for (;; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
    const unsigned m = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, wanted), _mm_cmpeq_epi8(v, newline))));
    if (m) return i + static_cast<std::size_t>(__builtin_ctz(m));
  }
#else
  for (;; i += 8) {
    const std::uint64_t w = load_le64(d + i);
    const unsigned k = first_byte_equal(w, static_cast<unsigned char>(a)),
                   l = first_byte_equal(w, '\n');
    if (k < 8 || l < 8) return i + (k < l ? k : l);
  }
#endif
}

// Whether find_or_newline(d, 0, a) is `at` (below 32), as a test rather than a position: a
// caller that expects one place branches on it and goes on from a constant.
inline bool first_or_newline_at(const char* d, char a, std::size_t at) noexcept {
#if defined(__SSE2__)
  const __m128i wanted = _mm_set1_epi8(a), newline = _mm_set1_epi8('\n');
  auto mask = [&](const char* p) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return static_cast<std::uint32_t>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, wanted), _mm_cmpeq_epi8(v, newline))));
  };
  const std::uint32_t m = mask(d) | mask(d + 16) << 16;
  return (m & ((2u << at) - 1)) == 1u << at;
#else
  return find_or_newline(d, 0, a) == at;
#endif
}

// The end of a value in such a line: its first ' ' or '\n'.
inline std::size_t find_space_or_newline(const char* d, std::size_t i) noexcept {
  return find_or_newline(d, i, ' ');
}

// How many bytes of d[0, n) are '\n', and how many are ' ' or '\t' (the rules parser sizes its
// arrays from them). Sixteen bytes per step with SSE2, as find_first().
struct line_and_blank_counts {
  std::size_t newlines = 0, blanks = 0;
};
inline line_and_blank_counts count_lines_and_blanks(const char* d, std::size_t n) noexcept {
  line_and_blank_counts c;
  std::size_t i = 0;
#if defined(__SSE2__)
  // A byte lane per position counts its matches (a compare gives -1: subtracting it adds one),
  // summed into the totals every 255 steps, before a lane can wrap (no popcount instruction in
  // baseline x86-64).
  const __m128i nl = _mm_set1_epi8('\n'), sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t');
  const __m128i zero = _mm_setzero_si128();
  auto total = [&zero](__m128i lanes) {
    const __m128i sums = _mm_sad_epu8(lanes, zero);  // two 64-bit sums of eight lanes each
    return static_cast<std::size_t>(_mm_cvtsi128_si32(sums)) +
           static_cast<std::size_t>(_mm_cvtsi128_si32(_mm_srli_si128(sums, 8)));
  };
  while (i + 16 <= n) {
    __m128i lines = zero, blanks = zero;
    for (int step = 0; step < 255 && i + 16 <= n; ++step, i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
      lines = _mm_sub_epi8(lines, _mm_cmpeq_epi8(v, nl));
      blanks = _mm_sub_epi8(blanks, _mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, tab)));
    }
    c.newlines += total(lines);
    c.blanks += total(blanks);
  }
#endif
  for (; i < n; ++i) {
    c.newlines += d[i] == '\n';
    c.blanks += d[i] == ' ' || d[i] == '\t';
  }
  return c;
}

// Position of the first ' ' in d[i, n), or n (the end of a key or value).
inline std::size_t find_space(const char* d, std::size_t i, std::size_t n) noexcept {
  return find_first<true>(d, i, n, ' ');
}

}  // namespace rstwatch::detail::scan
