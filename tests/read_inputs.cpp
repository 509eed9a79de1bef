// rstwatch-read's inputs: plain and gzip files, rotated sets, following a file across
// rotation, /dev/kmsg.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "read/follow.hpp"
#include "read/input.hpp"
#include "read/kmsg.hpp"
#include "read/rotation.hpp"
#include "support/files.hpp"

using namespace rstwatch::read;
namespace t = rstwatch::test;
namespace fs = std::filesystem;

namespace {

std::string read_all(byte_source& src) {
  std::string out;
  char buf[7];  // small on purpose: many reads, members crossing buffer ends
  while (std::size_t n = src.read(buf, sizeof buf)) out.append(buf, n);
  return out;
}

std::string numbered_lines(int from, int to) {
  std::string s;
  for (int i = from; i <= to; ++i) s += "line " + std::to_string(i) + "\n";
  return s;
}

}  // namespace

SCENARIO("a plain file is read as it is", "[read][input]") {
  GIVEN("a log file") {
    t::temp_dir dir("rstw-read");
    t::write_file(dir / "a.log", numbered_lines(1, 100));
    WHEN("it is opened and read to the end") {
      auto src = open_input(dir / "a.log");
      THEN("every byte comes out and the position counts them") {
        CHECK(read_all(*src) == numbered_lines(1, 100));
        CHECK(src->position() == numbered_lines(1, 100).size());
      }
    }
  }
}

SCENARIO("a gzip file is decompressed whatever its name", "[read][input]") {
  GIVEN("a log compressed by the real gzip, named without .gz") {
    t::temp_dir dir("rstw-read");
    t::write_file(dir / "rot", numbered_lines(1, 5000));
    RSTWATCH_REQUIRE_OK(t::run("gzip -9 " + dir / "rot" + " && mv " + dir / "rot.gz" + " " + dir / "rot"));
    WHEN("it is opened") {
      auto src = open_input(dir / "rot");
      THEN("the original text comes out") { CHECK(read_all(*src) == numbered_lines(1, 5000)); }
    }
  }
  GIVEN("two gzip members concatenated, as cat a.gz b.gz makes") {
    t::temp_dir dir("rstw-read");
    t::write_file(dir / "a", numbered_lines(1, 10));
    t::write_file(dir / "b", numbered_lines(11, 20));
    RSTWATCH_REQUIRE_OK(t::run("cd " + dir.path() + " && gzip a b && cat a.gz b.gz > ab.gz"));
    WHEN("the concatenation is read") {
      auto src = open_input(dir / "ab.gz");
      THEN("both members come out in order, as gzip -d gives them") {
        CHECK(read_all(*src) == numbered_lines(1, 20));
      }
    }
  }
  GIVEN("a gzip file cut short") {
    t::temp_dir dir("rstw-read");
    t::write_file(dir / "c", numbered_lines(1, 3000));
    RSTWATCH_REQUIRE_OK(t::run("cd " + dir.path() + " && gzip c && head -c 2000 c.gz > cut.gz"));
    WHEN("it is read") {
      auto src = open_input(dir / "cut.gz");
      THEN("reading fails with an error that names the file") {
        REQUIRE_THROWS_AS(read_all(*src), io_error);
        try {
          auto again = open_input(dir / "cut.gz");
          read_all(*again);
        } catch (const io_error& e) {
          CHECK(std::string(e.what()).find("cut.gz: truncated gzip data") != std::string::npos);
        }
      }
    }
  }
  GIVEN("a file that does not exist") {
    THEN("opening it fails with the file's name and the system's reason") {
      try {
        (void)open_input("/nonexistent/rstwatch.log");
        FAIL("no error");
      } catch (const io_error& e) {
        CHECK(std::string(e.what()) == "/nonexistent/rstwatch.log: cannot open: No such file or directory");
      }
    }
  }
}

SCENARIO("the files of one rotated set are read oldest first", "[read][rotation]") {
  GIVEN("logrotate dateext names in shell order") {
    std::vector<std::string> given = {"/l/drds-tcp.log", "/l/drds-tcp.log-20260424.gz",
                                      "/l/drds-tcp.log-20260425", "/l/drds-tcp.log-20260423.gz"};
    THEN("dated copies come by date, the live file last") {
      CHECK(order_rotated_set(given) ==
            std::vector<std::string>{"/l/drds-tcp.log-20260423.gz", "/l/drds-tcp.log-20260424.gz",
                                     "/l/drds-tcp.log-20260425", "/l/drds-tcp.log"});
    }
  }
  GIVEN("two rotations on one day with rstwatch's -%Y%m%d-%s dateformat") {
    std::vector<std::string> given = {"x.log-20260425-1777100000", "x.log",
                                      "x.log-20260425-1777000000.gz"};
    THEN("the epoch tail orders them within the day") {
      CHECK(order_rotated_set(given) == std::vector<std::string>{"x.log-20260425-1777000000.gz",
                                                                 "x.log-20260425-1777100000",
                                                                 "x.log"});
    }
  }
  GIVEN("numbered rotations") {
    std::vector<std::string> given = {"x.log.1", "x.log", "x.log.10.gz", "x.log.2.gz"};
    THEN("the highest number is the oldest") {
      CHECK(order_rotated_set(given) ==
            std::vector<std::string>{"x.log.10.gz", "x.log.2.gz", "x.log.1", "x.log"});
    }
  }
  GIVEN("files that are not one rotated set") {
    std::vector<std::string> given = {"b.log", "a.log-20260101", "c.log"};
    THEN("their order is kept") { CHECK(order_rotated_set(given) == given); }
  }
}

SCENARIO("following a file survives rename-and-create rotation without loss or repeats",
         "[read][follow]") {
  GIVEN("a followed log file with lines in it") {
    t::temp_dir dir("rstw-read");
    std::string log = dir / "f.log";
    t::write_file(log, numbered_lines(1, 10));
    std::atomic<bool> stop{false};
    follow_source src(log, stop);
    std::string got;
    std::thread reader([&] {
      char buf[64];
      while (std::size_t n = src.read(buf, sizeof buf)) got.append(buf, n);
    });
    WHEN("lines are appended, the file is renamed, a new one created and written") {
      t::append_file(log, numbered_lines(11, 20));
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      fs::rename(log, log + ".1");
      t::append_file(log + ".1", numbered_lines(21, 25));  // the writer has not reopened yet
      t::write_file(log, numbered_lines(26, 40));
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      stop = true;
      reader.join();
      THEN("every line arrives exactly once and the rotation is counted") {
        // The old file's tail may come after the new file's head; compare as sets of lines.
        std::vector<std::string> lines;
        std::string line;
        for (char c : got) {
          if (c == '\n') {
            lines.push_back(line);
            line.clear();
          } else {
            line += c;
          }
        }
        std::sort(lines.begin(), lines.end());
        std::vector<std::string> want;
        for (int i = 1; i <= 40; ++i) want.push_back("line " + std::to_string(i));
        std::sort(want.begin(), want.end());
        CHECK(lines == want);
        CHECK(src.rotations() == 1);
        CHECK(src.truncations() == 0);
      }
    }
  }
}

SCENARIO("following a file survives copytruncate without repeating lines", "[read][follow]") {
  GIVEN("a followed log file") {
    t::temp_dir dir("rstw-read");
    std::string log = dir / "g.log";
    t::write_file(log, numbered_lines(1, 50));
    std::atomic<bool> stop{false};
    follow_source src(log, stop);
    std::string got;
    std::thread reader([&] {
      char buf[256];
      while (std::size_t n = src.read(buf, sizeof buf)) got.append(buf, n);
    });
    WHEN("the real logrotate copies and truncates it, then lines are appended") {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      t::write_file(dir / "rotate.conf", log + " {\n  rotate 2\n  copytruncate\n}\n");
      RSTWATCH_REQUIRE_OK(t::run("logrotate -f -s " + dir / "state" + " " + dir / "rotate.conf"));
      t::append_file(log, numbered_lines(51, 60));
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      stop = true;
      reader.join();
      THEN("the reader saw each line once and counted one truncation") {
        CHECK(got == numbered_lines(1, 60));
        CHECK(src.truncations() == 1);
        CHECK(fs::exists(log + ".1"));
      }
    }
  }
}

SCENARIO("following a file that does not exist yet waits for it", "[read][follow]") {
  GIVEN("a path with no file") {
    t::temp_dir dir("rstw-read");
    std::string log = dir / "later.log";
    std::atomic<bool> stop{false};
    follow_source src(log, stop);
    std::string got;
    std::thread reader([&] {
      char buf[64];
      while (std::size_t n = src.read(buf, sizeof buf)) got.append(buf, n);
    });
    WHEN("the file appears with lines") {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      t::write_file(log, numbered_lines(1, 3));
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      stop = true;
      reader.join();
      THEN("its lines are read") { CHECK(got == numbered_lines(1, 3)); }
    }
  }
}

SCENARIO("the kernel log is read record by record from /dev/kmsg", "[read][kmsg]") {
  if (!t::require_root("reading and writing /dev/kmsg")) return;
  GIVEN("a reader started now") {
    std::atomic<bool> stop{false};
    kmsg_source src(stop, false);
    std::string tag = t::unique_tag("kmsgread");
    WHEN("a message is written to the kernel log") {
      RSTWATCH_REQUIRE_OK(t::run("echo '" + tag + " hello' > /dev/kmsg"));
      THEN("it comes back as one whole record and nothing is lost") {
        char buf[8192];
        std::string rec;
        for (int i = 0; i < 100 && rec.find(tag) == std::string::npos; ++i)
          rec.assign(buf, src.read(buf, sizeof buf));
        CHECK(rec.find(";" + tag + " hello\n") != std::string::npos);
        CHECK(src.lost() == 0);
      }
    }
  }
}
