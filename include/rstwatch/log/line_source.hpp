// Lines from a file descriptor or a file through one reused buffer: constant memory, no
// allocation per line, a last line without '\n' still delivered, overlong lines cut, not lost.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace rstwatch::log {

class line_source {
 public:
  // The buffer holds the longest line that is delivered whole; a longer one is delivered cut
  // to the buffer size (truncated() says so) and the rest of it skipped.
  static constexpr std::size_t default_capacity = 256 * 1024;

  // Reads from `fd`, which stays the caller's.
  explicit line_source(int fd, std::size_t capacity = default_capacity)
      : fd_(fd), buffer_(new char[capacity]), capacity_(capacity) {}

  // Opens `path` (closed with the source); good() is false when it cannot be opened.
  explicit line_source(const char* path, std::size_t capacity = default_capacity)
      : fd_(::open(path, O_RDONLY | O_CLOEXEC)), owned_(true), buffer_(new char[capacity]),
        capacity_(capacity) {
    if (fd_ < 0) error_ = errno;
  }

  line_source(const line_source&) = delete;
  line_source& operator=(const line_source&) = delete;
  ~line_source() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }

  bool good() const noexcept { return fd_ >= 0 && error_ == 0; }
  int error() const noexcept { return error_; }  // errno of a failed open/read, 0 otherwise

  // The next line without its '\n', valid until the next call; false at the end or on error.
  bool next(std::string_view& line) {
    truncated_ = false;
    for (;;) {
      if (auto nl = static_cast<char*>(std::memchr(buffer_.get() + begin_, '\n', end_ - begin_))) {
        std::size_t n = static_cast<std::size_t>(nl - (buffer_.get() + begin_));
        line = std::string_view(buffer_.get() + begin_, n);
        begin_ += n + 1;
        if (skipping_) {  // the tail of an overlong line delivered before
          skipping_ = false;
          continue;
        }
        ++line_number_;
        return true;
      }
      if (eof_) {
        if (begin_ == end_ || skipping_) return false;
        line = std::string_view(buffer_.get() + begin_, end_ - begin_);  // last line, no '\n'
        begin_ = end_;
        ++line_number_;
        return true;
      }
      if (begin_ == 0 && end_ == capacity_) {
        if (skipping_) {  // still inside the overlong line: drop this piece too
          begin_ = end_ = 0;
          fill();
          continue;
        }
        // No '\n' in a full buffer: deliver what fits, drop the rest of this line.
        line = std::string_view(buffer_.get(), end_);
        begin_ = end_;
        truncated_ = true;
        skipping_ = true;
        ++line_number_;
        return true;
      }
      fill();
    }
  }

  std::uint64_t line_number() const noexcept { return line_number_; }
  bool truncated() const noexcept { return truncated_; }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  void fill() {
    if (begin_ != 0) {
      std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (fd_ < 0) {
      eof_ = true;
      return;
    }
    for (;;) {
      ssize_t n = ::read(fd_, buffer_.get() + end_, capacity_ - end_);
      if (n > 0) {
        end_ += static_cast<std::size_t>(n);
        return;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) error_ = errno;
      eof_ = true;
      return;
    }
  }

  int fd_ = -1;
  bool owned_ = false;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  bool truncated_ = false;
  bool skipping_ = false;
  int error_ = 0;
  std::uint64_t line_number_ = 0;
};

}  // namespace rstwatch::log
