// Test support for files: a temporary directory per scenario, and whole-file reads and writes.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <support/system.hpp>
#include <system_error>

namespace rstwatch::test {

// A fresh directory under /tmp, removed with its contents on scope exit.
class temp_dir {
 public:
  explicit temp_dir(std::string_view stem = "rstw") {
    std::string tmpl = "/tmp/" + std::string(stem) + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code e;
    std::filesystem::remove_all(path_, e);
    // The seed's logrotate stanza sets the append-only attribute, which stops even root.
    if (e)
      (void)run("chattr -R -a " + shell_quote(path_) + " 2>/dev/null; rm -rf " +
                shell_quote(path_));
  }
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline void append_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
  if (!out) throw std::runtime_error("cannot append to " + path);
}

// The whole file; "" when it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace rstwatch::test
