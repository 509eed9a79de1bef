// Kernel LOG lines: envelopes, the nf_log record grammar, the classifier, the line source.
// Inputs are real captures (tests/data/README.md says how each was made).
#include <rstwatch/rstwatch.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "support/variants.hpp"

using namespace rstwatch;
using namespace rstwatch::log;

// Counts every global allocation, to prove the classifier allocates nothing per line. Every
// plain, array, sized and nothrow form is replaced so that all of them pair malloc with free
// (AddressSanitizer reports a mix of its own operator new and our free otherwise).
namespace {
std::atomic<std::size_t> allocations{0};
void* counted_malloc(std::size_t n) noexcept {
  ++allocations;
  return std::malloc(n ? n : 1);
}
void* counted_or_throw(std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
}  // namespace
void* operator new(std::size_t n) { return counted_or_throw(n); }
void* operator new[](std::size_t n) { return counted_or_throw(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

std::vector<std::string> read_lines(const std::string& name) {
  std::ifstream in(std::string(RSTWATCH_TEST_DATA) + "/" + name);
  REQUIRE(in);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  REQUIRE(!lines.empty());
  return lines;
}

struct tuple_and_sender {
  reset_sender sender;
  std::string source, destination, in, out;
  bool operator==(const tuple_and_sender& o) const {
    return sender == o.sender && source == o.source && destination == o.destination &&
           in == o.in && out == o.out;
  }
};

std::vector<tuple_and_sender> events_of(const std::vector<std::string>& lines,
                                        envelope_kind expected_kind) {
  std::vector<tuple_and_sender> out;
  std::uint64_t n = 0;
  for (auto& l : lines) {
    auto c = classify(l, ++n);
    INFO(l);
    CHECK(c.envelope.kind == expected_kind);
    REQUIRE(c.kind == line_kind::reset);
    out.push_back({c.event.sender, c.event.source.to_string(), c.event.destination.to_string(),
                   std::string(c.event.in_interface), std::string(c.event.out_interface)});
  }
  return out;
}

// The line with one token replaced, for variants of a real line.
std::string replaced(std::string line, std::string_view from, std::string_view to) {
  auto at = line.find(from);
  REQUIRE(at != std::string::npos);
  return line.replace(at, from.size(), to);
}

const std::string seed_line =
    "Apr 26 15:27:36 vb kernel: [drds] IN= OUT=eth0 SRC=10.0.186.75 DST=10.0.175.109 LEN=40 "
    "TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=8182 DPT=9366 SEQ=0 ACK=1747027778 "
    "WINDOW=0 RES=0x00 ACK RST URGP=0";

}  // namespace

SCENARIO("the seed's OUTPUT line is a reset this host sent", "[log]") {
  GIVEN("the line from the user's drds-tcp.log") {
    WHEN("it is classified with the file's year") {
      auto c = classify(seed_line, 7, {2020, 5});
      THEN("this host 10.0.186.75:8182 reset the connection from 10.0.175.109:9366") {
        REQUIRE(c.kind == line_kind::reset);
        const reset_event& e = c.event;
        CHECK(e.sender == reset_sender::local);
        CHECK(e.local_endpoint()->to_string() == "10.0.186.75:8182");
        CHECK(e.remote_endpoint()->to_string() == "10.0.175.109:9366");
        CHECK(e.prefix == "[drds] ");
        CHECK(e.host == "vb");
        CHECK(e.out_interface == "eth0");
        CHECK(e.in_interface.empty());
        CHECK(e.has_sequence);
        CHECK(e.sequence == 0);
        CHECK(e.acknowledgment == 1747027778u);
        CHECK(e.window == 0);
        CHECK(e.flags.to_string() == "ACK RST");
        CHECK(e.line_number == 7);
        CHECK_FALSE(e.loopback);
        CHECK(e.origin == event_origin::log);
        CHECK(e.time_text == "Apr 26 15:27:36");
        REQUIRE(e.time);
        CHECK(e.time->year == 2020);
        CHECK(e.time->month == 4);
        CHECK(e.time->day == 26);
        CHECK(e.time->hour == 15);
        CHECK_FALSE(e.time->has_offset);
      }
    }
  }
}

SCENARIO("every envelope of the same kernel lines yields the same resets", "[log][envelope]") {
  GIVEN("one capture through /dev/kmsg, dmesg, dmesg -r, dmesg -T and journalctl") {
    auto reference = events_of(read_lines("kmsg.txt"), envelope_kind::kmsg);
    REQUIRE(reference.size() == 28);
    struct {
      const char* file;
      envelope_kind kind;
    } views[] = {{"dmesg.txt", envelope_kind::dmesg},
                 {"dmesg-r.txt", envelope_kind::dmesg_raw},
                 {"dmesg-T.txt", envelope_kind::dmesg_time},
                 {"journal-short.txt", envelope_kind::syslog_traditional},
                 {"journal-short-precise.txt", envelope_kind::syslog_precise},
                 {"journal-short-iso.txt", envelope_kind::syslog_rfc3339},
                 {"journal-short-monotonic.txt", envelope_kind::monotonic}};
    for (auto& v : views) {
      WHEN(std::string("reading ") + v.file) {
        auto events = events_of(read_lines(v.file), v.kind);
        THEN("sender, 4-tuple and interfaces match the /dev/kmsg records one for one") {
          CHECK(events == reference);
        }
      }
    }
  }
  GIVEN("one capture written by a real rsyslogd (imklog) in both file formats") {
    auto traditional = events_of(read_lines("rsyslog-traditional.txt"), envelope_kind::syslog_traditional);
    auto rfc3339 = events_of(read_lines("rsyslog-rfc3339.txt"), envelope_kind::syslog_rfc3339);
    THEN("both give the same 28 resets") {
      CHECK(traditional.size() == 28);
      CHECK(traditional == rfc3339);
    }
  }
}

SCENARIO("envelope fields are taken apart: time, host, tag, uptime, level", "[log][envelope]") {
  GIVEN("the first line of each capture") {
    std::vector<std::string> first;
    for (auto f : {"rsyslog-rfc3339.txt", "rsyslog-traditional.txt", "kmsg.txt", "dmesg-r.txt",
                   "dmesg-T.txt", "journal-short-iso.txt", "journal-short-monotonic.txt"})
      first.push_back(read_lines(f)[0]);
    THEN("rsyslog RFC 3339 has a zoned time, host, tag and imklog's uptime") {
      auto e = parse_envelope(first[0]);
      REQUIRE(e.time);
      CHECK(e.time->year == 2026);
      CHECK(e.time->has_offset);
      CHECK(e.time->offset_minutes == 0);
      CHECK(e.time->microsecond > 0);
      CHECK(e.host == "vm");
      CHECK(e.tag == "kernel");
      REQUIRE(e.uptime);
      CHECK(e.uptime->microseconds > 0);
      CHECK(e.message.substr(0, 5) == "[rsy2");
    }
    THEN("rsyslog traditional has no year and keeps the uptime out of the message") {
      auto e = parse_envelope(first[1]);
      REQUIRE(e.time);
      CHECK(e.time->year == 0);
      CHECK(e.time->month == 11);
      CHECK(e.uptime);
      CHECK(e.message.substr(0, 4) == "[rsy");
    }
    THEN("a kmsg record gives level, sequence and uptime") {
      auto e = parse_envelope(first[2]);
      CHECK(e.level == 7);
      CHECK(e.sequence == 485);
      REQUIRE(e.uptime);
      CHECK(e.uptime->microseconds == 505687716u);
      CHECK(e.host.empty());
    }
    THEN("dmesg -r gives the level and the same uptime as the kmsg record") {
      auto e = parse_envelope(first[3]);
      CHECK(e.level == 7);
      REQUIRE(e.uptime);
      CHECK(e.uptime->microseconds == 505687716u);
    }
    THEN("dmesg -T gives a full local time") {
      auto e = parse_envelope(first[4]);
      REQUIRE(e.time);
      CHECK(e.time->year == 2026);
      CHECK_FALSE(e.time->has_offset);
    }
    THEN("journalctl short-iso gives an offset without a colon") {
      auto e = parse_envelope(first[5]);
      REQUIRE(e.time);
      CHECK(e.time->has_offset);
      CHECK(e.host == "vm");
    }
    THEN("journalctl short-monotonic gives uptime and host") {
      auto e = parse_envelope(first[6]);
      REQUIRE(e.uptime);
      CHECK(e.uptime->microseconds == 505687716u);
      CHECK(e.host == "vm");
    }
  }
  GIVEN("syslog lines without a host or without the kernel tag") {
    auto line = read_lines("rsyslog-traditional.txt")[0];
    auto no_host = replaced(line, " vm kernel:", " kernel:");
    auto no_tag = replaced(line, " vm kernel:", " vm");
    THEN("the record is still found and the host is right") {
      auto a = classify(no_host);
      CHECK(a.kind == line_kind::reset);
      CHECK(a.envelope.host.empty());
      CHECK(a.envelope.tag == "kernel");
      auto b = classify(no_tag);
      CHECK(b.kind == line_kind::reset);
      CHECK(b.envelope.host == "vm");
      CHECK(b.envelope.tag.empty());
    }
  }
}

SCENARIO("a December syslog line read in January belongs to the year before", "[log][envelope]") {
  GIVEN("the seed's line dated Dec 31") {
    auto line = replaced(seed_line, "Apr 26", "Dec 31");
    THEN("with a January 2021 reference its year is 2020") {
      auto c = classify(line, 1, {2021, 1});
      REQUIRE(c.event.time);
      CHECK(c.event.time->year == 2020);
    }
  }
}

SCENARIO("the sender follows from which interfaces the hook knew", "[log][record]") {
  auto lines = read_lines("kmsg.txt");
  GIVEN("the server's OUTPUT record of its closed-port reset") {
    auto c = classify(lines[0]);
    THEN("it is local, from the server's port") {
      REQUIRE(c.kind == line_kind::reset);
      CHECK(c.event.sender == reset_sender::local);
      CHECK(c.event.local_endpoint()->address.to_string() == "10.77.2.2");
      CHECK(c.event.local_endpoint()->port == 7001);
    }
  }
  GIVEN("the router's FORWARD record, logged with --log-macdecode") {
    auto c = classify(lines[1]);
    THEN("it is transit, has no local end, and keeps the decoded MAC fields") {
      REQUIRE(c.kind == line_kind::reset);
      CHECK(c.event.sender == reset_sender::transit);
      CHECK_FALSE(c.event.local_endpoint());
      CHECK(c.record.mac_source.size() == 17);
      CHECK(c.record.mac_destination.size() == 17);
      CHECK(c.record.mac_protocol == "0800");
      CHECK_FALSE(c.record.has_mac);
    }
  }
  GIVEN("the client's INPUT record") {
    auto c = classify(lines[2]);
    THEN("it is remote: the local end is the RST's destination, and UID/GID are read") {
      REQUIRE(c.kind == line_kind::reset);
      CHECK(c.event.sender == reset_sender::remote);
      CHECK(c.event.local_endpoint() == c.event.destination);
      CHECK(c.record.has_mac);
      CHECK(c.record.mac.size() == 41);
      CHECK(c.record.has_uid);
      CHECK(c.record.uid == 0);
    }
  }
  GIVEN("the router's own REJECT --reject-with tcp-reset answer") {
    auto c = classify(lines[12]);
    THEN("the router sent it in the server's name") {
      REQUIRE(c.kind == line_kind::reset);
      CHECK(c.event.sender == reset_sender::local);
      CHECK(c.event.source.to_string() == "10.77.2.2:7005");
      CHECK(c.event.out_interface == "r1");
    }
  }
  GIVEN("an IPv6 reset with TCP options") {
    auto c = classify(lines[17]);
    THEN("addresses print per RFC 5952 and the options are kept as hex") {
      REQUIRE(c.kind == line_kind::reset);
      CHECK(c.event.source.to_string() == "[fd77:2::2]:7007");
      CHECK(c.record.packet.family() == ip_family::v6);
      CHECK(c.record.packet.hop_limit == 64);
      CHECK(c.record.packet.tcp_options.size() == 24);
      CHECK(c.record.packet.extension_headers.empty());
    }
  }
  GIVEN("a reset over lo") {
    auto line = replaced(replaced(lines[0], "OUT=s0", "OUT=lo"), "SRC=10.77.2.2", "SRC=127.0.0.1");
    THEN("it is marked loopback") {
      auto c = classify(line);
      REQUIRE(c.kind == line_kind::reset);
      CHECK(c.event.loopback);
    }
  }
}

SCENARIO("LOG records that are not resets are other records with every field typed", "[log][record]") {
  auto lines = read_lines("kmsg-records.txt");
  std::vector<classified_line> cs;
  for (auto& l : lines) cs.push_back(classify(l));
  GIVEN("an ICMP port unreachable quoting the UDP datagram") {
    const classified_line* icmp = nullptr;
    for (auto& c : cs)
      if (c.record.packet.protocol == transport::icmp && !icmp) icmp = &c;  // the first: DPT=9
    REQUIRE(icmp);
    THEN("type, code and the quoted packet are read, and the quoted packet parses") {
      CHECK(icmp->kind == line_kind::record);
      CHECK(icmp->record.packet.icmp_type == 3);
      CHECK(icmp->record.packet.icmp_code == 3);
      CHECK(icmp->record.packet.precedence == 0xc0);
      CHECK(icmp->record.has_mark);
      CHECK(icmp->record.mark == 0x2a);
      packet_view inner;
      parse_error err;
      REQUIRE(parse_packet(icmp->record.packet.quoted_packet, inner, err));
      CHECK(inner.protocol == transport::udp);
      CHECK(inner.destination_port == 9);
      CHECK(inner.udp_length == 9);
      CHECK(inner.source == icmp->record.packet.destination);
    }
  }
  GIVEN("an ICMPv6 error and an MLD report with a hop-by-hop header") {
    const classified_line *unreach = nullptr, *mld = nullptr;
    for (auto& c : cs) {
      if (c.record.packet.protocol != transport::icmpv6) continue;
      if (c.record.packet.icmp_type == 1 && !unreach) unreach = &c;
      if (c.record.packet.icmp_type == 143) mld = &c;
    }
    REQUIRE(unreach);
    REQUIRE(mld);
    THEN("the quoted IPv6 packet and the extension header text are kept") {
      packet_view inner;
      parse_error err;
      REQUIRE(parse_packet(unreach->record.packet.quoted_packet, inner, err));
      CHECK(inner.family() == ip_family::v6);
      CHECK(inner.protocol == transport::udp);
      CHECK(mld->record.packet.extension_headers == "OPT ( )");
      CHECK(mld->record.packet.hop_limit == 1);
    }
  }
  GIVEN("a SYN") {
    const classified_line* syn = nullptr;
    for (auto& c : cs)
      if (c.record.packet.flags.has(tcp_flags::syn)) syn = &c;
    REQUIRE(syn);
    THEN("it is a record, not a reset, with its flags and options") {
      CHECK(syn->kind == line_kind::record);
      CHECK(syn->record.packet.flags.to_string() == "SYN");
      CHECK(syn->record.packet.window > 0);
      CHECK(!syn->record.packet.tcp_options.empty());
    }
  }
  GIVEN("kmsg continuation lines and other kernel messages") {
    THEN("they are ignored") {
      std::size_t ignored = 0;
      for (auto& c : cs) ignored += c.kind == line_kind::ignored;
      CHECK(ignored == 3);
      CHECK(cs.back().envelope.kind == envelope_kind::kmsg_continuation);
    }
  }
}

SCENARIO("the prefix is any text before the record, even glued to IN= or holding IN=", "[log][record]") {
  auto line = read_lines("kmsg.txt")[2];
  auto semi = line.find(';');
  auto tail = line.substr(line.find("IN=c0"));
  struct {
    std::string prefix;
  } cases[] = {{""}, {"Firewall:"}, {"[IN= test] "}, {"drop IN=x y "}, {"a b  c "}};
  for (auto& k : cases) {
    GIVEN("the prefix '" + k.prefix + "'") {
      const std::string variant = line.substr(0, semi + 1) + k.prefix + tail;  // outlives c's views
      auto c = classify(variant);
      THEN("it is kept exactly and the reset is found") {
        REQUIRE(c.kind == line_kind::reset);
        CHECK(c.event.prefix == k.prefix);
        CHECK(c.event.sender == reset_sender::remote);
      }
    }
  }
}

SCENARIO("a token a future kernel adds is kept, not a failure", "[log][record]") {
  GIVEN("a real record with an unknown token and an unknown flag word") {
    auto line = replaced(read_lines("kmsg.txt")[0], "PROTO=TCP", "FUTURE=1 NEWFLAG PROTO=TCP");
    auto c = classify(line);
    THEN("the reset is read and the tokens are listed") {
      REQUIRE(c.kind == line_kind::reset);
      REQUIRE(c.record.unknown_count == 2);
      CHECK(c.record.unknown[0] == "FUTURE=1");
      CHECK(c.record.unknown[1] == "NEWFLAG");
    }
  }
}

SCENARIO("a LOG candidate the grammar refuses is malformed with line, column and reason",
         "[log][record]") {
  auto line = read_lines("kmsg.txt")[0];
  struct {
    std::string from, to, expected;
  } cases[] = {
      {"SRC=10.77.2.2", "SRC=10.77.2.256", "an IPv4 or IPv6 address after SRC="},
      {"DST=10.77.1.2", "DST=fd77::1::2", "an IPv4 or IPv6 address after DST="},
      {"SPT=7001", "SPT=70001", "a port number after SPT="},
      {"DPT=59170", "DPT=-1", "a port number after DPT="},
      {"OUT=s0", "OUT=averyveryverylongname", "an interface name after OUT= (at most 15 bytes)"},
      {"URGP=0 ", "", "URGP= after the TCP flags (the line is cut)"},
      {"SEQ=0", "SEQ=x", "a sequence number after SEQ="},
  };
  for (auto& k : cases) {
    GIVEN("a real record with '" + k.from + "' made '" + k.to + "'") {
      auto bad = replaced(line, k.from, k.to);
      auto c = classify(bad, 42);
      THEN("it is malformed and the diagnostic points at the token") {
        REQUIRE(c.kind == line_kind::malformed);
        CHECK(c.error.expected == k.expected);
        auto d = c.to_diagnostic("kmsg.txt");
        CHECK(d.where.line == 42);
        if (!k.to.empty()) CHECK(d.where.column == bad.find(k.to) + 1 + k.to.find('=') + 1);
        CHECK(format(d).rfind("kmsg.txt:42:" + std::to_string(d.where.column) +
                                  ": error: expected " + k.expected,
                              0) == 0);
      }
    }
  }
  GIVEN("a message with IN= and OUT= whose IN= is not followed by OUT=") {
    auto c = classify("kernel: IN=eth0 junk OUT=eth1 SRC=1.2.3.4");
    THEN("it is malformed, not ignored") { CHECK(c.kind == line_kind::malformed); }
  }
  GIVEN("a message with IN= but no OUT=") {
    auto c = classify("Nov 25 05:55:38 vm kernel: LOGIN=root from console");
    THEN("it is no LOG candidate: ignored") { CHECK(c.kind == line_kind::ignored); }
  }
}

SCENARIO("a cut line never yields a wrong answer", "[log][robust]") {
  GIVEN("every prefix of every captured line") {
    std::vector<std::string> all;
    for (auto f : {"kmsg.txt", "rsyslog-rfc3339.txt", "journal-short.txt", "kmsg-records.txt"})
      for (auto& l : read_lines(f)) all.push_back(l);
    std::size_t resets = 0, checked = 0;
    for (auto& l : all) {
      auto full = classify(l);
      for (std::size_t n = 0; n <= l.size(); ++n) {
        auto c = classify(std::string_view(l).substr(0, n));
        ++checked;
        if (c.kind != line_kind::reset) continue;
        ++resets;
        // Only a cut after URGP= can still be a reset, and then it is the same reset.
        REQUIRE(full.kind == line_kind::reset);
        REQUIRE(c.event.describe() == full.event.describe());
        REQUIRE(c.event.flags == full.event.flags);
      }
    }
    THEN("a reset from a cut line always equals the full line's") {
      CHECK(checked > 10000);
      CHECK(resets > 0);
    }
  }
}

SCENARIO("the fast path for the kernel's usual field order reads every line as the general loop does",
         "[log][record][robust]") {
  GIVEN("every captured record, every prefix of it, and variants with one byte changed") {
    std::vector<std::string> all;
    for (auto f : {"kmsg.txt", "kmsg-records.txt", "rsyslog-traditional.txt", "dmesg.txt"})
      for (auto& l : read_lines(f)) all.push_back(std::string(parse_envelope(l).message));
    // Shapes the captures lack: UID/GID and MARK after the TCP options, IP options, a doubled
    // "0x", IPv6 extension headers, a compressed IPv6 address.
    const std::string base = std::string(parse_envelope(seed_line).message);
    all.push_back(base + " OPT (0101080A) UID=0 GID=0 MARK=0x2a ");
    all.push_back(base + " UID=7 GID=8 MARK=0x0x5 ");
    all.push_back(replaced(base, "DF ", "DF OPT (940400) "));
    all.push_back("IN=eth0 OUT= SRC=fd00:0000:0000:0000:0000:0000:0000:0001 DST=fd00:0000:0000:"
                  "0000:0000:0000:0000:0002 LEN=60 TC=0 HOPLIMIT=64 FLOWLBL=7 OPT ( FRAG:0 "
                  "ID:0000abcd ) PROTO=TCP SPT=1 DPT=2 WINDOW=0 RES=0x00 RST URGP=0 ");
    all.push_back("IN=eth0 OUT= SRC=fd00::1 DST=fd00::2 LEN=60 TC=0 HOPLIMIT=64 FLOWLBL=7 "
                  "PROTO=TCP SPT=1 DPT=2 WINDOW=0 RES=0x00 ACK RST URGP=0 ");
    std::size_t compared = 0, records = 0;
    auto agree = [&](std::string_view m) {
      record_view fast, general;
      parse_error fast_error, general_error;
      const auto a = rstwatch::log::detail::parse_record_with(m, fast, fast_error, true);
      const auto b = rstwatch::log::detail::parse_record_with(m, general, general_error, false);
      ++compared;
      INFO(m);
      REQUIRE(a == b);
      if (a == record_result::status::record) {
        ++records;
        REQUIRE(fast == general);
      }
      if (a == record_result::status::malformed) {
        REQUIRE(fast_error.offset == general_error.offset);
        REQUIRE(fast_error.expected == general_error.expected);
      }
    };
    const char odd[] = {' ', 'x', '0', '9', 'f', ':', '.', '=', '\0', '\xff'};
    rstwatch::test::for_each_variant(all, odd, 4242, agree);
    THEN("both give the same status, the same fields, and the same error") {
      CHECK(compared > 20000);
      CHECK(records > 1000);
    }
  }
}

SCENARIO("a number of more than 20 digits is malformed even when its value is small",
         "[log][record][robust]") {
  // Found by fuzzing (fuzz/regressions/log_record/ack-47-digits): the fast path accepted
  // ACK= with 47 digits of leading zeros that the general loop refuses.
  GIVEN("the seed's line with ACK= written in 21 digits") {
    const std::string m = replaced(std::string(parse_envelope(seed_line).message),
                                   "ACK=1747027778", "ACK=000000000001747027778");
    WHEN("it is parsed") {
      auto r = parse_record(m);
      THEN("it is malformed at the number, with the reason") {
        REQUIRE(r.state == record_result::status::malformed);
        CHECK(m.substr(r.error.offset, 3) == "000");
        CHECK(r.error.expected == "an acknowledgment number after ACK=");
      }
    }
  }
  GIVEN("the same number in 20 digits") {
    const std::string m = replaced(std::string(parse_envelope(seed_line).message),
                                   "ACK=1747027778", "ACK=00000000001747027778");
    THEN("it is read") {
      auto r = parse_record(m);
      REQUIRE(r.state == record_result::status::record);
      CHECK(r.record.packet.acknowledgment == 1747027778u);
    }
  }
}

SCENARIO("random bytes, NULs and invalid UTF-8 never crash or hang the classifier", "[log][robust]") {
  GIVEN("real lines with random bytes overwritten") {
    auto lines = read_lines("kmsg.txt");
    std::mt19937 rng(12345);
    line_counts counts;
    for (int round = 0; round < 20000; ++round) {
      std::string l = lines[static_cast<std::size_t>(round) % lines.size()];
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits; ++k) l[rng() % l.size()] = static_cast<char>(rng() % 256);
      counts.add(classify(l).kind);
    }
    std::string nuls(5000, '\0');
    counts.add(classify(nuls).kind);
    std::string long_line(1 << 20, 'A');
    long_line += " IN=eth0 OUT= SRC=1.2.3.4";
    counts.add(classify(long_line).kind);
    THEN("every line is counted in exactly one kind") {
      CHECK(counts.lines == 20002);
      CHECK(counts.resets + counts.records + counts.ignored + counts.malformed == counts.lines);
      CHECK(counts.malformed > 0);
    }
  }
}

namespace {
std::string temp_file(const std::string& content) {
  char name[] = "/tmp/rstwatch-log-XXXXXX";
  int fd = ::mkstemp(name);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
  return name;
}
}  // namespace

SCENARIO("a line source hands out every line, the last one even without a newline", "[log][source]") {
  GIVEN("a file whose last line has no newline, read through a tiny buffer") {
    auto path = temp_file("one\n\nthree\nfour-without-newline");
    line_source src(path.c_str(), 8);
    std::vector<std::string> got;
    for (std::string_view l; src.next(l);) got.push_back(std::string(l));
    ::unlink(path.c_str());
    THEN("all four lines arrive in order with their numbers") {
      REQUIRE(got.size() == 4);
      CHECK(got[0] == "one");
      CHECK(got[1].empty());
      CHECK(got[2] == "three");
      CHECK(got[3] == "four-wit");  // cut to the buffer, the rest dropped
      CHECK(src.line_number() == 4);
    }
  }
  GIVEN("an overlong line between two short ones") {
    auto path = temp_file("a\n" + std::string(100, 'x') + "\nb\n");
    line_source src(path.c_str(), 16);
    std::vector<std::string> got;
    std::vector<bool> cut;
    for (std::string_view l; src.next(l);) {
      got.push_back(std::string(l));
      cut.push_back(src.truncated());
    }
    ::unlink(path.c_str());
    THEN("it is delivered cut and flagged, and the next line is intact") {
      REQUIRE(got.size() == 3);
      CHECK(got[1] == std::string(16, 'x'));
      CHECK(cut[1]);
      CHECK_FALSE(cut[2]);
      CHECK(got[2] == "b");
    }
  }
  GIVEN("a path that does not exist") {
    line_source src("/nonexistent/rstwatch");
    std::string_view l;
    THEN("it is not good and yields no line") {
      CHECK_FALSE(src.good());
      CHECK_FALSE(src.next(l));
    }
  }
}

SCENARIO(
    "a line source's spans give the lines next() gives, each followed by a newline and "
    "padding",
    "[log][source]") {
  GIVEN(
      "texts of short, empty, overlong and unterminated lines, read through buffers of 1 to "
      "40 bytes, from a file and from a reader that hands out 3 bytes at a time") {
    std::mt19937 rng(7);
    std::vector<std::string> texts = {"",
                                      "\n",
                                      "a",
                                      "a\n",
                                      "one\n\nthree\nfour-without-newline",
                                      "a\n" + std::string(100, 'x') + "\nb\n"};
    for (int t = 0; t < 40; ++t) {
      std::string text;
      for (int k = static_cast<int>(rng() % 12); k > 0; --k) {
        text += std::string(rng() % 5 == 0 ? rng() % 60 : rng() % 12, static_cast<char>('a' + k));
        if (rng() % 8 != 0 || k > 1) text += '\n';
      }
      texts.push_back(text);
    }
    struct line {
      std::string text;
      std::uint64_t number;
      bool truncated;
      bool operator==(const line& o) const {
        return text == o.text && number == o.number && truncated == o.truncated;
      }
    };
    std::size_t compared = 0;
    volatile unsigned padding_sum = 0;
    for (const auto& text : texts) {
      const auto path = temp_file(text);
      for (std::size_t capacity = 1; capacity <= 40; ++capacity) {
        std::vector<line> by_line, by_span, mixed;
        line_source a(path.c_str(), capacity);
        for (std::string_view l; a.next(l);)
          by_line.push_back({std::string(l), a.line_number(), a.truncated()});
        // A span's first line ends at its first '\n'; the byte after the span is one, and the
        // padding after it is readable (a sanitizer build sees a read past the buffer).
        auto take = [&](line_source& src, std::string_view rest, std::vector<line>& out) {
          REQUIRE(rest.data()[rest.size()] == '\n');
          for (std::size_t k = 1; k <= line_source::padding; ++k)
            padding_sum = padding_sum + static_cast<unsigned char>(rest.data()[rest.size() + k]);
          const std::size_t n = std::min(rest.find('\n'), rest.size());
          const std::string first(rest.substr(0, n));
          src.advance(n);
          out.push_back({first, src.line_number(), src.truncated()});
        };
        line_source b(path.c_str(), capacity);
        for (std::string_view rest; b.next_span(rest);) take(b, rest, by_span);
        std::size_t offset = 0;
        line_source c(
            [&](char* buf, std::size_t n) {
              const std::size_t k = std::min({n, std::size_t{3}, text.size() - offset});
              std::memcpy(buf, text.data() + offset, k);
              offset += k;
              return k;
            },
            capacity);
        bool use_span = false;
        for (;;) {  // alternating next() and next_span()
          use_span = !use_span;
          if (use_span) {
            std::string_view rest;
            if (!c.next_span(rest)) break;
            take(c, rest, mixed);
          } else {
            std::string_view l;
            if (!c.next(l)) break;
            mixed.push_back({std::string(l), c.line_number(), c.truncated()});
          }
        }
        INFO(text << " through " << capacity << " bytes");
        REQUIRE(by_span == by_line);
        REQUIRE(mixed == by_line);
        ++compared;
      }
      ::unlink(path.c_str());
    }
    THEN("every text gave the same lines, numbers and cuts through spans as through next()") {
      CHECK(compared == texts.size() * 40);
    }
  }
}

SCENARIO("reading and classifying 100000 mixed lines allocates nothing per line", "[log][alloc]") {
  GIVEN("a file cycling through every captured envelope and record") {
    std::string content;
    std::size_t n = 0;
    std::vector<std::vector<std::string>> files;
    for (auto f : {"kmsg.txt", "dmesg.txt", "dmesg-r.txt", "dmesg-T.txt", "journal-short.txt",
                   "journal-short-iso.txt", "journal-short-precise.txt",
                   "journal-short-monotonic.txt", "rsyslog-traditional.txt",
                   "rsyslog-rfc3339.txt", "kmsg-records.txt"})
      files.push_back(read_lines(f));
    for (std::size_t k = 0; n < 100000; ++k) {
      auto& f = files[k % files.size()];
      content += f[(k / files.size()) % f.size()];
      content += k % 97 == 0 ? " IN=x OUT=y SRC=bad\n" : "\n";  // some malformed lines too
      ++n;
    }
    auto path = temp_file(content);
    WHEN("a line source feeds classify") {
      line_source src(path.c_str());
      classified_line c;
      line_counts counts;
      std::string_view l;
      REQUIRE(src.next(l));  // the buffer exists before counting starts
      classify(l, src.line_number(), c, {2026, 11});
      counts.add(c.kind);
      std::size_t before = allocations.load();
      while (src.next(l)) {
        classify(l, src.line_number(), c, {2026, 11});
        counts.add(c.kind);
      }
      std::size_t during = allocations.load() - before;
      ::unlink(path.c_str());
      THEN("no allocation happened and every line is accounted for") {
        CHECK(during == 0);
        CHECK(counts.lines == 100000);
        CHECK(counts.resets + counts.records + counts.ignored + counts.malformed == 100000);
        CHECK(counts.resets > 80000);
        CHECK(counts.malformed > 1000);
      }
    }
  }
}

// fill_event() assigns each member of the reused event instead of zeroing it first (zeroing
// the whole event per line showed in profiles of rstwatch-read --summary): nothing of the event
// before may survive into the next one.
SCENARIO("a classified line reused for the next line keeps nothing of the event before",
         "[log][record]") {
  GIVEN("every captured reset, each after an event with every member set otherwise") {
    std::vector<std::string> lines;
    for (auto f : {"kmsg.txt", "rsyslog-traditional.txt", "rsyslog-rfc3339.txt", "dmesg-r.txt"})
      for (auto& l : read_lines(f)) lines.push_back(l);
    auto text = [](const reset_event& e) {
      auto opt_time = [](const std::optional<civil_time>& t) {
        return t ? std::to_string(t->year) + "-" + std::to_string(t->month) + "-" +
                       std::to_string(t->day) + "T" + std::to_string(t->hour) + ":" +
                       std::to_string(t->minute) + ":" + std::to_string(t->second) + "." +
                       std::to_string(t->microsecond) + "/" + std::to_string(t->has_offset) +
                       std::to_string(t->offset_minutes)
                 : std::string("-");
      };
      return std::string(e.time_text) + "|" + opt_time(e.time) + "|" +
             (e.uptime ? std::to_string(e.uptime->microseconds) : "-") + "|" +
             std::string(e.host) + "|" + std::string(e.prefix) + "|" +
             std::string(to_string(e.sender)) + "|" + std::to_string(e.loopback) + "|" +
             e.source.to_string() + "|" + e.destination.to_string() + "|" +
             std::string(e.in_interface) + "|" + std::string(e.out_interface) + "|" +
             std::to_string(e.has_sequence) + "|" + std::to_string(e.sequence) + "|" +
             std::to_string(e.acknowledgment) + "|" + std::to_string(e.window) + "|" +
             std::to_string(e.flags.bits()) + "|" + std::string(to_string(e.origin)) + "|" +
             std::string(e.tracepoint) + "|" + std::to_string(e.line_number);
    };
    WHEN("each is classified into one reused classified line and into a fresh one") {
      classified_line reused;
      std::vector<std::string> differing;
      std::uint64_t n = 0;
      for (auto& l : lines) {
        ++n;
        reset_event& old = reused.event;
        old.time_text = "Jan  1 00:00:00";
        old.time = civil_time{1999, 1, 1, 1, 1, 1, 1, true, 60};
        old.uptime = kernel_uptime{42};
        old.host = old.prefix = old.in_interface = old.out_interface = "stale";
        old.sender = reset_sender::transit;
        old.loopback = old.has_sequence = true;
        old.source = old.destination = {ip_address::v4(9, 9, 9, 9), 9};
        old.sequence = old.acknowledgment = 9;
        old.window = 9;
        old.origin = event_origin::trace;
        old.tracepoint = "tcp_send_reset";
        old.line_number = 999;
        classify(l, n, reused);
        classified_line fresh;
        classify(l, n, fresh);
        if (fresh.kind != line_kind::reset || text(reused.event) != text(fresh.event))
          differing.push_back(l + "\n  reused: " + text(reused.event) +
                              "\n  fresh:  " + text(fresh.event));
      }
      THEN("every line is a reset and both events are the same, member for member") {
        CHECK(n > 20);
        INFO((differing.empty() ? std::string() : differing.front()));
        CHECK(differing.empty());
      }
    }
  }
}

// parse_envelope() and parse_record() reset the caller's envelope and record member by member
// (a whole-object clear was `rep stosq`, paid on every line): a member the resets forget
// would carry the line before into the next one.
SCENARIO("an envelope and a record reset for the next line equal fresh ones in every member",
         "[log][record]") {
  GIVEN("an envelope and a record whose every byte is 0x01 (true, 1, or a view of 0x0101... "
        "bytes: never the default)") {
    static_assert(std::is_trivially_copyable_v<envelope> && std::is_trivially_copyable_v<record_view>,
                  "the poisoning below writes their bytes");
    envelope e;
    record_view r;
    std::memset(static_cast<void*>(&e), 1, sizeof e);
    std::memset(static_cast<void*>(&r), 1, sizeof r);
    WHEN("they are reset") {
      log::detail::reset(e);
      log::detail::reset(r);
      THEN("the record equals a default one, field by field") {
        CHECK(r == record_view{});
        CHECK(r.packet == packet_view{});
      }
      THEN("the envelope equals a default one, member by member") {
        const envelope fresh;
        CHECK(e.kind == fresh.kind);
        CHECK(e.time_text.size() == 0);
        CHECK_FALSE(e.time.has_value());
        CHECK_FALSE(e.uptime.has_value());
        CHECK(e.host.size() == 0);
        CHECK(e.tag.size() == 0);
        CHECK(e.level == fresh.level);
        CHECK(e.sequence == fresh.sequence);
        CHECK(e.message.size() == 0);
      }
    }
  }
  GIVEN("every captured LOG line, parsed in turn into one reused envelope and record") {
    std::vector<std::string> lines;
    for (auto f : {"kmsg-records.txt", "kmsg.txt", "rsyslog-traditional.txt",
                   "rsyslog-rfc3339.txt", "dmesg-r.txt", "dmesg.txt", "journal-short-iso.txt"})
      for (auto& l : read_lines(f)) lines.push_back(l);
    THEN("each gives the record and envelope a fresh parse gives") {
      REQUIRE(lines.size() > 40);
      envelope reused_envelope;
      record_view reused_record;
      parse_error reused_error;
      std::size_t records = 0;
      for (const std::string& l : lines) {
        envelope fresh_envelope;
        parse_envelope(l, fresh_envelope);
        parse_envelope(l, reused_envelope);
        INFO(l);
        CHECK(reused_envelope.kind == fresh_envelope.kind);
        CHECK(reused_envelope.time_text == fresh_envelope.time_text);
        CHECK(reused_envelope.time.has_value() == fresh_envelope.time.has_value());
        CHECK(reused_envelope.uptime == fresh_envelope.uptime);
        CHECK(reused_envelope.host == fresh_envelope.host);
        CHECK(reused_envelope.tag == fresh_envelope.tag);
        CHECK(reused_envelope.level == fresh_envelope.level);
        CHECK(reused_envelope.sequence == fresh_envelope.sequence);
        CHECK(reused_envelope.message == fresh_envelope.message);
        record_view fresh_record;
        parse_error fresh_error;
        const auto fresh = parse_record(fresh_envelope.message, fresh_record, fresh_error);
        const auto reused = parse_record(reused_envelope.message, reused_record, reused_error);
        CHECK(reused == fresh);
        if (fresh == record_result::status::record) {
          ++records;
          CHECK(reused_record == fresh_record);
        }
      }
      CHECK(records > 20);
    }
  }
}

SCENARIO("IPv6 fragments keep their extension header text and only the first has ports",
         "[log][record]") {
  auto lines = read_lines("kmsg-records.txt");
  std::vector<std::string> fragments;
  for (auto& l : lines)
    if (l.find("OPT ( FRAG:") != std::string::npos) fragments.push_back(l);
  GIVEN("the three fragments of one 3000-byte UDP datagram") {
    REQUIRE(fragments.size() == 3);
    std::vector<classified_line> cs;
    for (auto& f : fragments) cs.push_back(classify(f));
    THEN("offsets are 0, 1232, 2464, the header text is kept, ports only in the first") {
      CHECK(cs[0].record.packet.fragment_offset == 0);
      CHECK(cs[1].record.packet.fragment_offset == 1232);
      CHECK(cs[2].record.packet.fragment_offset == 2464);
      CHECK(cs[1].record.packet.extension_headers.substr(0, 28) == "OPT ( FRAG:1232 INCOMPLETE I");
      CHECK(cs[0].record.packet.has_ports);
      CHECK(cs[0].record.packet.udp_length == 3008);
      CHECK_FALSE(cs[1].record.packet.has_ports);
      CHECK_FALSE(cs[2].record.packet.has_ports);
      for (auto& c : cs) {
        CHECK(c.kind == line_kind::record);
        CHECK(c.record.packet.protocol == transport::udp);
      }
    }
  }
}

SCENARIO("an nftables log prefix of 106 bytes with spaces is kept whole", "[log][record]") {
  GIVEN("a datagram logged by nft's log statement") {
    std::string line;
    for (auto& l : read_lines("kmsg-records.txt"))
      if (l.find(";nft ") != std::string::npos) line = l;
    REQUIRE(!line.empty());
    auto c = classify(line);
    THEN("the prefix runs up to IN= and the record is read") {
      REQUIRE(c.kind == line_kind::record);
      CHECK(c.record.prefix.size() == 106);
      CHECK(c.record.prefix.substr(0, 4) == "nft ");
      CHECK(c.record.prefix.back() == ' ');
      CHECK(c.record.in == "vb");
      CHECK(c.record.packet.destination_port == 12);
    }
  }
}

SCENARIO("a log file's modification time dates its lines that have no year", "[log][envelope]") {
  GIVEN("a file last written on 3 January 2027 holding lines of 31 December and 2 January") {
    auto path = temp_file(replaced(seed_line, "Apr 26", "Dec 31") + "\n" +
                          replaced(seed_line, "Apr 26", "Jan  2") + "\n");
    REQUIRE(::system(("touch -d '2027-01-03 10:00' " + path).c_str()) == 0);
    WHEN("the options come from the file") {
      auto options = classify_options::from_modification_time(path.c_str());
      line_source src(path.c_str());
      std::vector<int> years;
      classified_line c;
      for (std::string_view l; src.next(l);) {
        classify(l, src.line_number(), c, options);
        REQUIRE(c.event.time);
        years.push_back(c.event.time->year);
      }
      ::unlink(path.c_str());
      THEN("December belongs to 2026 and January to 2027") {
        CHECK(options.reference_year == 2027);
        CHECK(options.reference_month == 1);
        CHECK(years == std::vector<int>{2026, 2027});
        CHECK(classify_options::from_modification_time("/nonexistent").reference_year == 0);
      }
    }
  }
}

SCENARIO("messy real-world details that do not change the answer are accepted", "[log][record]") {
  GIVEN("a real INPUT record with a sanitized MAC and TOS written without 0x") {
    auto line = read_lines("kmsg.txt")[2];
    auto mac_start = line.find("MAC=") + 4;
    auto mac_end = line.find(' ', mac_start);
    std::string messy = line.substr(0, mac_start) + "XX:XX:XX:XX:XX:XX:XX:XX:XX:XX:XX:XX:08:00" +
                        line.substr(mac_end);
    messy = replaced(messy, "TOS=0x00", "TOS=00");
    auto c = classify(messy);
    THEN("it is the same reset, the MAC kept as written") {
      REQUIRE(c.kind == line_kind::reset);
      CHECK(c.event.describe() == classify(line).event.describe());
      CHECK(c.record.mac.substr(0, 5) == "XX:XX");
      CHECK(c.record.packet.tos == 0);
    }
  }
}

SCENARIO("a reset crossing a bridge with bridge netfilter is transit with its bridge ports",
         "[log][record]") {
  GIVEN("the RST a bridge forwarded, logged in its FORWARD chain") {
    std::string line;
    for (auto& l : read_lines("kmsg-records.txt"))
      if (l.find("PHYSIN=p2") != std::string::npos) line = l;
    REQUIRE(!line.empty());
    auto c = classify(line);
    THEN("IN= and OUT= name the bridge, PHYSIN= and PHYSOUT= its ports") {
      REQUIRE(c.kind == line_kind::reset);
      CHECK(c.event.sender == reset_sender::transit);
      CHECK(c.record.in == "br0");
      CHECK(c.record.out == "br0");
      CHECK(c.record.physical_in == "p2");
      CHECK(c.record.physical_out == "p1");
      CHECK(c.event.source.to_string() == "10.79.0.2:13");
    }
  }
}
