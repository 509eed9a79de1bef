// `--summary`: resets by sender, the peers and local ports that see the most resets, resets
// per minute and the time span. Memory grows with the number of distinct peers, ports and
// minutes, never with the number of lines.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <rapidjson/prettywriter.h>

#include "read/event_json.hpp"

namespace rstwatch::read {

struct address_hash {
  std::size_t operator()(const ip_address& a) const noexcept {
    // FNV-1a over the address bytes and family.
    std::uint64_t h = 1469598103934665603ull ^ static_cast<unsigned>(a.family());
    for (auto b : a.bytes()) h = (h ^ b) * 1099511628211ull;
    return static_cast<std::size_t>(h);
  }
};

class summary {
 public:
  void add(const reset_event& e) {
    // The kernel logs a RST over lo twice (OUTPUT, then INPUT): the pair is one reset. Remember
    // each loopback RST's identity until its twin arrives.
    if (e.loopback) {
      loop_key k{e.source, e.destination, e.sequence, e.acknowledgment};
      if (auto it = pending_loop_.find(k); it != pending_loop_.end()) {
        pending_loop_.erase(it);
        ++loopback_twins_;
        return;
      }
      if (pending_loop_.size() > 4096) pending_loop_.clear();  // twins are adjacent: stay small
      pending_loop_.insert(k);
    }
    ++total_;
    ++by_sender_[static_cast<std::size_t>(e.sender)];
    if (auto r = e.remote_endpoint()) ++peers_[r->address];
    if (auto l = e.local_endpoint()) ++local_ports_[l->port];
    std::optional<std::int64_t> when;
    if (e.time) when = e.time->unix_microseconds();
    if (when) {
      ++per_minute_[*when / 60000000];
      if (!first_ || *when < *first_) first_ = *when, first_text_ = rfc3339(*e.time);
      if (!last_ || *when >= *last_) last_ = *when, last_text_ = rfc3339(*e.time);
    }
  }

  std::uint64_t total() const { return total_; }

  void print_text(std::FILE* out, bool terminal, std::size_t top = 10) const {
    std::fprintf(out, "resets: %llu  (local %llu, remote %llu, transit %llu",
                 ull(total_), ull(by_sender_[0]), ull(by_sender_[1]), ull(by_sender_[2]));
    if (loopback_twins_) std::fprintf(out, "; %llu loopback pairs counted once", ull(loopback_twins_));
    std::fprintf(out, ")\n");
    if (first_)
      std::fprintf(out, "first: %s\nlast:  %s\n", first_text_.c_str(), last_text_.c_str());
    std::fprintf(out, "\ntop remote peers:\n");
    for (auto& [addr, n] : top_of(peers_, top))
      std::fprintf(out, "  %-40s %llu\n", addr.to_string().c_str(), ull(n));
    std::fprintf(out, "\ntop local ports:\n");
    for (auto& [port, n] : top_of(local_ports_, top))
      std::fprintf(out, "  %-40u %llu\n", unsigned(port), ull(n));
    if (per_minute_.empty()) return;
    std::fprintf(out, "\nresets per minute:\n");
    if (terminal)
      print_chart(out);
    else
      for (auto& [minute, n] : per_minute_)
        std::fprintf(out, "  %s  %llu\n", minute_text(minute).c_str(), ull(n));
  }

  void print_json(std::FILE* out, std::size_t top = 10) const {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("resets");
    w.Uint64(total_);
    w.Key("by_sender");
    w.StartObject();
    for (std::size_t i = 0; i < 3; ++i) {
      w.Key(reset_sender_names[i].data());
      w.Uint64(by_sender_[i]);
    }
    w.EndObject();
    w.Key("loopback_pairs");
    w.Uint64(loopback_twins_);
    w.Key("first");
    first_ ? (void)w.String(first_text_.c_str()) : (void)w.Null();
    w.Key("last");
    last_ ? (void)w.String(last_text_.c_str()) : (void)w.Null();
    w.Key("top_peers");
    w.StartArray();
    for (auto& [addr, n] : top_of(peers_, top)) {
      w.StartObject();
      w.Key("addr");
      w.String(addr.to_string().c_str());
      w.Key("resets");
      w.Uint64(n);
      w.EndObject();
    }
    w.EndArray();
    w.Key("top_local_ports");
    w.StartArray();
    for (auto& [port, n] : top_of(local_ports_, top)) {
      w.StartObject();
      w.Key("port");
      w.Uint(port);
      w.Key("resets");
      w.Uint64(n);
      w.EndObject();
    }
    w.EndArray();
    w.Key("per_minute");
    w.StartArray();
    for (auto& [minute, n] : per_minute_) {
      w.StartObject();
      w.Key("minute");
      w.String(minute_text(minute).c_str());
      w.Key("resets");
      w.Uint64(n);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    std::fprintf(out, "%s\n", buf.GetString());
  }

 private:
  struct loop_key {
    endpoint src, dst;
    std::uint32_t seq, ack;
    bool operator==(const loop_key& o) const {
      return src == o.src && dst == o.dst && seq == o.seq && ack == o.ack;
    }
  };
  struct loop_hash {
    std::size_t operator()(const loop_key& k) const noexcept {
      return address_hash{}(k.src.address) * 31 + k.src.port * 7 + k.dst.port + k.seq;
    }
  };

  static unsigned long long ull(std::uint64_t v) { return v; }

  template <class Map>
  static std::vector<std::pair<typename Map::key_type, std::uint64_t>> top_of(const Map& m,
                                                                             std::size_t n) {
    std::vector<std::pair<typename Map::key_type, std::uint64_t>> v(m.begin(), m.end());
    auto cut = v.begin() + static_cast<std::ptrdiff_t>(std::min(n, v.size()));
    std::partial_sort(v.begin(), cut, v.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    v.erase(cut, v.end());
    return v;
  }

  // "2026-04-26T15:27" in UTC.
  static std::string minute_text(std::int64_t minute) {
    std::time_t t = static_cast<std::time_t>(minute * 60);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%MZ", &tm);
    return buf;
  }

  // One bar per minute, or per hour when the span is long, drawn with Unicode eighth blocks so
  // a burst stands out.
  void print_chart(std::FILE* out) const {
    std::int64_t from = per_minute_.begin()->first, to = per_minute_.rbegin()->first;
    std::int64_t step = (to - from) > 120 ? 60 : 1;
    std::map<std::int64_t, std::uint64_t> buckets;
    for (auto& [m, n] : per_minute_) buckets[(m - from) / step] += n;
    std::uint64_t peak = 0;
    for (auto& [b, n] : buckets) peak = std::max(peak, n);
    static const char* blocks[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    const std::int64_t width = 40;
    for (std::int64_t b = 0; b <= (to - from) / step; ++b) {
      auto it = buckets.find(b);
      std::uint64_t n = it == buckets.end() ? 0 : it->second;
      std::uint64_t eighths = peak ? (n * width * 8 + peak - 1) / peak : 0;
      std::string bar;
      for (std::int64_t k = 0; k < width && eighths; ++k) {
        std::uint64_t e = std::min<std::uint64_t>(8, eighths);
        bar += blocks[e];
        eighths -= e;
      }
      std::fprintf(out, "  %s %s %llu\n", minute_text(from + b * step).c_str(), bar.c_str(), ull(n));
    }
  }

  std::uint64_t total_ = 0;
  std::uint64_t by_sender_[3] = {0, 0, 0};
  std::uint64_t loopback_twins_ = 0;
  std::unordered_map<ip_address, std::uint64_t, address_hash> peers_;
  std::unordered_map<std::uint16_t, std::uint64_t> local_ports_;
  std::map<std::int64_t, std::uint64_t> per_minute_;
  std::unordered_set<loop_key, loop_hash> pending_loop_;
  std::optional<std::int64_t> first_, last_;
  std::string first_text_, last_text_;
};

}  // namespace rstwatch::read
