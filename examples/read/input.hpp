// rstwatch-read's inputs: a file or stdin as a stream of bytes, gzip decompressed on the fly
// (detected by its magic bytes, not its name, so rotated `.gz` files and piped gzip both work).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rstwatch::read {

// An I/O failure, with a message that names the file.
struct io_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline io_error errno_error(std::string_view what, std::string_view name) {
  return io_error(std::string(name) + ": " + std::string(what) + ": " + std::strerror(errno));
}

// A readable stream of bytes.
class byte_source {
 public:
  virtual ~byte_source() = default;
  // Up to `n` bytes into `buf`; 0 means the end of the input. Throws io_error.
  virtual std::size_t read(char* buf, std::size_t n) = 0;
  // The name to show in messages and in an event's `source` ("-" is stdin).
  virtual const std::string& name() const = 0;
  // Bytes consumed from the underlying file so far (compressed bytes for gzip), for progress.
  virtual std::uint64_t position() const = 0;

  // Called, when set, each time the source has waited 100 ms for more bytes and waits on: a
  // pipe or terminal that went quiet, a followed file at its end. What the reader holds back
  // for a later line (a tcp_receive_reset waiting for its abort's send) goes out then rather
  // than whenever the next line comes. Not for gzip, which needs whole blocks anyway.
  std::function<void()> on_idle;
};

// A file descriptor, read as it comes; `lead` holds bytes already read from it (the magic
// bytes peeked at to detect gzip), handed out first.
class fd_source final : public byte_source {
 public:
  fd_source(int fd, std::string name, bool owned, std::string lead = {})
      : fd_(fd),
        owned_(owned),
        name_(std::move(name)),
        lead_(std::move(lead)),
        position_(lead_.size()) {
    struct stat st;
    regular_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  }
  fd_source(const fd_source&) = delete;
  fd_source& operator=(const fd_source&) = delete;
  ~fd_source() override {
    if (owned_) ::close(fd_);
  }

  std::size_t read(char* buf, std::size_t n) override {
    if (lead_pos_ < lead_.size()) {
      std::size_t k = std::min(n, lead_.size() - lead_pos_);
      std::memcpy(buf, lead_.data() + lead_pos_, k);
      lead_pos_ += k;
      return k;
    }
    if (on_idle && !regular_) {  // a regular file never keeps read() waiting
      pollfd p{fd_, POLLIN, 0};
      while (::poll(&p, 1, 100) == 0) on_idle();
    }
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) {
        position_ += static_cast<std::uint64_t>(r);
        return static_cast<std::size_t>(r);
      }
      if (errno != EINTR) throw errno_error("read failed", name_);
    }
  }
  const std::string& name() const override { return name_; }
  std::uint64_t position() const override { return position_; }

 private:
  int fd_;
  bool owned_;
  bool regular_ = false;
  std::string name_;
  std::string lead_;
  std::size_t lead_pos_ = 0;
  std::uint64_t position_ = 0;
};

// gzip through zlib. Several gzip members one after another (as `cat a.gz b.gz` makes) are one
// stream, as gzip -d reads them.
class gzip_source final : public byte_source {
 public:
  explicit gzip_source(std::unique_ptr<byte_source> raw) : raw_(std::move(raw)), in_(1 << 16) {
    std::memset(&z_, 0, sizeof z_);
    // 16 + MAX_WBITS: expect a gzip header and trailer (zlib.h, inflateInit2).
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) throw io_error(raw_->name() + ": zlib init");
  }
  gzip_source(const gzip_source&) = delete;
  gzip_source& operator=(const gzip_source&) = delete;
  ~gzip_source() override { inflateEnd(&z_); }

  std::size_t read(char* buf, std::size_t n) override {
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = static_cast<uInt>(n);
    while (z_.avail_out == n) {
      if (z_.avail_in == 0) {
        std::size_t got = raw_->read(in_.data(), in_.size());
        if (got == 0) {
          if (member_open_) throw io_error(raw_->name() + ": truncated gzip data");
          return 0;
        }
        z_.next_in = reinterpret_cast<Bytef*>(in_.data());
        z_.avail_in = static_cast<uInt>(got);
      }
      member_open_ = true;
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_open_ = false;
        inflateReset(&z_);  // another member may follow
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw io_error(raw_->name() + ": corrupt gzip data (" +
                       (z_.msg ? z_.msg : "zlib error " + std::to_string(rc)) + ")");
      }
    }
    return n - z_.avail_out;
  }
  const std::string& name() const override { return raw_->name(); }
  std::uint64_t position() const override { return raw_->position(); }

 private:
  std::unique_ptr<byte_source> raw_;
  std::vector<char> in_;
  z_stream z_;
  bool member_open_ = false;
};

// Opens `path` ("-" is stdin), decompressing it when its first two bytes are gzip's magic
// 1f 8b (RFC 1952, 2.3.1).
inline std::unique_ptr<byte_source> open_input(const std::string& path) {
  int fd = 0;
  bool owned = false;
  std::string name = path;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw errno_error("cannot open", path);
    owned = true;
  }
  // Peek at up to two bytes; a pipe may deliver them one at a time.
  std::string lead;
  char c[2];
  while (lead.size() < 2) {
    ssize_t r = ::read(fd, c, 2 - lead.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      if (owned) ::close(fd);
      errno = e;
      throw errno_error("read failed", name);
    }
    if (r == 0) break;
    lead.append(c, static_cast<std::size_t>(r));
  }
  bool gzip = lead.size() == 2 && static_cast<unsigned char>(lead[0]) == 0x1f &&
              static_cast<unsigned char>(lead[1]) == 0x8b;
  auto raw = std::make_unique<fd_source>(fd, std::move(name), owned, std::move(lead));
  if (gzip) return std::make_unique<gzip_source>(std::move(raw));
  return raw;
}

}  // namespace rstwatch::read
