// Byte-level helpers of the trace line scanner: numbers, addresses, separators. Nothing here
// allocates or throws; every function stops at the end of its view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <rstwatch/detail/scan.hpp>

namespace rstwatch::detail::trace_scan {

// The word loads, literal compares and byte searches both line grammars share.
using rstwatch::detail::scan::equal_literal;
using rstwatch::detail::scan::first_byte_equal;
using rstwatch::detail::scan::find_space;
using rstwatch::detail::scan::is_digit;
using rstwatch::detail::scan::load_le32;
using rstwatch::detail::scan::load_le64;
using rstwatch::detail::scan::word8;

// a[0, n) == b[0, n) for the short texts of a trace line (addresses, state names): word loads,
// the last one overlapping, instead of a memcmp call.
inline bool short_equal(const char* a, const char* b, std::size_t n) noexcept {
  if (n >= 8) {
    // Up to 16 bytes (every address and state name) in two loads and no loop, whose varying
    // trip count the branch predictor kept missing.
    if (n <= 16)
      return ((load_le64(a) ^ load_le64(b)) | (load_le64(a + n - 8) ^ load_le64(b + n - 8))) == 0;
    for (std::size_t k = 0; k + 8 < n; k += 8)
      if (load_le64(a + k) != load_le64(b + k)) return false;
    return load_le64(a + n - 8) == load_le64(b + n - 8);
  }
  if (n >= 4) return load_le32(a) == load_le32(b) && load_le32(a + n - 4) == load_le32(b + n - 4);
  for (std::size_t k = 0; k < n; ++k)
    if (a[k] != b[k]) return false;
  return true;
}

// a == b for the name tables (states, events): short_equal at run time, where a memcmp call per
// lookup showed in profiles; plain == in constant expressions, which cannot load words.
constexpr bool same_text(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (__builtin_is_constant_evaluated()) return a == b;
  return short_equal(a.data(), b.data(), a.size());
}

// Word-at-a-time decimal digits. digits_of() is a little-endian word minus '0' per byte; a
// byte is a digit when that is < 10, i.e. neither t nor t + 0x76 has its high bit (a carry out
// of a non-digit byte only reaches later bytes, so the lowest flag is exact).
constexpr std::uint64_t digits_of(std::uint64_t word) noexcept {
  return word ^ 0x3030303030303030ull;
}
constexpr unsigned leading_digits(std::uint64_t t) noexcept {
  const std::uint64_t non_digit = (t | (t + 0x7676767676767676ull)) & 0x8080808080808080ull;
  return non_digit ? static_cast<unsigned>(__builtin_ctzll(non_digit)) / 8 : 8;
}
// The value of the `count` (1-8) leading digits of t: moved to the top bytes they read as an
// eight-digit number with leading zeros, combined pairwise (2 digits per 16 bits, 4 per 32,
// then all 8) in three multiplies.
constexpr std::uint64_t digits_value(std::uint64_t t, unsigned count) noexcept {
  std::uint64_t x = t << (8 * (8 - count));
  x = (x * 2561) >> 8;
  x = ((x & 0x00FF00FF00FF00FFull) * 6553601) >> 16;
  return ((x & 0x0000FFFF0000FFFFull) * 42949672960001ull) >> 32;
}

// Index of the first byte in text[i, size) equal to c, or size (the CPU field's '[' is 20-30
// bytes in).
inline std::size_t find_byte(const char* text, std::size_t i, std::size_t size, char c) noexcept {
  return rstwatch::detail::scan::find_first<true>(text, i, size, c);
}

// Index of the first byte in text[i, end) that is not ' ', or end (the comm's alignment).
[[gnu::always_inline]] inline std::size_t skip_spaces(const char* text, std::size_t i,
                                                      std::size_t end) noexcept {
  return rstwatch::detail::scan::find_first<false>(text, i, end, ' ');
}

constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Bytes of a C identifier (tracepoint names), as a table: the event-name scan runs on every
// line, and one load per byte is cheaper than four range compares.
struct identifier_table {
  bool byte[256] = {};
  constexpr identifier_table() {
    for (int c = 0; c < 256; ++c)
      byte[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
};
inline constexpr identifier_table identifier_bytes{};

constexpr bool is_identifier(char c) noexcept {
  return identifier_bytes.byte[static_cast<unsigned char>(c)];
}

// Index of the first byte in text[i, size) that is ' ' (or, with Equals, '='), or size. Eight
// bytes per step (SWAR): keys and values are 5-40 bytes, a byte loop over them was the largest
// cost of the body parser, and a memchr call per token costs more than it saves on such runs.
// In a word, a byte equal to c makes (x - 0x01..) & ~x & 0x80.. nonzero at that byte, with
// x = word ^ c repeated; the lowest such byte is exact (later ones may be borrow artefacts).
template <bool Equals>
inline std::size_t find_separator(const char* text, std::size_t i, std::size_t size) noexcept {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  constexpr std::uint64_t spaces = ones * static_cast<unsigned char>(' ');
  constexpr std::uint64_t equals = ones * static_cast<unsigned char>('=');
  while (i + 8 <= size) {
    std::uint64_t word;
    std::memcpy(&word, text + i, 8);
    std::uint64_t x = word ^ spaces;
    std::uint64_t hit = (x - ones) & ~x & highs;
    if (Equals) {
      std::uint64_t y = word ^ equals;
      hit |= (y - ones) & ~y & highs;
    }
    if (hit) return i + static_cast<std::size_t>(__builtin_ctzll(hit) / 8);
    i += 8;
  }
#endif
  while (i < size && text[i] != ' ' && (!Equals || text[i] != '=')) ++i;
  return i;
}

// Unsigned decimal of the whole view into `out`, refusing empty text, other bytes and values
// above `max`. At most 19 digits, which always fit in 64 bits: no overflow test (a division)
// per digit.
template <class Int>
constexpr bool to_unsigned(std::string_view s, Int& out, std::uint64_t max) noexcept {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > max) return false;
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
    unsigned d = 0;
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

// Dotted quad, 1-3 digits per part, each <= 255 (%pI4), into 4 bytes.
constexpr bool dotted_quad(std::string_view s, std::uint8_t* out) noexcept {
  std::size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part != 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    unsigned v = 0;
    std::size_t start = i;
    while (i < s.size() && is_digit(s[i]) && i - start < 3) v = v * 10 + static_cast<unsigned>(s[i++] - '0');
    if (i == start || v > 255) return false;
    out[part] = static_cast<std::uint8_t>(v);
  }
  return i == s.size();
}

// The value of each hex digit byte, 16 for every other byte: one load per byte of an IPv6
// group instead of three range compares and a conversion.
struct hex_digit_table {
  std::uint8_t value[256] = {};
  constexpr hex_digit_table() {
    for (int c = 0; c < 256; ++c)
      value[c] = static_cast<std::uint8_t>(c >= '0' && c <= '9'   ? c - '0'
                                           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                                  : 16);
  }
};
inline constexpr hex_digit_table hex_digits{};

// The IPv6 address as %pI6c prints it (compressed, optional dotted IPv4 tail) that p[0, n)
// starts with, up to its end (n, or the first ' '), into 16 bytes, in one pass: its length, or
// 0 when the token is no such address. The general ip_address::from_text searches each group
// with find(); four addresses per line made that a fifth of the trace parser's time. Ending at
// a space lets the body parser read a value without searching its end first.
// Reads: `bounded` tests every one against n. `unbounded` tests none, for n >= 64: a group
// starts at most at byte 45 (a longer token fails anyway) and reads up to 6 bytes past its
// start, one more after a "::"; the IPv4 tail stops at byte 45, so no read goes past byte 52.
// `terminated` reads as `unbounded` and also ends the token at a '\n' (a line in a padded
// buffer, see classify_next() in trace/reset.hpp).
enum class token_reads : std::uint8_t { bounded, unbounded, terminated };
template <token_reads Reads>
constexpr std::size_t ipv6_token_in(const char* p, std::size_t n, std::uint8_t* out) noexcept {
  // The groups after "::" go to tail[16...]; the last 16 bytes of tail[ntail...] are then the
  // right-aligned tail with zeros before it, so the result is head OR'd with those 16 bytes, a
  // fixed length (variable-length copies compiled to memcpy calls).
  std::uint8_t head[16] = {}, tail[32] = {};
  std::size_t nhead = 0, ntail = 0;
  bool gap = false;
  std::size_t i = 0;
  // The token's bytes with a ' ' for every position past the view: one test finds the end.
  auto at = [=](std::size_t k) -> unsigned char {
    if constexpr (Reads == token_reads::bounded)
      return k < n ? static_cast<unsigned char>(p[k]) : ' ';
    else
      return static_cast<unsigned char>(p[k]);
  };
  // Whether a byte ends the token: a ' ', or the line's '\n' when terminated (tested only where
  // the token may end: the hex table already stops a group at a '\n', as at any non-digit).
  auto ends = [](unsigned char c) {
    return c == ' ' || (Reads == token_reads::terminated && c == '\n');
  };
  if (at(0) == ':') {
    if (at(1) != ':') return 0;
    gap = true;
    i = 2;
  }
  while (!ends(at(i))) {
    if (i > 45) return 0;
    std::uint8_t* dst = gap ? tail + 16 : head;
    std::size_t& used = gap ? ntail : nhead;
    const std::size_t start = i;
    // Up to four hex digits, unrolled (the table maps ' ' to 16: the token's end stops it); a
    // fifth is counted so that the group fails.
    unsigned v = 0, h = hex_digits.value[at(i)];
    if (h < 16) {
      v = h;
      if ((h = hex_digits.value[at(++i)]) < 16) {
        v = v * 16 + h;
        if ((h = hex_digits.value[at(++i)]) < 16) {
          v = v * 16 + h;
          if ((h = hex_digits.value[at(++i)]) < 16) {
            v = v * 16 + h;
            if (hex_digits.value[at(++i)] < 16) ++i;
          }
        }
      }
    }
    const unsigned char c = at(i);
    if (c == '.') {  // the IPv4 tail: reparse the rest of the token as decimal
      std::size_t end = i;
      while (end <= 45 && !ends(at(end))) ++end;
      if (used + 4 > 16 || !dotted_quad(std::string_view(p + start, end - start), dst + used))
        return 0;
      used += 4;
      i = end;
      break;
    }
    if (i == start || i - start > 4 || used + 2 > 16) return 0;
    dst[used++] = static_cast<std::uint8_t>(v >> 8);
    dst[used++] = static_cast<std::uint8_t>(v & 0xff);
    if (ends(c)) break;
    if (c != ':') return 0;
    const unsigned char next = at(++i);
    if (next == ':') {
      if (gap) return 0;
      gap = true;
      ++i;
    } else if (ends(next)) {
      return 0;
    }
  }
  if (i < 2 || i > 45) return 0;
  if (gap ? nhead + ntail > 14 : nhead != 16) return 0;
  if (__builtin_is_constant_evaluated()) {
    for (std::size_t k = 0; k < 16; ++k)
      out[k] = static_cast<std::uint8_t>(head[k] | tail[ntail + k]);
  } else {  // two words a side: the byte loop was ~20 instructions per address
    std::uint64_t h[2] = {}, t[2] = {};
    std::memcpy(h, head, 16);
    std::memcpy(t, tail + ntail, 16);
    h[0] |= t[0];
    h[1] |= t[1];
    std::memcpy(out, h, 16);
  }
  return i;
}

constexpr std::size_t ipv6_token(const char* p, std::size_t n, std::uint8_t* out) noexcept {
  return n >= 64 ? ipv6_token_in<token_reads::unbounded>(p, n, out)
                 : ipv6_token_in<token_reads::bounded>(p, n, out);
}

// The whole of `s` as such an address (a space in it fails); `out` is written only when the
// token parses, which it may do for a part of `s` before a space.
constexpr bool ipv6_text(std::string_view s, std::uint8_t* out) noexcept {
  return !s.empty() && ipv6_token(s.data(), s.size(), out) == s.size();
}

}  // namespace rstwatch::detail::trace_scan
