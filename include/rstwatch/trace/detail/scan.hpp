// Byte-level helpers of the trace line scanner: digits, hex, fixed words. Nothing here
// allocates or throws; every function stops at the end of its view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rstwatch::detail::trace_scan {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Unsigned decimal of the whole view into `out`, refusing empty text, other bytes and values
// above `max`.
template <class Int>
constexpr bool to_unsigned(std::string_view s, Int& out, std::uint64_t max) noexcept {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  out = static_cast<Int>(v);
  return true;
}

// Hexadecimal of the whole view, with or without "0x" (the kernel's %#x prints "0x0" for zero,
// %llx prints no prefix), at most 16 digits.
template <class Int>
constexpr bool to_hex(std::string_view s, Int& out, std::uint64_t max) noexcept {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.empty() || s.size() > 16) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    unsigned d;
    if (is_digit(c))
      d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = static_cast<unsigned>(c - 'A' + 10);
    else
      return false;
    v = (v << 4) | d;
  }
  if (v > max) return false;
  out = static_cast<Int>(v);
  return true;
}

// Signed decimal ("-16" from %d).
constexpr bool to_int32(std::string_view s, std::int32_t& out) noexcept {
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  std::uint32_t magnitude = 0;
  if (!to_unsigned(s, magnitude, negative ? 2147483648u : 2147483647u)) return false;
  out = negative ? static_cast<std::int32_t>(-static_cast<std::int64_t>(magnitude))
                 : static_cast<std::int32_t>(magnitude);
  return true;
}

}  // namespace rstwatch::detail::trace_scan
