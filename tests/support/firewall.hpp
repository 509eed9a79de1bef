// Test support for firewall scenarios: a namespace's ruleset as text that can be compared before
// and after, and foreign rules that rstwatch must leave alone.
#pragma once

#include <regex>
#include <sstream>
#include <string>
#include <support/system.hpp>

namespace rstwatch::test {

// iptables-save output without its comment lines and with the counters zeroed.
inline std::string without_counters(const std::string& saved) {
  std::string out;
  std::istringstream in(saved);
  static const std::regex counters(R"(\[[0-9]+:[0-9]+\])");
  for (std::string line; std::getline(in, line);)
    if (line.empty() || line[0] != '#') out += std::regex_replace(line, counters, "[0:0]") + "\n";
  return out;
}

// Both families' rules in `ns` as iptables-save shows them, normalized: what must be identical
// across loads. `backend` "" is the system's iptables, "-legacy" or "-nft" that one (the
// -save commands dump only the tables that exist, so looking creates none).
inline std::string iptables_state(const netns& ns, const std::string& backend = "") {
  auto r = ns.exec("iptables" + backend + "-save; ip6tables" + backend + "-save");
  REQUIRE(r.status == 0);
  return without_counters(r.output);
}

// Rules another tool put there first; they must survive every load, install and uninstall.
// `backend` as for iptables_state(); the native nft table is there whatever the backend.
inline void add_foreign_rules(const netns& ns, const std::string& backend = "") {
  RSTWATCH_REQUIRE_OK(ns.exec(
      "for t in iptables" + backend + " ip6tables" + backend +
      "; do $t -A INPUT -p udp --dport 9999 -j ACCEPT && "
      "$t -N FOREIGN && $t -A FOREIGN -j RETURN && $t -A OUTPUT -j FOREIGN || exit 1; done; "
      "nft add table inet foreign && "
      "nft add chain inet foreign c '{ type filter hook input priority 10; }' && "
      "nft add rule inet foreign c udp dport 9998 accept"));
}

}  // namespace rstwatch::test
