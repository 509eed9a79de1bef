// Small checked scanners for the log grammars: bounded integers, hex, interface names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

namespace rstwatch::detail::scan {

// Decimal digits only, no sign, no overflow of T.
template <class T>
constexpr bool parse_uint(std::string_view s, T& out) noexcept {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > std::numeric_limits<T>::max()) return false;
  }
  out = static_cast<T>(v);
  return true;
}

// Hex with or without "0x" (the kernel prints TOS=0x00; sanitized logs show TOS=00).
template <class T>
constexpr bool parse_hex(std::string_view s, T& out) noexcept {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.empty() || s.size() > 16) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return false;
    v = v * 16 + static_cast<unsigned>(d);
    if (v > std::numeric_limits<T>::max()) return false;
  }
  out = static_cast<T>(v);
  return true;
}

constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// What the kernel accepts as a device name (net/core/dev.c dev_valid_name): at most
// IFNAMSIZ-1 = 15 bytes, no '/', ':' or whitespace. Empty is allowed here: IN= and OUT= print
// "" when there is no device.
constexpr bool valid_interface(std::string_view s) noexcept {
  if (s.size() > 15) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == ':' || u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Word-at-a-time helpers for the hot LOG-line scanner: eight bytes are tested in a few ALU
// operations instead of eight compare-and-branch steps.

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

// Whether the N-1 bytes at p equal the literal l (the caller checked that they exist). Two
// overlapping loads per side instead of a memcmp call, which compilers keep for odd sizes.
template <std::size_t N>
[[gnu::always_inline]] inline bool equal_literal(const char* p, const char (&l)[N]) noexcept {
  constexpr std::size_t size = N - 1;
  if constexpr (size >= 8) {
    return load_le64(p) == load_le64(l) && load_le64(p + size - 8) == load_le64(l + size - 8);
  } else if constexpr (size >= 4) {
    return load_le32(p) == load_le32(l) && load_le32(p + size - 4) == load_le32(l + size - 4);
  } else {
    for (std::size_t k = 0; k < size; ++k)
      if (p[k] != l[k]) return false;
    return true;
  }
}

// Index (0..7) of the first byte of w equal to c, or 8 when none is. The classic zero-byte
// test: bytes above the first match may be flagged falsely (borrow), the lowest flag never is.
constexpr unsigned first_byte_equal(std::uint64_t w, unsigned char c) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  const std::uint64_t x = w ^ (ones * c);
  const std::uint64_t t = (x - ones) & ~x & highs;
  return t ? static_cast<unsigned>(__builtin_ctzll(t)) / 8 : 8;
}

// Position of the first ' ' in d[i, n), or n.
inline std::size_t find_space(const char* d, std::size_t i, std::size_t n) noexcept {
  for (; i + 8 <= n; i += 8) {
    const unsigned k = first_byte_equal(load_le64(d + i), ' ');
    if (k < 8) return i + k;
  }
  while (i < n && d[i] != ' ') ++i;
  return i;
}

// A token's key as one integer, so that one switch replaces a chain of string comparisons:
// its first seven bytes and its length in the top byte. Keys of eight bytes or more share a
// code with every key of their length and first seven bytes: compare them in full.
constexpr std::uint64_t key_code(std::string_view k) noexcept {
  std::uint64_t c = 0;
  const std::size_t m = k.size() < 7 ? k.size() : 7;
  for (std::size_t j = 0; j < m; ++j)
    c |= std::uint64_t{static_cast<unsigned char>(k[j])} << (8 * j);
  return c | (std::uint64_t{k.size() < 255 ? k.size() : 255} << 56);
}

// The same code from the first `length` (at most 7) bytes of a little-endian load.
constexpr std::uint64_t key_code(std::uint64_t w, std::size_t length) noexcept {
  const std::uint64_t mask = (std::uint64_t{1} << (8 * length)) - 1;
  return (w & mask) | (std::uint64_t{length} << 56);
}

}  // namespace rstwatch::detail::scan
