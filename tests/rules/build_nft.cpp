// Specification of the rule builder and of to_nft(): the builder's text is what iptables-save
// prints, the nft script passes `nft -c`, and its LOG rules log what the iptables rules log.
// The umbrella header first: it must compile with every rules header in one unit.
#include <rstwatch/rstwatch.hpp>

#include <rstwatch/rules/build.hpp>
#include <rstwatch/rules/nft.hpp>
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>
#include <rstwatch/rules/validate.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/system.hpp"

using namespace rstwatch;
namespace rb = rstwatch::rules::build;
using nf_family = rstwatch::netfilter::family;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string seed_text() {
  return slurp(std::string(RSTWATCH_TEST_DATA) + "/rules/drds_filter.rules");
}

// The seed's filter table, built in C++.
std::string seed_built() {
  auto input = rb::append("INPUT").protocol("tcp").match("tcp").not_().sport(3406)
                   .tcp_flags("RST", "RST").jump("LOG").log_prefix("[drds] ").log_level(7)
                   .log_tcp_sequence().log_tcp_options().log_ip_options();
  auto output = rb::append("OUTPUT").protocol("tcp").match("tcp").not_().sport(3406)
                    .tcp_flags("RST", "RST").jump("LOG").log_prefix("[drds] ").log_level(7)
                    .log_tcp_sequence().log_tcp_options().log_ip_options();
  return rb::ruleset()
      .add(rb::table("filter")
               .policy("INPUT", "ACCEPT")
               .policy("FORWARD", "ACCEPT")
               .policy("OUTPUT", "ACCEPT")
               .add(input)
               .add(output))
      .str();
}

// A ruleset using more of the builder: user chain, policies, multiport, conntrack, comments
// (bare and quoted), REJECT, LOG and NFLOG.
std::string more_built() {
  return rb::ruleset()
      .add(rb::table("filter")
               .policy("INPUT", "ACCEPT")
               .policy("FORWARD", "DROP")
               .policy("OUTPUT", "ACCEPT")
               .chain("LOGRST")
               .add(rb::append("INPUT").protocol("tcp").match("multiport").dports({"80", "443"})
                        .match("conntrack").ctstate({"NEW"}).match("comment").comment("web")
                        .jump("ACCEPT"))
               .add(rb::append("INPUT").source("10.0.0.0/8").in_interface("eth0")
                        .protocol("tcp").match("tcp").tcp_flags("RST", "RST").jump("LOGRST"))
               .add(rb::append("OUTPUT").protocol("tcp").match("comment")
                        .comment("kube-system/dns: no endpoints").match("tcp").dport(53)
                        .jump("REJECT").reject_with("tcp-reset"))
               .add(rb::append("LOGRST").jump("LOG").log_prefix("rst"))
               .add(rb::append("LOGRST").jump("NFLOG").nflog_prefix("rst out").nflog_group(5)))
      .str();
}

std::string without_comments(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line))
    if (line.rfind("#", 0) != 0) out += line + "\n";
  return out;
}

std::string write_temp(const std::string& text, const std::string& ext) {
  std::string path = "/tmp/" + test::unique_tag("rw-nft") + ext;
  std::ofstream out(path, std::ios::binary);
  out << text;
  return path;
}

std::vector<std::filesystem::path> standalone_files() {
  std::vector<std::filesystem::path> out;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(RSTWATCH_TEST_DATA) + "/rules")) {
    auto p = e.path();
    if (p.extension() != ".rules") continue;
    if (std::filesystem::exists(p.parent_path() / (p.stem().string() + "_base.rules"))) continue;
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

nf_family family_of(const std::filesystem::path& p) {
  return p.filename().string().rfind("ip6_", 0) == 0 ? nf_family::ipv6 : nf_family::ipv4;
}

}  // namespace

SCENARIO("the builder makes the seed's rules exactly as print_saved prints the seed file",
         "[rules][build]") {
  GIVEN("the seed's two active rules written with the builder") {
    std::string built = seed_built();
    WHEN("the seed file is evaluated and printed as iptables-save would") {
      std::string text = seed_text();
      auto f = rules::parse(text, "drds_filter.conf");
      REQUIRE(f);
      auto saved = rules::print_saved(*f);
      REQUIRE(saved);
      THEN("the bytes are the same") { CHECK(built == *saved); }
    }
    WHEN("the built text is validated") {
      auto f = rules::parse(built);
      REQUIRE(f);
      THEN("it is valid without a warning") { CHECK(rules::validate(*f).diagnostics.empty()); }
    }
  }
}

SCENARIO("a built ruleset is already in iptables-save form", "[rules][build]") {
  GIVEN("a filter table with a user chain, comments, REJECT, LOG and NFLOG built in C++") {
    std::string built = more_built();
    WHEN("it is parsed, evaluated and printed as iptables-save would") {
      auto f = rules::parse(built);
      REQUIRE(f);
      auto saved = rules::print_saved(*f);
      REQUIRE(saved);
      THEN("nothing changes, and it is valid") {
        CHECK(*saved == built);
        CHECK(rules::validate(*f).diagnostics.empty());
      }
    }
  }
}

SCENARIO("the real iptables-save prints a built ruleset unchanged", "[rules][build][root]") {
  if (!test::require_root("restoring a built ruleset into a namespace")) return;
  GIVEN("the built ruleset restored into a fresh namespace") {
    test::netns ns("build2");
    std::string path = write_temp(more_built(), ".rules");
    RSTWATCH_REQUIRE_OK(ns.exec("iptables-restore < " + path));
    std::remove(path.c_str());
    WHEN("iptables-save prints it") {
      auto saved = ns.exec("iptables-save");
      REQUIRE(saved.status == 0);
      THEN("it prints the builder's bytes") { CHECK(more_built() == without_comments(saved.output)); }
    }
  }
}

SCENARIO("the builder makes what the real iptables-save prints for the seed file",
         "[rules][build][root]") {
  if (!test::require_root("restoring the seed into a namespace")) return;
  GIVEN("the seed file restored into a fresh namespace") {
    test::netns ns("build");
    std::string path = write_temp(seed_text(), ".rules");
    RSTWATCH_REQUIRE_OK(ns.exec("iptables-restore < " + path));
    std::remove(path.c_str());
    WHEN("iptables-save prints it") {
      auto saved = ns.exec("iptables-save");
      REQUIRE(saved.status == 0);
      THEN("the builder's text is the same, without iptables-save's dated comments") {
        CHECK(seed_built() == without_comments(saved.output));
      }
    }
  }
}

SCENARIO("each iptables table becomes an nft table with base chains from the netfilter model",
         "[rules][nft]") {
  GIVEN("the seed file") {
    std::string text = seed_text();
    auto f = rules::parse(text);
    REQUIRE(f);
    WHEN("it is translated") {
      auto nft = rules::to_nft(*f);
      REQUIRE(nft);
      THEN("every built-in chain of filter is a base chain with its hook and priority") {
        for (auto h : netfilter::all_hooks) {
          std::string chain(netfilter::chain_name(h));
          std::string header = "\tchain " + chain + " {\n\t\ttype filter hook " +
                               std::string(netfilter::to_string(h)) + " priority " +
                               std::to_string(netfilter::hook_priority(netfilter::table::filter, h)) +
                               "; policy accept;\n";
          bool builtin = netfilter::has_chain(nf_family::ipv4, netfilter::table::filter, h);
          CHECK((nft->find(header) != std::string::npos) == builtin);
        }
        CHECK(nft->rfind("table ip filter\nflush table ip filter\ntable ip filter {\n", 0) == 0);
      }
      THEN("each LOG rule keeps its match, prefix, level and flags") {
        std::string rule =
            "meta l4proto tcp tcp sport != 3406 tcp flags & (rst) == rst log prefix \"[drds] \" "
            "level debug flags tcp sequence,options flags ip options\n";
        auto first = nft->find(rule);
        REQUIRE(first != std::string::npos);
        CHECK(nft->find(rule, first + 1) != std::string::npos);
      }
    }
  }
  GIVEN("a nat table with DNAT and MASQUERADE") {
    std::string text =
        "*nat\n-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2:8080\n"
        "-A POSTROUTING -o eth+ -j MASQUERADE\nCOMMIT\n";
    auto f = rules::parse(text);
    REQUIRE(f);
    WHEN("it is translated") {
      auto nft = rules::to_nft(*f);
      REQUIRE(nft);
      THEN("PREROUTING runs at NAT_DST and POSTROUTING at NAT_SRC, as nat chains") {
        CHECK(nft->find("chain PREROUTING {\n\t\ttype nat hook prerouting priority " +
                        std::to_string(netfilter::priority::nat_dst)) != std::string::npos);
        CHECK(nft->find("chain POSTROUTING {\n\t\ttype nat hook postrouting priority " +
                        std::to_string(netfilter::priority::nat_src)) != std::string::npos);
        CHECK(nft->find("meta l4proto tcp tcp dport 80 dnat to 10.0.0.2:8080\n") != std::string::npos);
        CHECK(nft->find("oifname \"eth*\" masquerade\n") != std::string::npos);
      }
    }
  }
}

SCENARIO("NAT ranges translate in the form iptables-save prints them", "[rules][nft]") {
  GIVEN("DNAT, SNAT and MASQUERADE ranges spelled as iptables reads them") {
    std::string text =
        "*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:+80-0x5a\n"
        "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1-10.0.0.1\n"
        "-A PREROUTING -p tcp -j DNAT --to-destination :80-80\n"
        "-A POSTROUTING -p udp -j SNAT --to-source 10.0.0.5-10.0.0.1:0x400-2000 --random-fully\n"
        "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 0x50\nCOMMIT\n";
    auto f = rules::parse(text);
    REQUIRE(f);
    WHEN("it is translated") {
      auto nft = rules::to_nft(*f);
      REQUIRE(nft);
      THEN("numbers are decimal, a range of one address or port is that one, ports keep their colon") {
        CHECK(nft->find("dnat to 10.0.0.1:80-90\n") != std::string::npos);
        CHECK(nft->find("dnat to 10.0.0.1\n") != std::string::npos);
        CHECK(nft->find("dnat to :80\n") != std::string::npos);
        CHECK(nft->find("snat to 10.0.0.5-10.0.0.1:1024-2000 fully-random\n") != std::string::npos);
        CHECK(nft->find("masquerade to :80\n") != std::string::npos);
      }
    }
  }
  GIVEN("a DNAT with a base port (ports shifted by offset), which nft cannot say") {
    std::string text = "*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90/100\nCOMMIT\n";
    auto f = rules::parse(text, "base.rules");
    REQUIRE(f);
    WHEN("it is translated") {
      auto nft = rules::to_nft(*f, {nf_family::ipv4, "base.rules"});
      THEN("the error points at the range") {
        REQUIRE_FALSE(nft);
        CHECK(nft.error().where.line == 2);
        CHECK(nft.error().where.column == 47);
        CHECK(nft.error().message.find("a base port (/BASE) has no nft translation") != std::string::npos);
      }
    }
  }
}

SCENARIO("a comment longer than nft takes is cut to its first 128 characters", "[rules][nft]") {
  GIVEN("a rule with a comment of 200 characters (iptables keeps 255)") {
    std::string text = "*filter\n-A INPUT -m comment --comment " + std::string(200, 'c') +
                       " -j ACCEPT\nCOMMIT\n";
    auto f = rules::parse(text);
    REQUIRE(f);
    WHEN("it is translated") {
      auto nft = rules::to_nft(*f);
      REQUIRE(nft);
      THEN("the nft rule keeps the first 128") {
        CHECK(nft->find("accept comment \"" + std::string(128, 'c') + "\"\n") != std::string::npos);
      }
    }
  }
}

SCENARIO("a rule with no nft translation is an error naming the rule and its line",
         "[rules][nft]") {
  // multiport --ports, which nft cannot say, on line 3: appended, then inserted with -I 1 (the
  // error names the line and option whatever command added the rule).
  struct untranslatable {
    const char* rule;
    unsigned column;  // of --ports
  };
  for (auto c : {untranslatable{"-A OUTPUT -p tcp -m multiport --ports 80,443 -j DROP", 31},
                 untranslatable{"-I OUTPUT 1 -p tcp -m multiport --ports 80,443 -j DROP", 33}}) {
    GIVEN("on line 3: " << c.rule) {
      std::string text = std::string("*filter\n-A OUTPUT -j ACCEPT\n") + c.rule + "\nCOMMIT\n";
      auto f = rules::parse(text, "ports.rules");
      REQUIRE(f);
      WHEN("it is translated") {
        auto nft = rules::to_nft(*f, {nf_family::ipv4, "ports.rules"});
        THEN("the error points at the option and quotes the rule with its line") {
          REQUIRE_FALSE(nft);
          CHECK(nft.error().file == "ports.rules");
          CHECK(nft.error().where.line == 3);
          CHECK(nft.error().where.column == c.column);
          CHECK(nft.error().message.find("rule at line 3 ('" + std::string(c.rule) +
                                         "') cannot be translated to nftables: multiport --ports") !=
                std::string::npos);
        }
      }
    }
  }
  GIVEN("an owner match by user name, which iptables resolves when it loads the rule") {
    std::string text = "*filter\n-A OUTPUT -m owner --uid-owner root -j DROP\nCOMMIT\n";
    auto f = rules::parse(text);
    REQUIRE(f);
    WHEN("it is translated") {
      auto nft = rules::to_nft(*f);
      THEN("the rule is translated with the uid iptables-save would show") {
        REQUIRE(nft);
        CHECK(nft->find("meta skuid 0 drop\n") != std::string::npos);
      }
    }
  }
}

SCENARIO("to_nft translates the ruleset the whole file leaves, as iptables-restore evaluates it",
         "[rules][nft]") {
  GIVEN("a file that appends, inserts, deletes, flushes, removes chains and sets a policy") {
    std::string text =
        "*filter\n"
        ":INPUT ACCEPT [0:0]\n"
        ":FORWARD ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n"
        ":SSH - [0:0]\n"
        ":GONE - [0:0]\n"
        ":EMPTIED - [0:0]\n"
        "-A INPUT -p tcp --dport 22 -j SSH\n"
        "-A INPUT -p tcp --dport 23 -j ACCEPT\n"
        "-A INPUT -p tcp -m multiport --ports 80,443 -j DROP\n"
        "-A SSH -s 10.0.0.0/8 -j ACCEPT\n"
        "-A EMPTIED -j DROP\n"
        "-I INPUT 2 -p udp --dport 53 -j ACCEPT\n"
        "-D INPUT -p tcp --dport 23 -j ACCEPT\n"
        "-D INPUT 3\n"
        "-F EMPTIED\n"
        "-X GONE\n"
        "-P FORWARD DROP\n"
        "-Z\n"
        "COMMIT\n";
    auto f = rules::parse(text);
    REQUIRE(f);
    WHEN("it is translated") {
      auto nft = rules::to_nft(*f);
      REQUIRE(nft);
      INFO(*nft);
      THEN("the chains hold the rules left, in iptables' order") {
        CHECK(nft->find("\t\ttype filter hook input priority 0; policy accept;\n"
                        "\t\tmeta l4proto tcp tcp dport 22 jump SSH\n"
                        "\t\tmeta l4proto udp udp dport 53 accept\n"
                        "\t}\n") != std::string::npos);
        CHECK(nft->find("\tchain SSH {\n\t\tip saddr 10.0.0.0/8 accept\n\t}\n") != std::string::npos);
      }
      THEN("deleted rules are gone, the untranslatable one too, and the flushed chain is empty") {
        CHECK(nft->find("dport 23") == std::string::npos);
        CHECK(nft->find("\tchain EMPTIED {\n\t}\n") != std::string::npos);
      }
      THEN("the removed chain is not declared and the policy set with -P is kept") {
        CHECK(nft->find("GONE") == std::string::npos);
        CHECK(nft->find("type filter hook forward priority 0; policy drop;") != std::string::npos);
      }
    }
  }
  GIVEN("a deletion of a rule that does not exist") {
    std::string text = "*filter\n-A INPUT -j ACCEPT\n-D INPUT -j DROP\nCOMMIT\n";
    auto f = rules::parse(text, "del.rules");
    REQUIRE(f);
    WHEN("it is translated") {
      auto nft = rules::to_nft(*f, {nf_family::ipv4, "del.rules"});
      THEN("the error is iptables-restore's, on the line of the deletion") {
        REQUIRE_FALSE(nft);
        CHECK(nft.error().file == "del.rules");
        CHECK(nft.error().where.line == 3);
      }
    }
  }
}

SCENARIO("every translated conformance file passes nft -c in a namespace", "[rules][nft][root]") {
  if (!test::require_root("running nft -c in a namespace")) return;
  test::netns ns("nftc");
  std::size_t translated = 0;
  for (const auto& p : standalone_files()) {
    std::string text = slurp(p);
    auto f = rules::parse(text, p.filename().string());
    REQUIRE(f);
    auto nft = rules::to_nft(*f, {family_of(p), p.filename().string()});
    if (!nft) {
      // Untranslatable is fine when it says which rule and why.
      CHECK(nft.error().message.find("cannot be translated to nftables: ") != std::string::npos);
      continue;
    }
    ++translated;
    DYNAMIC_SECTION(p.filename().string()) {
      GIVEN("its nft script") {
        std::string path = write_temp(*nft, ".nft");
        WHEN("nft checks it") {
          auto r = ns.exec("nft -c -f " + path);
          std::remove(path.c_str());
          INFO(*nft << "\n" << r.output);
          THEN("nft accepts it") { CHECK(r.status == 0); }
        }
      }
    }
  }
  CHECK(translated >= 30);
}

namespace {

// The LOG lines the same traffic produces: a connection to a closed port on loopback, which
// the kernel answers with a RST that crosses OUTPUT and INPUT. Ephemeral values (ports, ids,
// sequence numbers, TCP option bytes holding timestamps) are masked.
std::vector<std::string> log_lines(test::kmsg_reader& kmsg, const test::netns& ns,
                                   const std::string& tag, std::size_t want) {
  (void)ns.exec("bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null; true");
  std::vector<std::string> out;
  for (auto m : kmsg.messages_containing(tag, want)) {
    m = m.substr(m.find(tag) + tag.size());
    m = std::regex_replace(m, std::regex("\\b(SPT|DPT|ACK|SEQ|ID)=[0-9]+"), "$1=N");
    m = std::regex_replace(m, std::regex("OPT \\([0-9A-F]*\\)"), "OPT (N)");
    out.push_back(m);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct log_case {
  const char* name;
  std::string rules;   // "PFX" stands for the LOG prefix
  std::size_t lines;   // LOG lines one reset connection attempt produces
  const char* shows;   // a field both forms must print
};

std::vector<log_case> log_cases() {
  std::string seed = std::regex_replace(seed_text(), std::regex("\\[drds\\] "), "PFX");
  return {
      {"the seed file", seed, 2, "SPT=N DPT=N SEQ=N ACK=N"},
      {"LOG with uid and TCP options on OUTPUT and MAC decoding and IP options on INPUT",
       "*filter\n-A OUTPUT -p tcp -j LOG --log-prefix \"PFX\" --log-uid --log-tcp-options\n"
       "-A INPUT -p tcp -m tcp --tcp-flags RST RST -j LOG --log-prefix \"PFX\" --log-level 6 "
       "--log-macdecode --log-ip-options\nCOMMIT\n",
       3, "UID=0 GID=0"},
  };
}

}  // namespace

SCENARIO("LOG rules log the same lines from iptables and from their nft translation",
         "[rules][nft][root][kmsg]") {
  if (!test::require_root("loading rules in namespaces and reading /dev/kmsg")) return;
  test::sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
  for (const auto& c : log_cases()) {
    DYNAMIC_SECTION(c.name) {
      GIVEN("the rules loaded by iptables-restore in one namespace and by nft in another") {
        std::string ipt_tag = test::unique_tag("ipt") + " ";
        std::string nft_tag = test::unique_tag("nft") + " ";
        auto with_prefix = [&](const std::string& tag) {
          return std::regex_replace(c.rules, std::regex("PFX"), tag);
        };
        test::netns ipt_ns("lipt"), nft_ns("lnft");
        std::string ipt_path = write_temp(with_prefix(ipt_tag), ".rules");
        RSTWATCH_REQUIRE_OK(ipt_ns.exec("iptables-restore < " + ipt_path));
        std::string nft_text = with_prefix(nft_tag);
        auto f = rules::parse(nft_text);
        REQUIRE(f);
        auto nft = rules::to_nft(*f);
        REQUIRE(nft);
        std::string nft_path = write_temp(*nft, ".nft");
        RSTWATCH_REQUIRE_OK(nft_ns.exec("nft -f " + nft_path));
        std::remove(ipt_path.c_str());
        std::remove(nft_path.c_str());
        WHEN("each namespace resets a connection to a closed port") {
          test::kmsg_reader kmsg;
          auto from_ipt = log_lines(kmsg, ipt_ns, ipt_tag, c.lines);
          auto from_nft = log_lines(kmsg, nft_ns, nft_tag, c.lines);
          THEN("both forms log the same lines, field for field") {
            std::string shown_lines;
            for (const auto& l : from_ipt) shown_lines += "iptables: " + l + "\n";
            for (const auto& l : from_nft) shown_lines += "nft: " + l + "\n";
            INFO(shown_lines);
            REQUIRE(from_ipt.size() == c.lines);
            CHECK(from_ipt == from_nft);
            bool shown = false;
            for (const auto& l : from_ipt) shown = shown || l.find(c.shows) != std::string::npos;
            CHECK(shown);
          }
        }
      }
    }
  }
}
