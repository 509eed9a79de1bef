// Specification of the parser's fast path (rules/detail/canonical_rule.hpp): a rule line
// written exactly as iptables-save prints it, in the vocabulary of machine-written files, is
// read in one pass and restored as its own text; the general path must agree with it on every
// line it takes (support/canonical_oracle.hpp), and takes every other line.
#include <rstwatch/rules/detail/canonical_rule.hpp>
#include <rstwatch/rules/detail/extensions.hpp>
#include <rstwatch/rules/parse.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/canonical_oracle.hpp"

using namespace rstwatch;
namespace rr = rstwatch::rules;
namespace fs = std::filesystem;

namespace {

constexpr std::uint8_t v4 = rr::detail::family_bit(netfilter::family::ipv4);
constexpr std::uint8_t v6 = rr::detail::family_bit(netfilter::family::ipv6);

std::uint8_t families(std::string_view line) {
  auto r = rr::detail::read_canonical_rule(line);
  return r ? r->families : 0;
}

// Every rule line of the conformance files and of what the real iptables-save printed for them.
std::vector<std::string> conformance_rule_lines() {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(fs::path(RSTWATCH_TEST_DATA) / "rules")) {
    std::ifstream in(e.path(), std::ios::binary);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("-", 0) == 0 || line.rfind("[", 0) == 0) out.push_back(line);
  }
  return out;
}

}  // namespace

SCENARIO("rule lines written as iptables-save prints them take the fast path, for the families they suit") {
  GIVEN("lines in the saved form of the vocabulary") {
    struct fast_case {
      std::string_view line;
      std::uint8_t families;
    };
    const fast_case cases[] = {
        {"-A INPUT -j ACCEPT", v4 | v6},
        {"-A KUBE-SERVICES -d 10.0.0.1/32 -p tcp -m comment --comment \"ns/svc:http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-ABCDEFGHIJKLMNOP", v4},
        {"-A KUBE-SVC-X -m comment --comment \"ns/svc:http -> 172.0.0.1:8080\" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-Y", v4 | v6},
        {"-A KUBE-SEP-Y -s 172.0.0.1/32 -m comment --comment ns_svc -j KUBE-MARK-MASQ", v4},
        {"-A KUBE-SEP-Y -p tcp -m comment --comment \"x\\ty\" -m tcp -j DNAT --to-destination 172.0.0.1:8080", 0},
        {"-A KUBE-SEP-Y -p tcp -m tcp -j DNAT --to-destination 172.0.0.1:8080", v4},
        {"-A POSTROUTING -j MASQUERADE", v4 | v6},
        {"-A OUTPUT ! -s 10.0.0.0/8 ! -d 192.168.0.0/16 -p udp -m udp ! --sport 1024:65535 --dport 53 -j DROP", v4},
        {"-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", v4 | v6},
        {"-A INPUT -m state ! --state INVALID,NEW -j RETURN", v4 | v6},
        {"-A FORWARD -m mark ! --mark 0x4000/0x4000 -j RETURN", v4 | v6},
        {"-A FORWARD -p tcp -j REJECT --reject-with tcp-reset", v4 | v6},
        {"-A FORWARD -j REJECT --reject-with icmp6-adm-prohibited", v6},
        {"-A FORWARD -j REJECT --reject-with icmp-host-prohibited", v4},
        {"-A PREROUTING -j MARK --set-xmark 0x1/0xffffffff", v4 | v6},
        {"-A INPUT -m comment --comment \"\" -j ACCEPT", v4 | v6},
    };
    for (const auto& c : cases) {
      WHEN("the fast path reads '" + std::string(c.line) + "'") {
        THEN("it takes the line for exactly its families, and the general path agrees") {
          CHECK(families(c.line) == c.families);
          CHECK(testing::canonical_disagreement(c.line) == "");
        }
      }
    }
  }
  GIVEN("lines iptables-save would print otherwise, or that iptables refuses") {
    const std::string_view lines[] = {
        "-A INPUT -j ACCEPT ",                                   // a trailing blank
        "-A INPUT  -j ACCEPT",                                   // two blanks
        "-A INPUT\t-j ACCEPT",                                   // a tab
        "--append INPUT -j ACCEPT",                              // a long spelling
        "-A INPUT -p tcp --dport 80 -j ACCEPT",                  // the implicit -m tcp
        "-A INPUT -p 6 -m tcp --dport 80 -j ACCEPT",             // a protocol number
        "-A INPUT -m tcp --dport 80 -j ACCEPT",                  // tcp without -p tcp
        "-A INPUT -s 10.0.0.1 -j ACCEPT",                        // no prefix length
        "-A INPUT -s 10.0.0.1/24 -j ACCEPT",                     // host bits set
        "-A INPUT -s 010.0.0.1/32 -j ACCEPT",                    // octal
        "-A INPUT -s 10.0.0.0/0 -j ACCEPT",                      // matches everything
        "-A INPUT -p tcp -m tcp --dport 80:80 -j ACCEPT",        // a range of one port
        "-A INPUT -p tcp -m tcp --dport 0:65535 -j ACCEPT",      // no restriction
        "-A INPUT -p tcp -m tcp --dport 65536 -j ACCEPT",        // out of range
        "-A INPUT -p tcp -m tcp --dport http -j ACCEPT",         // a service name
        "-A INPUT -p tcp -m tcp --dport 80 --sport 1 -j ACCEPT", // dport before sport
        "-A INPUT -m comment --comment \"plain\" -j ACCEPT",     // quotes it needs not
        "-A INPUT -m comment --comment it's -j ACCEPT",          // a quote printed escaped
        "-A INPUT -m comment --comment -x -j ACCEPT",            // a word that reads as an option
        "-A INPUT -m statistic --mode random --probability 0.5 -j ACCEPT",
        "-A INPUT -m statistic --mode random --probability 0.33333333333 -j ACCEPT",  // prints ...349
        "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",              // order
        "-A INPUT -m conntrack --ctstate new -j ACCEPT",                              // case
        "-A INPUT -m state --state SNAT -j ACCEPT",                                   // not a state
        "-A INPUT -m mark --mark 0x1/0xffffffff -j ACCEPT",                           // full mask
        "-A INPUT -m mark --mark 0x01 -j ACCEPT",
        "-A INPUT -m mark --mark 1 -j ACCEPT",
        "-A INPUT -m comment --comment a -m comment --comment b -j ACCEPT",           // twice
        "-A INPUT -j REJECT",                                    // saved with --reject-with
        "-A INPUT -j REJECT --reject-with port",                 // an abbreviation
        "-A INPUT -j REJECT --reject-with tcp-reset",            // needs -p tcp
        "-A PREROUTING -j DNAT --to-destination 10.0.0.1:80",    // a port needs -p
        "-A POSTROUTING -j MARK --or-mark 0x4000",               // saved as --set-xmark
        "-A INPUT -j LOG",
        "-A INPUT -j NFQUEUE",
        "-A INPUT -j QUEUE",
        "-A INPUT -j -x",
        "-A INPUT -i eth0 -j ACCEPT",                            // not in the vocabulary
        "[0:0] -A INPUT -j ACCEPT",
        "-I INPUT -j ACCEPT",
    };
    for (std::string_view line : lines) {
      WHEN("the fast path reads '" + std::string(line) + "'") {
        THEN("it leaves the line to the general path") {
          CHECK(families(line) == 0);
          auto f = rr::parse(line);
          REQUIRE(f);
          CHECK(f->lines[0].saved_form == 0);
        }
      }
    }
  }
}

SCENARIO("the general path agrees with the fast path on every line the fast path takes") {
  GIVEN("every rule line of the conformance files and of the real iptables-save's output") {
    const auto lines = conformance_rule_lines();
    WHEN("each is checked") {
      std::size_t fast = 0;
      for (const std::string& line : lines) {
        INFO(line);
        CHECK(testing::canonical_disagreement(line) == "");
        fast += families(line) != 0;
      }
      THEN("they agree, and the fast path took a good share of them") {
        CHECK(lines.size() > 1000);
        CHECK(fast > 200);
      }
    }
  }
  GIVEN("lines assembled at random from canonical parts and near misses") {
    const std::vector<std::string_view> chains = {"INPUT", "OUTPUT", "PREROUTING", "POSTROUTING",
                                                  "FORWARD", "KUBE-SVC-1", "my.chain", "X"};
    const std::vector<std::string_view> heads = {
        "", " -s 10.0.0.1/32", " ! -s 10.0.0.0/8", " -s 10.0.0.1/24", " -d 192.168.1.0/24",
        " -s 10.0.0.1/32 -d 10.1.0.0/16", " -d ::1/128", " -s 10.0.0.1", " -s 255.255.255.255/32",
        " -d 1.2.3.4/31", " -s 0.0.0.0/1"};
    const std::vector<std::string_view> protos = {"", " -p tcp", " -p udp", " -p icmp", " ! -p tcp", " -p TCP"};
    const std::vector<std::string_view> matches = {
        " -m tcp --dport 80", " -m tcp ! --sport 1024:65535", " -m tcp --dport 0", " -m tcp --sport 0:1",
        " -m tcp --dport 65535", " -m udp --sport 53 --dport 53", " -m tcp", " -m udp",
        " -m comment --comment \"a b\"", " -m comment --comment plain", " -m comment --comment \"\"",
        " -m comment --comment \"\xe4\xb8\xad \xe6\x96\x87\"", " -m comment --comment \"#x\"",
        " -m statistic --mode random --probability 0.50000000000",
        " -m statistic --mode random --probability 0.33333333349",
        " -m statistic --mode random ! --probability 0.25000000000",
        " -m statistic --mode random --probability 1.00000000000",
        " -m statistic --mode random --probability 0.00000000000",
        " -m statistic --mode random --probability 0.99999999953",
        " -m statistic --mode nth --every 2 --packet 0", " -m conntrack --ctstate NEW",
        " -m conntrack --ctstate INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED,SNAT,DNAT",
        " -m conntrack ! --ctstate INVALID", " -m state --state NEW", " -m state --state INVALID,UNTRACKED",
        " -m mark --mark 0x1", " -m mark ! --mark 0x4000/0x4000", " -m mark --mark 0x0/0x0",
        " -m mark --mark 0xffffffff", " -m mark --mark 0x10/0x1"};
    const std::vector<std::string_view> targets = {
        "", " -j ACCEPT", " -j DROP", " -j RETURN", " -j KUBE-SVC-1", " -j X", " -j my.chain",
        " -j REJECT --reject-with icmp-port-unreachable", " -j REJECT --reject-with tcp-reset",
        " -j REJECT --reject-with icmp6-port-unreachable", " -j DNAT --to-destination 10.0.0.1:8080",
        " -j DNAT --to-destination 10.0.0.1", " -j SNAT --to-source 10.0.0.1:1", " -j MASQUERADE",
        " -j MARK --set-xmark 0x4000/0x4000", " -j MARK --set-xmark 0x0/0x0", " -j INPUT", " -j LOG",
        " -j lowercase", " -j TEE"};
    std::mt19937 rng(20261126);
    auto pick = [&](const std::vector<std::string_view>& v) { return v[rng() % v.size()]; };
    WHEN("3000 of them are checked") {
      std::size_t fast = 0;
      for (int i = 0; i < 3000; ++i) {
        std::string line = "-A " + std::string(pick(chains)) + std::string(pick(heads)) + std::string(pick(protos));
        for (unsigned m = rng() % 4; m > 0; --m) line += pick(matches);
        line += pick(targets);
        INFO(line);
        CHECK(testing::canonical_disagreement(line) == "");
        fast += families(line) != 0;
      }
      THEN("they agree, and the fast path took a good share of them") { CHECK(fast > 300); }
    }
  }
}

SCENARIO("a statistic probability prints as iptables-save prints it, without printf") {
  GIVEN("probabilities across 0 to 1, every 4099th fraction, and the ones that print a tie") {
    std::mt19937 rng(7);
    std::vector<double> ps = {0.0, 1.0, 0.5, 0.25, 0.33333333349, 1.0 / 3, 0.1, 0.9999999999};
    for (int i = 0; i < 20000; ++i) ps.push_back(static_cast<double>(rng()) / 4294967296.0);
    for (std::uint64_t fixed = 0; fixed <= 0x80000000u; fixed += 4099 + (fixed & 1))
      ps.push_back(static_cast<double>(fixed) / 0x80000000u);
    for (std::uint64_t fixed = 0; fixed <= 0x80000000u; fixed += 1u << 19)  // the halfway cases
      ps.push_back(static_cast<double>(fixed) / 0x80000000u);
    WHEN("each is printed") {
      THEN("the text is printf(\"%.11f\") of lround(p * 2^31) / 2^31") {
        for (double p : ps) {
          char mine[13], theirs[64];
          const auto fixed = static_cast<std::uint32_t>(std::lround(p * 0x80000000u));
          std::snprintf(theirs, sizeof theirs, "%.11f", static_cast<double>(fixed) / 0x80000000u);
          INFO(p);
          REQUIRE(rr::detail::print_probability(p, mine) == std::string_view(theirs));
        }
      }
    }
  }
}

SCENARIO("every target iptables has is named with capital letters, digits and '_' only") {
  // The fast path and validate() take a jump target with any other character for a chain
  // without looking the name up (canonical::target_char).
  GIVEN("the verdicts, the modelled targets and the targets iptables ships that are not modelled") {
    std::vector<std::string_view> names = {"ACCEPT", "DROP", "RETURN", "QUEUE"};
    for (const auto& e : rr::detail::extensions())
      if (e.target) names.push_back(e.name);
    for (std::string_view n : rr::detail::unmodelled_targets) names.push_back(n);
    THEN("each is") {
      for (std::string_view n : names) {
        INFO(n);
        CHECK(rr::detail::canonical::chars.all(n, rr::detail::canonical::target_char));
        CHECK(rr::detail::names_a_target(n));
      }
    }
  }
}
