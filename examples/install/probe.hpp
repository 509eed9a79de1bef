// What the installer needs to know about the running system before it changes anything: which
// iptables backend is in use, whether this network namespace's LOG lines reach the kernel log,
// and whether systemd is running. Also the one way it runs a command.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atomic_file.hpp"

namespace rstwatch::install {

struct command_result {
  int status = -1;  // exit status, 128+signal, -1: could not run
  std::string output;
};

// Runs `argv0 args…` through /bin/sh -c with stdout and stderr captured together. Only strings
// that passed emit::validate() or that the installer made itself reach the command line.
inline command_result run(const std::string& command) {
  command_result r;
  std::string wrapped = "{ " + command + "\n} 2>&1";
  FILE* pipe = ::popen(wrapped.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  int st = ::pclose(pipe);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// Quotes `s` for /bin/sh.
inline std::string shell_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// iptables 1.8 is two programs behind one name: `iptables -V` ends in "(nf_tables)" or
// "(legacy)" (iptables/xshared.c print_version). Rules loaded through one are invisible to the
// other's -C/-D, so every command of one install must go through the same one.
enum class iptables_variant { nf_tables, legacy };

struct iptables_probe {
  std::optional<iptables_variant> variant;
  std::string version;  // the -V line, for the plan
  std::string problem;  // why there is no usable variant
};

inline std::optional<iptables_variant> variant_of(std::string_view v) {
  if (v.find("(nf_tables)") != std::string_view::npos) return iptables_variant::nf_tables;
  if (v.find("(legacy)") != std::string_view::npos) return iptables_variant::legacy;
  return std::nullopt;
}

inline std::string_view to_string(iptables_variant v) {
  return v == iptables_variant::nf_tables ? "nf_tables" : "legacy";
}

// The tables of an iptables-save dump that decide something: a rule, a user chain or a DROP
// policy. A table with only ACCEPT policies is what either backend shows after its last rule
// went (iptables-legacy cannot drop a table; it lives as long as the namespace).
inline std::vector<std::string> tables_with_rules(std::string_view save_output) {
  std::vector<std::string> tables;
  std::string table;
  while (!save_output.empty()) {
    auto nl = save_output.find('\n');
    std::string_view line = save_output.substr(0, nl);
    save_output.remove_prefix(nl == std::string_view::npos ? save_output.size() : nl + 1);
    if (!line.empty() && line[0] == '*') table = std::string(line.substr(1));
    bool decides = line.rfind("-A ", 0) == 0 ||
                   (line.size() > 1 && line[0] == ':' &&
                    (line.find(" - ") != std::string_view::npos ||     // a user chain
                     line.find(" DROP ") != std::string_view::npos));  // a policy that decides
    if (decides && (tables.empty() || tables.back() != table)) tables.push_back(table);
  }
  return tables;
}

// What the backend not in use holds in this namespace, as "iptables-legacy: filter, mangle"
// lines; empty when nothing. Only tables that exist are dumped: the -save commands without -t
// read the kernel's list of tables (/proc/net/ip_tables_names for legacy) and create none.
inline std::string rules_of_other_backend(iptables_variant used, bool ipv6) {
  const std::string other = used == iptables_variant::nf_tables ? "legacy" : "nft";
  std::string found;
  for (std::string tool : {"iptables", "ip6tables"}) {
    if (tool == "ip6tables" && !ipv6) continue;
    const std::string save = "/usr/sbin/" + tool + "-" + other + "-save";
    if (::access(save.c_str(), X_OK) != 0) continue;  // that backend is not installed
    auto r = run(save);
    if (r.status != 0) continue;
    auto tables = tables_with_rules(r.output);
    if (tables.empty()) continue;
    found += (found.empty() ? "" : "; ") + tool + "-" + other + ": table";
    if (tables.size() > 1) found += "s";
    for (std::size_t i = 0; i < tables.size(); ++i) found += (i ? ", " : " ") + tables[i];
  }
  return found;
}

inline iptables_probe probe_iptables(bool ipv6) {
  iptables_probe p;
  auto v4 = run("/usr/sbin/iptables -V");
  while (!v4.output.empty() && v4.output.back() == '\n') v4.output.pop_back();
  if (v4.status != 0) {
    p.problem = "/usr/sbin/iptables -V failed (is iptables installed?): " + v4.output;
    return p;
  }
  p.version = v4.output;
  auto a = variant_of(v4.output);
  if (!a) {
    p.problem = "cannot tell the iptables backend from '" + v4.output + "'";
    return p;
  }
  if (ipv6) {
    auto v6 = run("/usr/sbin/ip6tables -V");
    auto b = variant_of(v6.output);
    if (v6.status != 0 || !b) {
      p.problem = "/usr/sbin/ip6tables -V failed or names no backend: " + v6.output;
      return p;
    }
    if (*a != *b) {
      p.problem = "iptables uses " + std::string(to_string(*a)) + " but ip6tables uses " +
                  std::string(to_string(*b)) +
                  "; rstwatch never mixes the two (update-alternatives --config ip6tables)";
      return p;
    }
  }
  // Rules of the other backend live in other kernel tables, hooked in at the same priorities:
  // the host's firewall would then be split over two programs that do not see each other's
  // rules (iptables-nft-save only warns that legacy tables are present). Refuse instead.
  if (auto other = rules_of_other_backend(*a, ipv6); !other.empty()) {
    p.problem = "/usr/sbin/iptables is " + std::string(to_string(*a)) +
                " but this network namespace holds rules of the other backend (" + other +
                "); rstwatch never mixes the two: remove those rules, or install with the "
                "backend that holds them (update-alternatives --config iptables)";
    return p;
  }
  p.variant = a;
  return p;
}

// Where this process's network namespace stands with respect to kernel logging. The sysctl
// net.netfilter.nf_log_all_netns exists only in the initial namespace (net/netfilter/nf_log.c
// registers it for init_net alone); in any other namespace LOG rules print nothing unless it
// is 1. Inside such a namespace its value is read from the namespace of the nearest ancestor
// process that is in another namespace (the shell that ran `ip netns exec`).
struct netns_probe {
  bool initial = true;            // the sysctl is visible here
  std::optional<bool> all_netns;  // its value, when it could be read
};

// The namespace of kind `kind` ("net", "mnt") that `pid` (0: this process) is in.
inline std::string namespace_id(int pid, const std::string& kind = "net") {
  char buf[128];
  std::string link = "/proc/" + (pid ? std::to_string(pid) : std::string("self")) + "/ns/" + kind;
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

inline int parent_pid(int pid) {
  auto s = read_state("/proc/" + std::to_string(pid) + "/stat");
  if (!s) return 0;
  auto close = s->content.rfind(')');
  if (close == std::string::npos) return 0;
  int state_and_ppid = 0;
  char st = 0;
  if (std::sscanf(s->content.c_str() + close + 1, " %c %d", &st, &state_and_ppid) != 2) return 0;
  return state_and_ppid;
}

// Reads `path` after entering the network namespace of `pid`, in a child process (setns
// changes the caller's namespace for good).
inline std::optional<std::string> read_in_namespace_of(int pid, const std::string& path) {
  int fds[2];
  if (::pipe(fds) != 0) return std::nullopt;
  pid_t child = ::fork();
  if (child < 0) return std::nullopt;
  if (child == 0) {
    ::close(fds[0]);
    int ns = ::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(1);
    auto s = read_state(path);
    if (!s) ::_exit(1);
    (void)!::write(fds[1], s->content.data(), s->content.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return std::nullopt;
  return out;
}

inline netns_probe probe_netns() {
  static const std::string sysctl = "/proc/sys/net/netfilter/nf_log_all_netns";
  netns_probe p;
  if (auto s = read_state(sysctl)) {
    p.all_netns = !s->content.empty() && s->content[0] != '0';
    return p;
  }
  // Without nf_log loaded /proc/sys/net/netfilter/nf_log does not exist either: say nothing.
  if (!is_directory("/proc/sys/net/netfilter/nf_log")) return p;
  p.initial = false;
  const std::string mine = namespace_id(0);
  for (int pid = parent_pid(::getpid()); pid > 0; pid = parent_pid(pid)) {
    auto id = namespace_id(pid);
    if (id.empty() || id == mine) continue;
    if (auto v = read_in_namespace_of(pid, sysctl)) p.all_netns = !v->empty() && (*v)[0] != '0';
    break;
  }
  return p;
}

// systemd is the init system when this directory exists (sd_booted(3)).
inline bool systemd_running() { return is_directory("/run/systemd/system"); }

}  // namespace rstwatch::install
