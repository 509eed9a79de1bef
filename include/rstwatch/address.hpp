// IP addresses and networks as small values (IPv4 or IPv6, stored in place, never allocated):
// parsed from any textual form the kernel or a user writes, printed per RFC 5952.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <rstwatch/diagnostic.hpp>

namespace rstwatch {

enum class ip_family : std::uint8_t { none, v4, v6 };

inline constexpr std::string_view ip_family_names[] = {"none", "ipv4", "ipv6"};

constexpr std::string_view to_string(ip_family f) noexcept {
  return ip_family_names[static_cast<std::size_t>(f)];
}

namespace detail {

constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Dotted quad with 1-3 decimal digits per part, each <= 255 (the kernel's %pI4 form).
constexpr bool parse_dotted_quad(std::string_view s, std::uint8_t* out) noexcept {
  std::size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part != 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    unsigned v = 0;
    std::size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 4) {
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 3 || v > 255) return false;
    out[part] = static_cast<std::uint8_t>(v);
  }
  return i == s.size();
}

}  // namespace detail

// An IPv4 or IPv6 address. The default value has family none and compares below every address.
// 16 bytes of storage plus the family: copy it freely.
class ip_address {
 public:
  constexpr ip_address() noexcept = default;

  static constexpr ip_address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                 std::uint8_t d) noexcept {
    ip_address r;
    r.family_ = ip_family::v4;
    r.bytes_ = {a, b, c, d};
    return r;
  }

  // `*this = v4(a, b, c, d)`, written in place. The line parsers use these: g++ builds a
  // returned address on the stack with narrow stores and copies it with one 16-byte load right
  // after them, which the CPU cannot forward from the stores (a stall per address).
  constexpr void assign_v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) noexcept {
    family_ = ip_family::v4;
    bytes_ = {a, b, c, d};
  }
  // The same from the four bytes as one word, the first in its lowest 8 bits (a parser that
  // builds the word as it reads): two 8-byte stores, where four byte stores and the zeros
  // took a dozen instructions per address.
  constexpr void assign_v4(std::uint32_t first_lowest) noexcept {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (!__builtin_is_constant_evaluated()) {
      family_ = ip_family::v4;
      const std::uint64_t low = first_lowest, high = 0;
      std::memcpy(bytes_.data(), &low, 8);
      std::memcpy(bytes_.data() + 8, &high, 8);
      return;
    }
#endif
    assign_v4(static_cast<std::uint8_t>(first_lowest), static_cast<std::uint8_t>(first_lowest >> 8),
              static_cast<std::uint8_t>(first_lowest >> 16),
              static_cast<std::uint8_t>(first_lowest >> 24));
  }
  // `*this` = ::ffff:a.b.c.d, the IPv4-mapped IPv6 form of the IPv4 address `v4`, in place.
  constexpr void assign_v4_mapped(const ip_address& v4) noexcept {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (!__builtin_is_constant_evaluated()) {  // two 8-byte stores, as assign_v4(word)
      family_ = ip_family::v6;
      std::uint32_t four = 0;
      std::memcpy(&four, v4.bytes_.data(), 4);
      const std::uint64_t low = 0, high = 0xffff0000u | (std::uint64_t{four} << 32);
      std::memcpy(bytes_.data(), &low, 8);
      std::memcpy(bytes_.data() + 8, &high, 8);
      return;
    }
#endif
    family_ = ip_family::v6;
    bytes_ = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
              v4.bytes_[0], v4.bytes_[1], v4.bytes_[2], v4.bytes_[3]};
  }

  // From 16 network-order bytes.
  static constexpr ip_address v6(const std::array<std::uint8_t, 16>& bytes) noexcept {
    ip_address r;
    r.family_ = ip_family::v6;
    r.bytes_ = bytes;
    return r;
  }

  // Parses a dotted quad, or an IPv6 address in any RFC 4291 form: the kernel's fully expanded
  // %pI6 ("fd00:0000:...:0001"), compressed ("fd00::1"), or with an IPv4 tail
  // ("::ffff:10.0.0.1"). No zone index, no brackets. Never throws; nullopt on anything else.
  static constexpr std::optional<ip_address> from_text(std::string_view s) noexcept {
    ip_address r;
    // A dotted quad has a '.' within its first four bytes and no ':' at all; deciding on the
    // first bytes spares a scan of every IPv4 address for a ':'.
    bool dotted = false;
    for (std::size_t k = 0; k < s.size() && k < 4; ++k) {
      if (s[k] == ':') break;
      if (s[k] == '.') {
        dotted = true;
        break;
      }
    }
    if (dotted || s.size() < 2) {
      if (!detail::parse_dotted_quad(s, r.bytes_.data())) return std::nullopt;
      r.family_ = ip_family::v4;
      return r;
    }
    if (s.size() == 39 && expanded_v6(s, r)) return r;  // the kernel's %pI6: the hot case
    if (s.size() > 45) return std::nullopt;  // longest form: 6 groups + dotted quad
    std::uint8_t head[16] = {};
    std::uint8_t tail[16] = {};
    std::size_t nhead = 0, ntail = 0;  // bytes written
    bool gap = false;
    std::size_t i = 0;
    if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
      gap = true;
      i = 2;
    } else if (!s.empty() && s[0] == ':') {
      return std::nullopt;
    }
    while (i < s.size()) {
      std::uint8_t* out = gap ? tail : head;
      std::size_t& n = gap ? ntail : nhead;
      // An IPv4 tail is the last piece and holds a '.'.
      std::size_t end = s.find(':', i);
      std::string_view piece = s.substr(i, end == std::string_view::npos ? s.size() - i : end - i);
      if (piece.find('.') != std::string_view::npos) {
        if (end != std::string_view::npos || n + 4 > 16) return std::nullopt;
        if (!detail::parse_dotted_quad(piece, out + n)) return std::nullopt;
        n += 4;
        i = s.size();
        break;
      }
      if (piece.empty() || piece.size() > 4 || n + 2 > 16) return std::nullopt;
      unsigned v = 0;
      for (char c : piece) {
        int h = detail::hex_value(c);
        if (h < 0) return std::nullopt;
        v = v * 16 + static_cast<unsigned>(h);
      }
      out[n++] = static_cast<std::uint8_t>(v >> 8);
      out[n++] = static_cast<std::uint8_t>(v & 0xff);
      if (end == std::string_view::npos) {
        i = s.size();
        break;
      }
      i = end + 1;
      if (i < s.size() && s[i] == ':') {
        if (gap) return std::nullopt;  // a second "::"
        gap = true;
        ++i;
      } else if (i == s.size()) {
        return std::nullopt;  // trailing single ':'
      }
    }
    if (gap ? nhead + ntail > 14 : nhead != 16) return std::nullopt;
    for (std::size_t k = 0; k < nhead; ++k) r.bytes_[k] = head[k];
    for (std::size_t k = 0; k < ntail; ++k) r.bytes_[16 - ntail + k] = tail[k];
    r.family_ = ip_family::v6;
    return r;
  }

  constexpr ip_family family() const noexcept { return family_; }
  constexpr bool is_v4() const noexcept { return family_ == ip_family::v4; }
  constexpr bool is_v6() const noexcept { return family_ == ip_family::v6; }
  // Bytes in network order: 4 for IPv4, 16 for IPv6, 0 for none.
  constexpr std::size_t size() const noexcept {
    return family_ == ip_family::v4 ? 4 : family_ == ip_family::v6 ? 16 : 0;
  }
  constexpr std::uint8_t operator[](std::size_t i) const noexcept { return bytes_[i]; }
  constexpr const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }

  // 127.0.0.0/8 or ::1 (a reset on lo is between two sockets of this host).
  constexpr bool is_loopback() const noexcept {
    if (is_v4()) return bytes_[0] == 127;
    if (!is_v6()) return false;
    for (std::size_t k = 0; k < 15; ++k)
      if (bytes_[k] != 0) return false;
    return bytes_[15] == 1;
  }

  // ::ffff:a.b.c.d, the form IPv4 peers of IPv6 sockets take.
  constexpr bool is_v4_mapped() const noexcept {
    if (!is_v6()) return false;
    for (std::size_t k = 0; k < 10; ++k)
      if (bytes_[k] != 0) return false;
    return bytes_[10] == 0xff && bytes_[11] == 0xff;
  }

  // Longest text: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" (45) — the buffer
  // to_chars needs.
  static constexpr std::size_t max_text_size = 45;

  // RFC 5952 text: lowercase hex, no leading zeros, the longest run (first on a tie) of two or
  // more zero groups as "::", IPv4-mapped addresses with a dotted tail (section 5). Writes at
  // most max_text_size bytes, returns the end. "none" prints as the empty string.
  char* to_chars(char* out) const noexcept {
    if (is_v4()) {
      for (int k = 0; k < 4; ++k) {
        if (k) *out++ = '.';
        out = put_decimal(out, bytes_[k]);
      }
      return out;
    }
    if (!is_v6()) return out;
    static constexpr char hex[] = "0123456789abcdef";
    if (is_v4_mapped()) {
      constexpr std::string_view lead = "::ffff:";
      out = std::copy(lead.begin(), lead.end(), out);
      for (int k = 12; k < 16; ++k) {
        if (k != 12) *out++ = '.';
        out = put_decimal(out, bytes_[k]);
      }
      return out;
    }
    unsigned group[8];
    for (int k = 0; k < 8; ++k) group[k] = (unsigned(bytes_[2 * k]) << 8) | bytes_[2 * k + 1];
    int best = -1, best_len = 1;  // a single zero group is never compressed (RFC 5952 4.2.2)
    for (int k = 0; k < 8;) {
      if (group[k] != 0) {
        ++k;
        continue;
      }
      int j = k;
      while (j < 8 && group[j] == 0) ++j;
      if (j - k > best_len) {
        best = k;
        best_len = j - k;
      }
      k = j;
    }
    for (int k = 0; k < 8; ++k) {
      if (k == best) {
        *out++ = ':';
        *out++ = ':';
        k += best_len - 1;
        continue;
      }
      if (k != 0 && k != best + best_len) *out++ = ':';
      bool started = false;
      for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned d = (group[k] >> shift) & 15;
        if (d || started || shift == 0) {
          *out++ = hex[d];
          started = true;
        }
      }
    }
    return out;
  }

  std::string to_string() const {
    char buf[max_text_size];
    return std::string(buf, to_chars(buf));
  }

  friend constexpr bool operator==(const ip_address& a, const ip_address& b) noexcept {
    return a.family_ == b.family_ && a.bytes_ == b.bytes_;
  }
  friend constexpr bool operator!=(const ip_address& a, const ip_address& b) noexcept {
    return !(a == b);
  }
  // Orders by family (IPv4 before IPv6), then numerically.
  friend constexpr bool operator<(const ip_address& a, const ip_address& b) noexcept {
    if (a.family_ != b.family_) return a.family_ < b.family_;
    for (std::size_t k = 0; k < 16; ++k)
      if (a.bytes_[k] != b.bytes_[k]) return a.bytes_[k] < b.bytes_[k];
    return false;
  }
  friend constexpr bool operator>(const ip_address& a, const ip_address& b) noexcept { return b < a; }
  friend constexpr bool operator<=(const ip_address& a, const ip_address& b) noexcept { return !(b < a); }
  friend constexpr bool operator>=(const ip_address& a, const ip_address& b) noexcept { return !(a < b); }

  friend std::ostream& operator<<(std::ostream& os, const ip_address& a) {
    char buf[max_text_size];
    return os.write(buf, a.to_chars(buf) - buf);
  }

 private:
  // Eight groups of exactly four hex digits: what lib/vsprintf.c prints for %pI6.
  static constexpr bool expanded_v6(std::string_view s, ip_address& r) noexcept {
    for (std::size_t g = 0; g < 8; ++g) {
      std::size_t at = g * 5;
      if (g != 7 && s[at + 4] != ':') return false;
      int h0 = detail::hex_value(s[at]), h1 = detail::hex_value(s[at + 1]),
          h2 = detail::hex_value(s[at + 2]), h3 = detail::hex_value(s[at + 3]);
      if ((h0 | h1 | h2 | h3) < 0) return false;
      r.bytes_[2 * g] = static_cast<std::uint8_t>(h0 << 4 | h1);
      r.bytes_[2 * g + 1] = static_cast<std::uint8_t>(h2 << 4 | h3);
    }
    r.family_ = ip_family::v6;
    return true;
  }

  static char* put_decimal(char* out, unsigned v) noexcept {
    if (v >= 100) *out++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *out++ = static_cast<char>('0' + v / 10 % 10);
    *out++ = static_cast<char>('0' + v % 10);
    return out;
  }

  std::array<std::uint8_t, 16> bytes_{};
  ip_family family_ = ip_family::none;
};

// Parses an address for a user-facing input (a filter, a config value): like from_text, but the
// failure says why.
[[nodiscard]] inline result<ip_address> parse_address(std::string_view text) {
  if (auto a = ip_address::from_text(text)) return *a;
  diagnostic d;
  d.where = {1, 1};
  d.expected = "an IPv4 or IPv6 address";
  d.found = quote_excerpt(text);
  return d;
}

// A CIDR network, "10.0.0.0/8" or "fd00::/8". Host bits of the base are kept as written;
// contains() ignores them.
struct ip_network {
  ip_address base;
  std::uint8_t prefix_length = 0;

  constexpr bool contains(const ip_address& a) const noexcept {
    if (a.family() != base.family() || a.family() == ip_family::none) return false;
    std::size_t full = prefix_length / 8;
    for (std::size_t k = 0; k < full; ++k)
      if (a[k] != base[k]) return false;
    unsigned rest = prefix_length % 8;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[full] & mask) == (base[full] & mask);
  }

  // "ADDRESS/LENGTH"; a bare address is a host network (/32 or /128).
  static constexpr std::optional<ip_network> from_text(std::string_view s) noexcept {
    auto slash = s.find('/');
    auto a = ip_address::from_text(s.substr(0, slash));
    if (!a) return std::nullopt;
    unsigned max = static_cast<unsigned>(a->size() * 8);
    if (slash == std::string_view::npos) return ip_network{*a, static_cast<std::uint8_t>(max)};
    std::string_view len = s.substr(slash + 1);
    if (len.empty() || len.size() > 3) return std::nullopt;
    unsigned v = 0;
    for (char c : len) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > max) return std::nullopt;
    return ip_network{*a, static_cast<std::uint8_t>(v)};
  }

  std::string to_string() const {
    return base.to_string() + "/" + std::to_string(prefix_length);
  }
};

[[nodiscard]] inline result<ip_network> parse_network(std::string_view text) {
  if (auto n = ip_network::from_text(text)) return *n;
  diagnostic d;
  d.where = {1, 1};
  d.expected = "a network ADDRESS/LENGTH";
  d.found = quote_excerpt(text);
  return d;
}

// An address and a TCP/UDP port: "10.0.0.1:80" or "[fd00::1]:80" (RFC 5952 section 6).
struct endpoint {
  ip_address address;
  std::uint16_t port = 0;

  friend constexpr bool operator==(const endpoint& a, const endpoint& b) noexcept {
    return a.address == b.address && a.port == b.port;
  }
  friend constexpr bool operator!=(const endpoint& a, const endpoint& b) noexcept {
    return !(a == b);
  }
  friend constexpr bool operator<(const endpoint& a, const endpoint& b) noexcept {
    return a.address < b.address || (a.address == b.address && a.port < b.port);
  }

  std::string to_string() const {
    std::string s;
    if (address.is_v6()) s += '[';
    s += address.to_string();
    if (address.is_v6()) s += ']';
    return s + ":" + std::to_string(port);
  }
  friend std::ostream& operator<<(std::ostream& os, const endpoint& e) {
    return os << e.to_string();
  }
};

}  // namespace rstwatch
