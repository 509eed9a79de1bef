// The rc.local form of boot persistence, for systems without systemd: one marked line, added
// before the final `exit 0`, replaced on re-run and removed on uninstall.
#pragma once

#include <optional>
#include <rstwatch/emit/config.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace rstwatch::emit {

inline constexpr std::string_view rc_local_path = "/etc/rc.local";
// rc-local.service runs /etc/rc.local only when it is executable (systemd-rc-local-generator).
inline constexpr unsigned rc_local_mode = 0755;

// The marker that makes rstwatch's line findable again; one per name.
inline std::string rc_local_marker(const valid_config& c) { return "# rstwatch:" + c->name; }

// rc.local runs under `sh -e`: without `|| true` a failed load would skip the rest of it.
inline std::string rc_local_line(const valid_config& c) {
  return "/bin/sh " + c.load_script() + " start || true  " + rc_local_marker(c);
}

namespace detail {

inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return lines;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

inline bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace detail

// `current` without rstwatch's line for this name (any copy of it); other text unchanged.
inline std::string rc_local_remove(std::string_view current, const valid_config& c) {
  const std::string marker = rc_local_marker(c);
  std::string out;
  for (auto line : detail::split_lines(current)) {
    if (detail::ends_with(detail::trim(line), marker)) continue;
    out += line;
    out += '\n';
  }
  return out;
}

// `current` (nullopt: the file does not exist, as on Debian 12) with rstwatch's line, once,
// just before the last `exit 0`; appended when the script has no final `exit 0`.
inline std::string rc_local_install(const std::optional<std::string_view>& current,
                                    const valid_config& c) {
  if (!current || detail::trim(*current).empty())
    return "#!/bin/sh -e\n# rc.local: created by rstwatch (run at boot by rc-local.service).\n\n" +
           rc_local_line(c) + "\nexit 0\n";
  const std::string kept = rc_local_remove(*current, c);  // `lines` views into it
  auto lines = detail::split_lines(kept);
  // The final `exit 0`: the last line that is neither blank nor a comment.
  std::size_t at = lines.size();
  for (std::size_t i = lines.size(); i-- > 0;) {
    auto t = detail::trim(lines[i]);
    if (t.empty() || t.front() == '#') continue;
    if (t == "exit 0") at = i;
    break;
  }
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i == at) out += rc_local_line(c) + "\n";
    out += lines[i];
    out += '\n';
  }
  if (at == lines.size()) out += rc_local_line(c) + "\n";
  return out;
}

}  // namespace rstwatch::emit
