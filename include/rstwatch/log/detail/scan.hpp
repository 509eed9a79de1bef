// Small checked scanners for the log grammars: bounded integers, hex, interface names, keys.
// The word-at-a-time helpers both line grammars use are in <rstwatch/detail/scan.hpp>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include <rstwatch/detail/scan.hpp>

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
