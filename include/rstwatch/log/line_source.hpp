// Lines from a file descriptor, a file or any byte reader through one reused buffer: constant memory, no
// allocation per line, a last line without '\n' still delivered, overlong lines cut, not lost.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string_view>

namespace rstwatch::log {

class line_source {
 public:
  // The buffer holds the longest line that is delivered whole; a longer one is delivered cut
  // to the buffer size (truncated() says so) and the rest of it skipped.
  static constexpr std::size_t default_capacity = 256 * 1024;
  // Readable bytes after the '\n' that next_span() puts after the unread bytes.
  static constexpr std::size_t padding = 64;

  // Reads from `fd`, which stays the caller's.
  explicit line_source(int fd, std::size_t capacity = default_capacity)
      : fd_(fd), buffer_(new_buffer(capacity)), capacity_(capacity) {}

  // Opens `path` (closed with the source); good() is false when it cannot be opened.
  explicit line_source(const char* path, std::size_t capacity = default_capacity)
      : fd_(::open(path, O_RDONLY | O_CLOEXEC)),
        owned_(true),
        buffer_(new_buffer(capacity)),
        capacity_(capacity) {
    if (fd_ < 0) error_ = errno;
  }

  // Reads through `reader` (e.g. a decompressor or a follower): it fills up to `n` bytes and
  // returns how many, 0 at the end; what it throws passes through next().
  using reader_type = std::function<std::size_t(char* buf, std::size_t n)>;
  explicit line_source(reader_type reader, std::size_t capacity = default_capacity)
      : reader_(std::move(reader)), buffer_(new_buffer(capacity)), capacity_(capacity) {}

  line_source(const line_source&) = delete;
  line_source& operator=(const line_source&) = delete;
  ~line_source() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }

  bool good() const noexcept { return (fd_ >= 0 || reader_) && error_ == 0; }
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

  // For a parser that finds a line's end itself (trace::classify_next()): `rest` is the unread
  // bytes, which begin with the next line; it ends at that line's '\n' or later, or with the
  // line (the last one, without '\n', or an overlong one cut to the buffer).
  // rest.data()[rest.size()] is a '\n' and `padding` readable bytes follow it. The caller then
  // passes the line's length to advance(). The lines, their numbers and truncated() are those
  // next() gives; the two may be mixed. False at the end or on error.
  bool next_span(std::string_view& rest) {
    truncated_ = false;
    for (;;) {
      if (begin_ < end_ && (skipping_ || begin_ > last_newline_ || last_newline_ == npos)) {
        // No whole line known ahead, or the tail of an overlong line to drop: next() decides.
        if (!skipping_ && !eof_ && !(begin_ == 0 && end_ == capacity_)) {
          fill();
          continue;
        }
        std::string_view line;
        if (!next(line)) return false;
        rest = line;
        span_line_ = true;  // advance() only checks the length: next() took the line
        return true;
      }
      if (begin_ < end_) {
        rest = std::string_view(buffer_.get() + begin_, end_ - begin_);
        return true;
      }
      if (eof_) return false;
      fill();
    }
  }
  void advance(std::size_t line_length) noexcept {
    if (span_line_) {
      span_line_ = false;
      return;
    }
    begin_ +=
        line_length + 1;  // the '\n' (a whole line is known to end at or before last_newline_)
    ++line_number_;
  }

  std::uint64_t line_number() const noexcept { return line_number_; }
  bool truncated() const noexcept { return truncated_; }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  static constexpr std::size_t npos = ~std::size_t{0};

  // capacity bytes, a '\n' and the padding, all set: the parsers next_span() serves may read
  // the padding, and reads of it must see defined bytes.
  static char* new_buffer(std::size_t capacity) { return new char[capacity + 1 + padding](); }

  // Runs only when the unread bytes hold no '\n' (next() and next_span() found none, or next()
  // dropped them as part of an overlong line).
  void fill() {
    last_newline_ = npos;
    if (begin_ != 0) {
      std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    const std::size_t old_end = end_;
    read_more();
    // The last '\n' of the buffer, found once per fill: next_span() knows a whole line is
    // ahead while begin_ is not past it.
    for (std::size_t k = end_; k > old_end; --k)
      if (buffer_[k - 1] == '\n') {
        last_newline_ = k - 1;
        break;
      }
    buffer_[end_] = '\n';
  }

  void read_more() {
    if (reader_) {
      std::size_t n = reader_(buffer_.get() + end_, capacity_ - end_);
      end_ += n;
      eof_ = n == 0;
      return;
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

  reader_type reader_;
  int fd_ = -1;
  bool owned_ = false;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  bool truncated_ = false;
  bool skipping_ = false;
  bool span_line_ = false;           // next_span() delivered a line through next()
  std::size_t last_newline_ = npos;  // position of the buffer's last '\n', npos if none
  int error_ = 0;
  std::uint64_t line_number_ = 0;
};

}  // namespace rstwatch::log
