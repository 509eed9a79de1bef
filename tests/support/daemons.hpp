// Test support for the emitters: waiting for files, loopback TCP, and private
// rsyslogd instances (own config, pid file and work directory; never the machine's rsyslog).
#pragma once

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <support/files.hpp>
#include <support/system.hpp>
#include <thread>

namespace rstwatch::test {

// Waits until the file at `path` contains `needle` (or `timeout` passes); returns its text.
inline std::string wait_for_text(const std::string& path, std::string_view needle,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string text = read_file(path);
    if (text.find(needle) != std::string::npos || std::chrono::steady_clock::now() >= deadline)
      return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

inline std::string current_user() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "root";
}
inline std::string current_group() {
  const group* gr = ::getgrgid(::getegid());
  return gr ? gr->gr_name : "root";
}

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it).
inline std::uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Connects to 127.0.0.1:port; -1 when nobody listens.
inline int connect_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `text` (syslog lines, LF-framed as imtcp expects) to 127.0.0.1:port.
inline bool send_tcp(std::uint16_t port, std::string_view text) {
  int fd = connect_loopback(port);
  if (fd < 0) return false;
  bool ok = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// Processes other than `except` that hold /proc/kmsg open: a second reader would steal lines
// (reading /proc/kmsg consumes them).
inline std::string kmsg_holders() {
  return run("for f in /proc/[0-9]*/fd/*; do [ \"$(readlink $f 2>/dev/null)\" = /proc/kmsg ] && "
             "echo ${f%/fd/*}; done 2>/dev/null | sort -u | sed 's|/proc/||' | "
             "while read p; do echo \"$p $(cat /proc/$p/comm 2>/dev/null)\"; done")
      .output;
}

// A private rsyslogd: its own main config (given), pid file and work directory under `dir`.
// Stopped with SIGTERM (and waited for) on scope exit.
class private_rsyslogd {
 public:
  private_rsyslogd(const std::string& dir, const std::string& main_config,
                   std::uint16_t tcp_port = 0)
      : dir_(dir) {
    (void)run("mkdir -p " + shell_quote(dir_ + "/work"));
    write_file(dir_ + "/rsyslog.conf", main_config);
    // -n would keep it in the foreground; the default forks, and the parent returns once the
    // child has read its config.
    auto r = run("rsyslogd -f " + shell_quote(dir_ + "/rsyslog.conf") + " -i " +
                 shell_quote(dir_ + "/rsyslogd.pid"));
    if (r.status != 0) throw std::runtime_error("rsyslogd failed: " + r.output);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pid_ <= 0 && std::chrono::steady_clock::now() < deadline) {
      pid_ = std::atoi(read_file(dir_ + "/rsyslogd.pid").c_str());
      if (pid_ <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ <= 0) throw std::runtime_error("rsyslogd wrote no pid file");
    while (tcp_port && std::chrono::steady_clock::now() < deadline) {
      int fd = connect_loopback(tcp_port);
      if (fd >= 0) {
        ::close(fd);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  private_rsyslogd(const private_rsyslogd&) = delete;
  private_rsyslogd& operator=(const private_rsyslogd&) = delete;
  ~private_rsyslogd() { stop(); }

  int pid() const { return pid_; }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    // Our daemon's parent is pid 1, which may be slow to reap it: a zombie counts as gone.
    for (int i = 0; i < 200 && ::kill(pid_, 0) == 0; ++i) {
      std::string stat = read_file("/proc/" + std::to_string(pid_) + "/stat");
      auto close_paren = stat.rfind(')');
      if (close_paren != std::string::npos && close_paren + 2 < stat.size() &&
          stat[close_paren + 2] == 'Z')
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    pid_ = -1;
  }

 private:
  std::string dir_;
  int pid_ = -1;
};

}  // namespace rstwatch::test
