#include <catch2/catch.hpp>
#include <regex>
#include <rstwatch/emit/firewall.hpp>
#include <rstwatch/emit/rc_local.hpp>
#include <rstwatch/emit/systemd.hpp>
#include <support/daemons.hpp>
#include <support/firewall.hpp>

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

// Writes the rule files and the load script the unit runs into c.rules_dir.
void write_rule_files(const valid_config& c) {
  write_file(c.rules_file(), iptables_rules(c, ip_family::ipv4));
  write_file(c.rules6_file(), iptables_rules(c, ip_family::ipv6));
  write_file(c.nft_file(), nft_rules(c));
  write_file(c.load_script(), load_script(c));
}

std::string nft_state(const netns& ns) {
  auto r = ns.exec("nft list ruleset");
  REQUIRE(r.status == 0);
  return r.output;
}

// nft's view without empty ACCEPT base chains of iptables-nft's filter table: iptables-nft
// creates a built-in chain when a first rule (here our jump) goes into it, and deleting the
// rule leaves the empty chain, which changes no verdict.
std::string nft_state_without_empty_builtins(const netns& ns) {
  static const std::regex empty_builtin(
      "\n?\tchain (INPUT|FORWARD|OUTPUT) \\{\n\t\ttype filter hook [a-z]+ priority filter; "
      "policy accept;\n\t\\}\n");
  return std::regex_replace(nft_state(ns), empty_builtin, "");
}

install_config config_in(const temp_dir& dir, firewall_backend backend) {
  install_config c;
  c.name = "drds";
  c.rules_dir = dir.path();
  c.backend = backend;
  c.excluded_ports = {3406, 8182};
  return c;
}

}  // namespace

SCENARIO("the own iptables chain loads twice and unloads to exactly the previous ruleset",
         "[emit][firewall][root]") {
  if (!require_root("iptables in a private network namespace")) return;
  temp_dir dir("rstw-fw");
  GIVEN("a namespace with foreign rules and chains, and the emitted files") {
    netns ns("ipt");
    add_foreign_rules(ns);
    auto c = checked(config_in(dir, firewall_backend::iptables));
    write_rule_files(c);
    const auto before = iptables_state(ns);
    const auto nft_before = nft_state_without_empty_builtins(ns);
    const auto start = "sh " + c.load_script() + " start";
    const auto stop = "sh " + c.load_script() + " stop";
    WHEN("the load script starts twice") {
      RSTWATCH_REQUIRE_OK(ns.exec(start));
      const auto once = iptables_state(ns);
      RSTWATCH_REQUIRE_OK(ns.exec(start));
      const auto twice = iptables_state(ns);
      INFO("after one start:\n" << once);
      THEN("the second start changed nothing") { CHECK(twice == once); }
      THEN("each family has the chain, one jump per hook, and the foreign rules") {
        CHECK(count(once, ":RSTWATCH-DRDS - [0:0]") == 2);
        for (std::string hook : {"INPUT", "FORWARD", "OUTPUT"})
          CHECK(count(once, "-A " + hook + " -j RSTWATCH-DRDS\n") == 2);
        CHECK(count(once, "-A RSTWATCH-DRDS -p tcp -m multiport --ports 3406,8182 -j RETURN") == 2);
        CHECK(count(once,
                    "-m limit --limit 1000/sec --limit-burst 2000 -j LOG --log-prefix "
                    "\"[drds] \" --log-level 7 --log-tcp-sequence --log-tcp-options "
                    "--log-ip-options") == 2);
        CHECK(count(once, "-A INPUT -p udp -m udp --dport 9999 -j ACCEPT") == 2);
        CHECK(count(once, "-A OUTPUT -j FOREIGN") == 2);
      }
      AND_WHEN("it stops twice") {
        RSTWATCH_REQUIRE_OK(ns.exec(stop));
        const auto unloaded = iptables_state(ns);
        RSTWATCH_REQUIRE_OK(ns.exec(stop));
        THEN("the ruleset is exactly what it was before") {
          CHECK(unloaded == before);
          CHECK(iptables_state(ns) == before);
          CHECK(nft_state_without_empty_builtins(ns) == nft_before);
        }
      }
    }
    WHEN("the config changes and the script starts again") {
      RSTWATCH_REQUIRE_OK(ns.exec(start));
      auto changed = config_in(dir, firewall_backend::iptables);
      changed.excluded_ports = {22};
      changed.limit.reset();
      write_rule_files(checked(changed));
      RSTWATCH_REQUIRE_OK(ns.exec(start));
      const auto now = iptables_state(ns);
      INFO(now);
      THEN("the chain holds only the new rules and the jumps are not duplicated") {
        CHECK(count(now, "--ports 3406,8182") == 0);
        CHECK(count(now, "-A RSTWATCH-DRDS -p tcp -m multiport --ports 22 -j RETURN") == 2);
        CHECK(count(now, "-m limit") == 0);
        CHECK(count(now, "-j RSTWATCH-DRDS\n") == 6);
      }
    }
  }
}

SCENARIO("the seed's plain iptables-restore flushes rules it did not write",
         "[emit][firewall][root]") {
  if (!require_root("iptables in a private network namespace")) return;
  temp_dir dir("rstw-fw");
  GIVEN("a namespace with a foreign rule in INPUT") {
    netns ns("seed");
    add_foreign_rules(ns);
    auto c = checked(config_in(dir, firewall_backend::iptables));
    write_rule_files(c);
    WHEN("a rules file is loaded the seed's way, without --noflush") {
      RSTWATCH_REQUIRE_OK(ns.exec("iptables-restore < " + c.rules_file()));
      THEN("the foreign rule is gone, which is why the load script uses --noflush") {
        CHECK(count(iptables_state(ns), "--dport 9999") == 1);  // only the IPv6 copy is left
      }
    }
  }
}

SCENARIO("the own nft table loads twice atomically and unloads to the previous ruleset",
         "[emit][firewall][root]") {
  if (!require_root("nft in a private network namespace")) return;
  temp_dir dir("rstw-fw");
  GIVEN("a namespace with a foreign nft table and iptables rules, and the emitted files") {
    netns ns("nft");
    add_foreign_rules(ns);
    auto c = checked(config_in(dir, firewall_backend::nftables));
    write_rule_files(c);
    const auto before = nft_state(ns);
    THEN("nft -c accepts the script") { RSTWATCH_REQUIRE_OK(ns.exec("nft -c -f " + c.nft_file())); }
    WHEN("the load script starts twice") {
      RSTWATCH_REQUIRE_OK(ns.exec("sh " + c.load_script() + " start"));
      const auto once = nft_state(ns);
      RSTWATCH_REQUIRE_OK(ns.exec("sh " + c.load_script() + " start"));
      INFO(once);
      THEN("the second start changed nothing and the foreign table is there") {
        CHECK(nft_state(ns) == once);
        CHECK(count(once, "table inet rstwatch-drds {") == 1);
        CHECK(count(once, "table inet foreign {") == 1);
        CHECK(count(once, "udp dport 9998 accept") == 1);
        CHECK(count(once, "log prefix \"[drds] \" level debug") == 1);
        CHECK(count(once, "tcp dport { 3406, 8182 } return") == 1);
      }
      AND_WHEN("it stops twice") {
        RSTWATCH_REQUIRE_OK(ns.exec("sh " + c.load_script() + " stop"));
        const auto unloaded = nft_state(ns);
        RSTWATCH_REQUIRE_OK(ns.exec("sh " + c.load_script() + " stop"));
        THEN("the ruleset is exactly what it was before") {
          CHECK(unloaded == before);
          CHECK(nft_state(ns) == before);
        }
      }
    }
  }
}

SCENARIO("the loaded rules log resets with the prefix and skip excluded ports",
         "[emit][firewall][kmsg][root]") {
  if (!require_root("LOG rules in a private network namespace")) return;
  sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
  for (auto backend : {firewall_backend::iptables, firewall_backend::nftables}) {
    GIVEN("the " + std::string(to_string(backend)) + " rules loaded in a namespace") {
      temp_dir dir("rstw-fw");
      netns ns("log");
      auto cfg = config_in(dir, backend);
      cfg.name = unique_tag("l");
      auto c = checked(cfg);
      write_rule_files(c);
      RSTWATCH_REQUIRE_OK(ns.exec("sh " + c.load_script() + " start"));
      kmsg_reader kmsg;
      WHEN("connections to closed ports 9 and 3406 on IPv4 and IPv6 loopback are reset") {
        (void)ns.exec(
            "bash -c '(exec 3<>/dev/tcp/127.0.0.1/9); (exec 3<>/dev/tcp/127.0.0.1/3406); "
            "(exec 3<>/dev/tcp/::1/9); (exec 3<>/dev/tcp/::1/3406)' 2>/dev/null; true");
        auto lines = kmsg.messages_containing(c->prefix, 4);
        std::string all;
        for (auto& l : lines) all += l + "\n";
        INFO(all);
        THEN("each reset from port 9 is logged leaving and arriving, port 3406 not at all") {
          CHECK(count(all, c->prefix + "IN= OUT=lo ") == 2);
          CHECK(count(all, c->prefix + "IN=lo OUT= ") == 2);
          CHECK(count(all, "SRC=127.0.0.1 DST=127.0.0.1 ") == 2);
          // ip6t_LOG/nf_log print IPv6 addresses uncompressed (%pI6, not %pI6c).
          CHECK(count(all, "SRC=0000:0000:0000:0000:0000:0000:0000:0001 ") == 2);
          CHECK(count(all, "SPT=9 ") == 4);
          // As a port field only: a bare "3406" also turns up in a random FLOWLBL=340694.
          CHECK(count(all, "SPT=3406 ") == 0);
          CHECK(count(all, "DPT=3406 ") == 0);
          CHECK(count(all, " SEQ=") == 4);  // --log-tcp-sequence
        }
      }
    }
  }
}

SCENARIO("the systemd unit passes systemd-analyze verify on a staging root", "[emit][systemd]") {
  temp_dir stage("rstw-stage");
  // A minimal root: the distribution's units (After=/Wants= targets) and /bin/sh.
  RSTWATCH_REQUIRE_OK(run("cd " + shell_quote(stage.path()) +
                          " && mkdir -p etc/systemd/system usr/lib/systemd usr/bin"
                          " && cp -a /usr/lib/systemd/system usr/lib/systemd/"
                          " && cp /usr/bin/dash usr/bin/sh && ln -s usr/bin bin"));
  for (auto backend : {firewall_backend::iptables, firewall_backend::nftables}) {
    GIVEN("the unit for the " + std::string(to_string(backend)) + " backend") {
      install_config k;
      k.backend = backend;
      auto c = checked(k);
      auto unit = systemd_unit(c);
      const auto path = stage.path() + systemd_unit_path(c);
      WHEN("it is verified") {
        write_file(path, unit);
        auto r =
            run("systemd-analyze verify --root=" + shell_quote(stage.path()) + " " + c.unit_name());
        INFO(unit << r.output);
        THEN("systemd has no complaint") {
          CHECK(r.status == 0);
          CHECK(r.output.empty());
        }
        THEN("it is a oneshot that stays active and follows the firewall services") {
          CHECK(unit.find("\nType=oneshot\nRemainAfterExit=yes\n") != std::string::npos);
          CHECK(unit.find("\nAfter=nftables.service netfilter-persistent.service\n") !=
                std::string::npos);
          CHECK(unit.find("\nPartOf=nftables.service netfilter-persistent.service\n") !=
                std::string::npos);
          CHECK(unit.find("\nDefaultDependencies=no\n") != std::string::npos);
          CHECK(unit.find("\nBefore=network-pre.target shutdown.target\n") != std::string::npos);
          CHECK(unit.find("\nRequiresMountsFor=/etc/rstwatch\n") != std::string::npos);
          CHECK(unit.find("ExecStart=/bin/sh /etc/rstwatch/drds.sh start\n") != std::string::npos);
          CHECK(unit.find("ExecStop=/bin/sh /etc/rstwatch/drds.sh stop\n") != std::string::npos);
        }
      }
      WHEN("its ExecStart names a missing binary") {
        unit.replace(unit.find("ExecStart=/bin/sh"), 17, "ExecStart=/bin/shx");
        write_file(path, unit);
        THEN("the verification fails, so the check above can fail") {
          CHECK(run("systemd-analyze verify --root=" + shell_quote(stage.path()) + " " +
                    c.unit_name())
                    .status != 0);
        }
      }
    }
  }
}

SCENARIO("rc.local is created when absent with the line before exit 0", "[emit][rc_local]") {
  GIVEN("no rc.local, as on Debian 12") {
    auto c = checked(install_config{});
    WHEN("the line is installed") {
      auto text = rc_local_install(std::nullopt, c);
      THEN("it is a sh -e script whose last two lines are the marked line and exit 0") {
        CHECK(text.rfind("#!/bin/sh -e\n", 0) == 0);
        CHECK(detail::ends_with(text, "\n" + rc_local_line(c) + "\nexit 0\n"));
        CHECK(rc_local_line(c) == "/bin/sh /etc/rstwatch/drds.sh start || true  # rstwatch:drds");
        temp_dir dir("rstw-rc");
        write_file(dir / "rc.local", text);
        RSTWATCH_REQUIRE_OK(run("sh -n " + shell_quote(dir / "rc.local")));
      }
    }
  }
}

SCENARIO("the rc.local line is inserted once replaced on re-run and removed cleanly",
         "[emit][rc_local]") {
  const std::string operators =
      "#!/bin/sh -e\n# operator's rc.local\nif true; then\n  exit 0\nfi\necho hello\n"
      "exit 0\n# trailing comment\n\n";
  auto c = checked(install_config{});
  GIVEN("an operator's rc.local with an inner exit 0 and a trailing comment") {
    auto once = rc_local_install(std::string_view(operators), c);
    THEN("the line sits just before the final exit 0 and nothing else changed") {
      CHECK(once ==
            "#!/bin/sh -e\n# operator's rc.local\nif true; then\n  exit 0\nfi\necho hello\n" +
                rc_local_line(c) + "\nexit 0\n# trailing comment\n\n");
    }
    THEN("installing again changes nothing") {
      CHECK(rc_local_install(std::string_view(once), c) == once);
    }
    THEN("removing gives back the original byte for byte") {
      CHECK(rc_local_remove(once, c) == operators);
    }
    WHEN("the config changes and it is installed again") {
      auto k = install_config{};
      k.rules_dir = "/opt/rstwatch";
      auto moved = checked(k);
      auto again = rc_local_install(std::string_view(once), moved);
      THEN("the old line is replaced, not duplicated") {
        CHECK(count(again, "# rstwatch:drds") == 1);
        CHECK(count(again, "/opt/rstwatch/drds.sh") == 1);
        CHECK(count(again, "/etc/rstwatch/drds.sh") == 0);
      }
    }
    WHEN("a second name is installed next to it") {
      auto k = install_config{};
      k.name = "web";
      auto web = checked(k);
      auto both = rc_local_install(std::string_view(once), web);
      THEN("both lines stay, and removing one keeps the other") {
        CHECK(count(both, "# rstwatch:") == 2);
        CHECK(rc_local_remove(both, web) == once);
      }
    }
  }
  GIVEN("an rc.local without a final exit 0") {
    THEN("the line is appended") {
      CHECK(rc_local_install(std::string_view("#!/bin/sh\necho hi\n"), c) ==
            "#!/bin/sh\necho hi\n" + rc_local_line(c) + "\n");
    }
  }
}

SCENARIO("the created rc.local loads the rules when run", "[emit][rc_local][root]") {
  if (!require_root("iptables in a private network namespace")) return;
  temp_dir dir("rstw-rc");
  GIVEN("the emitted files and a fresh rc.local") {
    netns ns("rc");
    auto c = checked(config_in(dir, firewall_backend::iptables));
    write_rule_files(c);
    write_file(dir / "rc.local", rc_local_install(std::nullopt, c));
    WHEN("rc.local runs in the namespace, twice as after two boots") {
      RSTWATCH_REQUIRE_OK(ns.exec("sh -e " + (dir / "rc.local")));
      auto once = iptables_state(ns);
      RSTWATCH_REQUIRE_OK(ns.exec("sh -e " + (dir / "rc.local")));
      THEN("the chain is loaded with one jump per hook and family") {
        CHECK(count(once, "-j RSTWATCH-DRDS\n") == 6);
        CHECK(iptables_state(ns) == once);
      }
    }
  }
}

SCENARIO("without IPv6 only the IPv4 rules are loaded and removed", "[emit][firewall][root]") {
  if (!require_root("iptables and nft in a private network namespace")) return;
  for (auto backend : {firewall_backend::iptables, firewall_backend::nftables}) {
    GIVEN("an IPv4-only " + std::string(to_string(backend)) + " config loaded in a namespace") {
      temp_dir dir("rstw-fw");
      netns ns("v4");
      auto k = config_in(dir, backend);
      k.ipv6 = false;
      auto c = checked(k);
      write_rule_files(c);
      const auto before = iptables_state(ns) + nft_state(ns);
      RSTWATCH_REQUIRE_OK(ns.exec("sh " + c.load_script() + " start"));
      auto v6 = ns.exec("ip6tables-save").output;
      auto nft = nft_state(ns);
      INFO(v6 << nft);
      THEN("IPv6 has no rstwatch rule and the nft table is of family ip") {
        CHECK(v6.find("RSTWATCH") == std::string::npos);
        CHECK(nft.find("table inet rstwatch") == std::string::npos);
        if (backend == firewall_backend::nftables)
          CHECK(nft.find("table ip rstwatch-drds {") != std::string::npos);
        else
          CHECK(count(ns.exec("iptables-save").output, "-j RSTWATCH-DRDS\n") == 3);
      }
      THEN("stop removes every rule it added") {
        RSTWATCH_REQUIRE_OK(ns.exec("sh " + c.load_script() + " stop"));
        auto after = iptables_state(ns);
        INFO(after);
        if (backend == firewall_backend::nftables) {
          CHECK(after + nft_state(ns) == before);
        } else {
          // iptables cannot load a chain without its table: in a namespace that had no filter
          // table, the empty table with its ACCEPT built-in chains stays behind.
          CHECK(before.empty());
          CHECK(after ==
                "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
                ":OUTPUT ACCEPT [0:0]\nCOMMIT\n");
        }
      }
    }
  }
}

SCENARIO("a load script whose rules file is missing fails and loads nothing",
         "[emit][firewall][root]") {
  if (!require_root("iptables and nft in a private network namespace")) return;
  for (auto backend : {firewall_backend::iptables, firewall_backend::nftables}) {
    GIVEN("the " + std::string(to_string(backend)) + " files without the last rules file") {
      temp_dir dir("rstw-fw");
      netns ns("miss");
      add_foreign_rules(ns);
      auto c = checked(config_in(dir, backend));
      write_rule_files(c);
      // IPv4 loads, IPv6 then fails: the IPv4 part must be rolled back.
      (void)run("rm -f " + c.rules6_file() + " " + c.nft_file());
      const auto before = iptables_state(ns) + nft_state_without_empty_builtins(ns);
      WHEN("the script starts") {
        auto r = ns.exec("sh " + c.load_script() + " start");
        THEN("it exits non-zero, so systemd marks the unit failed, and changed nothing") {
          INFO(r.output);
          CHECK(r.status != 0);
          CHECK(iptables_state(ns) + nft_state_without_empty_builtins(ns) == before);
        }
      }
    }
  }
  GIVEN("a script called without an action") {
    temp_dir dir("rstw-fw");
    auto c = checked(config_in(dir, firewall_backend::iptables));
    write_rule_files(c);
    THEN("it prints its usage and exits 2") {
      auto r = run("sh " + c.load_script());
      CHECK(r.status == 2);
      CHECK(r.output.find("usage: ") != std::string::npos);
    }
  }
}
