// `--follow`: reads a log file like `tail -F` — to its end, then on as lines arrive — and across
// both logrotate styles: rename-and-create (finish the old file, then read the new one) and
// copytruncate (the file shrinks: start again at its beginning and count the truncation).
#pragma once

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <deque>

#include "read/input.hpp"

namespace rstwatch::read {

class follow_source final : public byte_source {
 public:
  // Reads `path` from its beginning; returns 0 from read() only once `stop` is set.
  follow_source(std::string path, const std::atomic<bool>& stop)
      : path_(std::move(path)), stop_(stop) {
    inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_ < 0) throw errno_error("inotify_init1", path_);
    auto slash = path_.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
    // A watch on the directory reports writes to the files in it as well as creations and
    // renames, so one watch sees every rotation style (inotify(7)).
    if (::inotify_add_watch(inotify_, dir.c_str(),
                            IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                IN_ATTRIB | IN_CLOSE_WRITE) < 0)
      throw errno_error("cannot watch directory", dir);
    try_open();
    if (fd_ < 0 && errno != ENOENT) throw errno_error("cannot open", path_);
  }
  follow_source(const follow_source&) = delete;
  follow_source& operator=(const follow_source&) = delete;
  ~follow_source() override {
    if (fd_ >= 0) ::close(fd_);
    for (auto& d : draining_) ::close(d.fd);
    ::close(inotify_);
  }

  std::size_t read(char* buf, std::size_t n) override {
    for (;;) {
      // What a writer still appends to the rotated-away file (before it reopens) comes first.
      for (auto it = draining_.begin(); it != draining_.end();) {
        ssize_t r = ::read(it->fd, buf, n);
        if (r > 0) {
          it->idle_since = clock::now();
          position_ += static_cast<std::uint64_t>(r);
          return static_cast<std::size_t>(r);
        }
        if (clock::now() - it->idle_since > drain_grace) {
          ::close(it->fd);
          it = draining_.erase(it);
        } else {
          ++it;
        }
      }
      if (fd_ >= 0) {
        ssize_t r = ::read(fd_, buf, n);
        if (r > 0) {
          offset_ += static_cast<std::uint64_t>(r);
          position_ += static_cast<std::uint64_t>(r);
          return static_cast<std::size_t>(r);
        }
        if (r < 0 && errno != EINTR && errno != EAGAIN) throw errno_error("read failed", path_);
      }
      if (stop_.load()) return 0;
      if (check_rotation()) continue;
      if (!wait() && on_idle) on_idle();
    }
  }

  const std::string& name() const override { return path_; }
  std::uint64_t position() const override { return position_; }
  // How often the file was replaced by a new one, and how often it shrank under us.
  std::uint64_t rotations() const { return rotations_; }
  std::uint64_t truncations() const { return truncations_; }

 private:
  using clock = std::chrono::steady_clock;
  // How long a rotated-away file is still read after it last grew: rsyslog writes to it until
  // logrotate's postrotate makes it reopen the log.
  static constexpr std::chrono::seconds drain_grace{2};

  struct draining {
    int fd;
    clock::time_point idle_since;
  };

  void try_open() {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return;
    struct stat st;
    ::fstat(fd_, &st);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = 0;
  }

  // At the end of the current file: has it been replaced or truncated? Returns true when there
  // may be more to read now.
  bool check_rotation() {
    struct stat st;
    if (::stat(path_.c_str(), &st) == 0) {
      if (fd_ < 0) {  // the file (re)appeared
        try_open();
        return fd_ >= 0;
      }
      if (st.st_dev != dev_ || st.st_ino != ino_) {
        // Renamed away and recreated: keep draining the old one, read the new one from 0.
        draining_.push_back({fd_, clock::now()});
        fd_ = -1;
        ++rotations_;
        try_open();
        return true;
      }
    }
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < offset_) {
      // copytruncate: logrotate copied the file and cut it to zero; what the writer appended
      // since starts at offset 0. (Lines written between logrotate's copy and its truncate are
      // lost by logrotate itself, not here.)
      ++truncations_;
      ::lseek(fd_, 0, SEEK_SET);
      offset_ = 0;
      return true;
    }
    return false;
  }

  // Sleeps until the directory changes; wakes every 100 ms anyway to notice `stop` and
  // rotated-away files in other directories. False when 100 ms passed with no change.
  bool wait() {
    pollfd p{inotify_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) return false;
    alignas(inotify_event) char events[4096];
    while (::read(inotify_, events, sizeof events) > 0) {
    }
    return true;
  }

  std::string path_;
  const std::atomic<bool>& stop_;
  int inotify_ = -1;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t position_ = 0;
  std::uint64_t rotations_ = 0;
  std::uint64_t truncations_ = 0;
  std::deque<draining> draining_;
};

}  // namespace rstwatch::read
