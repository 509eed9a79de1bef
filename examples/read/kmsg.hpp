// `--kmsg`: the kernel log read live from /dev/kmsg — never /proc/kmsg, whose reads take the
// lines away from the system's logger. Each read(2) returns one record (Documentation/ABI/
// testing/dev-kmsg); records the ring buffer overwrote before we read them are counted as lost.
#pragma once

#include <poll.h>

#include <atomic>
#include <charconv>

#include "read/input.hpp"

namespace rstwatch::read {

class kmsg_source final : public byte_source {
 public:
  // From now on, or with `since_boot` from the oldest record still in the ring buffer.
  kmsg_source(const std::atomic<bool>& stop, bool since_boot, std::string path = "/dev/kmsg")
      : stop_(stop), name_(std::move(path)) {
    fd_ = ::open(name_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) throw errno_error("cannot open", name_);
    if (!since_boot) ::lseek(fd_, 0, SEEK_END);
  }
  kmsg_source(const kmsg_source&) = delete;
  kmsg_source& operator=(const kmsg_source&) = delete;
  ~kmsg_source() override { ::close(fd_); }

  // One whole record, newline-terminated; `n` must hold the largest record (8 KiB suffices,
  // CONSOLE_EXT_LOG_MAX in kernel/printk/printk.c).
  std::size_t read(char* buf, std::size_t n) override {
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r > 0) {
        note_sequence(std::string_view(buf, static_cast<std::size_t>(r)));
        position_ += static_cast<std::uint64_t>(r);
        return static_cast<std::size_t>(r);
      }
      if (r < 0 && errno == EPIPE) {
        // Overwritten before we read it; the next record's sequence number says how many.
        pending_gap_ = true;
        continue;
      }
      if (r < 0 && errno != EAGAIN && errno != EINTR) throw errno_error("read failed", name_);
      if (stop_.load()) return 0;
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, 100);
    }
  }

  const std::string& name() const override { return name_; }
  std::uint64_t position() const override { return position_; }
  std::uint64_t lost() const { return lost_; }

 private:
  // "PRI,SEQ,TS,FLAGS;…": a gap in SEQ after EPIPE is the number of records lost.
  void note_sequence(std::string_view rec) {
    auto c1 = rec.find(',');
    if (c1 == std::string_view::npos) return;
    auto c2 = rec.find(',', c1 + 1);
    if (c2 == std::string_view::npos) return;
    std::uint64_t seq = 0;
    auto [p, ec] = std::from_chars(rec.data() + c1 + 1, rec.data() + c2, seq);
    if (ec != std::errc{} || p != rec.data() + c2) return;
    if (pending_gap_) {
      lost_ += have_seq_ && seq > next_seq_ ? seq - next_seq_ : 1;
      pending_gap_ = false;
    }
    have_seq_ = true;
    next_seq_ = seq + 1;
  }

  const std::atomic<bool>& stop_;
  std::string name_;
  int fd_ = -1;
  std::uint64_t position_ = 0;
  std::uint64_t lost_ = 0;
  bool pending_gap_ = false;
  bool have_seq_ = false;
  std::uint64_t next_seq_ = 0;
};

}  // namespace rstwatch::read
