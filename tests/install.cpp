// rstwatch-install, run as the operator runs it: in a private network namespace, with every file
// under a staging root, checked against the namespace's real ruleset and the staged tree.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <regex>
#include <support/daemons.hpp>
#include <support/firewall.hpp>

using namespace rstwatch::test;

namespace {

const std::string installer = RSTWATCH_INSTALL_BIN;
const std::string seed = std::string(RSTWATCH_TEST_DATA) + "/rules/drds_filter.rules";

// The installer inside `ns` with `args`; stdout and stderr together.
command_result install(const netns& ns, const std::string& args) {
  return run(ns.prefix() + installer + " " + args);
}

// Every path under `dir` with its type and mode, files also with size, modification time and
// content hash: equal snapshots mean nothing was created, removed, rewritten or re-timed. (A
// directory's own time changes whenever an entry comes and goes, so it is left out.)
std::string tree(const temp_dir& dir) {
  auto r = run("cd " + shell_quote(dir.path()) +
               " && find . ! -type f -printf '%p %y %m\\n' | sort && "
               "find . -type f -printf '%p %m %s %T@\\n' | sort && "
               "find . -type f -exec md5sum {} + | sort");
  REQUIRE(r.status == 0);
  return r.output;
}

// Both families' iptables-save output without comments and with counters zeroed, and nft's
// view of every other table (iptables-nft's tables are what iptables-save shows; nft lists
// their chains in creation order, which a reload may change without changing a verdict).
std::string ruleset(const netns& ns) {
  std::string out = iptables_state(ns);
  auto n = ns.exec("nft list ruleset");
  REQUIRE(n.status == 0);
  static const std::regex xtables_table("table ip6? (filter|nat|mangle|raw|security) \\{");
  std::istringstream tables(n.output);
  bool skip = false;
  for (std::string line; std::getline(tables, line);) {
    if (line.rfind("# Warning: table ", 0) == 0) continue;
    if (line.rfind("table ", 0) == 0) skip = std::regex_match(line, xtables_table);
    if (!skip)
      out +=
          std::regex_replace(line, std::regex("counter packets [0-9]+ bytes [0-9]+"), "counter") +
          "\n";
    if (line == "}") skip = false;
  }
  return out;
}

// The staging tree an operator's machine would have: the directories exist, rc.local not.
void make_stage(const temp_dir& stage) {
  RSTWATCH_REQUIRE_OK(run("cd " + shell_quote(stage.path()) +
                          " && mkdir -p etc/rsyslog.d etc/logrotate.d etc/systemd/system "
                          "var/log && echo 'operator file' > etc/rsyslog.d/50-other.conf"));
}

std::string common_args(const temp_dir& stage) {
  return "--root " + stage.path() + " --log-file " + (stage / "var/log/rstwatch/drds.log");
}

int mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

// Runs `command` in a private mount namespace whose `dir` is a copy changed by `edit` (run in
// the copy): how a scenario changes the system's tools without touching the machine's.
command_result with_copy_of(const std::string& dir, const std::string& edit,
                            const std::string& command) {
  const std::string script =
      "d=$(mktemp -d /tmp/rstw-copy-XXXXXX) && cp -a " + dir + "/. $d/ && (cd $d && " + edit +
      ") && mount --bind $d " + dir + " && " + command + "; s=$?; umount " + dir +
      " 2>/dev/null; rm -rf $d; exit $s";
  return run("unshare -m --propagation private sh -c " + shell_quote(script));
}

command_result with_sbin(const std::string& edit, const std::string& command) {
  return with_copy_of("/usr/sbin", edit, command);
}

// Runs `command` as on a system whose iptables is the legacy one: /usr/sbin/iptables and its
// kin are links through /etc/alternatives, and a private copy of that directory points them at
// the *-legacy programs, as `update-alternatives --set iptables /usr/sbin/iptables-legacy`
// (and ip6tables) would. The machine's alternatives stay as they are.
command_result on_legacy_system(const std::string& command) {
  return with_copy_of("/etc/alternatives",
                      "for t in iptables ip6tables; do for s in '' -save -restore; do "
                      "ln -sfn /usr/sbin/$t-legacy$s $t$s || exit 1; done; done",
                      command);
}

// The names of the legacy tables that exist in `ns` (the kernel makes one on first use).
std::string legacy_tables(const netns& ns) {
  return ns.exec("cat /proc/net/ip_tables_names /proc/net/ip6_tables_names").output;
}

// Whether a process other than `daemon` read /proc/kmsg meanwhile (another suite's rsyslogd on
// a shared machine): imklog readers steal each other's lines, so a missing line proves nothing.
// With CI=true that is a failure; otherwise the scenario is skipped with a warning.
bool kmsg_raced(const private_rsyslogd& daemon) {
  std::string others;
  std::istringstream in(kmsg_holders());
  for (std::string line; std::getline(in, line);)
    if (line.rfind(std::to_string(daemon.pid()) + " ", 0) != 0) others += line + "; ";
  if (others.empty()) return false;
  if (in_ci()) FAIL("another process read /proc/kmsg meanwhile: " << others);
  WARN("SKIPPED: another process read /proc/kmsg meanwhile, lines may have gone to it: " << others);
  return true;
}

// The seed's file with its commented-out second rule (the one with --log-level7) uncommented.
std::string seed_with_typo() {
  std::string text = read_file(seed);
  auto pos = text.find("# -A INPUT");
  REQUIRE(pos != std::string::npos);
  text.erase(pos, 2);
  return text;
}

}  // namespace

SCENARIO("the installer's dry run prints every file and command and changes nothing",
         "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  temp_dir stage("rstw-stage");
  make_stage(stage);
  GIVEN("a namespace with foreign rules and a staging root") {
    netns ns("dry");
    add_foreign_rules(ns);
    const auto rules_before = ruleset(ns);
    const auto tree_before = tree(stage);
    WHEN("the installer runs without --apply") {
      auto r = install(ns, common_args(stage) + " --exclude-port 3406");
      INFO(r.output);
      REQUIRE(r.status == 0);
      THEN("the namespace's ruleset and the staging tree are exactly as before") {
        CHECK(ruleset(ns) == rules_before);
        CHECK(tree(stage) == tree_before);
      }
      THEN("the plan shows each file by its final path with its full content") {
        CHECK(count(r.output, "dry run: nothing is changed") == 1);
        for (std::string f :
             {"/etc/rstwatch/drds.rules (", "/etc/rstwatch/drds.rules6 (",
              "/etc/rstwatch/drds.sh (", "/etc/rsyslog.d/30-rstwatch-drds.conf (",
              "/etc/logrotate.d/rstwatch-drds (", "/etc/systemd/system/rstwatch-drds.service (",
              "/etc/rstwatch/drds.manifest ("})
          CHECK(count(r.output, "== file " + f) == 1);
        CHECK(count(r.output, "staged at " + stage.path() + "/etc/rstwatch/drds.rules\n") == 1);
        CHECK(count(r.output, "-A RSTWATCH-DRDS -p tcp -m multiport --ports 3406 -j RETURN") == 2);
        CHECK(count(r.output, "ExecStart=/bin/sh /etc/rstwatch/drds.sh start\n") == 1);
        CHECK(count(r.output, "file=\"" + (stage / "var/log/rstwatch/drds.log") + "\"") == 1);
      }
      THEN("it lists the commands, those for live services marked as not run under --root") {
        CHECK(count(r.output, "\nsh /etc/rstwatch/drds.sh start    # load the rules") == 1);
        CHECK(count(r.output, "systemctl enable rstwatch-drds.service    # not run under --root") ==
              1);
        // systemctl, service(8), or the installer's own restart by pid file: whichever fits.
        static const std::regex restart(
            "\n[^\n]*(rsyslog[^\n]*restart|restart[^\n]*rsyslog)[^\n]*    # not run under "
            "--root\n");
        CHECK(std::regex_search(r.output, restart));
      }
      THEN("it says that logging is rate-limited") {
        CHECK(count(r.output, "rate limit: at most 1000 LOG lines per second") == 1);
        CHECK(count(r.output, "--limit 1000/sec --limit-burst 2000") == 2);
      }
    }
    WHEN("the installer runs with --no-limit") {
      auto r = install(ns, common_args(stage) + " --no-limit");
      INFO(r.output);
      REQUIRE(r.status == 0);
      THEN("the rules have no limit match and the plan says the limit is off") {
        CHECK(count(r.output, "-m limit") == 0);
        CHECK(count(r.output, "rate limit: OFF (--no-limit)") == 1);
      }
    }
  }
}

SCENARIO("apply installs the files and own chains and a second apply changes nothing",
         "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  for (std::string backend : {"iptables", "nftables"}) {
    GIVEN("a namespace with foreign rules and the " + backend + " backend") {
      temp_dir stage("rstw-stage");
      make_stage(stage);
      netns ns("apply");
      add_foreign_rules(ns);
      const std::string args = common_args(stage) + " --backend " + backend + " --apply";
      WHEN("the installer applies twice") {
        auto first = install(ns, args);
        INFO(first.output);
        REQUIRE(first.status == 0);
        const auto rules_once = ruleset(ns);
        const auto tree_once = tree(stage);
        auto second = install(ns, args);
        INFO(second.output);
        REQUIRE(second.status == 0);
        THEN("the second run left ruleset and files identical") {
          CHECK(ruleset(ns) == rules_once);
          CHECK(tree(stage) == tree_once);
          CHECK(count(second.output, "unchanged ") >= 6);
          CHECK(count(second.output, "wrote ") == 0);
        }
        THEN("the rules are loaded next to the foreign ones") {
          INFO(rules_once);
          if (backend == "iptables") {
            CHECK(count(rules_once, "-j RSTWATCH-DRDS\n") == 6);
            CHECK(count(rules_once, "--log-prefix \"[drds] \"") == 2);
          } else {
            CHECK(count(rules_once, "table inet rstwatch-drds {") == 1);
          }
          CHECK(count(rules_once, "-A INPUT -p udp -m udp --dport 9999 -j ACCEPT") == 2);
          CHECK(count(rules_once, "udp dport 9998 accept") == 1);
        }
        THEN("the files are staged with their modes") {
          CHECK(mode_of(stage / "etc/rstwatch/drds.sh") == 0755);
          CHECK(mode_of(stage / "etc/rsyslog.d/30-rstwatch-drds.conf") == 0644);
          CHECK(mode_of(stage / "etc/systemd/system/rstwatch-drds.service") == 0644);
          CHECK(file_exists(stage / (backend == "iptables" ? "etc/rstwatch/drds.rules"
                                                           : "etc/rstwatch/drds.nft")));
          CHECK(run("ls -a " + shell_quote(stage / "etc/rstwatch") + " | grep -c rstwatch-tmp")
                    .output == "0\n");
        }
      }
    }
  }
}

SCENARIO("uninstall leaves the ruleset and the staging tree exactly as before the install",
         "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  for (std::string boot : {"systemd", "rc-local"}) {
    for (std::string backend : {"iptables", "nftables"}) {
      GIVEN("a foreign rule, boot " + boot + " and the " + backend + " backend") {
        temp_dir stage("rstw-stage");
        make_stage(stage);
        netns ns("un");
        add_foreign_rules(ns);
        const auto rules_before = ruleset(ns);
        const auto tree_before = tree(stage);
        const std::string args = common_args(stage) + " --backend " + backend + " --boot " + boot;
        RSTWATCH_REQUIRE_OK(install(ns, args + " --apply"));
        const auto installed = ruleset(ns);
        REQUIRE(installed != rules_before);
        if (boot == "rc-local") {
          CHECK(mode_of(stage / "etc/rc.local") == 0755);
          CHECK(count(read_file(stage / "etc/rc.local"), "# rstwatch:drds") == 1);
        }
        WHEN("it is uninstalled") {
          auto r = install(ns, args + " --uninstall");
          INFO(r.output);
          REQUIRE(r.status == 0);
          THEN("the ruleset with the foreign rule and the tree are exactly as before") {
            CHECK(ruleset(ns) == rules_before);
            CHECK(tree(stage) == tree_before);
            CHECK(read_file(stage / "etc/rsyslog.d/50-other.conf") == "operator file\n");
          }
        }
      }
    }
  }
}

SCENARIO("uninstall drops the empty tables the install created but keeps a DROP policy",
         "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  GIVEN("an install into a namespace that had no filter table") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("tables");
    const auto rules_before = ruleset(ns);
    const std::string args = common_args(stage) + " --boot none";
    RSTWATCH_REQUIRE_OK(install(ns, args + " --apply"));
    CHECK(count(read_file(stage / "etc/rstwatch/drds.manifest"), "\ntable ip filter\n") == 1);
    WHEN("it is uninstalled") {
      auto u = install(ns, args + " --uninstall");
      INFO(u.output);
      REQUIRE(u.status == 0);
      THEN("the filter tables iptables-nft made for the chains are gone too") {
        CHECK(ruleset(ns) == rules_before);
        CHECK(ns.exec("nft list tables").output.empty());
      }
    }
    WHEN("the operator sets a DROP policy meanwhile and it is uninstalled") {
      RSTWATCH_REQUIRE_OK(ns.exec("iptables -P FORWARD DROP"));
      auto u = install(ns, args + " --uninstall");
      INFO(u.output);
      REQUIRE(u.status == 0);
      THEN("the IPv4 filter table stays with its policy, the IPv6 one goes") {
        auto v4 = ns.exec("iptables-save").output;
        INFO(v4);
        CHECK(count(v4, ":FORWARD DROP") == 1);
        CHECK(count(v4, "RSTWATCH") == 0);
        CHECK(ns.exec("nft list tables").output == "table ip filter\n");
      }
    }
  }
}

SCENARIO("uninstall keeps the log file unless purge is given", "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  temp_dir stage("rstw-stage");
  make_stage(stage);
  netns ns("purge");
  const auto tree_before = tree(stage);
  RSTWATCH_REQUIRE_OK(install(ns, common_args(stage) + " --apply"));
  // What rsyslog and logrotate would have made by now.
  RSTWATCH_REQUIRE_OK(run("mkdir " + shell_quote(stage / "var/log/rstwatch") + " && echo a > " +
                          shell_quote(stage / "var/log/rstwatch/drds.log") + " && echo b > " +
                          shell_quote(stage / "var/log/rstwatch/drds.log-20261125-1764000000")));
  GIVEN("an install whose log file has lines and a rotated copy") {
    WHEN("it is uninstalled without --purge") {
      auto r = install(ns, common_args(stage) + " --uninstall");
      INFO(r.output);
      REQUIRE(r.status == 0);
      THEN("the log files are still there") {
        CHECK(read_file(stage / "var/log/rstwatch/drds.log") == "a\n");
        CHECK(file_exists(stage / "var/log/rstwatch/drds.log-20261125-1764000000"));
        CHECK(count(r.output, "kept      " + (stage / "var/log/rstwatch/drds.log")) == 1);
      }
    }
    WHEN("it is uninstalled with --purge") {
      auto r = install(ns, common_args(stage) + " --uninstall --purge");
      INFO(r.output);
      REQUIRE(r.status == 0);
      THEN("the log files and their directory are gone and the tree is as before") {
        CHECK(!file_exists(stage / "var/log/rstwatch"));
        CHECK(tree(stage) == tree_before);
      }
    }
  }
}

SCENARIO("an install step that fails leaves the files and the ruleset as they were",
         "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  GIVEN("a staging root whose systemd unit directory cannot be written") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("fail");
    add_foreign_rules(ns);
    const auto rules_before = ruleset(ns);
    const auto tree_before = tree(stage);
    // Root ignores modes; the immutable attribute stops it too.
    RSTWATCH_REQUIRE_OK(run("chattr +i " + shell_quote(stage / "etc/systemd/system")));
    WHEN("the installer applies") {
      auto r = install(ns, common_args(stage) + " --apply");
      (void)run("chattr -i " + shell_quote(stage / "etc/systemd/system"));
      INFO(r.output);
      THEN("it fails naming the step and rolls back what it had written") {
        CHECK(r.status == 1);
        CHECK(count(r.output, "step 'write /etc/systemd/system/rstwatch-drds.service' failed") ==
              1);
        CHECK(count(r.output, "wrote     /etc/rstwatch/drds.rules\n") == 1);
        CHECK(count(r.output, "rolled back: the system is as it was before") == 1);
        CHECK(tree(stage) == tree_before);
        CHECK(ruleset(ns) == rules_before);
      }
    }
  }
  GIVEN("a system whose ip6tables-restore fails, so that the IPv4 rules load but not IPv6") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("fail2");
    add_foreign_rules(ns);
    const auto rules_before = ruleset(ns);
    const auto tree_before = tree(stage);
    WHEN("the installer applies") {
      auto r = with_sbin(
          "rm ip6tables-restore && printf '#!/bin/sh\\necho broken on purpose >&2\\nexit 1\\n' "
          "> ip6tables-restore && chmod 755 ip6tables-restore",
          ns.prefix() + installer + " " + common_args(stage) + " --apply");
      INFO(r.output);
      THEN("the load step is named and the IPv4 rules and every file are gone again") {
        CHECK(r.status == 1);
        CHECK(count(r.output, "broken on purpose") == 1);
        CHECK(count(r.output, "step 'load the rules (sh /etc/rstwatch/drds.sh start)' failed") ==
              1);
        CHECK(count(r.output, "rolled back: the system is as it was before") == 1);
        CHECK(tree(stage) == tree_before);
        CHECK(ruleset(ns) == rules_before);
      }
    }
  }
  GIVEN("an earlier install and a re-install whose new IPv6 rules fail to load") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("fail3");
    add_foreign_rules(ns);
    RSTWATCH_REQUIRE_OK(install(ns, common_args(stage) + " --apply"));
    const auto rules_before = ruleset(ns);
    const auto tree_before = tree(stage);
    // ip6tables-restore refuses only the file that excludes port 22, the new one.
    temp_dir tools("rstw-tools");
    write_file(tools / "wrapper",
               "#!/bin/sh\nfor a; do f=$a; done\n"
               "if grep -q -e '--ports 22 ' \"$f\"; then echo broken on purpose >&2; exit 1; fi\n"
               "exec /usr/sbin/xtables-nft-multi ip6tables-restore \"$@\"\n");
    WHEN("the installer applies the new configuration") {
      auto r = with_sbin(
          "rm ip6tables-restore && cp " + (tools / "wrapper") +
              " ip6tables-restore && chmod 755 ip6tables-restore",
          ns.prefix() + installer + " " + common_args(stage) + " --exclude-port 22 --apply");
      INFO(r.output);
      THEN("the old files are back and the old rules are loaded again") {
        CHECK(r.status == 1);
        CHECK(count(r.output, "broken on purpose") == 1);
        CHECK(count(r.output, "wrote     /etc/rstwatch/drds.rules6\n") == 1);
        CHECK(count(r.output, "rolled back: the system is as it was before") == 1);
        CHECK(tree(stage) == tree_before);
        CHECK(ruleset(ns) == rules_before);
      }
    }
  }
}

SCENARIO("an install over iptables and ip6tables on different backends is refused",
         "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  GIVEN("a system whose ip6tables is the legacy one while iptables uses nf_tables") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("mix");
    add_foreign_rules(ns);
    const auto rules_before = ruleset(ns);
    const auto tree_before = tree(stage);
    WHEN("the installer applies") {
      auto r = with_sbin("rm ip6tables && ln -s xtables-legacy-multi ip6tables",
                         ns.prefix() + installer + " " + common_args(stage) + " --apply");
      INFO(r.output);
      THEN("it names both backends, refuses and changes nothing") {
        CHECK(r.status == 1);
        CHECK(count(r.output,
                    "iptables uses nf_tables but ip6tables uses legacy; rstwatch never "
                    "mixes the two") == 1);
        CHECK(count(r.output, "nothing was changed") == 1);
        CHECK(tree(stage) == tree_before);
        CHECK(ruleset(ns) == rules_before);
      }
    }
  }
}

SCENARIO("on a system whose iptables is the legacy one the installer goes through it alone",
         "[install][kmsg][root]") {
  if (!require_root("rstwatch-install in private network and mount namespaces")) return;
  sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
  GIVEN("a namespace with foreign legacy rules and a native nft table, and a staging root") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("leg");
    add_foreign_rules(ns, "-legacy");
    const auto legacy_before = iptables_state(ns, "-legacy");
    const auto nft_before = ns.exec("nft list ruleset").output;
    const auto tree_before = tree(stage);
    const std::string name = unique_tag("l");
    const std::string args = common_args(stage) + " --name " + name;
    std::string chain = "RSTWATCH-" + name;
    for (char& ch : chain) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    WHEN("the installer applies twice, a reset happens, and it uninstalls") {
      auto first = on_legacy_system(ns.prefix() + installer + " " + args + " --apply");
      INFO(first.output);
      REQUIRE(first.status == 0);
      const auto once = iptables_state(ns, "-legacy");
      const auto nft_once = ns.exec("nft list ruleset").output;
      const auto tree_once = tree(stage);
      auto second = on_legacy_system(ns.prefix() + installer + " " + args + " --apply");
      INFO(second.output);
      REQUIRE(second.status == 0);
      const auto twice = iptables_state(ns, "-legacy");
      const auto tree_twice = tree(stage);
      kmsg_reader kmsg;
      (void)ns.exec("bash -c '(exec 3<>/dev/tcp/127.0.0.1/9); (exec 3<>/dev/tcp/::1/9)' "
                    "2>/dev/null; true");
      auto lines = kmsg.messages_containing("[" + name + "] ", 4);
      auto u = on_legacy_system(ns.prefix() + installer + " " + args + " --uninstall");
      INFO(u.output);
      REQUIRE(u.status == 0);
      INFO("legacy rules once installed:\n" << once);
      THEN("it named the legacy backend and loaded its chain and jumps there, next to the "
           "foreign rules") {
        CHECK(count(first.output, "iptables backend: legacy (iptables v1.8") == 1);
        CHECK(count(once, "-j " + chain + "\n") == 6);  // 3 hooks, 2 families
        CHECK(count(once, "--log-prefix \"[" + name + "] \"") == 2);
        CHECK(count(once, "-A INPUT -p udp -m udp --dport 9999 -j ACCEPT") == 2);
        CHECK(count(once, "-A OUTPUT -j FOREIGN") == 2);
      }
      THEN("nothing went to nf_tables: nft shows only the foreign native table") {
        CHECK(nft_once == nft_before);
        CHECK(count(nft_once, "table inet foreign") == 1);
      }
      THEN("the second apply changed neither the legacy rules nor the files") {
        CHECK(twice == once);
        CHECK(tree_twice == tree_once);
        CHECK(count(second.output, "wrote ") == 0);
      }
      THEN("the legacy LOG rules logged the resets, leaving and arriving, in both families") {
        std::string all;
        for (auto& l : lines) all += l + "\n";
        INFO(all);
        CHECK(count(all, "[" + name + "] IN= OUT=lo ") == 2);
        CHECK(count(all, "[" + name + "] IN=lo OUT= ") == 2);
      }
      THEN("uninstall left the legacy rules, nft and the tree exactly as before") {
        CHECK(iptables_state(ns, "-legacy") == legacy_before);
        CHECK(ns.exec("nft list ruleset").output == nft_before);
        CHECK(tree(stage) == tree_before);
      }
    }
  }
  struct mixed {
    std::string system, foreign, says;
    bool legacy;
  };
  for (const auto& m : std::vector<mixed>{
           {"a legacy system", "iptables-nft -A INPUT -p udp --dport 9999 -j ACCEPT",
            "legacy but this network namespace holds rules of the other backend (iptables-nft: "
            "table filter)",
            true},
           {"an nf_tables system", "ip6tables-legacy -A INPUT -p udp --dport 9999 -j ACCEPT",
            "nf_tables but this network namespace holds rules of the other backend "
            "(ip6tables-legacy: table filter)",
            false}}) {
    GIVEN(m.system + " whose namespace holds a rule loaded through the other backend") {
      temp_dir stage("rstw-stage");
      make_stage(stage);
      netns ns("mixed");
      RSTWATCH_REQUIRE_OK(ns.exec(m.foreign));
      const auto legacy_before = iptables_state(ns, "-legacy");
      const auto rules_before = ruleset(ns);
      const auto tree_before = tree(stage);
      WHEN("the installer applies") {
        const std::string apply = ns.prefix() + installer + " " + common_args(stage) + " --apply";
        auto r = m.legacy ? on_legacy_system(apply) : run(apply);
        INFO(r.output);
        THEN("it refuses naming the other backend's table and changes nothing") {
          CHECK(r.status == 1);
          CHECK(count(r.output,
                      "/usr/sbin/iptables is " + m.says + "; rstwatch never mixes the two") == 1);
          CHECK(count(r.output, "nothing was changed") == 1);
          CHECK(iptables_state(ns, "-legacy") == legacy_before);
          CHECK(ruleset(ns) == rules_before);
          CHECK(tree(stage) == tree_before);
        }
      }
      if (!m.legacy) {
        WHEN("the installer installs IPv4 only") {
          auto r = install(ns, common_args(stage) + " --no-ipv6 --boot none --apply");
          INFO(r.output);
          THEN("the IPv6 legacy rule is no mix: the IPv4 rules go to nf_tables") {
            CHECK(r.status == 0);
            CHECK(count(ns.exec("iptables-nft-save").output, "-j RSTWATCH-DRDS\n") == 3);
            CHECK(iptables_state(ns, "-legacy") == legacy_before);
          }
        }
      }
    }
  }
}

SCENARIO("a shell PATH that names the legacy tools first does not split an install",
         "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  GIVEN("an nf_tables system and a PATH whose first directory links iptables* to *-legacy") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    temp_dir bin("rstw-bin");
    RSTWATCH_REQUIRE_OK(run("cd " + shell_quote(bin.path()) +
                            " && for t in iptables ip6tables; do for s in '' -save -restore; do "
                            "ln -s /usr/sbin/$t-legacy$s $t$s || exit 1; done; done"));
    REQUIRE(count(run("PATH=" + bin.path() + ":$PATH iptables -V").output, "(legacy)") == 1);
    netns ns("path");
    WHEN("the installer applies with that PATH") {
      auto r = run("PATH=" + bin.path() + ":$PATH " + ns.prefix() + installer + " " +
                   common_args(stage) + " --apply");
      INFO(r.output);
      // The installer and the load script it writes (run at boot with systemd's PATH) name
      // /usr/sbin/iptables, the system's choice: a shell's PATH cannot put half of the rules
      // into the other backend.
      THEN("every rule went through the system's nf_tables backend and no legacy table exists") {
        CHECK(r.status == 0);
        CHECK(count(r.output, "iptables backend: nf_tables") == 1);
        CHECK(count(ns.exec("iptables-nft-save; ip6tables-nft-save").output,
                    "-j RSTWATCH-DRDS\n") == 6);
        CHECK(legacy_tables(ns).empty());
      }
    }
  }
}

SCENARIO("the legacy tables an install made go away with its namespace", "[install][root]") {
  if (!require_root("rstwatch-install in private network and mount namespaces")) return;
  GIVEN("an install on a legacy system in a namespace that is then deleted") {
    const std::string names = "cat /proc/net/ip_tables_names /proc/net/ip6_tables_names";
    const auto initial_tables = run(names + " 2>/dev/null").output;
    temp_dir stage("rstw-stage");
    make_stage(stage);
    std::string name, tables, pids;
    {
      netns ns("legdel");
      name = ns.name();
      RSTWATCH_REQUIRE_OK(
          on_legacy_system(ns.prefix() + installer + " " + common_args(stage) + " --apply"));
      tables = legacy_tables(ns);
      pids = run("ip netns pids " + name).output;
    }
    // The kernel keeps a network namespace, and with it its legacy tables (which cannot be
    // dropped otherwise), while a process or a mount refers to it: the installer must leave no
    // process behind, and the netns helper unmounts its name.
    THEN("the namespace had its legacy tables, no process of the install stayed in it, and its "
         "name is gone") {
      CHECK(tables == "filter\nfilter\n");
      CHECK(pids.empty());
      CHECK_FALSE(file_exists("/run/netns/" + name));
      CHECK(count(run("ip netns list").output, name) == 0);
    }
    THEN("the initial namespace got no legacy table") {
      CHECK(run(names + " 2>/dev/null").output == initial_tables);
    }
  }
}

SCENARIO("the seed's rules file installs only its LOG rules in own chains", "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  GIVEN("the seed's drds_filter.conf") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("seed");
    add_foreign_rules(ns);
    const auto rules_before = ruleset(ns);
    const auto tree_before = tree(stage);
    const std::string args = common_args(stage) + " --from-rules " + seed;
    WHEN("the plan is printed") {
      auto r = install(ns, args);
      INFO(r.output);
      REQUIRE(r.status == 0);
      THEN("its two LOG rules go to the own INPUT and OUTPUT chains, in order, rate-limited") {
        CHECK(count(r.output,
                    "-A RSTW-DRDS-IN -p tcp -m tcp ! --sport 3406 --tcp-flags RST RST "
                    "-m limit --limit 1000/sec --limit-burst 2000 -j LOG "
                    "--log-prefix \"[drds] \" --log-level 7") == 2);
        CHECK(count(r.output, "-A RSTW-DRDS-OUT -p tcp -m tcp ! --sport 3406") == 2);
        CHECK(r.output.find(":RSTW-DRDS-IN - [0:0]") < r.output.find(":RSTW-DRDS-OUT - [0:0]"));
        CHECK(count(r.output, "-I INPUT 1 -j RSTW-DRDS-IN") == 1);
        CHECK(count(r.output, "RSTW-DRDS-FWD") == 0);
      }
      THEN("its policies are listed as not installed, with their lines") {
        CHECK(count(r.output, "== not installed from " + seed) == 1);
        CHECK(count(r.output, seed + ":3: :INPUT ACCEPT [557:88127]  (policies are the") == 1);
        CHECK(count(r.output, seed + ":4: :FORWARD ACCEPT") == 1);
        CHECK(count(r.output, seed + ":5: :OUTPUT ACCEPT") == 1);
      }
      THEN("the drop-in files the file's prefix") {
        CHECK(count(r.output, "'^ *(") == 1);
        CHECK(count(r.output, "\\\\[drds\\\\] ')") == 1);
      }
    }
    WHEN("it is applied and then uninstalled") {
      auto r = install(ns, args + " --apply");
      INFO(r.output);
      REQUIRE(r.status == 0);
      auto loaded = ruleset(ns);
      INFO(loaded);
      auto again = install(ns, args + " --apply");
      REQUIRE(again.status == 0);
      auto twice = ruleset(ns);
      auto u = install(ns, args + " --uninstall");
      INFO(u.output);
      REQUIRE(u.status == 0);
      THEN("each family got the own chains with one jump each, once, and lost them again") {
        CHECK(count(loaded, "-A INPUT -j RSTW-DRDS-IN\n") == 2);
        CHECK(count(loaded, "-A OUTPUT -j RSTW-DRDS-OUT\n") == 2);
        CHECK(count(loaded, "-A RSTW-DRDS-IN -p tcp -m tcp ! --sport 3406 --tcp-flags RST RST") ==
              2);
        CHECK(twice == loaded);
        CHECK(ruleset(ns) == rules_before);
        CHECK(tree(stage) == tree_before);
      }
    }
  }
}

SCENARIO("the seed's LOG rules installed as an own nft table log resets and uninstall cleanly",
         "[install][kmsg][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
  GIVEN("the seed's file with a prefix of its own and the nftables backend") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    temp_dir input("rstw-in");
    const std::string name = unique_tag("n");
    std::string text = read_file(seed);
    for (auto at = text.find("[drds] "); at != std::string::npos; at = text.find("[drds] "))
      text.replace(at, 7, "[" + name + "] ");
    write_file(input / "seed.rules", text);
    netns ns("nftseed");
    add_foreign_rules(ns);
    const auto rules_before = ruleset(ns);
    const auto tree_before = tree(stage);
    const std::string args = common_args(stage) + " --name " + name +
                             " --backend nftables --from-rules " + (input / "seed.rules");
    WHEN("it is applied twice and a connection to a closed port is reset") {
      auto r = install(ns, args + " --apply");
      INFO(r.output);
      REQUIRE(r.status == 0);
      const auto once = ruleset(ns);
      RSTWATCH_REQUIRE_OK(install(ns, args + " --apply"));
      const auto twice = ruleset(ns);
      kmsg_reader kmsg;
      (void)ns.exec("bash -c '(exec 3<>/dev/tcp/127.0.0.1/9)' 2>/dev/null; true");
      auto lines = kmsg.messages_containing("[" + name + "] ", 2);
      std::string all;
      for (auto& l : lines) all += l + "\n";
      INFO(once << all);
      auto u = install(ns, args + " --uninstall");
      INFO(u.output);
      REQUIRE(u.status == 0);
      THEN("the own table held both rules, rate-limited, and changed nothing the second time") {
        CHECK(count(once, "table inet rstwatch-" + name + " {") == 1);
        CHECK(count(once, "tcp sport != 3406 tcp flags & rst == rst limit rate 1000/second") == 2);
        CHECK(count(once, "type filter hook input priority filter - 5; policy accept;") == 1);
        CHECK(twice == once);
      }
      THEN("the kernel logged the reset leaving and arriving") {
        CHECK(count(all, "[" + name + "] IN= OUT=lo ") == 1);
        CHECK(count(all, "[" + name + "] IN=lo OUT= ") == 1);
        CHECK(count(all, "SPT=9 ") == 2);
      }
      THEN("uninstall left the ruleset and the tree as before") {
        CHECK(ruleset(ns) == rules_before);
        CHECK(tree(stage) == tree_before);
      }
    }
  }
}

SCENARIO("the installer leaves out and lists every rule of a rules file that is not a LOG rule",
         "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  GIVEN("a rules file with policies, a user chain, NFLOG, -I, and an IPv4-only mangle rule") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    temp_dir input("rstw-in");
    const std::string file = input / "web.rules";
    write_file(file,
               "*filter\n"
               ":INPUT DROP [0:0]\n"
               ":FORWARD ACCEPT [0:0]\n"
               ":OUTPUT ACCEPT [0:0]\n"
               ":AUDIT - [0:0]\n"
               "-A INPUT -i lo -j ACCEPT\n"
               "-A INPUT -p tcp --tcp-flags RST RST -j LOG --log-prefix \"[web] \" --log-level 6\n"
               "-A INPUT -j AUDIT\n"
               "-A AUDIT -p tcp -j LOG --log-prefix \"[web] \"\n"
               "-A FORWARD -p tcp --tcp-flags RST RST -j NFLOG --nflog-group 5\n"
               "-I OUTPUT 1 -p tcp -j LOG --log-prefix \"[web] \"\n"
               "COMMIT\n"
               "*mangle\n"
               ":PREROUTING ACCEPT [0:0]\n"
               "-A PREROUTING -s 10.0.0.0/8 -p tcp --tcp-flags RST RST -j LOG --log-prefix "
               "\"[web] \"\n"
               "COMMIT\n");
    netns ns("web");
    add_foreign_rules(ns);
    const auto rules_before = ruleset(ns);
    const std::string args =
        common_args(stage) + " --name web --no-limit --boot none --from-rules " + file;
    WHEN("the plan is printed") {
      auto r = install(ns, args);
      INFO(r.output);
      REQUIRE(r.status == 0);
      THEN("each line left out is listed with its line number and the reason") {
        CHECK(count(r.output, file + ":2: :INPUT DROP [0:0]  (policies are the operator's") == 1);
        CHECK(count(r.output, file + ":5: :AUDIT - [0:0]  (user-defined chain") == 1);
        CHECK(count(r.output, file + ":6: -A INPUT -i lo -j ACCEPT  (not a LOG or NFLOG rule)") ==
              1);
        CHECK(count(r.output, file + ":8: -A INPUT -j AUDIT  (not a LOG or NFLOG rule)") == 1);
        CHECK(count(r.output, file + ":9: -A AUDIT -p tcp -j LOG --log-prefix \"[web] \"  (in "
                                     "user-defined chain AUDIT") == 1);
        CHECK(count(r.output, file + ":11: -I OUTPUT 1") == 1);
        CHECK(count(r.output, "(only appended (-A) rules are installed") == 1);
      }
      THEN("the LOG and NFLOG rules of built-in chains go to own chains of their tables") {
        CHECK(count(r.output,
                    "-A RSTW-WEB-IN -p tcp -m tcp --tcp-flags RST RST -j LOG "
                    "--log-prefix \"[web] \" --log-level 6\n") == 1);
        CHECK(count(r.output,
                    "-A RSTW-WEB-FWD -p tcp -m tcp --tcp-flags RST RST -j NFLOG "
                    "--nflog-group 5\n") == 1);
        CHECK(count(r.output, "-A RSTW-WEB-PRE -s 10.0.0.0/8 -p tcp -m tcp") == 1);
        CHECK(count(r.output, "-t mangle -I PREROUTING 1 -j RSTW-WEB-PRE") == 1);
        CHECK(count(r.output, "RSTW-WEB-OUT") == 0);
      }
      THEN("the plan says that NFLOG bypasses rsyslog and why IPv6 is left out") {
        CHECK(count(r.output, "note: NFLOG rules log through nfnetlink_log") == 1);
        CHECK(count(r.output, "note: IPv6: not installed, ip6tables would refuse the rules") == 1);
        CHECK(count(r.output, "== file /etc/rstwatch/web.rules6") == 0);
      }
    }
    WHEN("it is applied and uninstalled") {
      auto r = install(ns, args + " --apply");
      INFO(r.output);
      REQUIRE(r.status == 0);
      auto v4 = ns.exec("iptables-save").output;
      auto v6 = ns.exec("ip6tables-save").output;
      auto u = install(ns, args + " --uninstall");
      INFO(u.output);
      REQUIRE(u.status == 0);
      THEN("IPv4 had the three own chains with their jumps, IPv6 none, and all are gone") {
        INFO(v4);
        CHECK(count(v4, "-A PREROUTING -j RSTW-WEB-PRE\n") == 1);
        CHECK(count(v4, "-A INPUT -j RSTW-WEB-IN\n") == 1);
        CHECK(count(v4, "-A FORWARD -j RSTW-WEB-FWD\n") == 1);
        CHECK(count(v6, "RSTW-WEB") == 0);
        CHECK(ruleset(ns) == rules_before);
      }
    }
  }
}

SCENARIO("the installer adds its line to an operator's rc.local and uninstall gives it back",
         "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  GIVEN("an operator's rc.local in the staging root") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("rc");
    const std::string operators = "#!/bin/sh -e\n# operator's rc.local\necho hello\nexit 0\n";
    write_file(stage / "etc/rc.local", operators);
    RSTWATCH_REQUIRE_OK(run("chmod 0750 " + shell_quote(stage / "etc/rc.local")));
    const std::string args = common_args(stage) + " --boot rc-local";
    WHEN("the installer applies twice and then uninstalls") {
      RSTWATCH_REQUIRE_OK(install(ns, args + " --apply"));
      RSTWATCH_REQUIRE_OK(install(ns, args + " --apply"));
      const auto installed = read_file(stage / "etc/rc.local");
      auto u = install(ns, args + " --uninstall");
      INFO(u.output);
      REQUIRE(u.status == 0);
      THEN("the line was there once before exit 0, and the file is back byte for byte") {
        CHECK(installed ==
              "#!/bin/sh -e\n# operator's rc.local\necho hello\n/bin/sh /etc/rstwatch/drds.sh "
              "start || true  # rstwatch:drds\nexit 0\n");
        CHECK(read_file(stage / "etc/rc.local") == operators);
        CHECK(mode_of(stage / "etc/rc.local") == 0750);
      }
    }
  }
}

SCENARIO(
    "the seed file with its typo uncommented is refused by the installer naming line and column",
    "[install][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  GIVEN("the seed with '# ' removed from its --log-level7 rule") {
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("typo");
    const auto text = seed_with_typo();
    write_file(stage / "drds_filter.conf", text);
    const auto tree_before = tree(stage);
    const auto rules_before = ruleset(ns);
    WHEN("it is given to --from-rules with --apply") {
      auto r = install(
          ns, common_args(stage) + " --from-rules " + (stage / "drds_filter.conf") + " --apply");
      INFO(r.output);
      const auto line8 = text.substr(text.find("-A INPUT -p tcp -m tcp ! --dport"));
      const auto column = line8.find("--log-level7") + 1;
      THEN("it refuses with file, line 8 and the column of --log-level7, changing nothing") {
        CHECK(r.status == 1);
        CHECK(count(r.output,
                    stage / ("drds_filter.conf:8:" + std::to_string(column) + ": error:")) == 1);
        CHECK(count(r.output, "--log-level7") >= 2);  // the message and the source line
        CHECK(count(r.output, "nothing was installed") == 1);
        CHECK(tree(stage) == tree_before);
        CHECK(ruleset(ns) == rules_before);
      }
    }
  }
}

SCENARIO("without a staging root the installer uses the default paths and runs no missing service",
         "[install][root]") {
  if (!require_root("rstwatch-install in private network and mount namespaces")) return;
  GIVEN("a private mount namespace whose /etc is a copy and a system without systemd or rsyslog") {
    if (file_exists("/run/systemd/system") || file_exists("/run/rsyslogd.pid")) {
      WARN("SKIPPED: systemd or the system's rsyslogd runs here; the live commands would run");
      return;
    }
    netns ns("live");
    add_foreign_rules(ns);
    const auto rules_before = ruleset(ns);
    const std::string script =
        "d=$(mktemp -d /tmp/rstw-etc-XXXXXX) && cp -a /etc/. $d/ && mount --bind $d /etc && { " +
        ns.prefix() + installer + " --apply; echo \"apply=$?\"; " +
        "cat /etc/rstwatch/drds.manifest; ls -l /etc/rstwatch/drds.sh; " + ns.prefix() +
        "iptables-save | grep -c -- '-j RSTWATCH-DRDS'; " + ns.prefix() + installer +
        " --uninstall; echo \"uninstall=$?\"; ls /etc/rstwatch "
        "/etc/rsyslog.d/30-rstwatch-drds.conf "
        "/etc/systemd/system/rstwatch-drds.service 2>&1; }; umount /etc; rm -rf $d";
    WHEN("it applies and uninstalls") {
      auto r = run("unshare -m --propagation private sh -c " + shell_quote(script));
      INFO(r.output);
      THEN("the files were at their default paths and are gone again") {
        CHECK(count(r.output, "apply=0\n") == 1);
        CHECK(count(r.output, "uninstall=0\n") == 1);
        CHECK(count(r.output,
                    "\nfile /etc/rstwatch/drds.rules\nfile /etc/rstwatch/drds.rules6\n"
                    "file /etc/rstwatch/drds.sh\nfile "
                    "/etc/rsyslog.d/30-rstwatch-drds.conf\nfile "
                    "/etc/logrotate.d/rstwatch-drds\nfile "
                    "/etc/systemd/system/rstwatch-drds.service\n") == 1);
        CHECK(count(r.output, "log /var/log/rstwatch/drds.log\n") == 1);
        CHECK(count(r.output, "-rwxr-xr-x 1 root root") == 1);
        CHECK(count(r.output, "\n3\n") == 1);  // one jump per hook
        CHECK(count(r.output, "ls: cannot access '/etc/rstwatch'") == 1);
        CHECK(count(r.output, "ls: cannot access '/etc/rsyslog.d/30-rstwatch-drds.conf'") == 1);
        CHECK(count(r.output, "ls: cannot access '/etc/systemd/system/rstwatch-drds.service'") ==
              1);
      }
      THEN("the systemd commands are left for later and rsyslog is not started") {
        CHECK(count(r.output,
                    "systemd is not running: run later: systemctl enable "
                    "rstwatch-drds.service") == 1);
        // Once after the apply, once after the uninstall.
        CHECK(count(r.output, "rsyslog is not running: start it to write the log file") == 2);
        CHECK(count(r.output, "ran: ") == 0);
      }
      THEN("the namespace's ruleset is as before") { CHECK(ruleset(ns) == rules_before); }
    }
  }
}

// Runs `steps` inside `ns` and a private mount namespace that looks like a Debian 12 system
// without systemd whose rsyslogd runs: copies of /etc (with a main rsyslog.conf of the test's:
// imklog, the drop-ins, everything else to /var/log/rest.log; never imuxsock, which would take
// over the machine's /dev/log) and empty /run, /var/log and /var/spool/rsyslog, so that the
// installer's default paths and /run/rsyslogd.pid are the sandbox's. `start` starts the
// sandbox's rsyslogd; whatever rsyslogd the pid file names at the end is stopped.
command_result in_rsyslog_sandbox(const netns& ns, const std::string& start,
                                  const std::string& steps) {
  const std::string script =
      "d=$(mktemp -d /tmp/rstw-etc-XXXXXX) && cp -a /etc/. $d/ && mount --bind $d /etc && "
      "mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/log && "
      "mkdir -p /var/spool/rsyslog && mount -t tmpfs tmpfs /var/spool/rsyslog || exit 1\n"
      "rm -f /etc/rsyslog.d/*; printf '%s\\n' 'module(load=\"imklog\")' "
      "'$IncludeConfig /etc/rsyslog.d/*.conf' '*.* /var/log/rest.log' > /etc/rsyslog.conf\n" +
      start +
      "\nfor i in $(seq 200); do [ -s /run/rsyslogd.pid ] && break; sleep 0.05; done\n"
      "echo \"before=$(cat /run/rsyslogd.pid)\"\n" +
      steps +
      "\np=$(cat /run/rsyslogd.pid); kill $p; for i in $(seq 200); do "
      "grep -qs '^State:.*[^Z] ' /proc/$p/status || break; sleep 0.05; done\n"
      "umount /var/spool/rsyslog /var/log /run /etc; rm -rf $d\n";
  return run(ns.prefix() + "unshare -m --propagation private sh -c " + shell_quote(script));
}

// The number after `key=` in the sandbox's output.
int value_of(const std::string& output, const std::string& key) {
  const std::string text = "\n" + output;
  auto at = text.find("\n" + key + "=");
  return at == std::string::npos ? -1 : std::atoi(text.c_str() + at + key.size() + 2);
}

SCENARIO("apply restarts a running rsyslogd that no service manager runs so it reads the drop-in",
         "[install][kmsg][root]") {
  if (!require_root("a sandboxed system rsyslogd in private mount and network namespaces")) return;
  if (file_exists("/run/systemd/system") || file_exists("/etc/init.d/rsyslog")) {
    WARN("SKIPPED: systemd or an rsyslog init script would restart rsyslog here");
    return;
  }
  auto holders = kmsg_holders();
  if (!holders.empty()) {
    // imklog consumes /proc/kmsg: with another reader, lines go to one of us at random.
    if (in_ci()) FAIL("another process reads /proc/kmsg: " << holders);
    WARN("SKIPPED: another process reads /proc/kmsg, imklog would race it: " << holders);
    return;
  }
  sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
  const std::string name = unique_tag("r");
  const std::string prefix = "[" + name + "] ";
  const std::string log = "/var/log/rstwatch/" + name + ".log";
  GIVEN("a sandboxed Debian system without systemd whose rsyslogd runs with its pid file") {
    netns ns("rsd");
    WHEN("the installer applies without a staging root, a reset happens, and it uninstalls") {
      auto r = in_rsyslog_sandbox(
          ns, "rsyslogd",
          installer + " --name " + name + " --apply; echo \"apply=$?\"\n"
          "p=$(cat /run/rsyslogd.pid); echo \"after=$p\"; echo \"comm=$(cat /proc/$p/comm)\"\n"
          "bash -c '(exec 3<>/dev/tcp/127.0.0.1/9)' 2>/dev/null\n"
          "for i in $(seq 100); do grep -qs 'IN=lo OUT=' " + log + " && break; sleep 0.1; done\n"
          "echo '== log'; cat " + log + "; echo '== rest'; cat /var/log/rest.log; echo '== end'\n" +
          installer + " --name " + name + " --uninstall; echo \"uninstall=$?\"\n"
          "echo \"final=$(cat /run/rsyslogd.pid)\"");
      INFO(r.output);
      const int before = value_of(r.output, "before"), after = value_of(r.output, "after"),
                final = value_of(r.output, "final");
      const auto log_text = r.output.substr(0, r.output.find("\n== rest"));
      const auto rest_text = r.output.substr(r.output.find("\n== rest") + 1);
      if (count(log_text, prefix) < 2 && !kmsg_holders().empty()) {
        if (in_ci()) FAIL("another process read /proc/kmsg meanwhile: " << kmsg_holders());
        WARN("SKIPPED: another process read /proc/kmsg meanwhile: " << kmsg_holders());
        return;
      }
      THEN("the apply stopped the running rsyslogd and started it again") {
        CHECK(count(r.output, "\napply=0\n") == 1);
        REQUIRE(before > 0);
        CHECK(after > 0);
        CHECK(after != before);
        CHECK(count(r.output, "\ncomm=rsyslogd\n") == 1);
        CHECK(count(r.output, "restarted rsyslogd: pid " + std::to_string(before) +
                                  " stopped, pid " + std::to_string(after) +
                                  " started ('/usr/sbin/rsyslogd')") == 1);
      }
      THEN("the new rsyslogd read the drop-in: the reset is in the log file and nowhere else") {
        CHECK(count(log_text, prefix + "IN= OUT=lo ") == 1);
        CHECK(count(log_text, prefix + "IN=lo OUT= ") == 1);
        CHECK(count(rest_text, prefix) == 0);
      }
      THEN("the uninstall restarted it once more, without the drop-in") {
        CHECK(count(r.output, "\nuninstall=0\n") == 1);
        CHECK(count(r.output, "removed   /etc/rsyslog.d/30-rstwatch-" + name + ".conf") == 1);
        CHECK(final > 0);
        CHECK(final != after);
        CHECK(count(r.output, "restarted rsyslogd: pid ") == 2);
      }
    }
  }
  GIVEN("a sandboxed system whose rsyslogd runs in the foreground (-n), as under a supervisor") {
    netns ns("rsdn");
    WHEN("the installer applies") {
      auto r = in_rsyslog_sandbox(ns, "rsyslogd -n >/dev/null 2>&1 &",
                                  installer + " --name " + name +
                                      " --boot none --apply; echo \"apply=$?\"\n"
                                      "echo \"after=$(cat /run/rsyslogd.pid)\"");
      INFO(r.output);
      THEN("it leaves that rsyslogd running and says to restart it through its supervisor") {
        CHECK(count(r.output, "\napply=0\n") == 1);
        REQUIRE(value_of(r.output, "before") > 0);
        CHECK(value_of(r.output, "after") == value_of(r.output, "before"));
        CHECK(count(r.output, "runs in the foreground (-n) under a supervisor: restart it "
                              "through that") == 1);
      }
    }
  }
  GIVEN("a sandboxed system whose rsyslogd runs in another network namespace than the installer") {
    netns ns("rsdo");
    WHEN("the installer applies from a network namespace of its own") {
      auto r = in_rsyslog_sandbox(ns, "rsyslogd",
                                  "unshare --net " + installer + " --name " + name +
                                      " --boot none --apply; echo \"apply=$?\"\n"
                                      "echo \"after=$(cat /run/rsyslogd.pid)\"");
      INFO(r.output);
      THEN("it does not move that rsyslogd into its namespace, and says to restart it there") {
        CHECK(count(r.output, "\napply=0\n") == 1);
        REQUIRE(value_of(r.output, "before") > 0);
        CHECK(value_of(r.output, "after") == value_of(r.output, "before"));
        CHECK(count(r.output, "runs in another net namespace than this installer: restart it "
                              "from there") == 1);
      }
    }
  }
}

SCENARIO("the installer refuses user input that could break a file or a shell", "[install]") {
  temp_dir stage("rstw-stage");
  GIVEN("bad values for the prefix, the name, the ports and the log file") {
    struct bad {
      std::string args, says;
    };
    std::string many;
    for (int p = 1; p <= 16; ++p) many += " --exclude-port " + std::to_string(1000 + p);
    for (const auto& b : std::vector<bad>{
             {"--prefix 'a\"b'", "--prefix: error: LOG prefix may not contain"},
             {"--name 'Drds'", "--name: error: name may contain only a-z"},
             {many, "--exclude-port: error: at most 15 excluded ports"},
             {"--log-file var/log/x.log", "--log-file: error: log_file 'var/log/x.log' must be"},
             {"--log-file /proc/x.log", "must not be under /proc"},
             {"--forward 'a;b:514'", "--forward: error: forward host"},
             {"--backend pf", "--backend: pf not in {iptables,nftables}"},
             {"--purge", "--purge requires --uninstall"}}) {
      WHEN("the installer gets " + b.args.substr(0, 30)) {
        auto r = run(installer + " --root " + stage.path() + " " + b.args + " --apply");
        INFO(r.output);
        THEN("it exits 2 with the option named and writes nothing") {
          CHECK(r.status == 2);
          CHECK(count(r.output, b.says) == 1);
          CHECK(run("find " + shell_quote(stage.path()) + " -mindepth 1 | wc -l").output == "0\n");
        }
      }
    }
  }
}

SCENARIO("the installer warns inside a namespace when the kernel would log nothing from it",
         "[install][kmsg][root]") {
  if (!require_root("rstwatch-install in a private network namespace")) return;
  temp_dir stage("rstw-stage");
  netns ns("warn");
  GIVEN("net.netfilter.nf_log_all_netns set to 0") {
    command_result r;
    {
      sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "0");
      r = install(ns, common_args(stage));
    }
    THEN("the installer warns that nothing is logged from this namespace") {
      INFO(r.output);
      CHECK(r.status == 0);
      CHECK(count(r.output, "net.netfilter.nf_log_all_netns is 0") == 1);
    }
  }
  GIVEN("net.netfilter.nf_log_all_netns set to 1") {
    sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
    auto r = install(ns, common_args(stage));
    THEN("there is no warning") {
      INFO(r.output);
      CHECK(r.status == 0);
      CHECK(count(r.output, "nf_log_all_netns") == 0);
    }
  }
}

SCENARIO(
    "after an install resets reach the log file through a real rsyslogd and verify confirms it",
    "[install][kmsg][root]") {
  if (!require_root("a private rsyslogd reading the kernel log through imklog")) return;
  auto holders = kmsg_holders();
  if (!holders.empty()) {
    // imklog consumes /proc/kmsg: with another reader, lines go to one of us at random.
    if (in_ci()) FAIL("another process reads /proc/kmsg: " << holders);
    WARN("SKIPPED: another process reads /proc/kmsg, imklog would race it: " << holders);
    return;
  }
  GIVEN("an install in a namespace and a private rsyslogd with the emitted drop-in") {
    sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
    temp_dir stage("rstw-stage");
    make_stage(stage);
    netns ns("e2e");
    const std::string name = unique_tag("e");
    const std::string log = stage / "var/log/rstwatch/reset.log";
    const std::string args = "--root " + stage.path() + " --log-file " + log + " --name " + name;
    auto applied = install(ns, args + " --apply");
    INFO(applied.output);
    REQUIRE(applied.status == 0);
    const std::string dropin = stage / ("etc/rsyslog.d/30-rstwatch-" + name + ".conf");
    temp_dir work("rstw-rsd");
    private_rsyslogd daemon(work.path(), "global(workDirectory=\"" + (work / "work") +
                                             "\")\nmodule(load=\"imklog\")\ninclude(file=\"" +
                                             dropin + "\")\naction(type=\"omfile\" file=\"" +
                                             (work / "rest.log") + "\")\n");
    WHEN("connections to closed ports are reset on IPv4 and IPv6 loopback") {
      (void)ns.exec(
          "bash -c '(exec 3<>/dev/tcp/127.0.0.1/9); (exec 3<>/dev/tcp/::1/9)' "
          "2>/dev/null; true");
      const std::string prefix = "[" + name + "] ";
      std::string got;
      for (int i = 0; i < 100 && count(got, prefix) < 4; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        got = read_file(log);
      }
      INFO(got << "rest.log:\n" << read_file(work / "rest.log"));
      if (count(got, prefix) < 4 && kmsg_raced(daemon)) return;
      THEN("both resets are in the log file, leaving and arriving, and nowhere else") {
        CHECK(count(got, prefix + "IN= OUT=lo ") == 2);
        CHECK(count(got, prefix + "IN=lo OUT= ") == 2);
        CHECK(count(got, "SPT=9 ") == 4);
        CHECK(count(got, "SRC=0000:0000:0000:0000:0000:0000:0000:0001 ") == 2);
        CHECK(count(read_file(work / "rest.log"), prefix) == 0);
      }
      AND_WHEN("the installer verifies") {
        auto v = install(ns, args + " --verify");
        INFO(v.output);
        if (v.status != 0 && kmsg_raced(daemon)) return;
        THEN("it provoked its own reset and found it in the log file") {
          CHECK(v.status == 0);
          CHECK(count(v.output, "verify: OK, rsyslog wrote ") == 1);
          CHECK(count(v.output, "[" + name + "] IN=") >= 1);
        }
      }
    }
    WHEN("the rsyslogd is stopped and the installer verifies") {
      daemon.stop();
      auto v = install(ns, args + " --verify --verify-timeout 2");
      INFO(v.output);
      THEN("verify fails and says what to check") {
        CHECK(v.status == 1);
        CHECK(count(v.output, "error: --verify: no line with prefix") == 1);
      }
    }
    RSTWATCH_REQUIRE_OK(install(ns, args + " --uninstall --purge"));
  }
}
