// Restarting the system's rsyslogd so that it reads a new drop-in: a HUP only reopens its output
// files (rsyslogd(8), SIGHUP). Under systemd that is systemctl's job and with an init script
// service(8)'s. Debian 12's rsyslog ships a systemd unit and no init script, so on a system
// without systemd (a container, sysvinit) nothing can restart it: there the installer does it
// itself, by the pid file.
#pragma once

#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "atomic_file.hpp"
#include "probe.hpp"

namespace rstwatch::install {

// The plan's name for the restart by pid file (it is no shell command of its own).
inline constexpr std::string_view restart_by_pid_file =
    "rsyslogd restart by /run/rsyslogd.pid (no service manager runs it: stop it, start it "
    "again with the same command line)";

inline std::string rsyslog_restart_command() {
  if (systemd_running()) return "systemctl restart rsyslog.service";
  if (exists("/etc/init.d/rsyslog")) return "service rsyslog restart";
  return std::string(restart_by_pid_file);
}

// The pid /run/rsyslogd.pid names when that process is an rsyslogd, else 0.
inline int system_rsyslogd_pid() {
  auto pid = read_state("/run/rsyslogd.pid");
  if (!pid) return 0;
  int n = std::atoi(pid->content.c_str());
  if (n <= 0) return 0;
  auto comm = read_state("/proc/" + std::to_string(n) + "/comm");
  return comm && comm->content == "rsyslogd\n" ? n : 0;
}

// Whether `pid` has exited. The daemon is not our child: until its parent (often pid 1) reaps
// it, an exited one is a zombie.
inline bool process_gone(int pid) {
  if (::kill(pid, 0) != 0) return true;
  auto s = read_state("/proc/" + std::to_string(pid) + "/stat");
  if (!s) return true;
  auto close = s->content.rfind(')');
  return close != std::string::npos && close + 2 < s->content.size() &&
         s->content[close + 2] == 'Z';
}

struct restart_result {
  bool ok = false;
  std::string message;  // what happened, or why not
};

// Stops the rsyslogd of /run/rsyslogd.pid and starts its program again with its arguments (it
// forks and writes the pid file again). Checks the configuration with -N1 first, so that a
// drop-in rsyslogd cannot read never stops the logger. A daemon started with -n runs in the
// foreground under some supervisor: killing it would leave the start to that supervisor, or
// make two, so it is left alone with a warning; so is one in another namespace.
inline restart_result restart_rsyslogd_by_pid_file() {
  using namespace std::chrono;
  const int old = system_rsyslogd_pid();
  const std::string who = "rsyslogd (pid " + std::to_string(old) + ")";
  if (old == 0) return {false, "/run/rsyslogd.pid names no running rsyslogd"};
  std::vector<std::string> args;
  if (auto c = read_state("/proc/" + std::to_string(old) + "/cmdline"))
    for (std::size_t at = 0; at < c->content.size();) {
      auto end = c->content.find('\0', at);
      if (end == std::string::npos) end = c->content.size();
      args.push_back(c->content.substr(at, end - at));
      at = end + 1;
    }
  char exe[PATH_MAX];
  ssize_t n = ::readlink(("/proc/" + std::to_string(old) + "/exe").c_str(), exe, sizeof exe - 1);
  if (args.empty() || n <= 0) return {false, "cannot read the command line of " + who};
  // A daemon in another network or mount namespace (the installer run with `ip netns exec`,
  // say) would be started again in the installer's: its sockets and files would change.
  for (std::string ns : {"net", "mnt"})
    if (namespace_id(old, ns) != namespace_id(0, ns))
      return {true, "warning: " + who + " runs in another " + ns +
                        " namespace than this installer: restart it from there, so that it reads "
                        "the new drop-in"};
  for (auto& a : args)
    if (a == "-n")
      return {true, "warning: " + who +
                        " runs in the foreground (-n) under a supervisor: restart it through "
                        "that, so that it reads the new drop-in"};
  std::string command = shell_quote(std::string_view(exe, static_cast<std::size_t>(n)));
  for (std::size_t i = 1; i < args.size(); ++i) command += " " + shell_quote(args[i]);
  auto check = run(command + " -N1");
  if (check.status != 0)
    return {false, "the configuration does not pass " + command + " -N1: " + check.output};
  if (::kill(old, SIGTERM) != 0) return {false, "cannot stop " + who + ": " + errno_text(errno)};
  auto deadline = steady_clock::now() + seconds(10);
  while (!process_gone(old)) {
    if (steady_clock::now() >= deadline) return {false, who + " did not stop within 10 s"};
    std::this_thread::sleep_for(milliseconds(20));
  }
  auto started = run(command);
  if (started.status != 0)
    return {false, who + " stopped, but " + command + " failed: " + started.output +
                       " -- rsyslog is not running now"};
  int fresh = 0;
  for (deadline = steady_clock::now() + seconds(10);
       (fresh = system_rsyslogd_pid()) == 0 || fresh == old;) {
    if (steady_clock::now() >= deadline)
      return {false, who + " stopped and " + command +
                         " returned, but no rsyslogd wrote /run/rsyslogd.pid within 10 s"};
    std::this_thread::sleep_for(milliseconds(20));
  }
  return {true, "restarted rsyslogd: pid " + std::to_string(old) + " stopped, pid " +
                    std::to_string(fresh) + " started (" + command + ")"};
}

}  // namespace rstwatch::install
