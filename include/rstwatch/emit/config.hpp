// The small install configuration every emitter reads, and the one function that checks it:
// emitters accept only a valid_config, so no unchecked user string reaches a file or a shell.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <rstwatch/diagnostic.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rstwatch::emit {

enum class firewall_backend : std::uint8_t { iptables, nftables };
enum class boot_method : std::uint8_t { systemd, rc_local, none };
// How the log file's lines begin. Debian 12's rsyslog writes RFC 3339 by default (its
// rsyslog.conf no longer sets RSYSLOG_TraditionalFileFormat); the seed's file shows the
// traditional "Apr 26 15:27:36" form. The log reader accepts both.
enum class time_format : std::uint8_t { rfc3339, traditional };

inline constexpr std::string_view firewall_backend_names[] = {"iptables", "nftables"};
inline constexpr std::string_view boot_method_names[] = {"systemd", "rc-local", "none"};
inline constexpr std::string_view time_format_names[] = {"rfc3339", "traditional"};

constexpr std::string_view to_string(firewall_backend b) noexcept {
  return firewall_backend_names[static_cast<std::size_t>(b)];
}
constexpr std::string_view to_string(boot_method b) noexcept {
  return boot_method_names[static_cast<std::size_t>(b)];
}
constexpr std::string_view to_string(time_format f) noexcept {
  return time_format_names[static_cast<std::size_t>(f)];
}

// Where a second rsyslog collects the lines of a fleet (omfwd over TCP).
struct forward_target {
  std::string host;  // DNS name, IPv4 or IPv6 literal (no brackets)
  std::uint16_t port = 514;
};

// The kernel's token bucket for LOG (-m limit / nft limit): a port scan must not become a
// printk storm.
struct rate_limit {
  unsigned per_second = 1000;
  unsigned burst = 2000;
};

// What the operator asks for. Empty strings mean "derive from name" (see validate()).
struct install_config {
  std::string name = "drds";  // 1-19 of [a-z0-9-]: chain RSTWATCH-NAME stays within 28 chars
  std::string prefix;         // LOG prefix; default "[NAME] " as in the seed
  std::string log_file;       // default /var/log/rstwatch/NAME.log
  std::string rules_dir = "/etc/rstwatch";
  std::vector<std::uint16_t> excluded_ports;  // either port excluded; at most 15 (multiport)
  bool ipv6 = true;
  std::optional<rate_limit> limit = rate_limit{};
  unsigned log_level = 7;  // the seed's --log-level 7 (debug)
  firewall_backend backend = firewall_backend::iptables;
  boot_method boot = boot_method::systemd;

  // rsyslog
  time_format format = time_format::rfc3339;
  unsigned file_mode = 0640;
  unsigned dir_mode = 0755;
  std::string file_owner = "root";
  std::string file_group = "adm";
  bool keep_in_default_logs = false;
  std::optional<forward_target> forward;
  std::string forward_spool_dir = "/var/spool/rsyslog";  // Debian's $WorkDirectory
  unsigned forward_retry_seconds = 30;                   // omfwd action.resumeInterval

  // logrotate
  unsigned rotate_days = 30;
  bool copytruncate = false;
  std::string max_size = "100M";
  std::string postrotate = "/usr/lib/rsyslog/rsyslog-rotate";  // Debian's own rsyslog stanza
};

class valid_config;
[[nodiscard]] result<valid_config> validate(install_config config);

// An install_config that passed validate(), with every derived field filled in. Only
// validate() makes one, so an emitter taking it never sees an unchecked string.
class valid_config {
 public:
  const install_config& get() const noexcept { return c_; }
  const install_config* operator->() const noexcept { return &c_; }

  // RSTWATCH-NAME, upper-cased: iptables chain names are at most 28 characters
  // (XT_EXTENSION_MAXNAMELEN 29 including the NUL, include/uapi/linux/netfilter/x_tables.h).
  std::string chain() const {
    std::string s = "RSTWATCH-";
    for (char c : c_.name) s += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    return s;
  }
  std::string nft_table() const { return "rstwatch-" + c_.name; }
  std::string unit_name() const { return "rstwatch-" + c_.name + ".service"; }
  std::string rules_file() const { return c_.rules_dir + "/" + c_.name + ".rules"; }
  std::string rules6_file() const { return c_.rules_dir + "/" + c_.name + ".rules6"; }
  std::string nft_file() const { return c_.rules_dir + "/" + c_.name + ".nft"; }
  std::string load_script() const { return c_.rules_dir + "/" + c_.name + ".sh"; }

 private:
  explicit valid_config(install_config c) : c_(std::move(c)) {}
  friend result<valid_config> validate(install_config config);
  install_config c_;
};

namespace detail {

inline diagnostic config_error(std::string field, std::string message) {
  diagnostic d;
  d.file = std::move(field);
  d.message = std::move(message);
  return d;
}

// A mode as rsyslog and logrotate write it: four octal digits ("0640").
inline std::string octal(unsigned mode) {
  std::string s;
  for (int shift = 9; shift >= 0; shift -= 3) s += static_cast<char>('0' + ((mode >> shift) & 7));
  return s;
}

constexpr bool is_lower_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Paths reach rsyslog strings, logrotate stanzas (where * ? [ are globs and a space splits
// names) and /bin/sh lines: allow only a conservative character set, and nothing that makes
// the path mean something other than what it says.
inline std::optional<std::string> path_problem(std::string_view p) {
  if (p.empty() || p.front() != '/') return "must be an absolute path";
  if (p.size() > 1 && p.back() == '/') return "must not end with '/'";
  for (char c : p) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '.' || c == '_' || c == '-' || c == '+' || c == '@';
    if (!ok)
      return "may contain only letters, digits and / . _ - + @, found " +
             quote_excerpt(std::string_view(&c, 1));
  }
  std::size_t i = 1;
  while (i <= p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    auto part = p.substr(i, j - i);
    if (part.empty()) return "is not normalized (contains '//')";
    if (part == "." || part == "..") return "is not normalized (contains '/./' or '/../')";
    i = j + 1;
  }
  for (std::string_view bad : {"/proc", "/sys", "/dev", "/run"})
    if (p == bad ||
        (p.size() > bad.size() && p.substr(0, bad.size()) == bad && p[bad.size()] == '/'))
      return "must not be under " + std::string(bad) + " (not a place for persistent files)";
  return std::nullopt;
}

// POSIX portable user/group names, as useradd accepts them by default on Debian.
inline bool is_account_name(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_lower_alnum(c) || c == '_' || c == '-'; });
}

inline bool is_host(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  if (h.find(':') != std::string_view::npos)  // IPv6 literal: hex digits, ':' and '.'
    return std::all_of(h.begin(), h.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
             c == ':' || c == '.';
    });
  // RFC 1123 host name (IPv4 literals are a special case of it): labels of 1-63
  // letters, digits and '-', not starting or ending with '-'.
  std::size_t i = 0;
  while (i <= h.size()) {
    std::size_t j = h.find('.', i);
    if (j == std::string_view::npos) j = h.size();
    auto label = h.substr(i, j - i);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
        return false;
    i = j + 1;
  }
  return true;
}

// logrotate's size syntax: digits with an optional k, M or G suffix (logrotate(8), "size").
inline bool is_logrotate_size(std::string_view s) {
  if (s.empty()) return false;
  std::size_t digits = s.size();
  if (s.back() == 'k' || s.back() == 'M' || s.back() == 'G') --digits;
  if (digits == 0 || digits > 12) return false;
  return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(digits),
                     [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace detail

// Checks every field and fills in the derived defaults. The first problem found is returned;
// the diagnostic's `file` names the field (e.g. "prefix") so a CLI can map it to its option.
inline result<valid_config> validate(install_config c) {
  using detail::config_error;
  if (c.name.empty() || c.name.size() > 19)
    return config_error("name",
                        "name must be 1-19 characters, found " + std::to_string(c.name.size()));
  for (char ch : c.name)
    if (!(detail::is_lower_alnum(ch) || ch == '-'))
      return config_error("name", "name may contain only a-z, 0-9 and '-', found " +
                                      quote_excerpt(std::string_view(&ch, 1)));
  if (c.name.front() == '-' || c.name.back() == '-')
    return config_error("name", "name must not begin or end with '-'");

  if (c.prefix.empty()) c.prefix = "[" + c.name + "] ";
  // xt_LOG keeps 29 characters (struct ipt_log_info.prefix[30]); iptables refuses longer.
  if (c.prefix.size() > 29)
    return config_error("prefix", "LOG prefix longer than 29 characters is refused by iptables");
  for (char ch : c.prefix) {
    auto u = static_cast<unsigned char>(ch);
    // Quotes and backslashes would end or escape the quoted strings of iptables-restore,
    // nft and RainerScript; control bytes would split a kernel log line.
    if (u < 0x20 || u >= 0x7f || ch == '"' || ch == '\'' || ch == '\\' || ch == '`' || ch == '$')
      return config_error("prefix", "LOG prefix may not contain " +
                                        quote_excerpt(std::string_view(&ch, 1)) +
                                        " (quotes, backslash, $, ` and control bytes)");
  }
  if (c.prefix.front() == ' ')
    return config_error("prefix", "LOG prefix must not begin with a space (rsyslog drops it)");

  if (c.log_file.empty()) c.log_file = "/var/log/rstwatch/" + c.name + ".log";
  for (auto [field, path] : {std::pair<const char*, const std::string*>{"log_file", &c.log_file},
                             {"rules_dir", &c.rules_dir},
                             {"forward_spool_dir", &c.forward_spool_dir}})
    if (auto why = detail::path_problem(*path))
      return config_error(field, std::string(field) + " " + quote_excerpt(*path, 60) + " " + *why);
  if (c.log_file == "/") return config_error("log_file", "log_file must name a file");
  {
    // postrotate: an absolute command path, optionally followed by plain arguments.
    std::string_view cmd = c.postrotate;
    auto sp = cmd.find(' ');
    if (auto why = detail::path_problem(cmd.substr(0, sp)))
      return config_error("postrotate", "postrotate command " + *why);
    for (char ch : cmd)
      if (!(detail::is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z') || ch == ' ' || ch == '/' ||
            ch == '.' || ch == '_' || ch == '-'))
        return config_error("postrotate",
                            "postrotate may contain only a command path and plain "
                            "arguments, found " +
                                quote_excerpt(std::string_view(&ch, 1)));
  }

  // multiport takes at most 15 ports (XT_MULTI_PORTS, include/uapi/linux/netfilter/xt_multiport.h).
  if (c.excluded_ports.size() > 15)
    return config_error("excluded_ports", "at most 15 excluded ports (multiport's limit), found " +
                                              std::to_string(c.excluded_ports.size()));
  for (std::size_t i = 0; i < c.excluded_ports.size(); ++i) {
    if (c.excluded_ports[i] == 0)
      return config_error("excluded_ports", "port 0 cannot be excluded");
    for (std::size_t j = 0; j < i; ++j)
      if (c.excluded_ports[j] == c.excluded_ports[i])
        return config_error("excluded_ports",
                            "port " + std::to_string(c.excluded_ports[i]) + " listed twice");
  }
  if (c.limit && (c.limit->per_second == 0 || c.limit->per_second > 10000 || c.limit->burst == 0 ||
                  c.limit->burst > 10000))
    return config_error("limit", "rate limit and burst must be 1-10000 (xt_limit's scale)");
  if (c.log_level > 7) return config_error("log_level", "log level must be 0-7");

  if (c.file_mode > 0777 || c.dir_mode > 0777)
    return config_error("file_mode", "file and directory modes must be at most 0777");
  if (c.file_mode & 0002)
    return config_error("file_mode", "a world-writable log file lets anyone forge reset lines");
  if (!detail::is_account_name(c.file_owner))
    return config_error("file_owner",
                        "file owner " + quote_excerpt(c.file_owner) + " is not a valid user name");
  if (!detail::is_account_name(c.file_group))
    return config_error("file_group",
                        "file group " + quote_excerpt(c.file_group) + " is not a valid group name");
  if (c.forward) {
    if (!detail::is_host(c.forward->host))
      return config_error("forward", "forward host " + quote_excerpt(c.forward->host, 60) +
                                         " is not a host name or IP address");
    if (c.forward->port == 0) return config_error("forward", "forward port must be 1-65535");
  }
  if (c.forward_retry_seconds == 0 || c.forward_retry_seconds > 86400)
    return config_error("forward_retry_seconds", "forward retry interval must be 1-86400 s");

  if (c.rotate_days == 0 || c.rotate_days > 3650)
    return config_error("rotate_days", "rotate_days must be 1-3650");
  if (!detail::is_logrotate_size(c.max_size))
    return config_error("max_size", "max_size must be digits with an optional k, M or G, found " +
                                        quote_excerpt(c.max_size));
  return valid_config(std::move(c));
}

}  // namespace rstwatch::emit
