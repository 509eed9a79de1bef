// Test support for scenarios that need the real system: shell commands, root, private network
// namespaces (always deleted), sysctl values (always restored) and the kernel log (/dev/kmsg).
//
// Rules every root scenario follows: it never touches the initial namespace's firewall, it
// uses addresses only inside its own namespaces or loopback, it tags its LOG prefix with
// unique_tag() and reads back only its own lines, and it is registered under the ctest
// RESOURCE_LOCK "kernel_log" (tag [kmsg]) when it reads the kernel log.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace rstwatch::test {

struct command_result {
  int status = -1;     // exit status, or 128+signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs `command` with /bin/sh, capturing stdout and stderr together.
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
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

// How many times `needle` occurs in `text` (overlapping ones too).
inline std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string_view(ci) == "true";
}

// A short name unique to this process and call, for namespaces, LOG prefixes and files.
inline std::string unique_tag(std::string_view stem = "rw") {
  static std::atomic<unsigned> counter{0};
  return std::string(stem) + std::to_string(::getpid() % 100000) + "x" +
         std::to_string(counter++);
}

// Whether a root scenario may go on. Outside CI, a missing privilege skips the scenario with a
// loud warning; with CI=true it is a failure, so CI can never pass by skipping.
inline bool require_root(std::string_view what) {
  std::string why;
  if (::geteuid() != 0) {
    why = "not running as root";
  } else {
    auto probe = run("ip netns add rstw-probe-" + std::to_string(::getpid()) +
                     " && ip netns del rstw-probe-" + std::to_string(::getpid()));
    if (probe.status != 0) why = "cannot create network namespaces: " + probe.output;
  }
  if (why.empty()) return true;
  if (in_ci()) {
    FAIL("CI=true but " << why << " (needed for: " << what << ")");
  }
  WARN("SKIPPED (" << why << "): " << what << " -- run as root to test it");
  return false;
}

// Checks a command's exit status, showing its output when it failed.
#define RSTWATCH_REQUIRE_OK(result_expr)                  \
  do {                                                    \
    auto rstwatch_r_ = (result_expr);                     \
    INFO("output: " << rstwatch_r_.output);               \
    REQUIRE(rstwatch_r_.status == 0);                     \
  } while (0)

// A private network namespace with `lo` up, deleted (with every process in it) on scope exit.
class netns {
 public:
  explicit netns(std::string_view stem = "ns") : name_("rstw-" + unique_tag(stem)) {
    auto r = run("ip netns add " + name_ + " && ip -n " + name_ + " link set lo up");
    if (r.status != 0) throw std::runtime_error("cannot create netns " + name_ + ": " + r.output);
  }
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;
  ~netns() {
    (void)run("for p in $(ip netns pids " + name_ + " 2>/dev/null); do kill -9 $p; done; "
              "ip netns del " + name_ + " 2>/dev/null");
  }

  const std::string& name() const { return name_; }

  // Runs a shell command inside the namespace.
  command_result exec(const std::string& command) const {
    return run("ip netns exec " + name_ + " sh -c " + shell_quote(command));
  }

  // The prefix to put in front of a command so that it runs inside the namespace.
  std::string prefix() const { return "ip netns exec " + name_ + " "; }

  // Joins this namespace to `peer` with a veth pair; each end gets its address list
  // (e.g. {"10.77.1.1/24", "fd77:1::1/64"}), brought up with IPv6 DAD disabled.
  void link(const netns& peer, const std::string& here_if, const std::vector<std::string>& here,
            const std::string& there_if, const std::vector<std::string>& there) const {
    auto r = run("ip link add " + here_if + " netns " + name_ + " type veth peer name " +
                 there_if + " netns " + peer.name_);
    if (r.status != 0) throw std::runtime_error("veth: " + r.output);
    configure(here_if, here);
    peer.configure(there_if, there);
  }

 private:
  void configure(const std::string& ifname, const std::vector<std::string>& addrs) const {
    std::string cmd = "sysctl -qw net.ipv6.conf." + ifname + ".accept_dad=0; ";
    for (auto& a : addrs) cmd += "ip addr add " + a + " dev " + ifname + " nodad 2>/dev/null || ip addr add " + a + " dev " + ifname + "; ";
    cmd += "ip link set " + ifname + " up";
    auto r = exec(cmd);
    if (r.status != 0) throw std::runtime_error("configure " + ifname + ": " + r.output);
  }

  std::string name_;
};

// Sets a sysctl (a path under /proc/sys) for the scope, restoring the previous value after.
class sysctl_guard {
 public:
  sysctl_guard(std::string path, std::string value) : path_(std::move(path)) {
    std::ifstream in(path_);
    std::getline(in, old_);
    write(value);
  }
  sysctl_guard(const sysctl_guard&) = delete;
  sysctl_guard& operator=(const sysctl_guard&) = delete;
  ~sysctl_guard() { write(old_); }

 private:
  void write(const std::string& v) {
    std::ofstream out(path_);
    out << v << "\n";
  }
  std::string path_;
  std::string old_;
};

// Reads the kernel log from /dev/kmsg starting at "now" (records already in the ring buffer are
// skipped), so a scenario sees only what happened after it started. Never /proc/kmsg, which
// would steal the lines from the system's logger.
class kmsg_reader {
 public:
  kmsg_reader() {
    fd_ = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("cannot open /dev/kmsg");
    ::lseek(fd_, 0, SEEK_END);
  }
  kmsg_reader(const kmsg_reader&) = delete;
  kmsg_reader& operator=(const kmsg_reader&) = delete;
  ~kmsg_reader() { ::close(fd_); }

  // Raw /dev/kmsg records ("6,1234,5678,-;message") whose text contains `needle`, waiting until
  // at least `want` have arrived or `timeout` has passed.
  std::vector<std::string> records_containing(std::string_view needle, std::size_t want,
                                              std::chrono::milliseconds timeout =
                                                  std::chrono::milliseconds(3000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      drain();
      std::vector<std::string> out;
      for (auto& r : records_)
        if (r.find(needle) != std::string::npos) out.push_back(r);
      if (out.size() >= want || std::chrono::steady_clock::now() >= deadline) return out;
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, 50);
    }
  }

  // Only the message part (after ';', without continuation lines) of those records.
  std::vector<std::string> messages_containing(std::string_view needle, std::size_t want,
                                               std::chrono::milliseconds timeout =
                                                   std::chrono::milliseconds(3000)) {
    std::vector<std::string> out;
    for (auto& r : records_containing(needle, want, timeout)) {
      auto semi = r.find(';');
      auto nl = r.find('\n');
      out.push_back(r.substr(semi + 1, nl == std::string::npos ? std::string::npos : nl - semi - 1));
    }
    return out;
  }

 private:
  void drain() {
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        std::string rec(buf, static_cast<std::size_t>(n));
        while (!rec.empty() && rec.back() == '\n') rec.pop_back();
        records_.push_back(std::move(rec));
      } else if (n < 0 && errno == EPIPE) {
        continue;  // overwritten records: skip to the next one
      } else {
        return;  // EAGAIN: nothing more for now
      }
    }
  }

  int fd_ = -1;
  std::vector<std::string> records_;
};

}  // namespace rstwatch::test
