#include <catch2/catch.hpp>
#include <memory>
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

// A config whose log file lives in `dir` and is owned by whoever runs the test.
install_config config_in(const temp_dir& dir, std::string name) {
  install_config c;
  c.name = std::move(name);
  c.log_file = dir / "rstwatch.log";
  c.file_owner = current_user();
  c.file_group = current_group();
  return c;
}

// rsyslogd -N1 on a private main config that includes `dropin` the way Debian's
// $IncludeConfig does.
command_result rsyslog_validate(const temp_dir& dir, const std::string& dropin) {
  write_file(dir / "dropin.conf", dropin);
  write_file(dir / "main.conf", "global(workDirectory=\"" + dir.path() + "\")\ninclude(file=\"" +
                                    (dir / "dropin.conf") + "\")\n");
  return run("rsyslogd -N1 -f " + shell_quote(dir / "main.conf"));
}

// A private rsyslogd that receives on imtcp, applies the drop-in, then writes what is left to
// rest.log (the "default logs" the drop-in must keep its lines out of).
std::string tcp_main_config(const temp_dir& dir, std::uint16_t port) {
  return "global(workDirectory=\"" + (dir / "work") +
         "\")\n"
         "module(load=\"imtcp\")\n"
         "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
         std::to_string(port) +
         "\")\n"
         "include(file=\"" +
         (dir / "dropin.conf") +
         "\")\n"
         "action(type=\"omfile\" file=\"" +
         (dir / "rest.log") + "\")\n";
}

}  // namespace

SCENARIO("the drop-in for the seed's prefix is accepted by rsyslogd", "[emit][rsyslog]") {
  temp_dir dir("rstw-rs");
  GIVEN("the default config, with and without forwarding, in both time formats") {
    auto plain = checked(config_in(dir, "drds"));
    auto c = config_in(dir, "drds");
    c.forward = forward_target{"127.0.0.1", 10514};
    c.forward_spool_dir = dir.path();
    c.format = time_format::traditional;
    c.keep_in_default_logs = true;
    auto forwarding = checked(c);
    WHEN("rsyslogd -N1 reads each") {
      auto a = rsyslog_validate(dir, rsyslog_dropin(plain));
      INFO(rsyslog_dropin(plain) << a.output);
      CHECK(a.status == 0);
      auto b = rsyslog_validate(dir, rsyslog_dropin(forwarding));
      INFO(rsyslog_dropin(forwarding) << b.output);
      CHECK(b.status == 0);
      THEN("it reports no error or warning") {
        CHECK(a.output.find("error") == std::string::npos);
        CHECK(b.output.find("error") == std::string::npos);
        CHECK(a.output.find("warning") == std::string::npos);
        CHECK(b.output.find("warning") == std::string::npos);
      }
    }
  }
  GIVEN("Debian's own rsyslog.conf including the drop-ins of two names") {
    auto debian = read_file("/etc/rsyslog.conf");
    const std::string include = "$IncludeConfig /etc/rsyslog.d/*.conf";
    if (debian.find(include) == std::string::npos) {
      WARN("SKIPPED: no Debian /etc/rsyslog.conf with " << include);
      return;
    }
    (void)run("mkdir -p " + shell_quote(dir / "d"));
    debian.replace(debian.find(include), include.size(),
                   "$IncludeConfig " + (dir / "d") + "/*.conf");
    write_file(dir / "debian.conf", debian);
    for (std::string name : {"drds", "web"}) {
      auto k = config_in(dir, name);
      k.log_file = dir / (name + ".log");
      k.forward = forward_target{"central", 514};
      k.forward_spool_dir = dir.path();
      write_file(dir / ("d/" + name + ".conf"), rsyslog_dropin(checked(k)));
    }
    WHEN("rsyslogd -N1 reads it") {
      auto r = run("rsyslogd -N1 -f " + shell_quote(dir / "debian.conf"));
      THEN("the drop-ins fit next to each other and to Debian's rules") {
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(r.output.find("error") == std::string::npos);
        CHECK(r.output.find("warning") == std::string::npos);
      }
    }
  }
  GIVEN("a drop-in whose filter is broken on purpose") {
    auto text = rsyslog_dropin(checked(config_in(dir, "drds")));
    text.replace(text.find("re_match("), 9, "re_match((");
    THEN("rsyslogd -N1 rejects it, so the check above can fail") {
      CHECK(rsyslog_validate(dir, text).status != 0);
    }
  }
}

SCENARIO("the drop-in names its template and sets file mode owner and group", "[emit][rsyslog]") {
  GIVEN("a config with mode 0600 and group adm") {
    install_config c;
    c.file_mode = 0600;
    c.dir_mode = 0750;
    auto text = rsyslog_dropin(checked(c));
    THEN("the action uses the named template and the given modes") {
      CHECK(text.find("template(name=\"rstwatch-drds-file\"") != std::string::npos);
      CHECK(text.find("template=\"rstwatch-drds-file\"") != std::string::npos);
      CHECK(text.find("%TIMESTAMP:::date-rfc3339%") != std::string::npos);
      CHECK(text.find("fileCreateMode=\"0600\"") != std::string::npos);
      CHECK(text.find("dirCreateMode=\"0750\"") != std::string::npos);
      CHECK(text.find("fileGroup=\"adm\"") != std::string::npos);
      CHECK(text.find("  stop\n") != std::string::npos);
    }
    WHEN("the lines are to be kept in the default logs too") {
      c.keep_in_default_logs = true;
      THEN("there is no stop") {
        CHECK(rsyslog_dropin(checked(c)).find("stop") == std::string::npos);
      }
    }
  }
}

SCENARIO("a real rsyslogd files lines of the prefix with or without the kernel uptime",
         "[emit][rsyslog]") {
  temp_dir dir("rstw-rs");
  GIVEN("a private rsyslogd with the drop-in for the regex-like prefix [p.x] ") {
    auto c = config_in(dir, "px");
    c.prefix = "[p.x] ";
    write_file(dir / "dropin.conf", rsyslog_dropin(checked(c)));
    auto port = free_tcp_port();
    private_rsyslogd daemon(dir.path(), tcp_main_config(dir, port), port);
    WHEN("kernel-facility lines of several shapes arrive") {
      const std::string h = "Nov 25 13:00:00 host1 kernel: ";
      REQUIRE(send_tcp(port,
                       "<4>" + h +
                           "[  311.394896] [p.x] IN= OUT=lo mark-A1\n"  // imklog shape
                           "<4>" +
                           h +
                           "[p.x] IN=lo OUT= mark-B2\n"  // imjournal shape
                           "<7>" +
                           h +
                           "[12345678.123456][ T1234] [p.x] IN= OUT=lo mark-C3\n"
                           "<4>" +
                           h +
                           "[  311.394896] [pXx] IN= OUT=lo mark-D4\n"  // '.' is literal
                           "<12>" +
                           h +
                           "[p.x] IN= OUT=lo mark-E5\n"  // user facility
                           "<4>" +
                           h + "[  311.394896] other [p.x] mark-F6\n"));  // not at start
      auto rest = wait_for_text(dir / "rest.log", "mark-F6");
      auto mine = wait_for_text(c.log_file, "mark-C3");
      INFO("rstwatch.log:\n" << mine << "rest.log:\n" << rest);
      THEN("the three prefix lines are in the file and nowhere else") {
        CHECK(mine.find("mark-A1") != std::string::npos);
        CHECK(mine.find("mark-B2") != std::string::npos);
        CHECK(mine.find("mark-C3") != std::string::npos);
        CHECK(rest.find("mark-A1") == std::string::npos);
        CHECK(rest.find("mark-B2") == std::string::npos);
        CHECK(rest.find("mark-C3") == std::string::npos);
      }
      THEN("the other lines are not in the file") {
        CHECK(rest.find("mark-D4") != std::string::npos);
        CHECK(rest.find("mark-E5") != std::string::npos);
        CHECK(mine.find("mark-D4") == std::string::npos);
        CHECK(mine.find("mark-E5") == std::string::npos);
        CHECK(mine.find("mark-F6") == std::string::npos);
      }
      THEN("each line starts with an RFC 3339 time and keeps the uptime as received") {
        auto a = mine.substr(0, mine.find('\n'));
        CHECK(a.size() > 33);
        CHECK(a[4] == '-');
        CHECK(a[10] == 'T');
        CHECK(a.find(" host1 kernel: [  311.394896] [p.x] IN= OUT=lo mark-A1") !=
              std::string::npos);
      }
    }
  }
}

SCENARIO("lines are forwarded over TCP to a central rsyslog even when it starts late",
         "[emit][rsyslog]") {
  temp_dir dir("rstw-fw");
  temp_dir central_dir("rstw-central");
  GIVEN("an edge rsyslogd forwarding to a central rsyslogd on loopback") {
    auto central_port = free_tcp_port();
    auto edge_port = free_tcp_port();
    auto c = config_in(dir, "fw");
    c.forward = forward_target{"127.0.0.1", central_port};
    c.forward_spool_dir = dir / "spool";
    c.forward_retry_seconds = 1;
    (void)run("mkdir -p " + shell_quote(c.forward_spool_dir));
    write_file(dir / "dropin.conf", rsyslog_dropin(checked(c)));
    const std::string central_config = "global(workDirectory=\"" + (central_dir / "work") +
                                       "\")\n"
                                       "module(load=\"imtcp\")\n"
                                       "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
                                       std::to_string(central_port) +
                                       "\")\n"
                                       "action(type=\"omfile\" file=\"" +
                                       (central_dir / "central.log") + "\")\n";
    const std::string h = "<4>Nov 25 13:00:00 edge1 kernel: [  311.394896] [fw] IN= OUT=lo ";
    auto central =
        std::make_unique<private_rsyslogd>(central_dir.path(), central_config, central_port);
    private_rsyslogd edge(dir.path(), tcp_main_config(dir, edge_port), edge_port);
    WHEN("a line arrives while the central server is up") {
      REQUIRE(send_tcp(edge_port, h + "mark-up\n"));
      THEN("the central server writes it with the edge's host name") {
        auto text = wait_for_text(central_dir / "central.log", "mark-up");
        INFO(text);
        CHECK(text.find("edge1 kernel: [  311.394896] [fw] IN= OUT=lo mark-up") !=
              std::string::npos);
        CHECK(wait_for_text(c.log_file, "mark-up").find("mark-up") != std::string::npos);
      }
    }
    WHEN("a line arrives while the central server is down, and it comes back") {
      REQUIRE(send_tcp(edge_port, h + "mark-first\n"));
      REQUIRE(wait_for_text(central_dir / "central.log", "mark-first").find("mark-first") !=
              std::string::npos);
      central->stop();
      REQUIRE(send_tcp(edge_port, h + "mark-while-down\n"));
      REQUIRE(wait_for_text(c.log_file, "mark-while-down").find("mark-while-down") !=
              std::string::npos);
      std::this_thread::sleep_for(std::chrono::seconds(2));
      central =
          std::make_unique<private_rsyslogd>(central_dir.path(), central_config, central_port);
      THEN("the queued line reaches it") {
        auto text =
            wait_for_text(central_dir / "central.log", "mark-while-down", std::chrono::seconds(20));
        INFO(text);
        CHECK(text.find("mark-while-down") != std::string::npos);
      }
    }
  }
}

SCENARIO("a real kernel LOG line reaches the file where the seed's startswith filter misses it",
         "[emit][rsyslog][kmsg][root]") {
  if (!require_root("a private rsyslogd reading the kernel log through imklog")) return;
  auto holders = kmsg_holders();
  if (!holders.empty()) {
    // imklog consumes /proc/kmsg: with another reader, lines go to one of us at random.
    if (in_ci()) FAIL("another process reads /proc/kmsg: " << holders);
    WARN("SKIPPED: another process reads /proc/kmsg, imklog would race it: " << holders);
    return;
  }
  temp_dir dir("rstw-kmsg");
  GIVEN("a namespace whose OUTPUT chain LOGs resets with a unique prefix") {
    sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
    netns ns("kmsg");
    auto c = config_in(dir, unique_tag("k"));
    auto v = checked(c);
    const std::string prefix = v->prefix;
    RSTWATCH_REQUIRE_OK(
        ns.exec("iptables -A OUTPUT -p tcp --tcp-flags RST RST -j LOG "
                "--log-prefix '" +
                prefix +
                "' --log-level 7 "
                "--log-tcp-sequence --log-tcp-options --log-ip-options"));
    AND_GIVEN("a private rsyslogd with imklog, the seed's filter and two drop-ins") {
      // First a traditional-format drop-in that keeps the lines, then the default one.
      auto t = config_in(dir, unique_tag("t"));
      t.prefix = prefix;
      t.log_file = dir / "traditional.log";
      t.format = time_format::traditional;
      t.keep_in_default_logs = true;
      write_file(dir / "dropin.conf", rsyslog_dropin(checked(t)) + rsyslog_dropin(v));
      // The seed's line, verbatim but for its prefix and file.
      const std::string seed_filter = ":msg, startswith, \"" + prefix.substr(0, prefix.size() - 1) +
                                      "\" -" + (dir / "seed.log");
      private_rsyslogd daemon(dir.path(), "global(workDirectory=\"" + (dir / "work") +
                                              "\")\n"
                                              "module(load=\"imklog\")\n" +
                                              seed_filter +
                                              "\n"
                                              "include(file=\"" +
                                              (dir / "dropin.conf") +
                                              "\")\n"
                                              "action(type=\"omfile\" file=\"" +
                                              (dir / "rest.log") + "\")\n");
      WHEN("a connection to a closed port on loopback is reset") {
        (void)ns.exec("exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>&1 || true");
        auto text = wait_for_text(c.log_file, "PROTO=TCP");
        daemon.stop();
        INFO("rstwatch.log:\n" << text << "seed.log:\n" << read_file(dir / "seed.log"));
        THEN("the LOG line is in the drop-in's file, with the kernel uptime before the prefix") {
          auto at = text.find(prefix + "IN= OUT=lo ");
          REQUIRE(at != std::string::npos);
          auto line = text.substr(text.rfind('\n', at) + 1);
          line = line.substr(0, line.find('\n'));
          CHECK(line.find(" kernel: [") != std::string::npos);
          CHECK(line.find("] " + prefix) != std::string::npos);
          CHECK(line.find("SPT=9 ") != std::string::npos);
          CHECK(line.find(" RST ") != std::string::npos);
          CHECK(line[4] == '-');
          CHECK(line[10] == 'T');
          // Keep one real line for the log parser's tests (see tests/data/rsyslog/README.md).
          write_file(std::string(RSTWATCH_BINARY_DIR) + "/captured-imklog-rfc3339.log",
                     line + "\n");
        }
        THEN("the traditional drop-in kept the same line with a syslog time stamp") {
          auto trad = read_file(dir / "traditional.log");
          INFO(trad);
          auto at = trad.find(prefix + "IN= OUT=lo ");
          REQUIRE(at != std::string::npos);
          auto line = trad.substr(trad.rfind('\n', at) + 1);
          line = line.substr(0, line.find('\n'));
          // "Nov 25 13:47:24 host kernel: [  584.368523] [prefix] IN=..." (RFC 3164 time)
          CHECK(line[3] == ' ');
          CHECK(line[6] == ' ');
          CHECK(line[9] == ':');
          CHECK(line[15] == ' ');
          CHECK(line.find(" kernel: [") != std::string::npos);
          write_file(std::string(RSTWATCH_BINARY_DIR) + "/captured-imklog-traditional.log",
                     line + "\n");
        }
        THEN("the seed's startswith filter missed it and stop kept it out of the default log") {
          CHECK(read_file(dir / "seed.log").find(prefix) == std::string::npos);
          CHECK(read_file(dir / "rest.log").find(prefix) == std::string::npos);
          CHECK(text.find(prefix) != std::string::npos);
        }
      }
    }
  }
}
