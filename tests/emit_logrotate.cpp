#include <catch2/catch.hpp>
#include <rstwatch/emit/logrotate.hpp>
#include <rstwatch/emit/rsyslog.hpp>
#include <support/daemons.hpp>

using namespace rstwatch;
using namespace rstwatch::emit;
using namespace rstwatch::test;

namespace {

valid_config checked(install_config c) {
  auto v = validate(std::move(c));
  INFO((v ? std::string() : format(v.error())));
  REQUIRE(v);
  return std::move(v).value();
}

std::string stanza(const valid_config& c, logrotate_style style,
                   const std::optional<directory_facts>& parent = std::nullopt) {
  auto r = logrotate_stanza(c, style, parent);
  INFO((r ? std::string() : format(r.error())));
  REQUIRE(r);
  return *r;
}

// logrotate's debug run (-d: nothing is changed) with a private state file.
command_result logrotate_debug(const temp_dir& dir, const std::string& conf) {
  write_file(dir / "logrotate.conf", conf);
  return run("logrotate -d -s " + shell_quote(dir / "state") + " " +
             shell_quote(dir / "logrotate.conf"));
}

directory_facts facts_of(const std::string& dir) {
  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  const passwd* pw = ::getpwuid(st.st_uid);
  const group* gr = ::getgrgid(st.st_gid);
  return {static_cast<unsigned>(st.st_mode & 07777), static_cast<unsigned>(st.st_gid),
          pw ? pw->pw_name : "", gr ? gr->gr_name : ""};
}

std::vector<std::string> list_dir(const temp_dir& dir, const std::string& pattern) {
  auto r = run("cd " + shell_quote(dir.path()) + " && ls -1 " + pattern + " 2>/dev/null");
  std::vector<std::string> names;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) names.push_back(line);
  return names;
}

}  // namespace

SCENARIO("the seed's logrotate stanza is reproduced byte for byte", "[emit][logrotate]") {
  GIVEN("the seed's log file and 30 days") {
    install_config c;
    c.log_file = "/home/admin/logs/drds-tcp.log";
    c.rotate_days = 30;
    WHEN("the seed style is emitted") {
      auto text = stanza(checked(c), logrotate_style::seed);
      THEN("it equals the stanza in the seed") {
        CHECK(text == read_file(std::string(RSTWATCH_TEST_DATA) + "/logrotate/seed-drds.expect"));
      }
    }
  }
}

SCENARIO("the safe stanza renames then reopens and bounds the disk", "[emit][logrotate]") {
  GIVEN("the default config") {
    auto text = stanza(checked(install_config{}), logrotate_style::safe);
    THEN("it has every safety directive and no copytruncate or su") {
      for (std::string d : {"\tdaily\n", "\trotate 30\n", "\tmaxsize 100M\n", "\tmissingok\n",
                            "\tnotifempty\n", "\tcompress\n", "\tdelaycompress\n", "\tdateext\n",
                            "\tdateformat -%Y%m%d-%s\n", "\tsharedscripts\n",
                            "\tcreate 0640 root adm\n", "\t\t/usr/lib/rsyslog/rsyslog-rotate\n"}) {
        INFO(d);
        CHECK(text.find(d) != std::string::npos);
      }
      CHECK(text.find("copytruncate") == std::string::npos);
      CHECK(text.find("\tsu ") == std::string::npos);
      CHECK(text.find("/var/log/rstwatch/drds.log\n{\n") != std::string::npos);
    }
  }
  GIVEN("a config asking for copytruncate") {
    install_config c;
    c.copytruncate = true;
    auto text = stanza(checked(c), logrotate_style::safe);
    THEN("it copies and truncates and needs no reopen") {
      CHECK(text.find("\tcopytruncate\n") != std::string::npos);
      CHECK(text.find("postrotate") == std::string::npos);
      CHECK(text.find("create") == std::string::npos);
    }
  }
}

SCENARIO("logrotate accepts the seed and the safe stanzas", "[emit][logrotate]") {
  temp_dir dir("rstw-lr");
  install_config c;
  c.log_file = dir / "x.log";
  c.file_owner = current_user();
  c.file_group = current_group();
  write_file(c.log_file, "line\n");
  for (auto style : {logrotate_style::seed, logrotate_style::safe}) {
    for (bool copy : {false, true}) {
      GIVEN("style " + std::to_string(static_cast<int>(style)) + " copytruncate " +
            std::to_string(copy)) {
        c.copytruncate = copy;
        auto conf = stanza(checked(c), style);
        WHEN("logrotate -d reads it") {
          auto r = logrotate_debug(dir, conf);
          INFO(conf << r.output);
          THEN("it succeeds without an error") {
            CHECK(r.status == 0);
            CHECK(r.output.find("error") == std::string::npos);
            CHECK(r.output.find("considering log " + c.log_file) != std::string::npos);
          }
        }
      }
    }
  }
  GIVEN("a stanza broken on purpose") {
    auto conf = stanza(checked(c), logrotate_style::safe);
    conf.replace(conf.find("maxsize"), 7, "maxsise");
    THEN("logrotate -d rejects it, so the check above can fail") {
      auto r = logrotate_debug(dir, conf);
      CHECK((r.status != 0 || r.output.find("error") != std::string::npos));
    }
  }
}

SCENARIO("a group-writable log directory gets a su directive logrotate accepts",
         "[emit][logrotate][root]") {
  if (!require_root("a log directory owned by group adm")) return;
  temp_dir dir("rstw-lr");
  GIVEN("the log directory is mode 0775 and group adm") {
    RSTWATCH_REQUIRE_OK(
        run("chgrp adm " + shell_quote(dir.path()) + " && chmod 0775 " + shell_quote(dir.path())));
    install_config c;
    c.log_file = dir / "x.log";
    write_file(c.log_file, "line\n");
    auto v = checked(c);
    auto parent = facts_of(dir.path());
    WHEN("the seed's stanza is checked") {
      auto r = logrotate_debug(dir, stanza(v, logrotate_style::seed));
      THEN("logrotate reports the seed's insecure permissions error") {
        INFO(r.output);
        CHECK(r.output.find("insecure permissions") != std::string::npos);
      }
    }
    WHEN("the safe stanza is emitted for that directory") {
      auto conf = stanza(v, logrotate_style::safe, parent);
      auto r = logrotate_debug(dir, conf);
      INFO(conf << r.output);
      THEN("it rotates as root:adm and logrotate has no complaint") {
        CHECK(conf.find("\tsu root adm\n") != std::string::npos);
        CHECK(conf.find("\tcreate 0640\n") != std::string::npos);
        CHECK(r.status == 0);
        CHECK(r.output.find("error") == std::string::npos);
      }
    }
  }
  GIVEN("the decision alone") {
    THEN("world-writable or non-root group-writable needs su, root group-writable does not") {
      CHECK(needs_su(01777, 0));
      CHECK(needs_su(0775, 4));
      CHECK_FALSE(needs_su(0775, 0));
      CHECK_FALSE(needs_su(0755, 4));
    }
  }
}

SCENARIO("a forced rotation renames reopens and compresses the previous file",
         "[emit][logrotate]") {
  temp_dir dir("rstw-lr");
  GIVEN("a log file, a postrotate script that records its run, and the safe stanza") {
    install_config c;
    c.log_file = dir / "resets.log";
    c.file_owner = current_user();
    c.file_group = current_group();
    c.postrotate = dir / "reopen.sh";
    write_file(c.postrotate, "#!/bin/sh\necho ran >> " + (dir / "reopen.count") + "\n");
    RSTWATCH_REQUIRE_OK(run("chmod 0755 " + shell_quote(c.postrotate)));
    write_file(c.log_file, "first generation\n");
    write_file(dir / "logrotate.conf", stanza(checked(c), logrotate_style::safe));
    const std::string rotate =
        "logrotate -f -s " + shell_quote(dir / "state") + " " + shell_quote(dir / "logrotate.conf");
    WHEN("logrotate is forced once") {
      RSTWATCH_REQUIRE_OK(run(rotate));
      THEN("the file was renamed with date and epoch, recreated empty 0640, and reopened") {
        auto rotated = list_dir(dir, "resets.log-*");
        REQUIRE(rotated.size() == 1);
        CHECK(rotated[0].size() == std::string("resets.log-20261125-1764078000").size());
        CHECK(read_file(dir / rotated[0]) == "first generation\n");
        CHECK(read_file(c.log_file).empty());
        CHECK((facts_of(c.log_file).mode & 0777) == 0640);
        CHECK(read_file(dir / "reopen.count") == "ran\n");
      }
      AND_WHEN("more lines arrive and it is forced again a second later") {
        write_file(c.log_file, "second generation\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(1100));
        RSTWATCH_REQUIRE_OK(run(rotate));
        THEN("the first rotated file is compressed and the newest is not") {
          auto gz = list_dir(dir, "resets.log-*.gz");
          auto all = list_dir(dir, "resets.log-*");
          REQUIRE(gz.size() == 1);
          REQUIRE(all.size() == 2);
          auto plain = all[0] == gz[0] ? all[1] : all[0];
          CHECK(read_file(dir / plain) == "second generation\n");
          auto unzipped = run("gzip -dc " + shell_quote(dir / gz[0]));
          CHECK(unzipped.status == 0);
          CHECK(unzipped.output == "first generation\n");
          CHECK(read_file(dir / "reopen.count") == "ran\nran\n");
        }
      }
    }
  }
}

SCENARIO("rotation by rename with a reopen loses no line of a running rsyslogd",
         "[emit][logrotate][rsyslog]") {
  temp_dir dir("rstw-lr");
  GIVEN("a private rsyslogd writing the drop-in's file, and the safe stanza reopening it") {
    install_config c;
    c.name = "rot";
    c.log_file = dir / "resets.log";
    c.file_owner = current_user();
    c.file_group = current_group();
    c.postrotate = dir / "reopen.sh";
    // What Debian's rsyslog-rotate does to the system's rsyslog, done to the private one.
    write_file(c.postrotate, "#!/bin/sh\nkill -HUP $(cat " + (dir / "rsyslogd.pid") + ")\n");
    RSTWATCH_REQUIRE_OK(run("chmod 0755 " + shell_quote(c.postrotate)));
    auto v = validate(c);
    REQUIRE(v);
    write_file(dir / "dropin.conf", rsyslog_dropin(*v));
    write_file(dir / "logrotate.conf", *logrotate_stanza(*v));
    auto port = free_tcp_port();
    private_rsyslogd daemon(dir.path(),
                            "global(workDirectory=\"" + (dir / "work") +
                                "\")\n"
                                "module(load=\"imtcp\")\n"
                                "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
                                std::to_string(port) +
                                "\")\n"
                                "include(file=\"" +
                                (dir / "dropin.conf") + "\")\n",
                            port);
    const std::string h = "<4>Nov 25 13:00:00 host1 kernel: [  311.394896] [rot] IN= OUT=lo ";
    REQUIRE(send_tcp(port, h + "mark-before\n"));
    REQUIRE(wait_for_text(c.log_file, "mark-before").find("mark-before") != std::string::npos);
    WHEN("logrotate is forced and another line arrives") {
      RSTWATCH_REQUIRE_OK(run("logrotate -f -s " + shell_quote(dir / "state") + " " +
                              shell_quote(dir / "logrotate.conf")));
      REQUIRE(send_tcp(port, h + "mark-after\n"));
      auto now = wait_for_text(c.log_file, "mark-after");
      auto rotated = list_dir(dir, "resets.log-*");
      REQUIRE(rotated.size() == 1);
      auto old = read_file(dir / rotated[0]);
      INFO("current:\n" << now << "rotated:\n" << old);
      THEN("the old line is only in the rotated file and the new one only in the new file") {
        CHECK(old.find("mark-before") != std::string::npos);
        CHECK(old.find("mark-after") == std::string::npos);
        CHECK(now.find("mark-after") != std::string::npos);
        CHECK(now.find("mark-before") == std::string::npos);
      }
    }
  }
}
