// The real kernel: resets provoked between client, router and server namespaces, logged by the
// seed's LOG rules, read back from /dev/kmsg and dmesg, and classified. Root only; [kmsg].
#include <rstwatch/rstwatch.hpp>

#include <support/system.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

using namespace rstwatch;
using namespace rstwatch::log;
using namespace rstwatch::test;

namespace {

const std::string provoke =
    "python3 " + std::string(RSTWATCH_TEST_DATA) + "/../support/provoke_reset.py";

enum class who { client, router, server };

struct family_plan {
  bool v6;
  std::string client, server;  // addresses
};

const family_plan families[] = {{false, "10.77.1.2", "10.77.2.2"}, {true, "fd77:1::2", "fd77:2::2"}};

// client c0 — r1 router r2 — s0 server, LOG rules as the seed writes them on INPUT, OUTPUT and
// FORWARD of every host (the router's FORWARD with --log-macdecode), a REJECT with tcp-reset
// for port 7005 on the router. Each host's prefix names it; the client's is glued to IN=.
class topology {
 public:
  topology()
      : guard_("/proc/sys/net/netfilter/nf_log_all_netns", "1"), client_("c"), router_("r"),
        server_("s"), tag_(unique_tag("rw")) {
    client_.link(router_, "c0", {"10.77.1.2/24", "fd77:1::2/64"}, "r1",
                 {"10.77.1.1/24", "fd77:1::1/64"});
    router_.link(server_, "r2", {"10.77.2.1/24", "fd77:2::1/64"}, "s0",
                 {"10.77.2.2/24", "fd77:2::2/64"});
    RSTWATCH_REQUIRE_OK(client_.exec("ip route add default via 10.77.1.1 && "
                                     "ip -6 route add default via fd77:1::1"));
    RSTWATCH_REQUIRE_OK(server_.exec("ip route add default via 10.77.2.1 && "
                                     "ip -6 route add default via fd77:2::1"));
    RSTWATCH_REQUIRE_OK(router_.exec("sysctl -qw net.ipv4.ip_forward=1 "
                                     "net.ipv6.conf.all.forwarding=1"));
    for (auto* h : {&client_, &router_, &server_}) {
      for (const char* ipt : {"iptables", "ip6tables"}) {
        for (const char* chain : {"INPUT", "OUTPUT", "FORWARD"}) {
          std::string cmd = std::string(ipt) + " -A " + chain +
                            " -p tcp -m tcp --tcp-flags RST RST -j LOG --log-prefix " +
                            shell_quote(prefix_of(*h)) +
                            " --log-level 7 --log-tcp-sequence --log-tcp-options "
                            "--log-ip-options --log-uid";
          if (h == &router_ && std::string_view(chain) == "FORWARD") cmd += " --log-macdecode";
          RSTWATCH_REQUIRE_OK(h->exec(cmd));
        }
        RSTWATCH_REQUIRE_OK(router_.exec(std::string(ipt) +
                                         " -A FORWARD -p tcp --dport 7005 --syn "
                                         "-j REJECT --reject-with tcp-reset"));
      }
    }
  }

  const std::string& tag() const { return tag_; }
  std::string prefix_of(const netns& h) const {
    if (&h == &client_) return tag_ + "c:";  // glued: "rw123x0c:IN=c0 OUT= ..."
    return "[" + tag_ + (&h == &router_ ? "r] " : "s] ");
  }
  who logger_of(std::string_view prefix) const {
    if (prefix == prefix_of(client_)) return who::client;
    if (prefix == prefix_of(router_)) return who::router;
    REQUIRE(prefix == prefix_of(server_));
    return who::server;
  }

  // Runs one reset of `mode` to `port` of the server; returns the client's report.
  std::string provoke_reset(const family_plan& f, const std::string& mode, int port) {
    const bool serve = mode != "closed" && mode != "rejected";
    std::string ready = "/tmp/" + tag_ + "-" + std::to_string(port) + ".ready";
    std::string server_cmd;
    if (serve)
      server_cmd = server_.prefix() + provoke + " serve " + f.server + " " +
                   std::to_string(port) + " " + mode + " " + ready + " & ";
    auto r = run(server_cmd + "for i in $(seq 200); do [ -e " + ready + " ] && break; " +
                 (serve ? "sleep 0.05; " : "break; ") + "done; " + client_.prefix() + provoke +
                 " client " + f.server + " " + std::to_string(port) + " " + mode +
                 "; wait; rm -f " + ready);
    INFO(r.output);
    REQUIRE(r.status == 0);
    return r.output;
  }

 private:
  sysctl_guard guard_;
  netns client_, router_, server_;
  std::string tag_;
};

struct expected_line {
  who logger;
  reset_sender sender;
};

// Provokes `mode` in both families and checks every logged reset: which host logged it, the
// sender it implies, the RST's direction, and that all lines of one reset share one 4-tuple.
void check_mode(const std::string& mode, bool server_sends, std::vector<expected_line> expect) {
  if (!require_root("provoking TCP resets in network namespaces")) return;
  topology net;
  kmsg_reader kmsg;
  int port = mode == "rejected" ? 7005 : 7100;
  std::size_t total = 0;
  for (const auto& f : families) {
    if (mode != "rejected") ++port;
    net.provoke_reset(f, mode, port);
    const std::string needle = (f.v6 ? "SRC=fd77:" : "SRC=10.77.");
    auto records = kmsg.records_containing(net.tag(), total + expect.size());
    std::vector<classified_line> lines;
    std::uint64_t n = 0;
    for (auto& r : records) {
      if (r.find(needle) == std::string::npos) continue;
      lines.push_back(classify(r, ++n));
    }
    INFO(mode << (f.v6 ? " in IPv6" : " in IPv4"));
    // /dev/kmsg: each host logged it once, with the sender its hook implies, one 4-tuple.
    REQUIRE(lines.size() == expect.size());
    const std::string server_end =
        (f.v6 ? "[" + f.server + "]" : f.server) + ":" + std::to_string(port);
    std::set<std::string> tuples;
    for (std::size_t k = 0; k < lines.size(); ++k) {
      const auto& c = lines[k];
      INFO(c.line);
      REQUIRE(c.kind == line_kind::reset);
      CHECK(net.logger_of(c.event.prefix) == expect[k].logger);
      CHECK(c.event.sender == expect[k].sender);
      CHECK((server_sends ? c.event.source : c.event.destination).to_string() == server_end);
      CHECK((server_sends ? c.event.destination : c.event.source).address.to_string() ==
            f.client);
      CHECK(c.event.flags.has(tcp_flags::rst));
      CHECK(c.event.has_sequence);
      CHECK(c.envelope.kind == envelope_kind::kmsg);
      if (c.event.sender == reset_sender::transit) CHECK(!c.record.mac_source.empty());
      tuples.insert(c.event.source.to_string() + ">" + c.event.destination.to_string());
    }
    CHECK(tuples.size() == 1);
    // dmesg and dmesg -r print the same records in their envelopes: the same resets.
    std::vector<std::string> from_kmsg;
    for (auto& c : lines) from_kmsg.push_back(c.event.describe());
    for (const char* cmd : {"dmesg", "dmesg -r"}) {
      auto out = run(std::string(cmd) + " | grep -aF " + shell_quote(net.tag()) + " | grep -aF " +
                     shell_quote(needle));
      std::vector<std::string> events;
      for (std::size_t start = 0; start < out.output.size();) {
        auto nl = out.output.find('\n', start);
        if (nl == std::string::npos) nl = out.output.size();
        auto c = classify(std::string_view(out.output).substr(start, nl - start));
        start = nl + 1;
        INFO(cmd << ": " << c.line);
        REQUIRE(c.kind == line_kind::reset);
        events.push_back(c.event.describe());
      }
      CHECK(events == from_kmsg);
    }
    total += expect.size();
  }
}

}  // namespace

SCENARIO("a connection to a closed port is reset by the server's kernel", "[log][kmsg]") {
  GIVEN("client, router and server namespaces logging every RST") {
    WHEN("it happens in IPv4 and IPv6 and is read from /dev/kmsg, dmesg and dmesg -r") {
      THEN("every line names the host that logged it, the sender and the 4-tuple") {
        check_mode("closed", true,
               {{who::server, reset_sender::local},
                {who::router, reset_sender::transit},
                {who::client, reset_sender::remote}});
      }
    }
  }
}

SCENARIO("a server closing with SO_LINGER 0 sends the reset", "[log][kmsg]") {
  GIVEN("client, router and server namespaces logging every RST") {
    WHEN("it happens in IPv4 and IPv6 and is read from /dev/kmsg, dmesg and dmesg -r") {
      THEN("every line names the host that logged it, the sender and the 4-tuple") {
        check_mode("server-abort", true,
               {{who::server, reset_sender::local},
                {who::router, reset_sender::transit},
                {who::client, reset_sender::remote}});
      }
    }
  }
}

SCENARIO("a client closing with SO_LINGER 0 sends the reset", "[log][kmsg]") {
  GIVEN("client, router and server namespaces logging every RST") {
    WHEN("it happens in IPv4 and IPv6 and is read from /dev/kmsg, dmesg and dmesg -r") {
      THEN("every line names the host that logged it, the sender and the 4-tuple") {
        check_mode("client-abort", false,
               {{who::client, reset_sender::local},
                {who::router, reset_sender::transit},
                {who::server, reset_sender::remote}});
      }
    }
  }
}

SCENARIO("a server closing with unread data sends the reset", "[log][kmsg]") {
  GIVEN("client, router and server namespaces logging every RST") {
    WHEN("it happens in IPv4 and IPv6 and is read from /dev/kmsg, dmesg and dmesg -r") {
      THEN("every line names the host that logged it, the sender and the 4-tuple") {
        check_mode("unread", true,
               {{who::server, reset_sender::local},
                {who::router, reset_sender::transit},
                {who::client, reset_sender::remote}});
      }
    }
  }
}

SCENARIO("a router rejecting with tcp-reset sends the reset in the server's name", "[log][kmsg]") {
  GIVEN("client, router and server namespaces logging every RST") {
    WHEN("it happens in IPv4 and IPv6 and is read from /dev/kmsg, dmesg and dmesg -r") {
      THEN("every line names the host that logged it, the sender and the 4-tuple") {
        check_mode("rejected", true,
               {{who::router, reset_sender::local}, {who::client, reset_sender::remote}});
      }
    }
  }
}

SCENARIO("a reset over lo is logged twice and both lines are marked loopback", "[log][kmsg]") {
  GIVEN("one namespace logging RSTs on INPUT and OUTPUT") {
    if (!require_root("provoking TCP resets in a network namespace")) return;
    sysctl_guard all_netns("/proc/sys/net/netfilter/nf_log_all_netns", "1");
    netns host("lo");
    const std::string tag = unique_tag("rl");
    for (const char* ipt : {"iptables", "ip6tables"})
      for (const char* chain : {"INPUT", "OUTPUT"})
        RSTWATCH_REQUIRE_OK(host.exec(std::string(ipt) + " -A " + chain +
                                      " -p tcp --tcp-flags RST RST -j LOG --log-prefix '[" + tag +
                                      "] ' --log-tcp-sequence"));
    kmsg_reader kmsg;
    WHEN("a socket connects to a closed port of 127.0.0.1 and of ::1") {
      RSTWATCH_REQUIRE_OK(host.exec(provoke + " client 127.0.0.1 7200 closed && " + provoke +
                                    " client ::1 7200 closed"));
      auto records = kmsg.records_containing(tag, 4);
      THEN("each RST is one local line (OUT=lo) then one remote line (IN=lo), both loopback") {
        REQUIRE(records.size() == 4);
        for (std::size_t k = 0; k < 4; ++k) {
          auto c = classify(records[k]);
          INFO(c.line);
          REQUIRE(c.kind == line_kind::reset);
          CHECK(c.event.loopback);
          CHECK(c.event.sender == (k % 2 == 0 ? reset_sender::local : reset_sender::remote));
          CHECK(c.event.source.port == 7200);
          CHECK(c.event.source.address.is_loopback());
          CHECK(c.event.destination.address.is_loopback());
        }
      }
    }
  }
}
