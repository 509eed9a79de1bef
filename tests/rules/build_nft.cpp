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

SCENARIO("a rule with no nft translation is an error naming the rule and its line",
         "[rules][nft]") {
  GIVEN("an owner match by user name on line 3") {
    std::string text =
        "*filter\n-A OUTPUT -j ACCEPT\n-A OUTPUT -m owner --uid-owner root -j DROP\nCOMMIT\n";
    auto f = rules::parse(text, "owner.rules");
    REQUIRE(f);
    WHEN("it is translated") {
      auto nft = rules::to_nft(*f, {nf_family::ipv4, "owner.rules"});
      THEN("the error points at the option and quotes the rule with its line") {
        REQUIRE_FALSE(nft);
        CHECK(nft.error().file == "owner.rules");
        CHECK(nft.error().where.line == 3);
        CHECK(nft.error().where.column == 20);
        CHECK(nft.error().message.find("rule at line 3 ('-A OUTPUT -m owner --uid-owner root -j DROP')") !=
              std::string::npos);
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
  CHECK(translated >= 15);
}

namespace {

// The LOG lines the same traffic produces: a connection to a closed port on loopback, which
// the kernel answers with a RST that crosses OUTPUT and INPUT. Ephemeral values are masked.
std::vector<std::string> log_lines(test::kmsg_reader& kmsg, const test::netns& ns,
                                   const std::string& tag) {
  (void)ns.exec("bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null; true");
  std::vector<std::string> out;
  for (auto m : kmsg.messages_containing(tag, 2)) {
    m = m.substr(m.find(tag) + tag.size());
    m = std::regex_replace(m, std::regex("(DPT|ACK|SEQ|ID)=[0-9]+"), "$1=N");
    out.push_back(m);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

SCENARIO("the seed's LOG rules log the same lines from iptables and from nft",
         "[rules][nft][root][kmsg]") {
  if (!test::require_root("loading rules in namespaces and reading /dev/kmsg")) return;
  test::sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
  GIVEN("the seed loaded by iptables-restore in one namespace and by nft in another") {
    std::string ipt_tag = test::unique_tag("ipt") + " ";
    std::string nft_tag = test::unique_tag("nft") + " ";
    std::string seed = seed_text();
    auto with_prefix = [&](const std::string& tag) {
      return std::regex_replace(seed, std::regex("\\[drds\\] "), tag);
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
      auto from_ipt = log_lines(kmsg, ipt_ns, ipt_tag);
      auto from_nft = log_lines(kmsg, nft_ns, nft_tag);
      THEN("both log the RST twice, on its way out and in, with the same fields") {
        INFO("iptables: " << (from_ipt.empty() ? "" : from_ipt[0]));
        REQUIRE(from_ipt.size() == 2);
        CHECK(from_ipt == from_nft);
        CHECK(from_ipt[0].find("SPT=9 DPT=N SEQ=N ACK=N") != std::string::npos);
        CHECK(from_ipt[0].find(" RST ") != std::string::npos);
      }
    }
  }
}
