// rstwatch-paths: prints the (table, chain) path of a packet that this host receives, sends
// or forwards, with each chain's hook priority — the seed's "NetFilter Hooks" made concrete.
// Usage: rstwatch-paths [-6] [--later]   (--later: a packet after the first of a connection,
// such as a RST, which no nat chain sees)
#include <rstwatch/netfilter.hpp>

#include <cstdio>
#include <string_view>

namespace nf = rstwatch::netfilter;

int main(int argc, char** argv) {
  nf::family fam = nf::family::ipv4;
  bool first_packet = true;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-6") {
      fam = nf::family::ipv6;
    } else if (a == "--later") {
      first_packet = false;
    } else {
      std::fprintf(stderr, "usage: rstwatch-paths [-6] [--later]\n");
      return 2;
    }
  }
  for (auto kind : {nf::path_kind::local_in, nf::path_kind::local_out, nf::path_kind::forwarded}) {
    std::printf("%.*s packet (%s, %s):\n", int(to_string(kind).size()), to_string(kind).data(),
                fam == nf::family::ipv4 ? "IPv4" : "IPv6",
                first_packet ? "first packet of a connection" : "later packet, e.g. a RST");
    for (auto& s : nf::packet_path(fam, kind, first_packet)) {
      auto t = to_string(s.tbl);
      auto c = nf::chain_name(s.hk);
      auto k = nf::kernel_name(s.hk);
      std::printf("  %-8.*s %-12.*s priority %4d  (%.*s)\n", int(t.size()), t.data(),
                  int(c.size()), c.data(), s.prio, int(k.size()), k.data());
    }
  }
  return 0;
}
