// Source positions, diagnostics and result<T>: how every rstwatch parser reports bad input
// without throwing (what was expected, what was found, and where: file:line:column).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace rstwatch {

enum class severity : std::uint8_t { error, warning, note };

inline constexpr std::string_view severity_names[] = {"error", "warning", "note"};

constexpr std::string_view to_string(severity s) noexcept {
  return severity_names[static_cast<std::size_t>(s)];
}

// 1-based line and column; 0 means "unknown". Columns count bytes, as compilers do.
struct source_position {
  std::uint32_t line = 0;
  std::uint32_t column = 0;

  friend constexpr bool operator==(source_position a, source_position b) noexcept {
    return a.line == b.line && a.column == b.column;
  }
  friend constexpr bool operator!=(source_position a, source_position b) noexcept {
    return !(a == b);
  }
};

// Line and column of byte `offset` in `text`. Computed only when something failed, never on
// the hot path: it walks the text from its start.
constexpr source_position position_of(std::string_view text, std::size_t offset) noexcept {
  if (offset > text.size()) offset = text.size();
  source_position p{1, 1};
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

// The text of the line that holds byte `offset` (without its newline), for caret displays.
constexpr std::string_view line_at(std::string_view text, std::size_t offset) noexcept {
  if (offset > text.size()) offset = text.size();
  std::size_t begin = offset == 0 ? std::string_view::npos : text.rfind('\n', offset - 1);
  begin = begin == std::string_view::npos ? 0 : begin + 1;
  std::size_t end = text.find('\n', offset);
  if (end == std::string_view::npos) end = text.size();
  return text.substr(begin, end - begin);
}

// One message about one place in one input. `expected`/`found` give the compiler-style
// "expected X, found Y"; `message` replaces them when the problem is not a missing token
// (e.g. "LOG prefix longer than 29 characters is cut by the kernel"); `hint` is a suggestion.
struct diagnostic {
  severity level = severity::error;
  std::string file;
  source_position where;
  std::string expected;
  std::string found;
  std::string message;
  std::string hint;

  // The text after "error: ".
  std::string what() const {
    if (!message.empty()) return message;
    std::string s = "expected " + expected;
    if (!found.empty()) s += ", found " + found;
    return s;
  }
};

// Show a piece of input inside a diagnostic: quoted, at most `limit` bytes, control bytes
// and non-ASCII escaped so the message stays one printable line.
inline std::string quote_excerpt(std::string_view text, std::size_t limit = 24) {
  if (text.empty()) return "end of input";
  std::string s = "'";
  std::size_t n = 0;
  for (char c : text) {
    if (n++ == limit) {
      s += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') break;
    if (u < 0x20 || u >= 0x7f || c == '\'' || c == '\\') {
      static constexpr char hex[] = "0123456789abcdef";
      s += "\\x";
      s += hex[u >> 4];
      s += hex[u & 15];
    } else {
      s += c;
    }
  }
  s += "'";
  return s;
}

// "FILE:LINE:COL: error: expected X, found Y" — the first line of a compiler-style report.
inline std::string format(const diagnostic& d) {
  std::string s;
  if (!d.file.empty()) s += d.file + ":";
  if (d.where.line != 0) {
    s += std::to_string(d.where.line) + ":";
    if (d.where.column != 0) s += std::to_string(d.where.column) + ":";
  }
  if (!s.empty()) s += " ";
  s += to_string(d.level);
  s += ": ";
  s += d.what();
  if (!d.hint.empty()) s += " (" + d.hint + ")";
  return s;
}

// format(d) followed by the source line and a caret under the column, as g++ prints them.
inline std::string format_with_source(const diagnostic& d, std::string_view source_line) {
  std::string s = format(d);
  s += "\n  ";
  s += source_line;
  s += "\n  ";
  for (std::uint32_t i = 1; i < d.where.column && i <= source_line.size(); ++i)
    s += source_line[i - 1] == '\t' ? '\t' : ' ';
  s += "^";
  return s;
}

// A value or the diagnostic that explains why there is none. Fallible calls return it
// instead of throwing; callers must look at it.
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(diagnostic error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const diagnostic& error() const& { return std::get<1>(v_); }
  diagnostic&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, diagnostic> v_;
};

}  // namespace rstwatch
