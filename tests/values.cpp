// The value types every source shares: addresses, networks, endpoints, times, reset events.
#include <arpa/inet.h>

#include <rstwatch/address.hpp>
#include <rstwatch/detail/scan.hpp>
#include <rstwatch/event.hpp>
#include <rstwatch/time.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <sstream>
#include <string>

using namespace rstwatch;

namespace {
ip_address addr(std::string_view s) {
  auto a = ip_address::from_text(s);
  REQUIRE(a);
  return *a;
}
}  // namespace

SCENARIO("the kernel's fully expanded IPv6 address prints in RFC 5952 form", "[address]") {
  GIVEN("SRC= and DST= values as nf_log prints them with %pI6") {
    // %pI6 prints all eight groups with leading zeros (lib/vsprintf.c, ip6_string).
    auto src = addr("fd77:0001:0000:0000:0000:0000:0000:0001");
    auto dst = addr("fe80:0000:0000:0000:c8a4:02ff:fe3b:0010");
    THEN("groups lose leading zeros and the longest zero run becomes ::") {
      CHECK(src.to_string() == "fd77:1::1");
      CHECK(dst.to_string() == "fe80::c8a4:2ff:fe3b:10");
      CHECK(src.is_v6());
    }
  }
  GIVEN("the RFC 5952 section 4 examples") {
    THEN("each prints its recommended form") {
      CHECK(addr("2001:db8:0:0:0:0:2:1").to_string() == "2001:db8::2:1");
      CHECK(addr("2001:db8:0:1:1:1:1:1").to_string() == "2001:db8:0:1:1:1:1:1");
      CHECK(addr("2001:0:0:1:0:0:0:1").to_string() == "2001:0:0:1::1");
      CHECK(addr("2001:db8:0:0:1:0:0:1").to_string() == "2001:db8::1:0:0:1");
      CHECK(addr("2001:DB8::AAAA").to_string() == "2001:db8::aaaa");
      CHECK(addr("::").to_string() == "::");
      CHECK(addr("0:0:0:0:0:0:0:1").to_string() == "::1");
      CHECK(addr("1:0:0:0:0:0:0:0").to_string() == "1::");
      CHECK(addr("::ffff:0a00:0001").to_string() == "::ffff:10.0.0.1");
    }
  }
}

SCENARIO("address text agrees with the C library for every compression position", "[address]") {
  GIVEN("addresses with zero runs at each place") {
    const char* inputs[] = {"fd00::",      "fd00::1",  "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7::",
                            "1:0:3::7:8",  "1::4:0:0:7:8", "fe80::1:0:0:0", "1:2:0:0:5:0:0:8",
                            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:192.168.0.1"};
    for (auto in : inputs) {
      WHEN(std::string("printing ") + in) {
        unsigned char bin[16];
        REQUIRE(inet_pton(AF_INET6, in, bin) == 1);
        char expect[INET6_ADDRSTRLEN];
        REQUIRE(inet_ntop(AF_INET6, bin, expect, sizeof expect));
        auto a = addr(in);
        THEN("the text and the bytes match glibc's inet_ntop and inet_pton") {
          CHECK(a.to_string() == expect);
          for (int k = 0; k < 16; ++k) CHECK(a[static_cast<std::size_t>(k)] == bin[k]);
        }
      }
    }
  }
}

SCENARIO("text that is not an address is refused without throwing", "[address]") {
  GIVEN("malformed addresses") {
    const char* bad[] = {"",           "1.2.3",       "1.2.3.4.5",   "256.1.1.1",  "1..2.3",
                         "1.2.3.4 ",   ":",           ":::",          "1::2::3",    "1:2:3:4:5:6:7:8:9",
                         "12345::",    "g::1",        "1:2:3:4:5:6:7:", ":1::",     "::1.2.3",
                         "1:2:3:4:5:6:7:1.2.3.4", "1.2.3.4::", "0001.2.3.4"};
    for (auto s : bad) {
      THEN(std::string("'") + s + "' is no address") {
        CHECK_FALSE(ip_address::from_text(s));
        auto r = parse_address(s);
        REQUIRE_FALSE(r);
        CHECK(r.error().expected == "an IPv4 or IPv6 address");
      }
    }
  }
}

SCENARIO("addresses compare by family then numerically", "[address]") {
  GIVEN("IPv4 and IPv6 addresses") {
    THEN("IPv4 sorts first, equal texts are equal values") {
      CHECK(addr("255.255.255.255") < addr("::"));
      CHECK(addr("10.0.0.2") > addr("10.0.0.1"));
      CHECK(addr("fd00:0000::1") == addr("fd00::1"));
      CHECK(addr("10.0.0.1") != addr("::ffff:10.0.0.1"));
      CHECK(ip_address{} < addr("0.0.0.0"));
    }
    THEN("loopback and mapped addresses are recognised") {
      CHECK(addr("127.0.0.1").is_loopback());
      CHECK(addr("0000:0000:0000:0000:0000:0000:0000:0001").is_loopback());
      CHECK_FALSE(addr("::2").is_loopback());
      CHECK(addr("::ffff:1.2.3.4").is_v4_mapped());
    }
  }
}

// The in-place assignments in constant expressions, where they take their byte-wise branch.
constexpr ip_address assigned_v4_word() {
  ip_address a;
  a.assign_v4(10u | 0u << 8 | 175u << 16 | 109u << 24);
  return a;
}
constexpr ip_address assigned_v4_mapped() {
  ip_address m;
  m.assign_v4_mapped(ip_address::v4(10, 0, 175, 109));
  return m;
}
static_assert(assigned_v4_word().is_v4() && assigned_v4_word()[0] == 10 &&
              assigned_v4_word()[2] == 175 && assigned_v4_word()[3] == 109);
static_assert(assigned_v4_mapped().is_v4_mapped() && assigned_v4_mapped()[12] == 10 &&
              assigned_v4_mapped()[15] == 109);

SCENARIO("an address assigned in place equals the one made by value", "[address]") {
  GIVEN("an IPv6 address in a variable") {
    ip_address a = addr("fd00::1");
    WHEN("an IPv4 address is assigned in place") {
      a.assign_v4(10, 0, 175, 109);
      THEN("it is that address, every byte of the old one gone") {
        CHECK(a == ip_address::v4(10, 0, 175, 109));
        CHECK(a.to_string() == "10.0.175.109");
      }
      AND_WHEN("the same four bytes are assigned to another as one word, the first lowest") {
        ip_address w = addr("fd00::3");
        w.assign_v4(10u | 0u << 8 | 175u << 16 | 109u << 24);
        THEN("both are the same address") { CHECK(w == a); }
      }
      AND_WHEN("its IPv4-mapped IPv6 form is assigned to another") {
        ip_address m = addr("fd00::2");
        m.assign_v4_mapped(a);
        THEN("it is ::ffff:10.0.175.109") {
          CHECK(m == addr("::ffff:10.0.175.109"));
          CHECK(m.is_v4_mapped());
        }
      }
    }
  }
}

SCENARIO("a CIDR network contains exactly the addresses under its prefix", "[address]") {
  GIVEN("networks of both families") {
    auto n4 = ip_network::from_text("10.77.0.0/17");
    auto n6 = ip_network::from_text("fd77:1::/33");
    REQUIRE(n4);
    REQUIRE(n6);
    THEN("membership follows the prefix bits") {
      CHECK(n4->contains(addr("10.77.127.255")));
      CHECK_FALSE(n4->contains(addr("10.77.128.0")));
      CHECK_FALSE(n4->contains(addr("::ffff:10.77.0.1")));
      CHECK(n6->contains(addr("fd77:1:7fff::9")));
      CHECK_FALSE(n6->contains(addr("fd77:1:8000::")));
      CHECK(ip_network::from_text("0.0.0.0/0")->contains(addr("8.8.8.8")));
      CHECK(ip_network::from_text("10.0.0.1")->prefix_length == 32);
      CHECK(n6->to_string() == "fd77:1::/33");
    }
    THEN("bad lengths are refused") {
      CHECK_FALSE(ip_network::from_text("10.0.0.0/33"));
      CHECK_FALSE(ip_network::from_text("fd00::/129"));
      CHECK_FALSE(ip_network::from_text("10.0.0.0/"));
      CHECK_FALSE(parse_network("10.0.0.0/x"));
    }
  }
}

SCENARIO("an endpoint prints an IPv6 address in brackets before the port", "[address]") {
  GIVEN("two endpoints") {
    endpoint a{addr("10.0.186.75"), 8182};
    endpoint b{addr("fd77:0001:0000:0000:0000:0000:0000:0002"), 443};
    THEN("they print per RFC 5952 section 6") {
      CHECK(a.to_string() == "10.0.186.75:8182");
      CHECK(b.to_string() == "[fd77:1::2]:443");
      std::ostringstream os;
      os << b.address;
      CHECK(os.str() == "fd77:1::2");
    }
  }
}

SCENARIO("a reset event names this host's end according to its sender", "[event]") {
  GIVEN("the seed's OUTPUT line as an event") {
    reset_event e;
    e.sender = reset_sender::local;
    e.source = {addr("10.0.186.75"), 8182};
    e.destination = {addr("10.0.175.109"), 9366};
    WHEN("this host sent it") {
      THEN("local is the source, remote the destination") {
        CHECK(e.local_endpoint() == e.source);
        CHECK(e.remote_endpoint() == e.destination);
        CHECK(e.describe() == "local 10.0.186.75:8182 > 10.0.175.109:9366");
      }
    }
    WHEN("the peer sent it") {
      e.sender = reset_sender::remote;
      THEN("local is the destination") {
        CHECK(e.local_endpoint() == e.destination);
        CHECK(e.remote_endpoint() == e.source);
      }
    }
    WHEN("it was forwarded") {
      e.sender = reset_sender::transit;
      THEN("neither end is this host") {
        CHECK_FALSE(e.local_endpoint());
        CHECK_FALSE(e.remote_endpoint());
      }
    }
  }
}

SCENARIO("tcp flags print in the kernel's order", "[event]") {
  GIVEN("RST and ACK set in the other order") {
    tcp_flags f;
    f.set(tcp_flags::rst);
    f.set(tcp_flags::ack);
    THEN("ACK comes before RST, and words map back to bits") {
      CHECK(f.to_string() == "ACK RST");
      CHECK(tcp_flags::from_word("RST") == tcp_flags::rst);
      CHECK(tcp_flags::from_word("AE") == tcp_flags::ae);
      CHECK(tcp_flags::from_word("rst") == 0);
    }
  }
}

SCENARIO("a syslog time without a year takes it from a reference and rolls December back",
         "[time]") {
  GIVEN("a December time read in January 2027") {
    civil_time t{0, 12, 31, 23, 59, 58, 0, true, 0};
    t.resolve_year(2027, 1);
    THEN("it belongs to 2026") { CHECK(t.year == 2026); }
  }
  GIVEN("an April time read in November") {
    civil_time t{0, 4, 26, 15, 27, 36, 0, true, 0};
    t.resolve_year(2026, 11);
    THEN("it keeps the reference year") { CHECK(t.year == 2026); }
  }
  GIVEN("an RFC 3339 time with an offset") {
    civil_time t{2026, 11, 25, 5, 55, 38, 123456, true, 60};
    THEN("its Unix time matches date(1)") {
      // date -u -d '2026-11-25T04:55:38Z' +%s  ->  1795582538
      CHECK(t.unix_microseconds() == std::optional<std::int64_t>(1795582538LL * 1000000 + 123456));
    }
  }
}

SCENARIO("the shared byte search finds what a byte loop finds, from any start to any end",
         "[scan]") {
  GIVEN("a 40-byte text of a repeated byte with one other byte at each position in turn") {
    // find_first() takes 16 bytes per step, then the text's last 16 once (texts shorter than 16:
    // 8, then 1 per step) and never reads past its end: every start, end and position of the
    // sought byte crosses each of those steps.
    std::size_t checked = 0;
    for (char fill : {' ', 'x'}) {
      for (std::size_t at = 0; at <= 40; ++at) {
        std::string text(40, fill);
        char other = fill == ' ' ? '[' : ' ';
        if (at < 40) text[at] = other;
        for (std::size_t start = 0; start <= 40; ++start) {
          for (std::size_t end = start; end <= 40; ++end) {
            std::size_t equal = start, differs = start;
            while (equal < end && text[equal] != other) ++equal;
            while (differs < end && text[differs] == fill) ++differs;
            namespace scan = rstwatch::detail::scan;
            // An exact copy of [0, end) so that a read past `end` would be one past the block.
            std::unique_ptr<char[]> exact(new char[end + 1]);
            std::memcpy(exact.get(), text.data(), end);
            if (scan::find_first<true>(exact.get(), start, end, other) != equal ||
                scan::find_first<false>(exact.get(), start, end, fill) != differs)
              FAIL("fill '" << fill << "' other at " << at << " start " << start << " end " << end);
            ++checked;
          }
        }
      }
    }
    THEN("every combination agreed") { CHECK(checked == 2 * 41 * (41 * 42 / 2)); }
  }
}

SCENARIO("the shared newline and blank count agrees with a byte loop at every length",
         "[scan]") {
  GIVEN("texts of every length up to 8,300 bytes (past 255 sixteen-byte steps) of mixed bytes") {
    // count_lines_and_blanks() keeps a counter per byte lane and empties it every 255 steps:
    // lengths around 16 * 255 = 4080 and twice that cross each flush.
    std::string text;
    std::uint32_t x = 12345;
    for (int i = 0; i < 8300; ++i) {
      x = x * 1103515245u + 12345u;
      const char pool[] = {'\n', ' ', '\t', 'a', '-', '\r', '\x80', '\0'};
      text += pool[(x >> 16) % 8];
    }
    std::size_t mismatches = 0;
    for (std::size_t n = 0; n <= text.size(); n += n < 64 ? 1 : 37) {
      std::size_t lines = 0, blanks = 0;
      for (std::size_t i = 0; i < n; ++i) {
        lines += text[i] == '\n';
        blanks += text[i] == ' ' || text[i] == '\t';
      }
      const auto c = rstwatch::detail::scan::count_lines_and_blanks(text.data(), n);
      mismatches += c.newlines != lines || c.blanks != blanks;
    }
    THEN("every prefix counts the same") { CHECK(mismatches == 0); }
    THEN("the whole text counts the same") {
      const auto c = rstwatch::detail::scan::count_lines_and_blanks(text.data(), text.size());
      std::size_t lines = 0;
      for (char ch : text) lines += ch == '\n';
      CHECK(c.newlines == lines);
      CHECK(c.newlines > 255);
    }
  }
}
