// Orders a rotated set of log files oldest first, whatever order the shell gave them:
// `drds-tcp.log-20260424.gz drds-tcp.log-20260425 drds-tcp.log` (logrotate's dateext, also with
// a `-%s` or `-N` tail) or `x.log.3.gz x.log.2 x.log.1 x.log` (numbered rotation).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace rstwatch::read {

namespace detail {

inline bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

inline std::uint64_t to_number(std::string_view s) {
  std::uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<unsigned>(c - '0');
  return v;
}

// Where one file stands in its set: the live file, a numbered copy, or a dated copy.
struct rotation_key {
  std::string base;  // the live file's path
  int kind = 0;      // 0 dated, 1 numbered, 2 live: the order in which they are read
  std::uint64_t major = 0;  // the date YYYYMMDD, or the number N
  std::uint64_t minor = 0;  // a dated file's -N / -%s tail
};

inline std::optional<rotation_key> key_of(std::string_view path) {
  if (path.size() > 3 && path.substr(path.size() - 3) == ".gz") path.remove_suffix(3);
  // Numbered: BASE.N
  if (auto dot = path.rfind('.'); dot != std::string_view::npos && all_digits(path.substr(dot + 1)) &&
                                  path.find('/', dot) == std::string_view::npos) {
    auto digits = path.substr(dot + 1);
    // A YYYYMMDD after a dot is logrotate's `dateext` with `dateformat .%Y%m%d`; treat short
    // numbers as rotation counters.
    if (digits.size() < 8) return rotation_key{std::string(path.substr(0, dot)), 1, to_number(digits), 0};
  }
  // Dated: BASE-YYYYMMDD, BASE-YYYYMMDD-N, BASE-YYYYMMDD-EPOCH, BASE-YYYYMMDDHH
  auto slash = path.rfind('/');
  std::size_t from = slash == std::string_view::npos ? 0 : slash + 1;
  for (std::size_t dash = path.find('-', from); dash != std::string_view::npos;
       dash = path.find('-', dash + 1)) {
    auto rest = path.substr(dash + 1);
    auto tail_dash = rest.find('-');
    auto date = rest.substr(0, tail_dash);
    if (!all_digits(date) || date.size() < 8 || date.size() > 10) continue;
    std::uint64_t minor = 0;
    if (tail_dash != std::string_view::npos) {
      auto tail = rest.substr(tail_dash + 1);
      if (!all_digits(tail)) continue;
      minor = to_number(tail);
    }
    // Compare YYYYMMDD and YYYYMMDDHH alike by padding the date to hours.
    std::uint64_t major = to_number(date) * (date.size() == 8 ? 100 : date.size() == 9 ? 10 : 1);
    return rotation_key{std::string(path.substr(0, dash)), 0, major, minor};
  }
  return std::nullopt;
}

}  // namespace detail

// If `paths` are one rotated set (every name is the live file or a rotation of the same base
// name, at least one rotated), returns them oldest first: dated copies by date, numbered copies
// from the highest number down, the live file last. Otherwise returns them unchanged.
inline std::vector<std::string> order_rotated_set(std::vector<std::string> paths) {
  if (paths.size() < 2) return paths;
  std::vector<std::pair<detail::rotation_key, std::string>> keyed;
  std::optional<std::string> base;
  // The base is the shortest name that the others extend: find the live file if given.
  for (auto& p : paths)
    if (auto k = detail::key_of(p)) base = base && base->size() <= k->base.size() ? base : k->base;
  if (!base) return paths;
  bool rotated = false;
  for (auto& p : paths) {
    if (p == *base) {
      keyed.push_back({detail::rotation_key{*base, 2, 0, 0}, p});
      continue;
    }
    auto k = detail::key_of(p);
    if (!k || k->base != *base) return paths;
    rotated = true;
    keyed.push_back({*k, p});
  }
  if (!rotated) return paths;
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    const auto& x = a.first;
    const auto& y = b.first;
    if (x.kind != y.kind) return x.kind < y.kind;
    if (x.kind == 1) return x.major > y.major;  // x.log.3 is older than x.log.1
    return std::tie(x.major, x.minor) < std::tie(y.major, y.minor);
  });
  std::vector<std::string> out;
  for (auto& [k, p] : keyed) out.push_back(p);
  return out;
}

}  // namespace rstwatch::read
