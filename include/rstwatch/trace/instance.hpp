// A private ftrace instance for live capture: enables just the needed tracepoints, streams its
// trace_pipe line by line, and disables and removes everything it made when destroyed.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rstwatch/diagnostic.hpp>
#include <rstwatch/trace/record.hpp>

namespace rstwatch::trace {

struct instance_options {
  std::string name;                              // instances/<name>; "rstwatch-<pid>" if empty
  std::string tracefs = "/sys/kernel/tracing";  // where tracefs is (or gets) mounted
  // Events to enable; by default the six rstwatch parses.
  std::vector<event_kind> events = {event_kind::tcp_send_reset,    event_kind::tcp_receive_reset,
                                    event_kind::inet_sock_set_state, event_kind::tcp_retransmit_skb,
                                    event_kind::tcp_destroy_sock,  event_kind::tcp_probe};
  // Keep only events whose socket has this local or remote port (0: all). Written as the
  // event's kernel `filter` ("sport == N || dport == N") only where its format has scalar
  // sport/dport fields; 6.10+ tcp_send_reset keeps its ports inside the saddr/daddr sockaddr
  // arrays, which a filter cannot express. Callers filter in user space in every case.
  std::uint16_t port = 0;
};

namespace detail {

inline std::string errno_text(int e) { return std::strerror(e); }

inline bool write_file(const std::string& path, std::string_view text, int& error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    error = errno;
    return false;
  }
  ssize_t n = ::write(fd, text.data(), text.size());
  error = n < 0 ? errno : 0;
  ::close(fd);
  return n == static_cast<ssize_t>(text.size());
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline diagnostic instance_error(std::string message, std::string hint) {
  diagnostic d;
  d.message = std::move(message);
  d.hint = std::move(hint);
  return d;
}

}  // namespace detail

// Owns one ftrace instance. Move-only; the destructor undoes everything create() did, in
// reverse: events off, trace_pipe closed, instance directory removed, tracefs unmounted if
// create() mounted it.
class instance {
 public:
  [[nodiscard]] static result<instance> create(instance_options options) {
    std::string name = options.name.empty() ? "rstwatch-" + std::to_string(::getpid()) : options.name;
    // One directory under instances/, nothing else: no '/', no "." or "..".
    bool plain = name != "." && name != "..";
    for (char c : name)
      plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.');
    if (!plain)
      return detail::instance_error("invalid ftrace instance name '" + name + "'",
                                    "use letters, digits, '-', '_' and '.'");
    instance in;
    in.root_ = options.tracefs;
    std::string probe = in.root_ + "/instances";
    struct stat st;
    if (::stat(probe.c_str(), &st) != 0) {
      if (::mount("nodev", in.root_.c_str(), "tracefs", 0, nullptr) != 0) {
        int e = errno;
        return detail::instance_error(
            "cannot mount tracefs at " + in.root_ + ": " + detail::errno_text(e),
            e == EPERM ? "run as root (CAP_SYS_ADMIN), or have tracefs mounted: mount -t tracefs "
                         "nodev " + in.root_
                       : "the kernel needs CONFIG_FTRACE; mount it by hand: mount -t tracefs "
                         "nodev " + in.root_);
      }
      in.mounted_ = true;
    }

    in.dir_ = probe + "/" + name;
    if (::mkdir(in.dir_.c_str(), 0750) != 0) {
      int e = errno;
      std::string path = in.dir_;
      in.dir_.clear();
      return detail::instance_error(
          "cannot create ftrace instance " + path + ": " + detail::errno_text(e),
          e == EEXIST  ? "another rstwatch (or a crashed one) owns it; remove it with rmdir " + path
          : e == EACCES || e == EPERM ? "run as root to use tracepoints"
                                      : "check that tracefs supports instances");
    }
    for (event_kind k : options.events) {
      // events/enable (the empty path of `other`) would switch on every tracepoint.
      if (k == event_kind::other)
        return detail::instance_error("event_kind::other names no tracepoint to enable", "");
      std::string event_dir = in.dir_ + "/events/" + std::string(event_kind_paths[static_cast<std::size_t>(k)]);
      if (::stat(event_dir.c_str(), &st) != 0)
        return detail::instance_error("this kernel has no tracepoint " + std::string(to_string(k)),
                                      "tcp_send_reset/tcp_receive_reset need Linux 4.15+, "
                                      "inet_sock_set_state 4.16+");
      int e = 0;
      if (options.port != 0) {
        std::string format = detail::read_file(event_dir + "/format");
        // Scalar fields only: "field:__u16 sport;" (tcp_event_sk, tcp_event_sk_skb before 6.10,
        // inet_sock_set_state, tcp_probe).
        if (format.find("field:__u16 sport;") != std::string::npos &&
            format.find("field:__u16 dport;") != std::string::npos) {
          std::string f = "sport == " + std::to_string(options.port) +
                          " || dport == " + std::to_string(options.port);
          if (!detail::write_file(event_dir + "/filter", f, e))
            return detail::instance_error("cannot set the filter of " + std::string(to_string(k)) +
                                              ": " + detail::errno_text(e),
                                          "");
          in.filtered_.push_back(k);
        }
      }
      if (!detail::write_file(event_dir + "/enable", "1", e))
        return detail::instance_error("cannot enable " + std::string(to_string(k)) + ": " +
                                          detail::errno_text(e),
                                      "run as root to use tracepoints");
      in.enabled_.push_back(event_dir);
    }
    std::string pipe = in.dir_ + "/trace_pipe";
    in.fd_ = ::open(pipe.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (in.fd_ < 0)
      return detail::instance_error("cannot open " + pipe + ": " + detail::errno_text(errno), "");
    return result<instance>(std::move(in));
  }

  instance(instance&& o) noexcept { swap(o); }
  instance& operator=(instance&& o) noexcept {
    if (this != &o) {
      release();
      swap(o);
    }
    return *this;
  }
  instance(const instance&) = delete;
  instance& operator=(const instance&) = delete;
  ~instance() { release(); }

  const std::string& path() const noexcept { return dir_; }
  int pipe_fd() const noexcept { return fd_; }
  // The events whose kernel filter was set (the rest are filtered in user space only).
  const std::vector<event_kind>& kernel_filtered() const noexcept { return filtered_; }

  // The next complete line from trace_pipe (without '\n'), waiting at most timeout_ms.
  // false on timeout or error. The view is valid until the next call. The line buffer is kept
  // between calls: no allocation per line once it has grown to the longest line.
  bool next_line(std::string_view& line, int timeout_ms) {
    for (;;) {
      auto nl = buffer_.find('\n', start_);
      if (nl != std::string::npos) {
        line = std::string_view(buffer_).substr(start_, nl - start_);
        start_ = nl + 1;
        return true;
      }
      // Only a partial line is left: move it to the front once, then read more behind it.
      buffer_.erase(0, start_);
      start_ = 0;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, timeout_ms);
      if (r <= 0) return false;
      char chunk[8192];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  instance() = default;

  void swap(instance& o) noexcept {
    std::swap(root_, o.root_);
    std::swap(dir_, o.dir_);
    std::swap(enabled_, o.enabled_);
    std::swap(filtered_, o.filtered_);
    std::swap(fd_, o.fd_);
    std::swap(mounted_, o.mounted_);
    std::swap(buffer_, o.buffer_);
    std::swap(start_, o.start_);
  }

  void release() noexcept {
    int e = 0;
    for (auto it = enabled_.rbegin(); it != enabled_.rend(); ++it) {
      (void)detail::write_file(*it + "/enable", "0", e);
      (void)detail::write_file(*it + "/filter", "0", e);
    }
    enabled_.clear();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    // rmdir fails with EBUSY while a reader holds the instance open: retry briefly.
    if (!dir_.empty()) {
      for (int k = 0; k < 50 && ::rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++k) ::usleep(10000);
      dir_.clear();
    }
    if (mounted_) (void)::umount(root_.c_str());
    mounted_ = false;
  }

  std::string root_;
  std::string dir_;
  std::vector<std::string> enabled_;
  std::vector<event_kind> filtered_;
  int fd_ = -1;
  bool mounted_ = false;
  std::string buffer_;
  std::size_t start_ = 0;  // where the next line begins in buffer_
};

}  // namespace rstwatch::trace
