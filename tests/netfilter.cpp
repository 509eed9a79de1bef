// The netfilter model, checked against the kernel's headers and against the real kernel.
#include <rstwatch/netfilter.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/system.hpp"

using namespace rstwatch::netfilter;
namespace t = rstwatch::test;

namespace {

std::string describe(const path& p) {
  std::string s;
  for (auto& st : p) {
    if (!s.empty()) s += " > ";
    s += std::string(to_string(st.tbl)) + " " + std::string(chain_name(st.hk));
  }
  return s;
}

}  // namespace

SCENARIO("every name converts to its enum and back", "[netfilter]") {
  GIVEN("the keyword tables") {
    THEN("tables, hooks, families, targets and built-in chains round-trip") {
      for (auto tb : all_tables) CHECK(parse_table(to_string(tb)) == tb);
      for (auto h : all_hooks) {
        CHECK(parse_hook(to_string(h)) == h);
        CHECK(builtin_chain(chain_name(h)) == h);
      }
      for (auto f : all_families) {
        CHECK(parse_family(to_string(f)) == f);
        CHECK(parse_family(nft_name(f)) == f);
      }
      for (auto tg : all_targets)
        if (tg != target::user_chain) CHECK(parse_target(to_string(tg)) == tg);
    }
    THEN("names are case-sensitive as in iptables, and unknown names are refused") {
      CHECK_FALSE(parse_table("FILTER"));
      CHECK_FALSE(parse_table("broute"));
      CHECK_FALSE(builtin_chain("input"));
      CHECK_FALSE(builtin_chain("DOCKER"));
      CHECK_FALSE(parse_target("log"));
      CHECK_FALSE(parse_target(""));
    }
    THEN("the seed's kernel hook names map onto the chains") {
      CHECK(kernel_name(hook::input) == "NF_IP_LOCAL_IN");
      CHECK(kernel_name(hook::postrouting) == "NF_IP_POST_ROUTING");
    }
  }
}

SCENARIO("the hook priorities agree with the kernel's uapi header", "[netfilter]") {
  GIVEN("linux/netfilter_ipv4.h of this machine") {
    std::ifstream in("/usr/include/linux/netfilter_ipv4.h");
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    std::map<std::string, int> values;
    std::regex entry(R"((NF_IP_PRI_[A-Z_]+)\s*=\s*(-?\d+))");
    std::string text = ss.str();
    for (std::sregex_iterator it(text.begin(), text.end(), entry), end; it != end; ++it)
      values[(*it)[1]] = std::stoi((*it)[2]);
    THEN("each table's priority is the header's value") {
      CHECK(values.at("NF_IP_PRI_RAW") == hook_priority(table::raw, hook::prerouting));
      CHECK(values.at("NF_IP_PRI_CONNTRACK") == priority::conntrack);
      CHECK(values.at("NF_IP_PRI_MANGLE") == hook_priority(table::mangle, hook::forward));
      CHECK(values.at("NF_IP_PRI_NAT_DST") == hook_priority(table::nat, hook::prerouting));
      CHECK(values.at("NF_IP_PRI_NAT_DST") == hook_priority(table::nat, hook::output));
      CHECK(values.at("NF_IP_PRI_FILTER") == hook_priority(table::filter, hook::input));
      CHECK(values.at("NF_IP_PRI_SECURITY") == hook_priority(table::security, hook::output));
      CHECK(values.at("NF_IP_PRI_NAT_SRC") == hook_priority(table::nat, hook::postrouting));
      CHECK(values.at("NF_IP_PRI_NAT_SRC") == hook_priority(table::nat, hook::input));
    }
  }
}

SCENARIO("each table has the built-in chains of its kernel module", "[netfilter]") {
  GIVEN("the IPv4 family") {
    THEN("raw hooks PREROUTING and OUTPUT only") {
      CHECK(has_chain(family::ipv4, table::raw, hook::prerouting));
      CHECK(has_chain(family::ipv4, table::raw, hook::output));
      CHECK_FALSE(has_chain(family::ipv4, table::raw, hook::input));
    }
    THEN("filter and security hook INPUT, FORWARD and OUTPUT") {
      for (auto tb : {table::filter, table::security}) {
        CHECK(has_chain(family::ipv4, tb, hook::forward));
        CHECK_FALSE(has_chain(family::ipv4, tb, hook::prerouting));
        CHECK_FALSE(has_chain(family::ipv4, tb, hook::postrouting));
      }
    }
    THEN("nat has every hook but FORWARD, mangle has all five") {
      CHECK_FALSE(has_chain(family::ipv4, table::nat, hook::forward));
      CHECK(has_chain(family::ipv4, table::nat, hook::input));
      for (auto h : all_hooks) CHECK(has_chain(family::ipv4, table::mangle, h));
    }
  }
  GIVEN("the nft chain types that emulate the tables") {
    THEN("mangle OUTPUT is a route chain and nat chains are nat chains") {
      CHECK(nft_chain_type(table::mangle, hook::output) == "route");
      CHECK(nft_chain_type(table::mangle, hook::input) == "filter");
      CHECK(nft_chain_type(table::nat, hook::postrouting) == "nat");
      CHECK(nft_chain_type(table::filter, hook::forward) == "filter");
    }
  }
}

SCENARIO("a packet delivered to this host runs PREROUTING then INPUT, by priority",
         "[netfilter]") {
  GIVEN("the first packet of a connection") {
    auto p = packet_path(family::ipv4, path_kind::local_in);
    THEN("raw, mangle and nat see it before routing, then mangle, filter, security, nat") {
      CHECK(describe(p) ==
            "raw PREROUTING > mangle PREROUTING > nat PREROUTING > mangle INPUT > "
            "filter INPUT > security INPUT > nat INPUT");
    }
  }
  GIVEN("a later packet of the same connection, such as a RST") {
    auto p = packet_path(family::ipv4, path_kind::local_in, false);
    THEN("no nat chain sees it") {
      CHECK(describe(p) ==
            "raw PREROUTING > mangle PREROUTING > mangle INPUT > filter INPUT > security INPUT");
    }
  }
}

SCENARIO("a packet sent by this host runs OUTPUT then POSTROUTING", "[netfilter]") {
  GIVEN("the first packet of a connection") {
    auto p = packet_path(family::ipv6, path_kind::local_out);
    THEN("the chains come in priority order on each hook") {
      CHECK(describe(p) ==
            "raw OUTPUT > mangle OUTPUT > nat OUTPUT > filter OUTPUT > security OUTPUT > "
            "mangle POSTROUTING > nat POSTROUTING");
      for (std::size_t i = 1; i < p.size(); ++i)
        if (p[i].hk == p[i - 1].hk) CHECK(p[i - 1].prio < p[i].prio);
    }
  }
}

SCENARIO("a forwarded packet runs PREROUTING, FORWARD and POSTROUTING", "[netfilter]") {
  GIVEN("a RST inside an established forwarded flow") {
    auto p = packet_path(family::ipv4, path_kind::forwarded, false);
    THEN("it crosses raw, mangle, filter and security but never nat") {
      CHECK(describe(p) ==
            "raw PREROUTING > mangle PREROUTING > mangle FORWARD > filter FORWARD > "
            "security FORWARD > mangle POSTROUTING");
    }
  }
  GIVEN("the first packet of a forwarded connection") {
    auto p = packet_path(family::ipv4, path_kind::forwarded, true);
    THEN("destination NAT comes before routing and source NAT last") {
      REQUIRE(p.size() == 8);
      CHECK(p[2] == step{table::nat, hook::prerouting, priority::nat_dst});
      CHECK(p[7] == step{table::nat, hook::postrouting, priority::nat_src});
    }
  }
}

SCENARIO("targets are accepted only in the tables and hooks the kernel allows", "[netfilter]") {
  GIVEN("the seed's LOG target") {
    THEN("it is accepted in every built-in chain of every table") {
      for (auto tb : all_tables)
        for (auto h : all_hooks)
          if (has_chain(family::ipv4, tb, h))
            CHECK(target_allowed(family::ipv4, tb, h, target::log));
    }
  }
  GIVEN("REJECT") {
    THEN("only the filter table takes it") {
      CHECK(target_allowed(family::ipv4, table::filter, hook::input, target::reject));
      CHECK(check_target(family::ipv4, table::mangle, hook::input, target::reject) ==
            target_verdict::wrong_table);
      CHECK(check_target(family::ipv6, table::security, hook::output, target::reject) ==
            target_verdict::wrong_table);
    }
  }
  GIVEN("the NAT targets") {
    THEN("DNAT and REDIRECT go before routing, SNAT after it, MASQUERADE only in POSTROUTING") {
      CHECK(target_allowed(family::ipv4, table::nat, hook::prerouting, target::dnat));
      CHECK(check_target(family::ipv4, table::nat, hook::postrouting, target::dnat) ==
            target_verdict::wrong_hook);
      CHECK(target_allowed(family::ipv4, table::nat, hook::input, target::snat));
      CHECK(check_target(family::ipv4, table::nat, hook::output, target::masquerade) ==
            target_verdict::wrong_hook);
      CHECK(check_target(family::ipv4, table::filter, hook::output, target::redirect) ==
            target_verdict::wrong_table);
    }
  }
  GIVEN("DROP in the nat table") {
    THEN("iptables refuses it as filtering") {
      CHECK(check_target(family::ipv4, table::nat, hook::prerouting, target::drop) ==
            target_verdict::filtering_in_nat);
    }
  }
  GIVEN("a chain the table does not have") {
    THEN("nothing is accepted there") {
      CHECK(check_target(family::ipv4, table::filter, hook::prerouting, target::accept) ==
            target_verdict::no_such_chain);
    }
  }
}

SCENARIO("chain names follow iptables' rules", "[netfilter]") {
  GIVEN("names at and over the length limit") {
    THEN("28 characters pass and 29 are too long") {
      CHECK(check_chain_name(std::string(28, 'a'), chain_declaration::chain_line) ==
            chain_name_error::none);
      CHECK(check_chain_name(std::string(29, 'a'), chain_declaration::chain_line) ==
            chain_name_error::too_long);
    }
  }
  GIVEN("names that look like options, negations or verdicts") {
    THEN("each is refused with its reason") {
      auto line = chain_declaration::chain_line;
      CHECK(check_chain_name("-foo", line) == chain_name_error::starts_with_dash);
      CHECK(check_chain_name("!foo", line) == chain_name_error::starts_with_bang);
      CHECK(check_chain_name("a b", line) == chain_name_error::has_whitespace);
      CHECK(check_chain_name("ACCEPT", line) == chain_name_error::clashes_with_target);
      CHECK(check_chain_name("", line) == chain_name_error::empty);
      CHECK(to_string(chain_name_error::too_long) == "a chain name has at most 28 characters");
    }
  }
  GIVEN("a name that is an extension target") {
    THEN("-N refuses it but a chain line takes it, as iptables-restore 1.8.9 does") {
      CHECK(check_chain_name("LOG", chain_declaration::new_chain_command) ==
            chain_name_error::clashes_with_target);
      CHECK(check_chain_name("LOG", chain_declaration::chain_line) == chain_name_error::none);
    }
  }
}

namespace {

// The smallest restore file that puts target `tg` into the built-in chain of `h` in `tb`.
std::string minimal_file(family f, table tb, hook h, target tg) {
  std::string args;
  switch (tg) {
    case target::user_chain: args = "RSTW-USER"; break;
    case target::mark: args = "MARK --set-mark 1"; break;
    case target::connmark: args = "CONNMARK --set-mark 1"; break;
    case target::dnat:
      args = f == family::ipv4 ? "DNAT --to-destination 10.1.1.1" : "DNAT --to-destination fd00::1";
      break;
    case target::snat:
      args = f == family::ipv4 ? "SNAT --to-source 10.1.1.1" : "SNAT --to-source fd00::1";
      break;
    default: args = std::string(to_string(tg));
  }
  return "*" + std::string(to_string(tb)) + "\n:RSTW-USER - [0:0]\n-A " +
         std::string(chain_name(h)) + " -j " + args + "\nCOMMIT\n";
}

struct load_case {
  std::string name;
  std::string file;
  bool model_allows;
};

// Loads every case with the real iptables-restore (no --test: with the nf_tables backend it
// never reaches the kernel) inside `ns`, in one shell so that 700 loads stay fast. Returns the
// names whose load succeeded.
std::map<std::string, bool> load_all(const t::netns& ns, const std::string& restore,
                                     const std::vector<load_case>& cases) {
  std::string dir = "/tmp/" + t::unique_tag("nfmodel");
  RSTWATCH_REQUIRE_OK(t::run("mkdir -p " + dir));
  for (auto& c : cases) {
    std::ofstream out(dir + "/" + c.name);
    out << c.file;
  }
  auto r = ns.exec("for f in " + dir + "/*; do if " + restore +
                   " < $f >/dev/null 2>&1; then echo \"ok ${f##*/}\"; else echo \"no ${f##*/}\"; "
                   "fi; done");
  (void)t::run("rm -rf " + dir);
  std::map<std::string, bool> loaded;
  std::istringstream lines(r.output);
  std::string verdict, name;
  while (lines >> verdict >> name) loaded[name] = verdict == "ok";
  return loaded;
}

}  // namespace

SCENARIO("the model and the kernel agree on every table, chain and target", "[netfilter][root]") {
  if (!t::require_root("loading every (table, chain, target) into a private namespace")) return;
  for (auto f : {family::ipv4, family::ipv6}) {
    GIVEN("a fresh namespace and the real " << (f == family::ipv4 ? "iptables" : "ip6tables")
                                              << "-restore") {
      t::netns ns("nfm");
      std::vector<load_case> cases;
      for (auto tb : all_tables)
        for (auto h : all_hooks)
          for (auto tg : all_targets) {
            if (tg == target::queue) continue;  // needs a queue listener to mean anything
            std::string name = std::string(to_string(tb)) + "." + std::string(chain_name(h)) +
                               "." + (tg == target::user_chain ? "user" : std::string(to_string(tg)));
            cases.push_back({name, minimal_file(f, tb, h, tg), target_allowed(f, tb, h, tg)});
          }
      WHEN("each combination is loaded on its own") {
        auto loaded = load_all(ns, f == family::ipv4 ? "iptables-restore" : "ip6tables-restore",
                               cases);
        THEN("what the model allows loads and what it forbids is refused") {
          REQUIRE(loaded.size() == cases.size());
          std::size_t allowed = 0;
          for (auto& c : cases) {
            INFO(c.name << "\n" << c.file);
            CHECK(loaded.at(c.name) == c.model_allows);
            allowed += c.model_allows;
          }
          // Both verdicts are exercised, not just one.
          CHECK(allowed > 100);
          CHECK(cases.size() - allowed > 100);
        }
      }
    }
  }
}

SCENARIO("the model and iptables-restore agree on chain names", "[netfilter][root]") {
  if (!t::require_root("declaring chains in a private namespace")) return;
  GIVEN("a fresh namespace") {
    t::netns ns("nfc");
    std::vector<std::string> names = {std::string(28, 'a'), std::string(29, 'b'), "ACCEPT", "DROP",
                                      "RETURN", "QUEUE", "LOG", "REJECT", "DNAT", "MARK",
                                      "-foo", "!foo", "RSTWATCH-drds", "a:b", "a,b", "12"};
    for (auto how : {chain_declaration::chain_line, chain_declaration::new_chain_command}) {
      WHEN("each name is declared " << (how == chain_declaration::chain_line
                                            ? "by a chain line"
                                            : "by -N")) {
        THEN("the kernel accepts exactly the names the model accepts") {
          for (auto& n : names) {
            std::string file = how == chain_declaration::chain_line
                                   ? "*filter\n:" + n + " - [0:0]\nCOMMIT\n"
                                   : "*filter\n-N " + n + "\nCOMMIT\n";
            auto r = ns.exec("printf '%s' " + t::shell_quote(file) + " | iptables-restore");
            INFO(n << ": " << r.output);
            CHECK((r.status == 0) == (check_chain_name(n, how) == chain_name_error::none));
          }
        }
      }
    }
  }
}
