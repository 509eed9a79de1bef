#include <catch2/catch.hpp>
#include <rstwatch/emit/config.hpp>

using namespace rstwatch;
using namespace rstwatch::emit;

namespace {

// The field a rejected config names, and its message (for the assertions' output).
std::string rejected_field(const install_config& c) {
  auto r = validate(c);
  if (r) return "";
  INFO("message: " << format(r.error()));
  return r.error().file;
}

}  // namespace

SCENARIO("the default config is the seed's drds setup with derived paths", "[emit][config]") {
  GIVEN("a default install config") {
    install_config c;
    WHEN("it is validated") {
      auto v = validate(c);
      REQUIRE(v);
      THEN("prefix, log file, chain and file names derive from the name") {
        CHECK(v->get().prefix == "[drds] ");
        CHECK(v->get().log_file == "/var/log/rstwatch/drds.log");
        CHECK(v->chain() == "RSTWATCH-DRDS");
        CHECK(v->rules_file() == "/etc/rstwatch/drds.rules");
        CHECK(v->rules6_file() == "/etc/rstwatch/drds.rules6");
        CHECK(v->nft_file() == "/etc/rstwatch/drds.nft");
        CHECK(v->unit_name() == "rstwatch-drds.service");
      }
    }
  }
  GIVEN("the longest allowed name") {
    install_config c;
    c.name = "abcdefghij-0123456z";
    THEN("its chain name stays within iptables' 28 characters") {
      auto v = validate(c);
      REQUIRE(v);
      CHECK(v->chain().size() <= 28);
    }
  }
}

SCENARIO("a name outside 1-19 lowercase letters digits and dashes is refused", "[emit][config]") {
  install_config c;
  for (std::string bad :
       {"", "abcdefghij-0123456zz", "Drds", "dr ds", "dr_ds", "-drds", "drds-", "dr;ds"}) {
    GIVEN("the name " + quote_excerpt(bad)) {
      c.name = bad;
      THEN("validation names the field") { CHECK(rejected_field(c) == "name"); }
    }
  }
}

SCENARIO("a prefix that could break out of a quoted string is refused", "[emit][config]") {
  install_config c;
  for (std::string bad :
       {std::string("[dr\"ds] "), std::string("[dr'ds] "), std::string("[dr\\ds] "),
        std::string("[dr\nds] "), std::string("[dr$ds] "), std::string("[dr`ds] "),
        std::string("[dr\x7f] "), std::string(30, 'x'), std::string(" [drds]")}) {
    GIVEN("a prefix with a forbidden byte or length " + std::to_string(bad.size())) {
      c.prefix = bad;
      THEN("validation names the prefix") { CHECK(rejected_field(c) == "prefix"); }
    }
  }
  GIVEN("a 29-character prefix with regex and shell characters") {
    c.prefix = "a.b*c[d](e)|f^g?h+i{j}k;l&mn";
    REQUIRE(c.prefix.size() == 28);
    c.prefix += " ";
    THEN("it is accepted: the emitters quote it") { CHECK(validate(c)); }
  }
}

SCENARIO("a log path that is relative, not normalized or under a virtual fs is refused",
         "[emit][config]") {
  install_config c;
  for (std::string bad :
       {"var/log/x.log", "/var/log/../x.log", "/var/log/./x.log", "/var//log/x.log", "/var/log/",
        "/proc/x.log", "/sys/x", "/dev/null", "/run/x.log", "/var/log/x y.log", "/var/log/*.log",
        "/var/log/x\n.log", "/var/log/x;rm.log", "/"}) {
    GIVEN("the log file " + quote_excerpt(bad, 40)) {
      c.log_file = bad;
      THEN("validation names the log file") { CHECK(rejected_field(c) == "log_file"); }
    }
  }
  GIVEN("a path that only starts like /run") {
    c.log_file = "/runner/x.log";
    THEN("it is accepted") { CHECK(validate(c)); }
  }
}

SCENARIO("more than 15 excluded ports or a repeated port is refused", "[emit][config]") {
  install_config c;
  GIVEN("15 distinct ports") {
    for (std::uint16_t p = 1; p <= 15; ++p) c.excluded_ports.push_back(p);
    THEN("they are accepted") { CHECK(validate(c)); }
    WHEN("a 16th is added") {
      c.excluded_ports.push_back(16);
      THEN("multiport's limit is reported") { CHECK(rejected_field(c) == "excluded_ports"); }
    }
  }
  GIVEN("port 3406 twice") {
    c.excluded_ports = {3406, 3406};
    THEN("it is refused") { CHECK(rejected_field(c) == "excluded_ports"); }
  }
  GIVEN("port 0") {
    c.excluded_ports = {0};
    THEN("it is refused") { CHECK(rejected_field(c) == "excluded_ports"); }
  }
}

SCENARIO("forwarding needs a host name or address and a port", "[emit][config]") {
  install_config c;
  for (std::string good : {"logs.example.net", "10.1.2.3", "fd00::1", "central"}) {
    GIVEN("the host " + good) {
      c.forward = forward_target{good, 514};
      THEN("it is accepted") { CHECK(validate(c)); }
    }
  }
  for (std::string bad : {"", "a..b", "-a.b", "h\"ost", "host name", "[fd00::1]", "a/b"}) {
    GIVEN("the host " + quote_excerpt(bad)) {
      c.forward = forward_target{bad, 514};
      THEN("it is refused") { CHECK(rejected_field(c) == "forward"); }
    }
  }
  GIVEN("port 0") {
    c.forward = forward_target{"central", 0};
    THEN("it is refused") { CHECK(rejected_field(c) == "forward"); }
  }
}

SCENARIO("modes owners sizes and commands are checked", "[emit][config]") {
  install_config c;
  GIVEN("a world-writable file mode") {
    c.file_mode = 0646;
    THEN("it is refused") { CHECK(rejected_field(c) == "file_mode"); }
  }
  GIVEN("a group name with a space") {
    c.file_group = "a dm";
    THEN("it is refused") { CHECK(rejected_field(c) == "file_group"); }
  }
  GIVEN("a max size with a bad suffix") {
    c.max_size = "100MB";
    THEN("it is refused") { CHECK(rejected_field(c) == "max_size"); }
  }
  GIVEN("zero rotate days") {
    c.rotate_days = 0;
    THEN("it is refused") { CHECK(rejected_field(c) == "rotate_days"); }
  }
  GIVEN("a postrotate command with a shell operator") {
    c.postrotate = "/usr/lib/rsyslog/rsyslog-rotate; rm -rf /";
    THEN("it is refused") { CHECK(rejected_field(c) == "postrotate"); }
  }
  GIVEN("a relative postrotate command") {
    c.postrotate = "rsyslog-rotate";
    THEN("it is refused") { CHECK(rejected_field(c) == "postrotate"); }
  }
  GIVEN("a log level above 7") {
    c.log_level = 8;
    THEN("it is refused") { CHECK(rejected_field(c) == "log_level"); }
  }
}

SCENARIO("a rejected config says which field is wrong and why", "[emit][config]") {
  GIVEN("a prefix with a double quote") {
    install_config c;
    c.prefix = "[dr\"ds] ";
    THEN("the message names the field and shows the byte") {
      auto r = validate(c);
      REQUIRE_FALSE(r);
      CHECK(format(r.error()) ==
            "prefix: error: LOG prefix may not contain '\"' (quotes, backslash, $, ` and control "
            "bytes)");
    }
  }
  GIVEN("a log file under /run") {
    install_config c;
    c.log_file = "/run/rstwatch/x.log";
    THEN("the message quotes the path and says where it may not be") {
      auto r = validate(c);
      REQUIRE_FALSE(r);
      CHECK(format(r.error()) ==
            "log_file: error: log_file '/run/rstwatch/x.log' must not be "
            "under /run (not a place for persistent files)");
    }
  }
  GIVEN("sixteen excluded ports") {
    install_config c;
    for (std::uint16_t p = 100; p < 116; ++p) c.excluded_ports.push_back(p);
    THEN("the message gives multiport's limit and the count") {
      auto r = validate(c);
      REQUIRE_FALSE(r);
      CHECK(format(r.error()) ==
            "excluded_ports: error: at most 15 excluded ports (multiport's limit), found 16");
    }
  }
}
