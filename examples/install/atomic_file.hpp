// Atomic file writes and the journal that undoes them: each file is written to a temporary file
// in its own directory, fsynced and renamed over the old one, so a reader sees the old or the
// new content, never a mix; the journal remembers what was there before so a failed install
// can put it back.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rstwatch::install {

// What is at a path now: its content and permission bits, or nothing.
struct file_state {
  std::string content;
  unsigned mode = 0;
  timespec times[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};  // access, modification
};

inline std::string errno_text(int e) { return std::strerror(e); }

inline std::optional<file_state> read_state(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  file_state s;
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    s.mode = st.st_mode & 07777;
    s.times[0] = st.st_atim;
    s.times[1] = st.st_mtim;
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.content.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return s;
}

inline bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

inline std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Creates `dir` and its missing parents (mode 0755); appends each one it created to `created`,
// outermost first. Returns an error text, empty on success.
inline std::string make_directories(const std::string& dir, std::vector<std::string>& created) {
  if (dir.empty() || is_directory(dir)) return {};
  if (auto e = make_directories(parent_of(dir), created); !e.empty()) return e;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return "cannot create directory " + dir + ": " + errno_text(errno);
  created.push_back(dir);
  return {};
}

// Fsyncs a directory so that a rename in it survives a crash (rename(2) is atomic but not
// durable until the directory is written).
inline void sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

// Writes `content` with `mode` to `path`: temporary file in the same directory (a rename across
// file systems would not be atomic), fsync, rename, fsync of the directory. Returns an error
// text, empty on success; on failure `path` is untouched and no temporary file is left.
// `times`, when given, become the file's access and modification times (a rollback puts back
// the file as it was, times included).
inline std::string write_atomically(const std::string& path, std::string_view content,
                                    unsigned mode, const timespec* times = nullptr) {
  const std::string dir = parent_of(path);
  std::string tmp = dir + "/.rstwatch-tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return "cannot create a temporary file in " + dir + ": " + errno_text(errno);
  auto fail = [&](const std::string& what) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return what + " " + tmp + ": " + errno_text(e);
  };
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, mode) != 0) return fail("cannot chmod");
  if (times && ::futimens(fd, times) != 0) return fail("cannot set the times of");
  if (::fsync(fd) != 0) return fail("cannot fsync");
  if (::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return "cannot close " + tmp + ": " + errno_text(e);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return "cannot rename " + tmp + " to " + path + ": " + errno_text(e);
  }
  sync_directory(dir);
  return {};
}

inline std::string remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return "cannot remove " + path + ": " + errno_text(errno);
  sync_directory(parent_of(path));
  return {};
}

inline bool directory_is_empty(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// Every change made to the file system, in order, with what it replaced.
class journal {
 public:
  // Makes `path` hold `content` with `mode`, creating missing directories. Unchanged files are
  // not rewritten (a second install must not even touch their times).
  std::string write(const std::string& path, std::string_view content, unsigned mode,
                    bool& changed) {
    auto old = read_state(path);
    changed = !(old && old->content == content && old->mode == mode);
    if (!changed) return {};
    if (auto e = make_directories(parent_of(path), created_dirs_); !e.empty()) return e;
    if (auto e = write_atomically(path, content, mode); !e.empty()) return e;
    files_.push_back({path, std::move(old)});
    return {};
  }

  std::string remove(const std::string& path, bool& changed) {
    auto old = read_state(path);
    changed = old.has_value();
    if (!changed) return {};
    if (auto e = remove_file(path); !e.empty()) return e;
    files_.push_back({path, std::move(old)});
    return {};
  }

  const std::vector<std::string>& created_dirs() const { return created_dirs_; }

  // Puts every file back as it was and removes the directories it created, newest first.
  // Returns the problems met (empty: the file system is as before).
  std::vector<std::string> roll_back() {
    std::vector<std::string> problems;
    for (auto it = files_.rbegin(); it != files_.rend(); ++it) {
      std::string e =
          it->old ? write_atomically(it->path, it->old->content, it->old->mode, it->old->times)
                  : remove_file(it->path);
      if (!e.empty()) problems.push_back(e);
    }
    for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it)
      if (::rmdir(it->c_str()) != 0)
        problems.push_back("cannot remove directory " + *it + ": " + errno_text(errno));
    files_.clear();
    created_dirs_.clear();
    return problems;
  }

 private:
  struct entry {
    std::string path;
    std::optional<file_state> old;
  };
  std::vector<entry> files_;
  std::vector<std::string> created_dirs_;
};

}  // namespace rstwatch::install
