// Specification of the typed views and of validate(): what iptables refuses is an error at the
// right line and column, what it quietly accepts is a warning; the real iptables-restore in a
// throwaway namespace is the oracle for every case.
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>
#include <rstwatch/rules/validate.hpp>
#include <rstwatch/rules/check_rule.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdlib>
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
using namespace rstwatch::rules;
using namespace rstwatch::rules::checks;
using family = netfilter::family;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string seed_text() { return slurp(std::string(RSTWATCH_TEST_DATA) + "/rules/drds_filter.rules"); }

// The seed with its commented-out rule (the one with `--log-level7`) switched on.
std::string seed_uncommented() {
  std::string s = seed_text();
  auto at = s.find("# -A INPUT");
  s.erase(at, 2);
  return s;
}

// One case of the specification: a file, and the diagnostic rstwatch must give for it.
struct check_case {
  const char* behaviour;  // a sentence
  family fam;
  std::string text;
  severity level;
  unsigned line;            // where rstwatch points
  const char* at;           // the text the caret is under (last occurrence on that line)
  const char* says;         // part of the message
  unsigned iptables_line;   // where iptables-restore points, for errors (0: same as ours)
};

// An extension option given twice (under either of its names), or with one it excludes: both
// readers refuse the line, as iptables-restore 1.8.9 does (the real one is asked below).
std::vector<check_case> repeated_option_cases() {
  auto rule = [](const char* table, const char* line) {
    return std::string("*") + table + "\n" + line + "\nCOMMIT\n";
  };
  return {
      {"a tcp source port given twice", family::ipv4,
       rule("filter", "-A INPUT -p tcp --sport 1 --sport 2 -j ACCEPT"), severity::error, 2,
       "--sport", "Only one `--source-port' allowed", 0},
      {"a destination port given again under its long name", family::ipv4,
       rule("filter", "-A INPUT -p tcp --dport 1 --destination-port 2 -j ACCEPT"),
       severity::error, 2, "--destination-port", "Only one `--destination-port' allowed", 0},
      {"--syn after --tcp-flags", family::ipv4,
       rule("filter", "-A INPUT -p tcp --tcp-flags SYN SYN --syn -j ACCEPT"), severity::error, 2,
       "--syn", "Only one of `--syn' or `--tcp-flags' allowed", 0},
      {"a udp source port given again under its long name", family::ipv6,
       rule("filter", "-A INPUT -p udp --sport 1 --source-port 2 -j ACCEPT"), severity::error,
       2, "--source-port", "udp: option \"--source-port\" can only be used once", 0},
      {"an sctp source port given again under its long name", family::ipv4,
       rule("filter", "-A INPUT -p sctp --sport 1 --source-port 2 -j ACCEPT"), severity::error,
       2, "--source-port", "Only one `--source-port' allowed", 0},
      {"a second sctp chunk list", family::ipv4,
       rule("filter", "-A INPUT -p sctp --chunk-types any INIT --chunk-types any DATA -j ACCEPT"),
       severity::error, 2, "--chunk-types", "Only one `--chunk-types' allowed", 0},
      {"a second dccp option", family::ipv6,
       rule("filter", "-A INPUT -p dccp --dccp-option 7 --dccp-option 8 -j ACCEPT"),
       severity::error, 2, "--dccp-option", "dccp: option \"--dccp-option\" can only be used once", 0},
      {"a second comment", family::ipv4,
       rule("filter", "-A INPUT -m comment --comment a --comment b -j ACCEPT"),
       severity::error, 2, "--comment", "comment: option \"--comment\" can only be used once", 0},
      {"a second LOG prefix", family::ipv4,
       rule("filter", "-A INPUT -j LOG --log-prefix \"[a] \" --log-prefix \"[b] \""),
       severity::error, 2, "--log-prefix", "LOG: option \"--log-prefix\" can only be used once", 0},
      {"a LOG flag given twice", family::ipv4,
       rule("filter", "-A INPUT -j LOG --log-uid --log-uid"), severity::error, 2, "--log-uid",
       "LOG: option \"--log-uid\" can only be used once", 0},
      {"a second conntrack state list", family::ipv4,
       rule("filter", "-A INPUT -m conntrack --ctstate NEW --ctstate ESTABLISHED -j ACCEPT"),
       severity::error, 2, "--ctstate", "conntrack: option \"--ctstate\" can only be used once", 0},
      {"a second statistic probability", family::ipv4,
       rule("filter", "-A INPUT -m statistic --mode random --probability 0.5 --probability 0.2 -j ACCEPT"),
       severity::error, 2, "--probability",
       "statistic: option \"--probability\" can only be used once", 0},
      {"a second ICMP type", family::ipv4,
       rule("filter", "-A INPUT -p icmp --icmp-type 8 --icmp-type 0 -j ACCEPT"), severity::error,
       2, "--icmp-type", "icmp: option \"--icmp-type\" can only be used once", 0},
      {"a second REJECT type", family::ipv4,
       rule("filter", "-A INPUT -p tcp -j REJECT --reject-with tcp-reset --reject-with icmp-port-unreachable"),
       severity::error, 2, "--reject-with", "REJECT: option \"--reject-with\" can only be used once", 0},
      {"a second DNAT destination", family::ipv4,
       rule("nat", "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1 --to-destination 10.0.0.2"),
       severity::error, 2, "--to-destination",
       "DNAT: option \"--to-destination\" can only be used once", 0},
      {"MARK's --or-mark after --set-mark", family::ipv4,
       rule("mangle", "-A OUTPUT -j MARK --set-mark 1 --or-mark 2"), severity::error, 2,
       "--or-mark", "MARK: option \"--set-mark\" cannot be used together with \"--or-mark\"", 0},
      {"CONNMARK's --restore-mark after --save-mark", family::ipv4,
       rule("mangle", "-A OUTPUT -j CONNMARK --save-mark --restore-mark"), severity::error, 2,
       "--restore-mark", "cannot be used together with", 0},
      {"multiport's --dports after --sports", family::ipv4,
       rule("filter", "-A INPUT -p tcp -m multiport --sports 1 --dports 2 -j ACCEPT"),
       severity::error, 2, "--dports",
       "multiport: option \"--source-ports\" cannot be used together with \"--destination-ports\"", 0},
      {"statistic's --probability after --every and --packet", family::ipv4,
       rule("filter", "-A INPUT -m statistic --mode nth --every 2 --packet 1 --probability 0.5 -j ACCEPT"),
       severity::error, 2, "--probability", "cannot be used together with \"--probability\"", 0},
      {"statistic's --packet after --probability", family::ipv4,
       rule("filter", "-A INPUT -m statistic --mode random --probability 0.5 --packet 1 -j ACCEPT"),
       severity::error, 2, "--packet",
       "statistic: option \"--probability\" cannot be used together with \"--packet\"", 0},
      {"addrtype's --limit-iface-out after --limit-iface-in", family::ipv4,
       rule("filter", "-A FORWARD -m addrtype --src-type LOCAL --limit-iface-in --limit-iface-out -j ACCEPT"),
       severity::error, 2, "--limit-iface-out", "cannot be used together with", 0},
      {"NFLOG's --nflog-range after --nflog-size", family::ipv4,
       rule("filter", "-A INPUT -j NFLOG --nflog-size 100 --nflog-range 5"), severity::error, 2,
       "--nflog-range", "cannot be used together with \"--nflog-range\"", 0},
      {"owner's --suppl-groups given twice", family::ipv4,
       rule("filter", "-A OUTPUT -m owner --gid-owner 0 --suppl-groups --suppl-groups -j ACCEPT"),
       severity::error, 2, "--suppl-groups",
       "owner: option \"--suppl-groups\" can only be used once", 0},
      {"a multiport option before the -p it needs", family::ipv4,
       rule("filter", "-A INPUT -m multiport --dports 1 -p tcp -j ACCEPT"), severity::error, 2,
       "-m", "multiport needs", 0},
  };
}

std::vector<check_case> error_cases() {
  static const std::string long_word(1024, 'x');  // one byte more than iptables-restore reads
  return {
      {"a word of 1024 bytes is refused, as iptables-restore refuses it", family::ipv4,
       "*filter\n-A INPUT -m comment --comment " + long_word + " -j ACCEPT\nCOMMIT\n",
       severity::error, 2, long_word.c_str(), "Parameter too long!", 0},
      // Matches the kernel binds to some hooks (netfilter::match_limit); a user chain inherits
      // the hooks of every chain that jumps to it. iptables-restore (nf_tables) names the line
      // of the rule whose append completes the path, so the jump when it comes last.
      {"the owner match in INPUT is refused", family::ipv4,
       "*filter\n-A INPUT -m owner --uid-owner 0 -j DROP\nCOMMIT\n", severity::error, 2, "-m",
       "the owner match is only valid in OUTPUT and POSTROUTING", 0},
      {"the owner match in a user chain that INPUT reaches is refused", family::ipv4,
       "*filter\n:X - [0:0]\n-A X -m owner --uid-owner 0 -j DROP\n-A INPUT -j X\nCOMMIT\n",
       severity::error, 3, "-m", "(chain X is reached from INPUT)", 4},
      {"the owner match in mangle PREROUTING is refused", family::ipv4,
       "*mangle\n-A PREROUTING -m owner --socket-exists -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "-m", "only valid in OUTPUT and POSTROUTING", 0},
      {"addrtype's --limit-iface-out in INPUT is refused", family::ipv4,
       "*filter\n-A INPUT -m addrtype --src-type LOCAL --limit-iface-out -j DROP\nCOMMIT\n",
       severity::error, 2, "--limit-iface-out", "not valid in PREROUTING or INPUT", 0},
      {"addrtype's --limit-iface-in in OUTPUT is refused", family::ipv6,
       "*filter\n-A OUTPUT -m addrtype --src-type LOCAL --limit-iface-in -j DROP\nCOMMIT\n",
       severity::error, 2, "--limit-iface-in", "not valid in OUTPUT or POSTROUTING", 0},
      {"addrtype without a type is refused", family::ipv4,
       "*filter\n-A FORWARD -m addrtype --limit-iface-in -j DROP\nCOMMIT\n", severity::error, 2,
       "-m", "you must specify --src-type or --dst-type", 0},
      {"owner's --suppl-groups before any --gid-owner is refused", family::ipv4,
       "*filter\n-A OUTPUT -m owner --suppl-groups --gid-owner 0 -j DROP\nCOMMIT\n",
       severity::error, 2, "--suppl-groups", "needs a --gid-owner before it", 0},
      {"an inverted --suppl-groups is refused", family::ipv4,
       "*filter\n-A OUTPUT -m owner --gid-owner 0 ! --suppl-groups -j DROP\nCOMMIT\n",
       severity::error, 2, "--suppl-groups", "cannot be inverted", 0},
      {"an empty NFLOG prefix is refused", family::ipv4,
       "*filter\n-A INPUT -j NFLOG --nflog-prefix \"\"\nCOMMIT\n", severity::error, 2, "\"\"",
       "the prefix may not be empty", 0},
      {"an empty LOG prefix is refused", family::ipv6,
       "*filter\n-A INPUT -j LOG --log-prefix \"\" --log-level 4\nCOMMIT\n", severity::error, 2,
       "\"\"", "the prefix may not be empty", 0},
      // NAT ranges (libxt_NAT.c): tests/data/rules/nat_range_spellings.rules has the forms
      // iptables takes.
      {"DNAT without --to-destination is refused", family::ipv4,
       "*nat\n-A PREROUTING -p tcp -j DNAT\nCOMMIT\n", severity::error, 2, "-j",
       "DNAT: option \"--to-destination\" must be specified", 0},
      {"SNAT without --to-source is refused", family::ipv6,
       "*nat\n-A POSTROUTING -p tcp -j SNAT --random\nCOMMIT\n", severity::error, 2, "-j",
       "SNAT: option \"--to-source\" must be specified", 0},
      {"a NAT port range that runs backwards is refused", family::ipv4,
       "*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:90-80\nCOMMIT\n",
       severity::error, 2, "10.0.0.1:90-80", "runs backwards", 0},
      {"a NAT base port of 0 is refused", family::ipv4,
       "*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90/0\nCOMMIT\n",
       severity::error, 2, "10.0.0.1:80-90/0", "bad base port '0'", 0},
      {"a base port in REDIRECT is refused", family::ipv4,
       "*nat\n-A PREROUTING -p tcp -j REDIRECT --to-ports 80-90/5\nCOMMIT\n", severity::error,
       2, "80-90/5", "no /BASE port", 0},
      {"a NAT port without a protocol that has ports is refused", family::ipv4,
       "*nat\n-A PREROUTING -j REDIRECT --to-ports 80\nCOMMIT\n", severity::error, 2, "-j",
       "needs -p tcp, udp, sctp or dccp", 0},
      {"a DNAT port with -p udplite is refused", family::ipv4,
       "*nat\n-A PREROUTING -p udplite -j DNAT --to-destination 10.0.0.1:80\nCOMMIT\n",
       severity::error, 2, "-j", "needs -p tcp, udp, sctp or dccp", 0},
      {"DNAT has no --random-fully in iptables 1.8.9", family::ipv4,
       "*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1 --random-fully\nCOMMIT\n",
       severity::error, 2, "--random-fully", "unknown option '--random-fully'", 0},
      {"IPv6 NAT brackets left open are refused", family::ipv6,
       "*nat\n-A PREROUTING -p tcp -j DNAT --to-destination [fe80::1\nCOMMIT\n", severity::error,
       2, "[fe80::1", "missing ']'", 0},
      {"an IPv4 address in an ip6tables rule is refused", family::ipv6,
       "*filter\n-A INPUT -d 10.0.0.0/8 -j ACCEPT\nCOMMIT\n", severity::error, 2, "10.0.0.0/8",
       "is an IPv4 address: ip6tables takes IPv6 addresses", 0},
      {"-f in an ip6tables rule is refused", family::ipv6,
       "*filter\n-A INPUT ! -f -j ACCEPT\nCOMMIT\n", severity::error, 2, "-f",
       "-f is not supported by ip6tables", 0},
      {"an ICMP type after an inverted -p icmp is refused", family::ipv4,
       "*filter\n-A INPUT ! -p icmp --icmp-type 8 -j ACCEPT\nCOMMIT\n", severity::error, 2, "-p",
       "the icmp match requires '-p icmp'", 0},
      {"an ICMPv6 type after an inverted -p icmpv6 is refused", family::ipv6,
       "*filter\n-A INPUT ! -p icmpv6 --icmpv6-type 1 -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "-p", "the icmp6 match requires '-p icmpv6'", 0},
      {"a tcp match without options after an inverted -p tcp is refused", family::ipv4,
       "*filter\n-A INPUT ! -p tcp -m tcp -j ACCEPT\nCOMMIT\n", severity::error, 2, "-m",
       "the tcp match requires '-p tcp'", 0},
      {"a conntrack port in hexadecimal is refused", family::ipv4,
       "*filter\n-A INPUT -m conntrack --ctorigsrcport 0x10 -j ACCEPT\nCOMMIT\n", severity::error,
       2, "0x10", "Port \"0x10\" does not resolve to anything", 0},
      {"a limit above 10000 a second is refused", family::ipv4,
       "*filter\n-A INPUT -m limit --limit 10001/s -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "10001/s", "rate too fast", 0},
      {"a limit burst above 10000 is refused", family::ipv6,
       "*filter\n-A INPUT -m limit --limit-burst 10001 -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "10001", "bad --limit-burst '10001' (0-10000)", 0},
      {"an iprange end in inet_aton's one-number form is refused", family::ipv4,
       "*filter\n-A INPUT -m iprange --src-range 167772161-167772162 -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "167772161-167772162", "bad address '167772161' in range", 0},
      {"a conntrack address with a part above 255 is refused", family::ipv4,
       "*filter\n-A INPUT -m conntrack --ctorigsrc 1.1.1.300 -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "1.1.1.300", "bad address '1.1.1.300'", 0},
      {"an IPv6 address type that IPv6 routes lack is refused", family::ipv6,
       "*filter\n-A INPUT -m addrtype ! --src-type LOCAL,broadcast -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "LOCAL,broadcast", "address type BROADCAST does not exist for IPv6", 0},
      {"an inverted -p all is refused: it would match nothing", family::ipv4,
       "*filter\n-A INPUT ! -p all -j ACCEPT\nCOMMIT\n", severity::error, 2, "all",
       "rule would never match protocol", 0},
      {"an inverted /0 source is refused: it would match nothing", family::ipv4,
       "*filter\n-A INPUT ! -s 10.0.0.0/0 -j ACCEPT\nCOMMIT\n", severity::error, 2, "!",
       "with a /0 mask matches no packet", 0},
      {"an inverted ::/0 destination is refused: it would match nothing", family::ipv6,
       "*filter\n-A INPUT ! -d ::/0 -j ACCEPT\nCOMMIT\n", severity::error, 2, "!",
       "with a /0 mask matches no packet", 0},
      {"an empty input interface is refused", family::ipv4,
       "*filter\n-A INPUT -i \"\" -j ACCEPT\nCOMMIT\n", severity::error, 2, "\"\"",
       "Empty interface is likely to be undesired", 0},
      {"MARK's --and-mark with a mask is refused", family::ipv4,
       "*mangle\n-A PREROUTING -j MARK --and-mark 0x1/0x2\nCOMMIT\n", severity::error, 2,
       "0x1/0x2", "--and-mark takes no mask", 0},
      {"MARK without an operation is refused", family::ipv4,
       "*mangle\n-A OUTPUT -j MARK\nCOMMIT\n", severity::error, 2, "-j",
       "MARK: no operation given", 0},
      {"CONNMARK with masks and no operation is refused", family::ipv6,
       "*mangle\n-A OUTPUT -j CONNMARK --ctmask 3\nCOMMIT\n", severity::error, 2, "-j",
       "CONNMARK: no operation given", 0},
      {"a multiport range of one port is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp -m multiport --dports 22,80:80 -j DROP\nCOMMIT\n",
       severity::error, 2, "22,80:80", "invalid port range '80:80' in a multiport list", 0},
      {"a multiport range with an open end is refused", family::ipv6,
       "*filter\n-A INPUT -p udp -m multiport --sports 1024: -j DROP\nCOMMIT\n",
       severity::error, 2, "1024:", "invalid port range '1024:' in a multiport list", 0},
      {"statistic in nth mode without --packet is refused", family::ipv4,
       "*filter\n-A INPUT -m statistic --mode nth --every 3 -j DROP\nCOMMIT\n", severity::error,
       2, "--mode", "also requires \"--packet\"", 0},
      {"statistic with --packet not below --every is refused", family::ipv4,
       "*filter\n-A INPUT -m statistic --mode nth --every 3 --packet 3 -j DROP\nCOMMIT\n",
       severity::error, 2, "--mode", "--packet must be less than --every", 0},
      {"statistic in random mode without --probability is refused", family::ipv4,
       "*filter\n-A INPUT -m statistic --mode random -j DROP\nCOMMIT\n", severity::error, 2,
       "--mode", "--mode random needs --probability", 0},
      {"statistic without --mode is refused", family::ipv4,
       "*filter\n-A INPUT -m statistic --probability 0.5 -j DROP\nCOMMIT\n", severity::error, 2,
       "--probability", "no --mode given", 0},
      {"statistic without any option is refused", family::ipv4,
       "*filter\n-A INPUT -m statistic -j DROP\nCOMMIT\n", severity::error, 2, "-m",
       "--probability must be specified when using random mode", 0},
      {"the seed's --log-level7 is an unknown option", family::ipv4, seed_uncommented(),
       severity::error, 8, "--log-level7", "unknown option '--log-level7'", 0},
      {"an unknown table is refused", family::ipv4, "*foo\nCOMMIT\n", severity::error, 1, "foo",
       "unknown table 'foo'", 0},
      {"a table without COMMIT is refused at the end of the file", family::ipv4,
       "*filter\n-A INPUT -j ACCEPT\n", severity::error, 3, "", "COMMIT expected", 0},
      {"a rule before any table line is refused", family::ipv4, "-A INPUT -j ACCEPT\nCOMMIT\n",
       severity::error, 1, "-A", "rule before any '*table' line", 0},
      {"a rule in a built-in chain the table lacks is refused", family::ipv4,
       "*filter\n-A PREROUTING -j ACCEPT\nCOMMIT\n", severity::error, 2, "PREROUTING",
       "has no built-in chain PREROUTING", 0},
      {"a rule in an undeclared user chain is refused", family::ipv4,
       "*filter\n-A NOSUCH -j ACCEPT\nCOMMIT\n", severity::error, 2, "NOSUCH",
       "no chain 'NOSUCH'", 0},
      {"DNAT in the filter table is refused", family::ipv4,
       "*filter\n-A INPUT -j DNAT --to-destination 10.1.1.1\nCOMMIT\n", severity::error, 2,
       "DNAT", "only valid in table 'nat'", 0},
      {"REJECT in a user chain reached from mangle OUTPUT is refused", family::ipv4,
       "*mangle\n:X - [0:0]\n-A OUTPUT -j X\n-A X -j REJECT\nCOMMIT\n", severity::error, 4,
       "REJECT", "reached from OUTPUT", 0},
      {"DNAT in nat POSTROUTING is refused", family::ipv4,
       "*nat\n-A POSTROUTING -j DNAT --to-destination 10.1.1.1\nCOMMIT\n", severity::error, 2,
       "DNAT", "not valid in nat POSTROUTING", 0},
      {"DROP in the nat table is refused", family::ipv4, "*nat\n-A PREROUTING -j DROP\nCOMMIT\n",
       severity::error, 2, "DROP", "not intended for filtering", 0},
      {"a rule number that is not a number from 1 is refused", family::ipv4,
       "*filter\n-I INPUT x -j ACCEPT\nCOMMIT\n", severity::error, 2, "x",
       "invalid rule number 'x'", 0},
      // Found by fuzz/validate (fuzz/regressions/validate/replace-without-a-rule-number): the
      // rule count of the chain was indexed past its end.
      {"a replacement without a rule number is refused", family::ipv4,
       "*filter\n-R INPUT -j DROP\nCOMMIT\n", severity::error, 2, "-R",
       "option '-R' requires an argument", 0},
      {"an insertion past the end of its chain is refused", family::ipv4,
       "*filter\n-A INPUT -j ACCEPT\n-I INPUT 3 -j DROP\nCOMMIT\n", severity::error, 3, "3",
       "index of insertion too big", 0},
      {"a replacement in an empty chain is refused", family::ipv4,
       "*filter\n-R INPUT 1 -j DROP\nCOMMIT\n", severity::error, 2, "1",
       "index of replacement too big", 0},
      {"a deletion past the end of its chain is refused", family::ipv4,
       "*filter\n-A INPUT -j ACCEPT\n-D INPUT 2\nCOMMIT\n", severity::error, 3, "2",
       "index of deletion too big", 0},
      {"an abbreviated --jump to an undefined chain after an unmodelled match is refused",
       family::ipv6, "*filter\n-A INPUT -m rt --j P\nCOMMIT\n", severity::error, 2, "P",
       "jump to undefined chain 'P'", 3},
      {"a display option of iptables -L on a rule line is refused", family::ipv4,
       "*filter\n-A INPUT -n -j ACCEPT\nCOMMIT\n", severity::error, 2, "-n",
       "option '-n' is not accepted in a restore file", 0},
      {"an abbreviation of base options with different letters is an unknown option",
       family::ipv4, "*filter\n--n FOO\nCOMMIT\n", severity::error, 2, "--n",
       "unknown option '--n'", 0},
      {"--ver, which begins --verbose and --version, is an unknown option", family::ipv4,
       "*filter\n-A INPUT --ver -j ACCEPT\nCOMMIT\n", severity::error, 2, "--ver",
       "unknown option '--ver'", 0},
      {"a second -s is refused, even spelled --src", family::ipv4,
       "*filter\n-A INPUT -s 10.0.0.1 --src 10.0.0.2 -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "--src", "multiple -s flags not allowed", 0},
      {"a second -p is refused, even after a negated one", family::ipv4,
       "*filter\n-A INPUT ! -p tcp -p udp -j ACCEPT\nCOMMIT\n", severity::error, 2, "-p",
       "multiple -p flags not allowed", 0},
      {"a second -i is refused", family::ipv4, "*filter\n-A INPUT -i a -i b -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "-i", "multiple -i flags not allowed", 0},
      {"a second -f is refused", family::ipv4, "*filter\n-A INPUT -f -f -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "-f", "multiple -f flags not allowed", 0},
      {"a second -c is refused", family::ipv4,
       "*filter\n-A INPUT -c 1 2 -c 3 4 -j ACCEPT\nCOMMIT\n", severity::error, 2, "-c",
       "multiple -c flags not allowed", 0},
      // Found by fuzz/validate (fuzz/regressions/validate/second-protocol-after-a-port): the
      // second -p replaced the first, and the saved `-p tcp -m udp --dport` no longer validated.
      {"a second -p after the first one's port is refused", family::ipv6,
       "*filter\n-A INPUT -p udp --dport 546 -p tcp -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "-p", "multiple -p flags not allowed", 0},
      // --de begins --delete and --destination (with an argument) and --delete-chain
      // (without): getopt refuses it as ambiguous, so the word after it stays an option.
      {"an abbreviation of long names that disagree on taking an argument is refused",
       family::ipv4, "*filter\n-A INPUT --de --x -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "--de", "unknown option '--de'", 0},
      {"a jump to an undefined chain is pinned on the rule not on COMMIT", family::ipv4,
       "*filter\n-A INPUT -j NOPE\nCOMMIT\n", severity::error, 2, "NOPE",
       "jump to undefined chain 'NOPE'", 3},
      {"a jump loop reachable from INPUT is refused", family::ipv4,
       "*filter\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j A\nCOMMIT\n",
       severity::error, 6, "A", "jump loop A -> B -> A", 0},
      {"a goto into a chain that jumps to itself is a reachable loop", family::ipv4,
       "*filter\n:A - [0:0]\n-A INPUT -g A\n-A A -j A\nCOMMIT\n", severity::error, 4, "A",
       "jump loop A -> A", 0},
      {"a port option without -p tcp is an unknown option", family::ipv4,
       "*filter\n-A INPUT --dport 80 -j ACCEPT\nCOMMIT\n", severity::error, 2, "--dport",
       "unknown option '--dport'", 0},
      {"the tcp match without -p tcp is refused", family::ipv4,
       "*filter\n-A INPUT -m tcp --dport 80 -j ACCEPT\nCOMMIT\n", severity::error, 2, "-m",
       "requires '-p tcp'", 0},
      {"an IPv4 address with a byte over 255 is refused", family::ipv4,
       "*filter\n-A INPUT -s 1.2.3.400 -j ACCEPT\nCOMMIT\n", severity::error, 2, "1.2.3.400",
       "not an IPv4 address", 0},
      {"a prefix longer than 32 is refused", family::ipv4,
       "*filter\n-A INPUT -s 1.2.3.4/33 -j ACCEPT\nCOMMIT\n", severity::error, 2, "1.2.3.4/33",
       "invalid mask '33'", 0},
      {"an IPv6 prefix longer than 128 is refused", family::ipv6,
       "*filter\n-A INPUT -d 2001:db8::/129 -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "2001:db8::/129", "invalid mask '129'", 0},
      {"a port over 65535 is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp --dport 70000 -j ACCEPT\nCOMMIT\n", severity::error, 2, "70000",
       "invalid port/service '70000'", 0},
      {"a port written 080 is no number: 0 makes it octal, as strtoumax reads it", family::ipv4,
       "*filter\n-A INPUT -p tcp --dport 080 -j ACCEPT\nCOMMIT\n", severity::error, 2, "080",
       "invalid port/service '080'", 0},
      {"-R with an address list is refused: it would replace one rule by several",
       family::ipv4, "*filter\n-A INPUT -j DROP\n-R INPUT 1 -s 10.0.0.1,10.0.0.2 -j ACCEPT\nCOMMIT\n",
       severity::error, 3, "-R", "Replacement rule does not specify a unique address", 0},
      {"! before an address list is refused", family::ipv4,
       "*filter\n-A INPUT ! -s 10.0.0.1,10.0.0.2 -j ACCEPT\nCOMMIT\n", severity::error, 2, "!",
       "! not allowed with multiple source or destination IP addresses", 0},
      {"a NAT address in a form only -s and -d take is refused", family::ipv4,
       "*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 10.1:80\nCOMMIT\n", severity::error, 2,
       "10.1:80", "bad IP address or range '10.1'", 0},
      {"a limit rate whose count atoi() reads as 0 is refused", family::ipv4,
       "*filter\n-A INPUT -m limit --limit 0x10/s -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "0x10/s", "bad rate '0x10/s'", 0},
      {"a reversed owner range is refused", family::ipv4,
       "*filter\n-A OUTPUT -m owner --gid-owner 5-3 -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "5-3", "bad range '5-3'", 0},
      {"a reversed port range is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp --dport 90:80 -j ACCEPT\nCOMMIT\n", severity::error, 2, "90:80",
       "min > max", 0},
      {"an unknown TCP flag is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp --tcp-flags RST,FOO RST -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "RST,FOO", "unknown TCP flag 'FOO'", 0},
      {"tcp-flags with one argument is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp --tcp-flags SYN -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "--tcp-flags", "requires two arguments", 0},
      {"syn together with tcp-flags is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp --syn --tcp-flags SYN SYN -j ACCEPT\nCOMMIT\n", severity::error,
       2, "--tcp-flags", "Only one of `--syn' or `--tcp-flags' allowed", 0},
      {"a TCP option number over 255 is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp --tcp-option 300 -j ACCEPT\nCOMMIT\n", severity::error, 2, "300",
       "Bad TCP option", 0},
      {"TCP option 0 is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp ! --tcp-option 0 -j ACCEPT\nCOMMIT\n", severity::error, 2, "0",
       "Bad TCP option '0' (1 to 255)", 0},
      {"an unknown ICMP type name is refused", family::ipv4,
       "*filter\n-A INPUT -p icmp --icmp-type bogus -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "bogus", "unknown ICMP type 'bogus'", 0},
      {"an ICMP type name that begins two names is ambiguous", family::ipv4,
       "*filter\n-A INPUT -p icmp --icmp-type echo -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "echo", "Ambiguous ICMP type `echo': `echo-reply' or `echo-request'?", 0},
      {"an MLD type name, which ip6tables 1.8.9 does not know, is refused", family::ipv6,
       "*filter\n-A INPUT -p icmpv6 --icmpv6-type mld-listener-query -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "mld-listener-query", "unknown ICMPv6 type", 0},
      {"an ICMP type number over 255 is refused", family::ipv4,
       "*filter\n-A INPUT -p icmp --icmp-type 300 -j ACCEPT\nCOMMIT\n", severity::error, 2, "300",
       "unknown ICMP type '300'", 0},
      {"an unknown ICMPv6 type is refused by ip6tables", family::ipv6,
       "*filter\n-A INPUT -p icmpv6 --icmpv6-type echo-bogus -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "echo-bogus", "unknown ICMPv6 type", 0},
      {"log level 8 is refused", family::ipv4,
       "*filter\n-A INPUT -j LOG --log-level 8\nCOMMIT\n", severity::error, 2, "8",
       "log level '8' unknown", 0},
      {"the log level name warn is refused", family::ipv4,
       "*filter\n-A INPUT -j LOG --log-level warn\nCOMMIT\n", severity::error, 2, "warn",
       "log level 'warn' unknown", 0},
      {"an empty LOG prefix is refused", family::ipv4,
       "*filter\n-A INPUT -j LOG --log-prefix \"\"\nCOMMIT\n", severity::error, 2, "\"\"",
       "may not be empty", 0},
      {"a chain name of 29 characters is refused", family::ipv4,
       "*filter\n:ABCDEFGHIJKLMNOPQRSTUVWXYZ012 - [0:0]\nCOMMIT\n", severity::error, 2, "ABC",
       "at most 28 characters", 0},
      {"a chain created twice with -N is refused", family::ipv4,
       "*filter\n-N X\n-N X\nCOMMIT\n", severity::error, 3, "X", "already exists", 0},
      {"a policy for a user chain with -P is refused", family::ipv4,
       "*filter\n:X - [0:0]\n-P X DROP\nCOMMIT\n", severity::error, 3, "X",
       "not a built-in chain", 0},
      {"sixteen ports in multiport are refused", family::ipv4,
       "*filter\n-A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j "
       "ACCEPT\nCOMMIT\n",
       severity::error, 2, "1,2", "too many ports", 0},
      {"multiport with both source and destination ports is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp -m multiport --dports 1:2,3 --sports 4 -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "--sports", "cannot be used together with", 0},
      {"an unknown match module is refused", family::ipv4,
       "*filter\n-A INPUT -m foo --bar -j ACCEPT\nCOMMIT\n", severity::error, 2, "foo",
       "no match module 'foo'", 0},
      {"an unknown conntrack state is refused", family::ipv4,
       "*filter\n-A INPUT -m conntrack --ctstate NEW,BOGUS -j ACCEPT\nCOMMIT\n", severity::error,
       2, "NEW,BOGUS", "bad ctstate 'BOGUS'", 0},
      {"an unknown address type is refused", family::ipv4,
       "*filter\n-A INPUT -m addrtype --src-type FOO -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "FOO", "bad address type", 0},
      {"a probability over 1 is refused", family::ipv4,
       "*filter\n-A INPUT -m statistic --mode random --probability 1.5 -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "1.5", "bad probability", 0},
      {"a rate with an unknown unit is refused", family::ipv4,
       "*filter\n-A INPUT -m limit --limit 5/fortnight -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "5/fortnight", "bad rate", 0},
      {"a mark with trailing garbage is refused", family::ipv4,
       "*filter\n-A INPUT -m mark --mark 0xzz -j ACCEPT\nCOMMIT\n", severity::error, 2, "0xzz",
       "bad mark", 0},
      {"an NFLOG group over 65535 is refused", family::ipv4,
       "*filter\n-A INPUT -j NFLOG --nflog-group 70000\nCOMMIT\n", severity::error, 2, "70000",
       "0-65535", 0},
      {"an ICMPv6 reject type in iptables is refused", family::ipv4,
       "*filter\n-A INPUT -j REJECT --reject-with icmp6-port-unreachable\nCOMMIT\n",
       severity::error, 2, "icmp6-port-unreachable", "unknown reject type", 0},
      {"the tcp-rst spelling, which only iptables knows, is refused by ip6tables", family::ipv6,
       "*filter\n-A INPUT -p tcp -j REJECT --reject-with tcp-rst\nCOMMIT\n", severity::error, 2,
       "tcp-rst", "unknown reject type", 0},
      {"an ICMP reject type in ip6tables is refused", family::ipv6,
       "*filter\n-A INPUT -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n",
       severity::error, 2, "icmp-port-unreachable", "unknown reject type", 0},
      {"a TCP reset without -p tcp is refused by the kernel", family::ipv4,
       "*filter\n-A INPUT -j REJECT --reject-with tcp-reset\nCOMMIT\n", severity::error, 2,
       "tcp-reset", "needs '-p tcp'", 0},
      {"an output interface in INPUT is refused", family::ipv4,
       "*filter\n-A INPUT -i eth0 -o eth1 -j ACCEPT\nCOMMIT\n", severity::error, 2, "-o",
       "can't use -o with INPUT", 0},
      {"a DNAT port over 65535 is refused", family::ipv4,
       "*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 10.1.1.1:99999\nCOMMIT\n",
       severity::error, 2, "10.1.1.1:99999", "not valid", 0},
      {"MASQUERADE ports without a protocol are refused", family::ipv4,
       "*nat\n-A POSTROUTING -j MASQUERADE --to-ports 1000-2000\nCOMMIT\n", severity::error, 2,
       "-j", "needs -p tcp, udp, sctp or dccp", 0},
      // xtables_option_parse(): only options declared with XTOPT_INVERT take a '!' (found by
      // asking iptables-restore 1.8.9 about every modelled option).
      {"an inverted comment is refused", family::ipv4,
       "*filter\n-A INPUT -m comment ! --comment x -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "x", "comment: option \"--comment\" cannot be inverted.", 0},
      {"an inverted target option is refused", family::ipv6,
       "*filter\n-A INPUT -j LOG ! --log-prefix x\nCOMMIT\n", severity::error, 2, "x",
       "LOG: option \"--log-prefix\" cannot be inverted.", 0},
      {"an inverted target flag is refused", family::ipv4,
       "*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 10.1.1.1 ! --random\nCOMMIT\n",
       severity::error, 2, "--random", "DNAT: option \"--random\" cannot be inverted.", 0},
      {"an inverted statistic packet is refused", family::ipv4,
       "*filter\n-A INPUT -m statistic --mode nth --every 2 ! --packet 1 -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "1", "statistic: option \"--packet\" cannot be inverted.", 0},
      {"an inverted addrtype interface limit is refused", family::ipv4,
       "*filter\n-A INPUT -m addrtype --src-type LOCAL ! --limit-iface-in -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "--limit-iface-in", "addrtype: option \"--limit-iface-in\" cannot be inverted.", 0},
      {"the icmp6 match in iptables is refused: it is ip6tables' only", family::ipv4,
       "*filter\n-A INPUT -p icmp -m icmpv6 -j ACCEPT\nCOMMIT\n", severity::error,
       2, "icmpv6", "no match module 'icmp6' in iptables", 0},
      {"the icmp match in ip6tables is refused: it is iptables' only", family::ipv6,
       "*filter\n-A INPUT -p icmpv6 -m icmp -j ACCEPT\nCOMMIT\n", severity::error,
       2, "icmp", "no match module 'icmp' in ip6tables", 0},
      {"an option before the -p that would load its match is unknown", family::ipv4,
       "*filter\n-A INPUT --dport 80 -p tcp -j ACCEPT\nCOMMIT\n", severity::error, 2, "--dport",
       "unknown option '--dport'", 0},
      // getopt_long() takes an abbreviation only when it begins one option of all the loaded
      // extensions together (found by the session-8 differential campaign).
      {"an abbreviation of two options of one match is unknown", family::ipv4,
       "*filter\n-A INPUT -m limit --lim 5/s -j ACCEPT\nCOMMIT\n", severity::error, 2, "--lim",
       "unknown option '--lim'", 0},
      {"an abbreviation of options of two matches is unknown", family::ipv4,
       "*filter\n-A INPUT -p udp --dport 53 -m multiport --dpo 53 -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "--dpo", "unknown option '--dpo'", 0},
      {"an abbreviation of two options of the implicit match is unknown", family::ipv6,
       "*filter\n-A INPUT -p tcp --tcp SYN SYN -j ACCEPT\nCOMMIT\n", severity::error, 2, "--tcp",
       "unknown option '--tcp'", 0},
      {"-g to a verdict is refused: it goes to chains only", family::ipv4,
       "*filter\n-A INPUT -g ACCEPT\nCOMMIT\n", severity::error, 2, "ACCEPT",
       "Chain 'ACCEPT' does not exist", 3},  // iptables-nft finds out at COMMIT
      {"-g to a target is refused", family::ipv6,
       "*filter\n-A INPUT -g LOG\nCOMMIT\n", severity::error, 2, "LOG",
       "Chain 'LOG' does not exist", 3},
      {"a jump to a built-in chain is refused", family::ipv4,
       "*filter\n-A INPUT -j OUTPUT\nCOMMIT\n", severity::error, 2, "OUTPUT",
       "jump to built-in chain 'OUTPUT'", 0},
      {"a '!' on one address with a list on the other is refused", family::ipv4,
       "*filter\n-A INPUT ! -s 192.0.2.9 -d 192.0.2.1,192.0.2.2 -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "!", "! not allowed with multiple source or destination IP addresses", 0},
      {"DROP in a nat user chain that nothing jumps to is refused", family::ipv6,
       "*nat\n:U - [0:0]\n-A U -j DROP\nCOMMIT\n", severity::error, 3, "DROP",
       "not intended for filtering", 0},
      {"REJECT in a mangle user chain that nothing jumps to is refused", family::ipv4,
       "*mangle\n:U - [0:0]\n-A U -j REJECT\nCOMMIT\n", severity::error, 3, "REJECT",
       "REJECT is only valid in table 'filter'", 0},
      {"a short abbreviation that also begins base options is unknown", family::ipv4,
       "*filter\n-A INPUT -p tcp --d 22 -j ACCEPT\nCOMMIT\n", severity::error, 2, "--d",
       "unknown option '--d'", 0},
      {"a CONNMARK bit operation with a mask is refused", family::ipv4,
       "*mangle\n-A OUTPUT -j CONNMARK --and-mark 0x1/0x1\nCOMMIT\n", severity::error, 2,
       "0x1/0x1", "--and-mark takes no mask", 0},
      {"a '!' before -j is refused", family::ipv4,
       "*filter\n-A INPUT ! -j ACCEPT\nCOMMIT\n", severity::error, 2, "!",
       "cannot have ! before -j", 0},
      {"a --ctexpire past 32 bits is refused", family::ipv4,
       "*filter\n-A INPUT -m conntrack --ctexpire 4294967296 -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "4294967296", "near \"4294967296\", or out of range", 0},
      {"a --ctexpire with a fraction is refused", family::ipv6,
       "*filter\n-A INPUT -m conntrack --ctexpire 10.0 -j ACCEPT\nCOMMIT\n", severity::error,
       2, "10.0", "unexpected characters near \".0\"", 0},
      {"a uid of 4294967295 is refused", family::ipv4,
       "*filter\n-A OUTPUT -m owner --uid-owner 4294967295 -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "4294967295", "no such user", 0},
      // A match loaded without the option it needs (XTOPT_MAND or its final check).
      {"a comment match without --comment is refused", family::ipv4,
       "*filter\n-A INPUT -m comment -j ACCEPT\nCOMMIT\n", severity::error, 2, "-m",
       "comment: option \"--comment\" must be specified", 0},
      {"a conntrack match without options is refused", family::ipv6,
       "*filter\n-A INPUT -m conntrack -j ACCEPT\nCOMMIT\n", severity::error, 2, "-m",
       "conntrack: At least one option is required", 0},
      {"an iprange match without a range is refused", family::ipv4,
       "*filter\n-A INPUT -m iprange -j ACCEPT\nCOMMIT\n", severity::error, 2, "-m",
       "iprange match: You must specify", 0},
      {"an owner match without an owner is refused", family::ipv4,
       "*filter\n-A OUTPUT -m owner -j ACCEPT\nCOMMIT\n", severity::error, 2, "-m",
       "owner: At least one of --uid-owner", 0},
      {"a multiport match without ports is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp -m multiport -j ACCEPT\nCOMMIT\n", severity::error, 2, "-m",
       "multiport expection an option", 0},
      {"a NAT port before the -p that allows it is refused: iptables reads in order", family::ipv4,
       "*nat\n-A POSTROUTING -j MASQUERADE --to-ports 80 -p udp\nCOMMIT\n", severity::error, 2,
       "-j", "a port in MASQUERADE needs -p", 0},
      {"a multiport service name the -p protocol has none of is refused", family::ipv4,
       "*filter\n-A INPUT -p sctp -m multiport --dports http-alt -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "http-alt", "invalid port/service 'http-alt'", 0},
      // iptables-nft keeps these tcp/udp matches as xt matches, which want -p not inverted.
      {"an inverted -p with a tcp option match is refused", family::ipv4,
       "*filter\n-A INPUT ! -p tcp --tcp-option 3 -j ACCEPT\nCOMMIT\n", severity::error, 2, "-p",
       "the tcp match requires '-p tcp'", 0},
      {"an inverted -p with a udp match that restricts nothing is refused", family::ipv6,
       "*filter\n-A INPUT ! -p udp --dport 0:65535 -j ACCEPT\nCOMMIT\n", severity::error, 2, "-p",
       "the udp match requires '-p udp'", 0},
      {"CT outside the raw table is refused", family::ipv4,
       "*mangle\n-A PREROUTING -j CT --notrack\nCOMMIT\n", severity::error, 2, "CT",
       "CT is only valid in table 'raw'", 0},
      {"a CT zone that is neither a number nor mark is refused", family::ipv6,
       "*raw\n-A PREROUTING -j CT --zone x\nCOMMIT\n", severity::error, 2, "x",
       "Cannot parse x as a zone ID", 0},
      {"an unknown CT event is refused, in the case iptables compares", family::ipv4,
       "*raw\n-A PREROUTING -j CT --ctevents new,NEW\nCOMMIT\n", severity::error, 2, "new,NEW",
       "Unknown event type \"NEW\"", 0},
      {"a CT helper without a protocol is refused", family::ipv4,
       "*raw\n-A PREROUTING -j CT --helper ftp\nCOMMIT\n", severity::error, 2, "--helper",
       "CT --helper needs -p", 0},
      {"the sctp match without -p sctp is refused", family::ipv4,
       "*filter\n-A INPUT -m sctp --dport 80 -j ACCEPT\nCOMMIT\n", severity::error, 2, "-m",
       "the sctp match requires '-p sctp'", 0},
      {"the dccp match with an inverted -p dccp is refused", family::ipv6,
       "*filter\n-A INPUT ! -p dccp -m dccp --dport 80 -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "-m", "the dccp match requires '-p dccp'", 0},
      {"an unknown sctp chunk is refused", family::ipv4,
       "*filter\n-A INPUT -p sctp --chunk-types any DATA,ALL -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "any", "Unknown sctp chunk `ALL'", 0},
      {"a flag a chunk type does not have is refused", family::ipv4,
       "*filter\n-A INPUT -p sctp --chunk-types any INIT:X -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "any", "Invalid flags for chunk type 1", 0},
      {"flags on a fifth chunk type are refused", family::ipv4,
       "*filter\n-A INPUT -p sctp --chunk-types all DATA:B,ABORT:T,SHUTDOWN_COMPLETE:T,INIT:-,SACK:- -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "all", "Number of chunk types with flags exceeds", 0},
      {"a chunk match other than any, all or only is refused", family::ipv4,
       "*filter\n-A INPUT -p sctp --chunk-types some INIT -j ACCEPT\nCOMMIT\n", severity::error,
       2, "some", "Match type has to be one of", 0},
      {"an sctp port range that runs backwards is refused", family::ipv4,
       "*filter\n-A INPUT -p sctp --dport 5:1 -j ACCEPT\nCOMMIT\n", severity::error, 2, "5:1",
       "min > max", 0},
      {"a dccp option 0 is refused", family::ipv4,
       "*filter\n-A INPUT -p dccp --dccp-option 0 -j ACCEPT\nCOMMIT\n", severity::error, 2, "0",
       "(1-255)", 0},
      {"an unknown dccp type is refused", family::ipv4,
       "*filter\n-A INPUT -p dccp --dccp-types REQUEST,HELLO -j ACCEPT\nCOMMIT\n",
       severity::error, 2, "REQUEST,HELLO", "Unknown DCCP type `HELLO'", 0},
      {"an unknown port name is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp --sport nosuchservice -j ACCEPT\nCOMMIT\n", severity::error, 2,
       "nosuchservice", "invalid port/service", 0},
      {"the old intrapositioned negation is refused", family::ipv4,
       "*filter\n-A INPUT -p tcp --sport ! 80 -j ACCEPT\nCOMMIT\n", severity::error, 2, "!",
       "intrapositioned negation", 0},
  };
}

std::vector<check_case> warning_cases() {
  return {
      {"a quote never closed is a warning: iptables-restore takes the rest of the line into one word",
       family::ipv4, "*filter\n-A INPUT -m comment --comment \"abc def -j ACCEPT\nCOMMIT\n",
       severity::warning, 2, "\"abc def -j ACCEPT", "this quote is never closed", 0},
      {"a conntrack address mask that is no prefix is a warning: iptables-save drops it",
       family::ipv4,
       "*filter\n-A INPUT -m conntrack --ctorigsrc 10.1.2.3/255.0.255.0 -j ACCEPT\nCOMMIT\n",
       severity::warning, 2, "10.1.2.3/255.0.255.0", "without this mask, which is no prefix", 0},
      // libxt_udp.c reads ports as XTTYPE_PORTRC, which checks no order: iptables loads the
      // range, and neither xt_udp nor nft matches a port with it.
      {"a udp port range written backwards is a warning: it matches no port", family::ipv4,
       "*filter\n-A INPUT -p udp --dport 5:1 -j ACCEPT\nCOMMIT\n", severity::warning, 2, "5:1",
       "the port range 5:1 runs backwards: it matches no port", 0},
      // Found by fuzz/validate (fuzz/regressions/validate/abbreviated-jump-after-an-unmodelled-
      // match): `--j` abbreviates --jump, so the rule jumps to P, as ip6tables-save shows.
      {"an abbreviated --jump after an unmodelled match is the rule's jump", family::ipv6,
       "*filter\n:P - [0:0]\n-A INPUT -m rt --j P\nCOMMIT\n", severity::warning, 3, "rt",
       "match 'rt' is not modelled", 0},
      {"a comment longer than 255 characters is a warning: the kernel keeps 255", family::ipv4,
       "*filter\n-A INPUT -m comment --comment C" + std::string(255, 'c') + " -j ACCEPT\nCOMMIT\n",
       severity::warning, 2, "Cc", "comment of 256 characters is cut by the kernel to its first 255", 0},
      {"an NFLOG prefix longer than 127 characters is a warning", family::ipv6,
       "*filter\n-A INPUT -j NFLOG --nflog-prefix N" + std::string(127, 'n') + "\nCOMMIT\n",
       severity::warning, 2, "Nn", "NFLOG prefix of 128 characters is cut by the kernel to its first 127", 0},
      // A chain line's third word is read only with --counters, and only as far as
      // sscanf("[%llu:%llu]") goes (counters_chain_loose.rules has the loads that succeed).
      {"a chain line's text after its counters is a warning: iptables never reads it",
       family::ipv4, "*filter\n:INPUT ACCEPT [0:0] extra\nCOMMIT\n", severity::warning, 2,
       "extra", "never reads 'extra' after the counters", 0},
      {"a word after a built-in chain's policy that is not counters is a warning", family::ipv4,
       "*filter\n:INPUT ACCEPT garbage\nCOMMIT\n", severity::warning, 2, "garbage",
       "'garbage' is not counters '[packets:bytes]': iptables-restore --counters refuses this line",
       0},
      {"a byte count with more after its digits is a warning", family::ipv6,
       "*filter\n:INPUT ACCEPT [1:2:3]\nCOMMIT\n", severity::warning, 2, "2:3",
       "takes only the leading digits of '2:3' as the byte count", 0},
      {"a packet count that is not a number is a warning: only --counters reads it", family::ipv4,
       "*filter\n:INPUT ACCEPT [1x:2]\nCOMMIT\n", severity::warning, 2, "1x",
       "'1x' is not a packet count", 0},
      {"a user chain's counters are never read, whatever they hold", family::ipv4,
       "*filter\n:U - [a:b] more\nCOMMIT\n", severity::warning, 2, "more",
       "never reads 'more'", 0},
      {"a built-in chain's policy '-' keeps its policy", family::ipv4,
       "*filter\n:INPUT - [0:0]\nCOMMIT\n", severity::note, 0, "", "", 0},
      // iptables-nft turns tcp/udp ports and flags into payload compares and iptables-save
      // shows them as one match (tcp_udp_merged.rules): where that is not the rule the kernel
      // applies, check says so.
      {"a port compared by two tcp matches is a warning: iptables-save shows only the last",
       family::ipv4, "*filter\n-A INPUT -p tcp -m tcp --dport 80 -m tcp ! --dport 81 -j ACCEPT\nCOMMIT\n",
       severity::warning, 2, "-m", "iptables-save shows one match, '-m tcp ! --dport 81'", 0},
      {"a udp port given by -p's match and again by -m udp is a warning", family::ipv6,
       "*filter\n-A INPUT -p udp --dport 53 -m udp --dport 54 -j ACCEPT\nCOMMIT\n",
       severity::warning, 2, "-m", "'-m udp --dport 54'", 0},
      {"an inverted full port range is a warning: iptables-nft compares nothing", family::ipv4,
       "*filter\n-A INPUT -p tcp -m tcp ! --sport 0:65535 -j ACCEPT\nCOMMIT\n", severity::warning,
       2, "-m", "'! --sport 0:65535' matches no packet in xt_tcp", 0},
      {"tcp flags with an empty mask that never match are a warning", family::ipv4,
       "*filter\n-A INPUT -p tcp -m tcp --tcp-flags NONE SYN -m tcp --sport 4 -j ACCEPT\nCOMMIT\n",
       severity::warning, 2, "-m tcp --tcp", "--tcp-flags with an empty mask matches no packet", 0},
      {"two tcp matches that compare different fields are no warning", family::ipv4,
       "*filter\n-A INPUT -p tcp --dport 80 -m tcp --syn -m tcp --sport 1 -j ACCEPT\nCOMMIT\n",
       severity::note, 0, "", "", 0},
      {"a user chain declared twice is a warning", family::ipv4,
       "*filter\n:A - [0:0]\n:A - [0:0]\nCOMMIT\n", severity::warning, 3, "A", "declared twice",
       0},
      {"a policy on a user chain is a warning", family::ipv4, "*filter\n:A ACCEPT [0:0]\nCOMMIT\n",
       severity::warning, 2, "ACCEPT", "a user chain has no policy", 0},
      {"a policy line for a built-in chain the table lacks is a warning", family::ipv4,
       "*filter\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", severity::warning, 2, "PREROUTING",
       "makes a user chain", 0},
      {"a loop no built-in chain reaches is a warning", family::ipv4,
       "*filter\n:A - [0:0]\n:B - [0:0]\n-A A -j B\n-A B -j A\nCOMMIT\n", severity::warning, 5,
       "A", "no built-in chain reaches it", 0},
      {"a LOG prefix longer than 29 characters is a warning", family::ipv4,
       "*filter\n-A INPUT -j LOG --log-prefix \"0123456789012345678901234567890123\"\nCOMMIT\n",
       severity::warning, 2, "\"0123", "cut by the kernel", 0},
      {"a host name in -s is a warning", family::ipv4,
       "*filter\n-A INPUT -s localhost -j ACCEPT\nCOMMIT\n", severity::warning, 2, "localhost",
       "host name 'localhost'", 0},
      {"an unmodelled match is a warning that it was not verified", family::ipv4,
       "*filter\n-A INPUT -m length --length 0:100 -j ACCEPT\nCOMMIT\n", severity::warning, 2,
       "length --", "not modelled by rstwatch", 0},
      {"an unmodelled target is a warning that it was not verified", family::ipv4,
       "*mangle\n-A PREROUTING -j TOS --set-tos 0x10\nCOMMIT\n", severity::warning, 2, "TOS",
       "not modelled by rstwatch", 0},
      {"an address range of iprange is accepted", family::ipv4,
       "*filter\n-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9 -j ACCEPT\nCOMMIT\n",
       severity::note, 0, "", "", 0},
  };
}

report check(const check_case& c) {
  auto f = parse(c.text, "t.rules");
  INFO("parse: " << (f ? std::string() : format(f.error())));
  if (!f) return report{{f.error()}};
  validate_options o;
  o.family = c.fam;
  o.file_name = "t.rules";
  return validate(*f, o);
}

// The report as the user sees it (or the syntax error).
std::string shown(const report& r, const std::string& text) {
  auto f = parse(text, "t.rules");
  return f ? format_report(r, *f) : format(f.error());
}

// The line of `text` numbered `n` (1-based).
std::string line_of(const std::string& text, unsigned n) {
  std::istringstream in(text);
  std::string l;
  for (unsigned i = 0; i < n && std::getline(in, l);) ++i;
  return l;
}

// The first diagnostic of severity `s` in `r`, if any.
const diagnostic* first_of(const report& r, severity s) {
  for (const auto& d : r.diagnostics)
    if (d.level == s) return &d;
  return nullptr;
}

struct restore_verdict {
  int status = -1;
  std::string output;
  unsigned line = 0;   // the line iptables-restore names, 0 if none
  std::string saved;   // what iptables-save prints afterwards in the same namespace
};

// The real iptables-restore (or ip6tables-restore), without --test, in a fresh namespace, and
// what iptables-save shows there afterwards.
restore_verdict real_restore(const std::string& text, family f) {
  test::netns ns("val");
  std::string path = "/tmp/" + test::unique_tag("rw-validate") + ".rules";
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  std::string tool = f == family::ipv6 ? "ip6tables-restore" : "iptables-restore";
  auto r = ns.exec(tool + " < " + path);
  std::remove(path.c_str());
  restore_verdict v{r.status, r.output, 0,
                    ns.exec(std::string(f == family::ipv6 ? "ip6tables-save" : "iptables-save") +
                            " 2>/dev/null")
                        .output};
  std::smatch m;
  if (std::regex_search(r.output, m, std::regex("line:? ([0-9]+)")))
    v.line = static_cast<unsigned>(std::stoul(m[1]));
  return v;
}

}  // namespace

SCENARIO("what iptables refuses is an error at the line and column of its cause",
         "[rules][validate]") {
  for (const auto& c : error_cases()) {
    DYNAMIC_SECTION(c.behaviour) {
      GIVEN("a restore file") {
        INFO(c.text);
        WHEN("it is validated") {
          report r = check(c);
          INFO(shown(r, c.text));
          THEN("the first error names the cause where it stands") {
            const diagnostic* d = first_of(r, severity::error);
            REQUIRE(d != nullptr);
            CHECK(d->file == "t.rules");
            CHECK(d->what().find(c.says) != std::string::npos);
            CHECK(d->where.line == c.line);
            std::string line = line_of(c.text, c.line);
            std::size_t col = std::string(c.at).empty() ? 0 : line.rfind(c.at);
            CHECK(d->where.column == col + 1);
            CHECK_FALSE(r.ok());
          }
        }
      }
    }
  }
}

SCENARIO("an extension option given twice or after one it excludes is refused by check and by restore",
         "[rules][validate][saved]") {
  for (const auto& c : repeated_option_cases()) {
    DYNAMIC_SECTION(c.behaviour) {
      GIVEN("a restore file with such a rule") {
        INFO(c.text);
        WHEN("it is validated") {
          report r = check(c);
          INFO(shown(r, c.text));
          THEN("the first error is at the option that repeats or conflicts, in iptables' words") {
            const diagnostic* d = first_of(r, severity::error);
            REQUIRE(d != nullptr);
            CHECK(d->what().find(c.says) != std::string::npos);
            CHECK(d->where.line == c.line);
            CHECK(d->where.column == line_of(c.text, c.line).rfind(c.at) + 1);
          }
        }
        WHEN("it is restored") {
          auto f = parse(c.text, "t.rules");
          REQUIRE(f);
          restore_options o;
          o.fam = c.fam;
          auto rs = restore(empty_ruleset(c.fam), *f, o);
          THEN("the restore fails on that line, as iptables-restore does") {
            REQUIRE_FALSE(rs);
            CHECK(rs.error().where.line == c.line);
            CHECK(rs.error().message.find(c.at[0] == '-' && c.at[1] == 'm' ? "multiport needs" : c.says) !=
                  std::string::npos);
          }
        }
      }
    }
  }
}

SCENARIO("the real iptables-restore refuses every repeated or excluded extension option",
         "[rules][validate][root]") {
  if (!test::require_root("restoring rule files into a namespace")) return;
  for (const auto& c : repeated_option_cases()) {
    DYNAMIC_SECTION(c.behaviour) {
      GIVEN("a restore file with such a rule") {
        INFO(c.text);
        WHEN("it is restored into a fresh namespace") {
          auto v = real_restore(c.text, c.fam);
          INFO(v.output);
          THEN("iptables refuses it at the line rstwatch names") {
            CHECK(v.status != 0);
            CHECK(v.line == c.line);
          }
        }
      }
    }
  }
}

SCENARIO("what iptables quietly accepts is a warning and the file stays valid",
         "[rules][validate]") {
  for (const auto& c : warning_cases()) {
    DYNAMIC_SECTION(c.behaviour) {
      GIVEN("a restore file") {
        INFO(c.text);
        WHEN("it is validated") {
          report r = check(c);
          INFO(shown(r, c.text));
          THEN("there is no error, and the warning points at its cause") {
            CHECK(r.ok());
            if (c.level == severity::warning) {
              const diagnostic* d = first_of(r, severity::warning);
              REQUIRE(d != nullptr);
              CHECK(d->what().find(c.says) != std::string::npos);
              CHECK(d->where.line == c.line);
              std::size_t col = line_of(c.text, c.line).rfind(c.at);
              CHECK(d->where.column == col + 1);
            } else {
              CHECK(r.diagnostics.empty());
            }
          }
        }
      }
    }
  }
}

SCENARIO("the seed's misspelt log level comes with the fix", "[rules][validate]") {
  GIVEN("drds_filter.conf with its commented-out rule switched on") {
    std::string text = seed_uncommented();
    auto f = parse(text, "drds_filter.conf");
    REQUIRE(f);
    WHEN("it is validated and printed like a compiler") {
      report r = validate(*f, {family::ipv4, "drds_filter.conf"});
      std::string shown = format_report(r, *f);
      THEN("one error says --log-level7 is unknown and suggests --log-level 7") {
        REQUIRE(r.errors() == 1);
        CHECK(r.diagnostics[0].hint == "did you mean `--log-level 7`");
        CHECK(shown.rfind("drds_filter.conf:8:90: error: unknown option '--log-level7' (did you "
                          "mean `--log-level 7`)\n",
                          0) == 0);
        CHECK(shown.find("\n  -A INPUT -p tcp -m tcp ! --dport 3406") != std::string::npos);
        CHECK(shown.find("\n" + std::string(91, ' ') + "^\n") != std::string::npos);
      }
    }
  }
  GIVEN("the seed file as the user runs it") {
    std::string text = seed_text();
    auto f = parse(text, "drds_filter.conf");
    REQUIRE(f);
    WHEN("it is validated") {
      report r = validate(*f);
      THEN("there is nothing to say") { CHECK(r.diagnostics.empty()); }
    }
  }
}

SCENARIO("several problems of one file are reported in one pass in file order",
         "[rules][validate]") {
  GIVEN("a file with a bad port, a bad log level and a jump to nowhere") {
    std::string text =
        "*filter\n-A INPUT -p tcp --dport 70000 -j ACCEPT\n-A INPUT -j LOG --log-level 9\n"
        "-A OUTPUT -j NOWHERE\nCOMMIT\n";
    auto f = parse(text);
    REQUIRE(f);
    WHEN("it is validated") {
      report r = validate(*f);
      THEN("three errors come back on lines 2, 3 and 4") {
        REQUIRE(r.errors() == 3);
        CHECK(r.diagnostics[0].where.line == 2);
        CHECK(r.diagnostics[1].where.line == 3);
        CHECK(r.diagnostics[2].where.line == 4);
      }
    }
  }
}

SCENARIO("an option abbreviated as getopt allows is bound to its owner", "[rules][views]") {
  GIVEN("a LOG rule spelling --log-lev and a tcp rule spelling --dp") {
    std::string text = "*filter\n-A INPUT -p tcp --destination-p 22 -j LOG --log-lev 3\nCOMMIT\n";
    auto f = parse(text);
    REQUIRE(f);
    WHEN("the rule is viewed") {
      rule_view v = view_rule(f->lines[1], family::ipv4);
      THEN("the level and the port are read") {
        CHECK(v.problems.empty());
        auto log = log_of(v);
        REQUIRE(log);
        CHECK(log->level == 3);
        auto tcp = tcp_of(v);
        REQUIRE(tcp);
        REQUIRE(tcp->destination_port);
        CHECK(tcp->destination_port->value.first == 22);
      }
    }
  }
}

SCENARIO("an abbreviated option's value that begins with '-' is read as getopt reads it",
         "[rules][validate]") {
  GIVEN("a comment option written --comm whose value is --x") {
    std::string text = "*filter\n-A INPUT -m comment --comm --x -j ACCEPT\nCOMMIT\n";
    auto f = parse(text);
    REQUIRE(f);
    WHEN("the file is validated") {
      report r = validate(*f);
      THEN("it has no error") {
        INFO(format_report(r, *f));
        CHECK(r.ok());
      }
    }
  }
}

SCENARIO("an option's value that begins with '-' is read as getopt reads it", "[rules][views]") {
  GIVEN("a comment and a LOG prefix that begin with dashes, as iptables-save prints them") {
    std::string text =
        "*filter\n-A INPUT -m comment --comment --sportplain -j LOG --log-prefix --rst-\nCOMMIT\n";
    auto f = parse(text);
    REQUIRE(f);
    WHEN("the file is validated") {
      report r = validate(*f);
      THEN("it has no error") {
        INFO(format_report(r, *f));
        CHECK(r.ok());
      }
    }
    WHEN("the rule is viewed") {
      rule_view v = view_rule(f->lines[1], family::ipv4);
      THEN("the comment and the prefix hold the dashed words") {
        CHECK(v.problems.empty());
        CHECK(comment_of(v) == std::optional<std::string>("--sportplain"));
        auto log = log_of(v);
        REQUIRE(log);
        CHECK(log->prefix == "--rst-");
      }
    }
  }
  // Found by fuzz/validate (fuzz/regressions/validate/jump-after-a-regrouped-option): the
  // COMMIT check kept a pointer to the target's token inside the view's regrouped options,
  // which were gone by then (a use after free under ASan).
  GIVEN("a rule with a dashed comment that jumps to an undeclared chain") {
    std::string text = "*filter\n-A INPUT -m comment --comment --x -j NOSUCH\nCOMMIT\n";
    auto f = parse(text);
    REQUIRE(f);
    WHEN("the file is validated") {
      report r = validate(*f);
      THEN("the undefined chain is reported at its name") {
        REQUIRE(r.diagnostics.size() == 1);
        CHECK(r.diagnostics[0].where == source_position{2, 38});
        CHECK(r.diagnostics[0].message == "jump to undefined chain 'NOSUCH' in table 'filter'");
      }
    }
  }
}

SCENARIO("the seed's rules read as typed views", "[rules][views]") {
  GIVEN("the INPUT rule of drds_filter.conf") {
    std::string text = seed_text();
    auto f = parse(text);
    REQUIRE(f);
    WHEN("it is viewed") {
      rule_view v = view_rule(f->lines[6], family::ipv4);
      THEN("command, chain, tcp match and LOG target are typed") {
        CHECK(v.cmd == command::append);
        CHECK(v.chain == "INPUT");
        CHECK(v.protocol_name() == "tcp");
        auto tcp = tcp_of(v);
        REQUIRE(tcp);
        REQUIRE(tcp->source_port);
        CHECK(tcp->source_port->negated);
        CHECK(tcp->source_port->value.first == 3406);
        REQUIRE(tcp->flags);
        CHECK(tcp->flags->value.first == 0x04);
        CHECK(tcp->flags->value.second == 0x04);
        auto log = log_of(v);
        REQUIRE(log);
        CHECK(log->prefix == "[drds] ");
        CHECK(log->level == 7);
        CHECK(log->tcp_sequence);
        CHECK(log->tcp_options);
        CHECK(log->ip_options);
        CHECK_FALSE(log->uid);
      }
    }
  }
}

SCENARIO("the real iptables-restore refuses every error case at the expected line",
         "[rules][validate][root]") {
  if (!test::require_root("restoring rule files into a namespace")) return;
  for (const auto& c : error_cases()) {
    DYNAMIC_SECTION(c.behaviour) {
      GIVEN("a restore file") {
        INFO(c.text);
        WHEN("it is restored into a fresh namespace") {
          auto v = real_restore(c.text, c.fam);
          INFO(v.output);
          THEN("iptables refuses it at the line rstwatch names (or at COMMIT)") {
            CHECK(v.status != 0);
            CHECK(v.line == (c.iptables_line ? c.iptables_line : c.line));
          }
        }
      }
    }
  }
}

SCENARIO("-V or -h on a rule line is an error: iptables-restore would load nothing",
         "[rules][validate]") {
  for (const char* option : {"-V", "-h"}) {
    GIVEN("a rule line with " << option) {
      std::string text = std::string("*filter\n-A INPUT -j ACCEPT\n-A INPUT ") + option +
                         " -j DROP\nCOMMIT\n";
      auto f = rules::parse(text, "v.rules");
      REQUIRE(f);
      WHEN("it is validated") {
        auto r = rules::validate(*f, {family::ipv4, "v.rules"});
        THEN("the option is an error that says iptables-restore exits without loading") {
          REQUIRE_FALSE(r.ok());
          CHECK(r.diagnostics[0].where.line == 3);
          CHECK(r.diagnostics[0].where.column == 10);
          CHECK(r.diagnostics[0].hint.find("exits without loading anything") != std::string::npos);
        }
      }
      WHEN("it is restored by rstwatch") {
        auto saved = rules::print_saved(*f);
        THEN("restore refuses it at the option too") {
          REQUIRE_FALSE(saved);
          CHECK(saved.error().where.line == 3);
        }
      }
    }
  }
}

SCENARIO("the real iptables-restore loads nothing from a file with -V or -h on a rule line",
         "[rules][validate][root]") {
  if (!test::require_root("restoring rule files into a namespace")) return;
  for (const char* option : {"-V", "-h"}) {
    GIVEN("a file whose second rule has " << option) {
      std::string text = std::string("*filter\n-A INPUT -j ACCEPT\n-A INPUT ") + option +
                         " -j DROP\nCOMMIT\n";
      WHEN("it is restored into a fresh namespace") {
        auto v = real_restore(text, family::ipv4);
        THEN("it exits 0 and the rule before it was not loaded either") {
          CHECK(v.status == 0);
          CHECK(v.saved.find("-A INPUT") == std::string::npos);
        }
      }
    }
  }
}

SCENARIO("a NUL byte in a restore file is an error at the byte", "[rules][parse]") {
  // Found by fuzz/validate (fuzz/regressions/validate/nul-byte-inside-an-address).
  GIVEN("a rule whose address is followed by a NUL byte and more options") {
    const std::string text = std::string("*filter\n-A INPUT -s 10.0.0.1") + '\0' + " -j DROP\nCOMMIT\n";
    WHEN("it is parsed") {
      auto f = rules::parse(text, "nul.rules");
      THEN("parsing fails at the NUL, saying what iptables-restore would do with the rest") {
        REQUIRE_FALSE(f);
        CHECK(f.error().file == "nul.rules");
        CHECK(f.error().where.line == 2);
        CHECK(f.error().where.column == 21);
        CHECK(f.error().message.find("ignores the rest") != std::string::npos);
      }
    }
  }
}

SCENARIO("the real iptables-restore loads a rule only up to a NUL byte", "[rules][parse][root]") {
  if (!test::require_root("restoring rule files into a namespace")) return;
  GIVEN("a DROP rule whose address is followed by a NUL byte") {
    const std::string text = std::string("*filter\n-A INPUT -s 10.0.0.1") + '\0' + " -j DROP\nCOMMIT\n";
    WHEN("it is restored into a fresh namespace") {
      auto v = real_restore(text, family::ipv4);
      THEN("it loads the rule without its target: what followed the NUL is gone") {
        CHECK(v.status == 0);
        CHECK(v.saved.find("-A INPUT -s 10.0.0.1/32\n") != std::string::npos);
        CHECK(v.saved.find("DROP") == std::string::npos);
      }
    }
  }
}

SCENARIO("the real iptables-restore accepts every warning case and the seed",
         "[rules][validate][root]") {
  if (!test::require_root("restoring rule files into a namespace")) return;
  auto cases = warning_cases();
  cases.push_back({"the seed file is accepted", family::ipv4, seed_text(), severity::note, 0, "",
                   "", 0});
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.behaviour) {
      GIVEN("a restore file") {
        INFO(c.text);
        WHEN("it is restored into a fresh namespace") {
          auto v = real_restore(c.text, c.fam);
          INFO(v.output);
          THEN("iptables loads it") { CHECK(v.status == 0); }
        }
      }
    }
  }
}

namespace {

// The rules branch's conformance files that stand alone (a NAME_base.rules companion means
// NAME.rules is restored on top of it with --noflush).
std::vector<std::filesystem::path> standalone_files() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(RSTWATCH_TEST_DATA) + "/rules")) {
    auto p = e.path();
    if (p.extension() != ".rules") continue;
    auto base = p.parent_path() / (p.stem().string() + "_base.rules");
    if (std::filesystem::exists(base)) continue;
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

family family_of(const std::filesystem::path& p) {
  return p.filename().string().rfind("ip6_", 0) == 0 ? family::ipv6 : family::ipv4;
}

}  // namespace

SCENARIO("every standalone conformance file has no error", "[rules][validate]") {
  auto files = standalone_files();
  REQUIRE(files.size() >= 10);
  for (const auto& p : files) {
    DYNAMIC_SECTION(p.filename().string()) {
      GIVEN("the file") {
        std::string text = slurp(p);
        auto f = parse(text, p.filename().string());
        REQUIRE(f);
        WHEN("it is validated") {
          report r = validate(*f, {family_of(p), p.filename().string()});
          INFO(format_report(r, *f));
          THEN("it is valid") { CHECK(r.ok()); }
        }
      }
    }
  }
}

SCENARIO("the real iptables-restore accepts every standalone conformance file",
         "[rules][validate][root]") {
  if (!test::require_root("restoring rule files into a namespace")) return;
  for (const auto& p : standalone_files()) {
    DYNAMIC_SECTION(p.filename().string()) {
      GIVEN("the file") {
        WHEN("it is restored into a fresh namespace") {
          auto v = real_restore(slurp(p), family_of(p));
          INFO(v.output);
          THEN("iptables loads it") { CHECK(v.status == 0); }
        }
      }
    }
  }
}

SCENARIO("typed views read the common matches and targets", "[rules][views]") {
  GIVEN("rules using multiport, conntrack, state, comment, mark, REJECT, NFLOG and DNAT") {
    std::string text =
        "*filter\n"
        "-A INPUT -p udp -m multiport ! --dports 53,1000:2000 -m conntrack --ctstate new,ESTABLISHED"
        " -m comment --comment \"dns \\\"and\\\" more\" -j ACCEPT\n"
        "-A INPUT -m state --state RELATED -m mark --mark 0x10/0xf0 -j REJECT\n"
        "-A OUTPUT -j NFLOG --nflog-group 7 --nflog-prefix \"rst \" --nflog-size 128\n"
        "COMMIT\n*nat\n"
        "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.2:8080 --random --persistent\n"
        "COMMIT\n";
    auto f = parse(text);
    REQUIRE(f);
    auto view = [&](std::size_t i) { return view_rule(f->lines[i], family::ipv4); };
    WHEN("the first rule is viewed") {
      auto v = view(1);
      REQUIRE(v.problems.empty());
      THEN("multiport, states and comment carry their values") {
        auto mp = multiport_of(v);
        REQUIRE(mp);
        CHECK(mp->which == multiport_view::side::destination);
        CHECK(mp->negated);
        REQUIRE(mp->ports.size() == 2);
        CHECK(mp->ports[1].first == 1000);
        CHECK(mp->ports[1].last == 2000);
        auto st = states_of(v);
        REQUIRE(st);
        CHECK(st->states == std::vector<std::string>{"NEW", "ESTABLISHED"});
        CHECK(comment_of(v) == std::optional<std::string>("dns \"and\" more"));
      }
    }
    WHEN("the second rule is viewed") {
      auto v = view(2);
      THEN("the state, the mark and the default REJECT answer are read") {
        REQUIRE(states_of(v));
        CHECK(states_of(v)->states == std::vector<std::string>{"RELATED"});
        auto m = mark_of(v);
        REQUIRE(m);
        CHECK(m->value.value == 0x10);
        CHECK(m->value.mask == 0xf0);
        CHECK(reject_of(v, family::ipv4) == std::optional<std::string>("icmp-port-unreachable"));
        CHECK(reject_of(v, family::ipv6) == std::optional<std::string>("icmp6-port-unreachable"));
      }
    }
    WHEN("the NFLOG and DNAT rules are viewed") {
      auto nflog = nflog_of(view(3));
      auto nat = nat_of(view(6));
      THEN("group, prefix, size, destination and flags are read") {
        REQUIRE(nflog);
        CHECK(nflog->group == 7);
        CHECK(nflog->prefix == "rst ");
        CHECK(nflog->size == std::optional<std::uint32_t>(128));
        REQUIRE(nat);
        CHECK(nat->to == "10.0.0.2:8080");
        CHECK(nat->random);
        CHECK(nat->persistent);
        CHECK_FALSE(nat->random_fully);
      }
    }
  }
}

SCENARIO("a very long chain of jumps is validated without exhausting the stack",
         "[rules][validate]") {
  GIVEN("50000 user chains each jumping to the next and the last back to the first") {
    const int n = 50000;
    std::string text = "*filter\n";
    for (int i = 0; i < n; ++i) text += ":C" + std::to_string(i) + " - [0:0]\n";
    text += "-A INPUT -j C0\n";
    for (int i = 0; i < n; ++i)
      text += "-A C" + std::to_string(i) + " -j C" + std::to_string((i + 1) % n) + "\n";
    text += "COMMIT\n";
    auto f = parse(text);
    REQUIRE(f);
    WHEN("it is validated") {
      report r = validate(*f);
      THEN("the one loop is an error on the rule that closes it") {
        REQUIRE(r.errors() == 1);
        CHECK(r.diagnostics[0].where.line == static_cast<unsigned>(2 * n + 2));
      }
    }
  }
}

SCENARIO("a copied rule view reads quoted arguments from its own storage", "[rules][views]") {
  GIVEN("a rule whose comment and LOG prefix are quoted") {
    auto f = parse("*filter\n-A INPUT -m comment --comment \"two words\" -j LOG --log-prefix \"[rst] \"\nCOMMIT\n");
    REQUIRE(f);
    WHEN("its view is copied and the original is overwritten by another rule's view") {
      rule_view original = view_rule(f->lines[1], family::ipv4);
      rule_view copy = original;
      view_rule(f->lines[0], family::ipv4, original);
      original = rule_view{};
      THEN("the table line's view says it has no command, and does not crash") {
        rule_view table = view_rule(f->lines[0], family::ipv4);
        REQUIRE(table.problems.size() == 1);
        CHECK(table.problems[0].message.find("no command given") == 0);
      }
      THEN("the copy still reads both values with their quotes removed") {
        CHECK(comment_of(copy) == std::optional<std::string>("two words"));
        REQUIRE(copy.target_use);
        const bound_option* prefix = copy.target_use->find("log-prefix");
        REQUIRE(prefix);
        CHECK(prefix->arg() == "[rst] ");
        CHECK(prefix->arg(5).empty());
      }
    }
  }
}

SCENARIO("numbers are read as xtables_strtoul reads them: strtoull base 0, whole, in range",
         "[rules][values]") {
  // The oracle is libxtables' xtables_strtoul_base() as iptables 1.8.9 calls it: white space
  // skipped, a '-' after it refused, strtoumax() base 0 reading the whole text without ERANGE.
  // parse_uint reads without strtoumax() and must agree on every spelling.
  auto oracle = [](std::string_view s, std::uint64_t max) -> std::optional<std::uint64_t> {
    std::string t(s);
    const char* p = t.c_str();
    while (std::isspace(static_cast<unsigned char>(*p))) ++p;
    if (*p == '-') return std::nullopt;
    char* end = nullptr;
    errno = 0;
    std::uintmax_t v = std::strtoumax(t.c_str(), &end, 0);
    if (end == t.c_str() || *end != '\0' || errno == ERANGE || v > max) return std::nullopt;
    return v;
  };
  GIVEN("decimal, octal and hexadecimal spellings, signs, blanks, overflow and junk") {
    std::vector<std::string> inputs = {
        "0", "00", "7", "08", "010", "0x", "0X1f", "0x1g", "0xffffffff", "0x100000000", "255",
        "256", "65535", "65536", "4294967295", "4294967296", "18446744073709551615",
        "18446744073709551616", "99999999999999999999", "+5", "++5", "-1", " 1", "\t1", "\t-1",
        "\n0x10", "1 ", "1a", "a1", "", "+", "0x+1", "0x-1", "017777777777", "0777", "0778",
        "000000000000000000000001", "0000000000000000000000001", "1.5", "1e3", "0b1", " 22",
        " +5", " -5", "\v7", "\r\n 0x1F", "  ", " ", "+ 5", "0x 5", "00x5", "0xFFFFFFFFFFFFFFFF",
        "0x10000000000000000", "01777777777777777777777", "02000000000000000000000"};
    for (char a : std::string("0123456789xX+- \tafAF"))
      for (char b : std::string("0123456789xX+- \tafAF")) inputs.push_back(std::string{a, b});
    for (std::uint64_t max : {std::uint64_t{255}, std::uint64_t{65535}, std::uint64_t{0xffffffffu},
                              ~std::uint64_t{0}}) {
      WHEN("each is read with the maximum " + std::to_string(max)) {
        THEN("parse_uint and strtoull agree on every one") {
          for (const auto& s : inputs) {
            INFO("input \"" << s << "\"");
            CHECK(rules::detail::parse_uint(s, max) == oracle(s, max));
          }
        }
      }
    }
  }
}
