// rstwatch-read's outputs and filters: the JSON contract, RFC 4180 CSV, the table, the summary.
#include <cstdio>
#include <map>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "read/filter.hpp"
#include "read/output.hpp"
#include "read/summary.hpp"

using namespace rstwatch;
using namespace rstwatch::read;
using json = nlohmann::json;

namespace {

// The seed's first line, as the LOG classifier makes it: this host (10.0.186.75:8182) reset
// the connection from 10.0.175.109:9366.
reset_event seed_event() {
  reset_event e;
  e.time_text = "Apr 26 15:27:36";
  civil_time t;
  t.year = 2026, t.month = 4, t.day = 26, t.hour = 15, t.minute = 27, t.second = 36;
  t.has_offset = true, t.offset_minutes = 8 * 60;
  e.time = t;
  e.host = "vb";
  e.prefix = "[drds] ";
  e.sender = reset_sender::local;
  e.source = {*ip_address::from_text("10.0.186.75"), 8182};
  e.destination = {*ip_address::from_text("10.0.175.109"), 9366};
  e.out_interface = "eth0";
  e.has_sequence = true;
  e.sequence = 0;
  e.acknowledgment = 1747027778;
  e.flags = tcp_flags(tcp_flags::ack | tcp_flags::rst);
  e.line_number = 1;
  return e;
}

// Captures what a sink writes.
struct captured {
  std::FILE* f = std::tmpfile();
  ~captured() { std::fclose(f); }
  std::string text() {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
    return s;
  }
};

}  // namespace

SCENARIO("a reset event is one JSON object with every key of the contract", "[read][json]") {
  GIVEN("the seed's first reset") {
    auto e = seed_event();
    WHEN("it is written as JSON") {
      auto j = json::parse(event_json(e, "drds-tcp.log"));
      THEN("every key is present, in the contract's order") {
        std::size_t k = 0;
        auto ordered = nlohmann::ordered_json::parse(event_json(e, "x"));
        for (auto& item : ordered.items()) {
          REQUIRE(k < std::size(json_keys));
          CHECK(item.key() == json_keys[k++]);
        }
        CHECK(k == std::size(json_keys));
      }
      THEN("the answer reads back: who sent it and the 4-tuple") {
        CHECK(j["sender"] == "local");
        CHECK(j["src"] == "10.0.186.75");
        CHECK(j["sport"] == 8182);
        CHECK(j["dst"] == "10.0.175.109");
        CHECK(j["dport"] == 9366);
        CHECK(j["local"] == json{{"addr", "10.0.186.75"}, {"port", 8182}});
        CHECK(j["remote"] == json{{"addr", "10.0.175.109"}, {"port", 9366}});
      }
      THEN("the envelope and packet fields are typed") {
        CHECK(j["time"] == "2026-04-26T15:27:36+08:00");
        CHECK(j["uptime"].is_null());
        CHECK(j["host"] == "vb");
        CHECK(j["prefix"] == "[drds] ");
        CHECK(j["in"] == "");
        CHECK(j["out"] == "eth0");
        CHECK(j["loopback"] == false);
        CHECK(j["seq"] == 0);
        CHECK(j["ack"] == 1747027778u);
        CHECK(j["flags"] == json{"ACK", "RST"});
        CHECK(j["origin"] == "log");
        CHECK(j["event"].is_null());
        CHECK(j["source"] == "drds-tcp.log:1");
      }
    }
  }
  GIVEN("a forwarded reset without sequence numbers, IPv6, with a kernel uptime") {
    auto e = seed_event();
    e.sender = reset_sender::transit;
    e.in_interface = "veth0";
    e.has_sequence = false;
    e.time.reset();
    e.uptime = kernel_uptime{2347180373};
    e.source = {*ip_address::from_text("fd77:0001:0000:0000:0000:0000:0000:0002"), 443};
    WHEN("it is written as JSON") {
      auto j = json::parse(event_json(e, "-"));
      THEN("unknown values are null and the address is RFC 5952 text") {
        CHECK(j["local"].is_null());
        CHECK(j["remote"].is_null());
        CHECK(j["seq"].is_null());
        CHECK(j["ack"].is_null());
        CHECK(j["time"].is_null());
        CHECK(j["uptime"] == Approx(2347.180373));
        CHECK(j["src"] == "fd77:1::2");
      }
    }
  }
  GIVEN("an event whose every value the writer makes is as long as it can be") {
    auto e = seed_event();
    e.time = civil_time{9999, 12, 31, 23, 59, 60, 999999, true, -(23 * 60 + 59)};
    e.uptime = kernel_uptime{~std::uint64_t{0}};
    e.sender = reset_sender::remote;  // local and remote objects, not nulls
    e.source = {*ip_address::from_text("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 65535};
    e.destination = {*ip_address::from_text("fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 65534};
    e.has_sequence = true;
    e.sequence = e.acknowledgment = 4294967295u;
    e.flags = tcp_flags{0xffff};  // every flag word
    e.origin = event_origin::trace;
    e.line_number = ~std::uint64_t{0};
    e.host = e.prefix = e.in_interface = e.out_interface = e.tracepoint = {};
    WHEN("it is written as JSON with an empty file name") {
      std::string text = event_json(e, "");
      THEN("it fits the writer's fixed room, which leaves input text its own, and parses") {
        INFO(text);
        CHECK(text.size() + 64 < event_json_writer::fixed_size);
        CHECK_FALSE(json::parse(text).is_discarded());
      }
    }
  }
  GIVEN("a prefix holding quotes, a backslash and a control byte") {
    auto e = seed_event();
    e.prefix = "a\"b\\c\x01 ";
    THEN("the JSON escapes them and parses back to the same bytes") {
      CHECK(json::parse(event_json(e, "x"))["prefix"] == "a\"b\\c\x01 ");
    }
  }
}

SCENARIO("CSV output follows RFC 4180 with a header row", "[read][csv]") {
  GIVEN("a CSV sink and an event whose prefix holds a comma and a quote") {
    captured out;
    {
      csv_sink s(out.f, false);
      auto e = seed_event();
      e.prefix = "a,\"b\" ";
      s.event(e, "f.log");
      s.finish();
    }
    auto text = out.text();
    THEN("the header names the flattened fields and each row ends in CRLF") {
      CHECK(text.rfind("time,uptime,host,prefix,sender,src,sport,dst,dport,local_addr,", 0) == 0);
      CHECK(text.find("\r\n") != std::string::npos);
    }
    THEN("the awkward field is quoted with its quotes doubled") {
      CHECK(text.find(",\"a,\"\"b\"\" \",local,10.0.186.75,8182,10.0.175.109,9366,10.0.186.75,8182,"
                      "10.0.175.109,9366,,eth0,false,0,1747027778,ACK RST,log,,f.log:1\r\n") !=
            std::string::npos);
    }
  }
}

SCENARIO("the table shows an arrow pointing away from the side that sent the RST",
         "[read][table]") {
  GIVEN("a reset sent by this host and one sent by the peer") {
    captured out;
    {
      table_sink s(out.f, false);
      auto e = seed_event();
      s.event(e, "f");
      e.sender = reset_sender::remote;
      std::swap(e.source, e.destination);
      e.in_interface = "eth0";
      e.out_interface = "";
      s.event(e, "f");
      s.finish();
    }
    auto text = out.text();
    THEN("this host's end is on the left both times and the arrow flips") {
      CHECK(text.find("10.0.186.75:8182         --RST--> 10.0.175.109:9366") != std::string::npos);
      CHECK(text.find("10.0.186.75:8182         <--RST-- 10.0.175.109:9366") != std::string::npos);
      CHECK(text.find("[drds]\n") != std::string::npos);
    }
  }
}

SCENARIO("filters select resets by sender, port, address, prefix and time", "[read][filter]") {
  auto e = seed_event();
  GIVEN("no filter") {
    filter f;
    THEN("every reset passes") { CHECK(f.matches(e)); }
  }
  GIVEN("a sender filter") {
    filter f;
    f.senders = {reset_sender::remote};
    THEN("a reset sent by this host does not pass") { CHECK_FALSE(f.matches(e)); }
  }
  GIVEN("a port on either side") {
    filter f;
    f.ports = {9366};
    THEN("the peer's port matches") { CHECK(f.matches(e)); }
    f.ports = {22};
    THEN("another port does not") { CHECK_FALSE(f.matches(e)); }
  }
  GIVEN("a CIDR network") {
    filter f;
    f.networks = {*ip_network::from_text("10.0.175.0/24")};
    THEN("an address inside it on either side matches") { CHECK(f.matches(e)); }
    f.networks = {*ip_network::from_text("192.0.2.0/24")};
    THEN("a network holding neither end does not") { CHECK_FALSE(f.matches(e)); }
  }
  GIVEN("a prefix without its trailing space") {
    filter f;
    f.prefix = "[drds]";
    THEN("it equals the printed prefix once spaces are set aside") { CHECK(f.matches(e)); }
    f.prefix = "[drd]";
    THEN("a different prefix does not") { CHECK_FALSE(f.matches(e)); }
  }
  GIVEN("a time window") {
    filter f;
    auto t = *e.time->unix_microseconds();
    f.since_us = t;
    f.until_us = t + 1;
    THEN("a reset inside it passes") { CHECK(f.matches(e)); }
    f.since_us = t + 1;
    f.until_us.reset();
    THEN("a reset before it does not") { CHECK_FALSE(f.matches(e)); }
    e.time.reset();
    f.since_us = 0;
    THEN("a reset without a time is outside any window") { CHECK_FALSE(f.matches(e)); }
  }
}

SCENARIO("the summary counts resets by sender, peer, port and minute", "[read][summary]") {
  GIVEN("three resets from one peer, one from another, and a loopback pair") {
    summary s;
    auto e = seed_event();
    s.add(e);
    e.destination.port = 9368;
    s.add(e);
    e.time->minute = 28;
    s.add(e);
    e.destination.address = *ip_address::from_text("10.0.171.173");
    s.add(e);
    auto lo = seed_event();
    lo.loopback = true;
    lo.source.address = lo.destination.address = *ip_address::from_text("127.0.0.1");
    lo.out_interface = "lo";
    s.add(lo);
    lo.sender = reset_sender::remote;
    lo.in_interface = "lo";
    lo.out_interface = "";
    s.add(lo);
    WHEN("it is printed as JSON") {
      captured out;
      s.print_json(out.f);
      auto j = json::parse(out.text());
      THEN("the loopback pair counts once") {
        CHECK(j["resets"] == 5);
        CHECK(j["loopback_pairs"] == 1);
        CHECK(j["by_sender"]["local"] == 5);
      }
      THEN("the busiest peer comes first") {
        CHECK(j["top_peers"][0] == json{{"addr", "10.0.175.109"}, {"resets", 3}});
        CHECK(j["top_local_ports"][0] == json{{"port", 8182}, {"resets", 5}});
      }
      THEN("every peer is counted, the last one added too") {
        // add() counts each peer when the next event arrives (behind a prefetch): printing
        // counts the last one.
        REQUIRE(j["top_peers"].size() == 3);
        CHECK(j["top_peers"][1] == json{{"addr", "10.0.171.173"}, {"resets", 1}});
        CHECK(j["top_peers"][2] == json{{"addr", "127.0.0.1"}, {"resets", 1}});
      }
      THEN("resets are counted per minute in UTC") {
        CHECK(j["per_minute"][0] == json{{"minute", "2026-04-26T07:27Z"}, {"resets", 3}});
        CHECK(j["per_minute"][1] == json{{"minute", "2026-04-26T07:28Z"}, {"resets", 2}});
        CHECK(j["first"] == "2026-04-26T15:27:36+08:00");
      }
    }
    WHEN("it is printed for a terminal") {
      captured out;
      s.print_text(out.f, true);
      auto text = out.text();
      THEN("a bar chart of block characters shows the busiest minute full width") {
        CHECK(text.find("resets: 5  (local 5, remote 0, transit 0; 1 loopback pairs counted once)") !=
              std::string::npos);
        CHECK(text.find("2026-04-26T07:27Z ████████████████████████████████████████ 3") !=
              std::string::npos);
      }
    }
  }
}

SCENARIO("the summary's minutes do not depend on the order the hours come in", "[read][summary]") {
  GIVEN("resets over 600 hours, their days and hours interleaved, written in UTC and at +08:00") {
    // More hours than the summary's table of recent hours holds (256): hours come back after
    // being evicted, and the same instant arrives written with two offsets.
    summary s;
    std::map<std::int64_t, std::uint64_t> expected;  // Unix minute -> resets
    auto e = seed_event();
    for (int k = 0; k < 3000; ++k) {
      civil_time t;
      t.year = 2026;
      t.month = static_cast<std::uint8_t>(1 + k % 12);
      t.day = static_cast<std::uint8_t>(1 + (k * 7) % 25);
      t.hour = static_cast<std::uint8_t>((k / 5) % 24);
      t.minute = static_cast<std::uint8_t>((k * 13) % 60);
      t.second = static_cast<std::uint8_t>(k % 60);
      t.has_offset = true;
      auto add = [&](const civil_time& c) {
        e.time = c;
        s.add(e);
        ++expected[*c.unix_microseconds() / 60000000];
      };
      t.offset_minutes = 0;
      add(t);
      t.offset_minutes = 8 * 60;  // the same civil hour elsewhere: another instant
      add(t);
      if (k % 3 == 0) {  // the UTC instant again, written in UTC+8
        t.hour = static_cast<std::uint8_t>((t.hour + 8) % 24);
        if (t.hour < 8) ++t.day;
        add(t);
      }
    }
    WHEN("it is printed as JSON") {
      captured out;
      s.print_json(out.f);
      auto j = json::parse(out.text());
      THEN("every minute holds the resets whose Unix time falls in it, in time order") {
        REQUIRE(j["per_minute"].size() == expected.size());
        std::size_t k = 0;
        for (auto& [minute, n] : expected) {
          CHECK(j["per_minute"][k]["minute"] == summary::minute_text(minute));
          CHECK(j["per_minute"][k]["resets"] == n);
          ++k;
        }
        CHECK(j["resets"] == 7000);
      }
    }
  }
}

SCENARIO("a LOG prefix that is not UTF-8 still gives JSON that parses", "[read][json]") {
  // Found by fuzz/line_event (fuzz/regressions/line_event/invalid-utf8-prefix): a line whose
  // envelope is unreadable keeps it inside the prefix, with whatever bytes it holds.
  GIVEN("a reset whose prefix holds bytes that are not UTF-8, then valid UTF-8") {
    auto e = seed_event();
    e.prefix = "Apr 26 \xcf\xca\xc5\xd1" "7:36 \xe7\x9b\x91\xe6\x8e\xa7 ";
    WHEN("it is written as JSON") {
      auto j = json::parse(event_json(e, "x"), nullptr, false);
      THEN("the JSON parses, each invalid byte became U+FFFD and valid text is kept") {
        REQUIRE_FALSE(j.is_discarded());
        CHECK(j["prefix"] == "Apr 26 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "7:36 "
                             "\xe7\x9b\x91\xe6\x8e\xa7 ");
      }
    }
  }
}
