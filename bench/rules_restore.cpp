// rstwatch-bench-rules: parse + validate + restore + print (iptables-save form, streamed to
// /dev/null) of a generated 100,000-rule kube-proxy-style restore file, against
// `iptables-restore --test` of the same file in a throwaway network namespace, measured in
// the same run. Prints both times (best of REPEAT runs each; iptables-restore at most 3), the
// time of each rstwatch phase, the ratio, and rstwatch's peak memory above the text it reads
// (in one run and over all runs) next to the file size.
// Usage: rstwatch-bench-rules [RULES] [REPEAT]   (defaults: 100000 and 5)
#include "count_argument.hpp"

#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>
#include <rstwatch/rules/validate.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

// kube-proxy's chain names: a prefix and 16 base32 characters of a hash.
std::string hash16(unsigned n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string s;
  std::uint64_t x = 0x9e3779b97f4a7c15ull * (n + 1);
  for (int i = 0; i < 16; ++i) {
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    s += alphabet[x & 31];
  }
  return s;
}

std::string ip(unsigned a, unsigned n) {
  return std::to_string(a) + "." + std::to_string((n >> 16) & 255) + "." +
         std::to_string((n >> 8) & 255) + "." + std::to_string(n & 255);
}

// A nat table as kube-proxy writes it (per service: a KUBE-SERVICES jump, one KUBE-SVC chain
// choosing among 3 endpoints with `statistic`, one KUBE-SEP chain per endpoint with the
// masquerade mark and the DNAT), 80% of the rules; the rest is a filter table of REJECT rules
// for services without endpoints, with comments and conntrack.
std::string kube_proxy_file(std::size_t rules, std::size_t& count) {
  const unsigned services = static_cast<unsigned>(rules * 8 / 10 / 10);
  const unsigned rejects = static_cast<unsigned>(rules - services * 10 - 6);
  std::string chains, body;
  chains.reserve(services * 4 * 40);
  body.reserve(rules * 160);
  count = 0;
  auto add = [&](const std::string& r) {
    body += r;
    body += '\n';
    ++count;
  };
  for (unsigned s = 0; s < services; ++s) {
    std::string svc = "KUBE-SVC-" + hash16(s);
    std::string name = "ns" + std::to_string(s % 97) + "/svc" + std::to_string(s) + ":http";
    chains += ":" + svc + " - [0:0]\n";
    add("-A KUBE-SERVICES -d " + ip(10, s) + "/32 -p tcp -m comment --comment \"" + name +
        " cluster IP\" -m tcp --dport 80 -j " + svc);
    for (unsigned e = 0; e < 3; ++e) {
      std::string sep = "KUBE-SEP-" + hash16(1000000 + s * 3 + e);
      chains += ":" + sep + " - [0:0]\n";
      std::string ep = ip(172, s * 3 + e);
      if (e < 2)
        add("-A " + svc + " -m comment --comment \"" + name + " -> " + ep +
            ":8080\" -m statistic --mode random --probability " +
            (e == 0 ? "0.33333333349" : "0.50000000000") + " -j " + sep);
      else
        add("-A " + svc + " -m comment --comment \"" + name + " -> " + ep + ":8080\" -j " + sep);
      add("-A " + sep + " -s " + ep + "/32 -m comment --comment \"" + name +
          "\" -j KUBE-MARK-MASQ");
      add("-A " + sep + " -p tcp -m comment --comment \"" + name +
          "\" -m tcp -j DNAT --to-destination " + ep + ":8080");
    }
  }
  std::string nat = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    ":POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
                    ":KUBE-POSTROUTING - [0:0]\n" + chains;
  std::string head = "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
                     "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
                     "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n"
                     "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n"
                     "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
                     "-A KUBE-POSTROUTING -j MASQUERADE\n";
  count += 6;
  std::string filter = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                       ":KUBE-SERVICES - [0:0]\n"
                       "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
                       "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n";
  count += 2;
  for (unsigned r = 0; r + 2 < rejects; ++r) {
    filter += "-A KUBE-SERVICES -d " + ip(10, 0x800000 + r) + "/32 -p tcp -m comment --comment \"ns" +
              std::to_string(r % 89) + "/empty" + std::to_string(r) +
              ":https has no endpoints\" -m tcp --dport 443 -j REJECT --reject-with icmp-port-unreachable\n";
    ++count;
  }
  return nat + head + body + "COMMIT\n" + filter + "COMMIT\n";
}

// The process's peak resident set (VmHWM), in KiB.
long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Resets the peak to the current resident set (Linux >= 4.0, /proc/PID/clear_refs "5"), so that
// what generating the file took and freed is not counted; returns that resident set in KiB.
long reset_peak_rss_kib() {
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  return peak_rss_kib();
}

double seconds(clock_type::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::optional<std::size_t> want_arg = 100000, repeat_arg = 5;
  if (argc > 3 ||
      (argc > 1 && !(want_arg = rstwatch::bench::count_argument(argv[1], 100, 100000000))) ||
      (argc > 2 && !(repeat_arg = rstwatch::bench::count_argument(argv[2], 1, 1000)))) {
    std::fprintf(stderr, "usage: rstwatch-bench-rules [RULES>=100] [REPEAT>=1]\n");
    return 2;
  }
  const std::size_t want = *want_arg;
  const int repeat = static_cast<int>(*repeat_arg);
  std::size_t rules = 0;
  const std::string text = kube_proxy_file(want, rules);
  std::printf("input: %zu rules, %zu bytes (kube-proxy style: nat KUBE-SVC/KUBE-SEP with "
              "statistic, DNAT, comments; filter REJECTs)\n", rules, text.size());

  // rstwatch: parse, validate, restore and print as iptables-save — the best of `repeat` runs.
  // The printed ruleset streams to /dev/null through stdio, as `rstwatch-rules fmt kube.rules
  // > /dev/null` would write it: every byte is produced and written, none is kept.
  std::FILE* out = std::fopen("/dev/null", "wb");
  if (!out) {
    std::perror("/dev/null");
    return 1;
  }
  const long rss_before = reset_peak_rss_kib();
  long rss_first = 0;
  double best = 1e9, best_parse = 1e9, best_validate = 1e9, best_print = 1e9;
  std::size_t out_bytes = 0, errors = 0;
  for (int i = 0; i < repeat; ++i) {
    auto t0 = clock_type::now();
    auto f = rstwatch::rules::parse(text, "kube.rules");
    if (!f) {
      std::fprintf(stderr, "%s\n", rstwatch::format(f.error()).c_str());
      return 1;
    }
    auto tp = clock_type::now();
    auto report = rstwatch::rules::validate(*f);
    auto tv = clock_type::now();
    auto rs = rstwatch::rules::restore(rstwatch::rules::empty_ruleset(), *f);
    if (!rs) {
      std::fprintf(stderr, "%s\n", rstwatch::format(rs.error()).c_str());
      return 1;
    }
    std::size_t bytes = 0;
    rstwatch::rules::write_saved(*rs, [&](std::string_view piece) {
      bytes += std::fwrite(piece.data(), 1, piece.size(), out);
    });
    std::fflush(out);
    auto t1 = clock_type::now();
    best_parse = std::min(best_parse, seconds(tp - t0));
    best_validate = std::min(best_validate, seconds(tv - tp));
    best_print = std::min(best_print, seconds(t1 - tv));
    errors = report.errors();
    out_bytes = bytes;
    best = std::min(best, seconds(t1 - t0));
    if (i == 0) rss_first = peak_rss_kib();
  }
  const long rss_peak = peak_rss_kib();
  std::fclose(out);
  std::printf("rstwatch parse+validate+restore+print (iptables-save form, to /dev/null): %.3f s "
              "(best of %d), %.0f ns/rule, %.1f MB/s, %zu errors, %zu bytes printed\n",
              best, repeat, best * 1e9 / double(rules), double(text.size()) / best / 1e6, errors,
              out_bytes);
  std::printf("  of which (best of each) parse %.3f s, validate %.3f s, restore+print %.3f s\n",
              best_parse, best_validate, best_print);
  // One run is what `rstwatch-rules fmt` does; over several, malloc keeps some of what one run
  // freed (its trim threshold grows with the large blocks freed) and the peak creeps up.
  auto above = [&](long kib) { return double(kib - rss_before); };
  std::printf("peak memory above the generated text: %.1f MiB in one run (%.2fx the file size), "
              "%.1f MiB over %d runs (%.2fx); whole process %.1f MiB\n",
              above(rss_first) / 1024, above(rss_first) * 1024 / double(text.size()),
              above(rss_peak) / 1024, repeat, above(rss_peak) * 1024 / double(text.size()),
              double(rss_peak) / 1024);

  // Baseline: iptables-restore --test in a throwaway namespace, on the same bytes.
  if (::geteuid() != 0) {
    std::printf("iptables-restore --test: not measured (needs root for a network namespace)\n");
    return 0;
  }
  std::string tag = std::to_string(::getpid());
  std::string path = "/tmp/rstwatch-bench-" + tag + ".rules";
  std::string ns = "rstw-bench-" + tag;
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  if (std::system(("ip netns add " + ns).c_str()) != 0) {
    std::printf("iptables-restore --test: not measured (cannot create a namespace)\n");
    std::remove(path.c_str());
    return 0;
  }
  double base = 1e9;
  int status = 0;
  for (int i = 0; i < std::min(repeat, 3); ++i) {
    auto t0 = clock_type::now();
    status = std::system(("ip netns exec " + ns + " iptables-restore --test < " + path).c_str());
    auto t1 = clock_type::now();
    base = std::min(base, seconds(t1 - t0));
  }
  (void)std::system(("ip netns del " + ns).c_str());
  std::remove(path.c_str());
  std::printf("iptables-restore --test (same file, namespace %s): %.3f s (best of %d), exit "
              "status %d\n",
              ns.c_str(), base, std::min(repeat, 3), status);
  std::printf("ratio: rstwatch is %.1fx faster than iptables-restore --test\n", base / best);
  return 0;
}
