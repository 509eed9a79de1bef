// `--summary`: resets by sender, the peers and local ports that see the most resets, resets
// per minute and the time span. Memory grows with the number of distinct peers, ports and
// minutes, never with the number of lines.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <rapidjson/prettywriter.h>

#include "read/event_json.hpp"

namespace rstwatch::read {

struct address_hash {
  // MurmurHash3's 64-bit finalizer: every input bit reaches every output bit, so the low bits
  // that index the table differ even for addresses that differ only in their last byte.
  static constexpr std::uint64_t mix(std::uint64_t k) noexcept {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    return k ^ (k >> 33);
  }
  std::size_t operator()(const ip_address& a) const noexcept {
    std::uint64_t lo = 0, hi = 0;
    std::memcpy(&lo, a.bytes().data(), 8);
    std::memcpy(&hi, a.bytes().data() + 8, 8);
    return static_cast<std::size_t>(mix(lo ^ mix(hi ^ static_cast<std::uint64_t>(a.family()))));
  }
  // Two word compares, where std::array's == calls memcmp.
  static bool equal(const ip_address& a, const ip_address& b) noexcept {
    std::uint64_t x[2], y[2];
    std::memcpy(x, a.bytes().data(), 16);
    std::memcpy(y, b.bytes().data(), 16);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0 && a.family() == b.family();
  }
};

// Asks the CPU to bring the cache line at p in. (GCC 12 at -O2 and above dropped
// __builtin_prefetch from counter_table::prefetch, so on x86 the instruction is written out.)
inline void prefetch_line(const void* p) noexcept {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

// Allocates arrays of 2 MiB and more on 2 MiB boundaries and asks for transparent huge pages
// there (madvise; a hint the kernel may ignore). A large counter_table is read at random: with
// 4 KiB pages nearly every lookup of a million-peer table also misses the TLB.
template <class T>
struct huge_page_allocator {
  using value_type = T;
  static constexpr std::size_t huge = std::size_t{2} << 20;
  huge_page_allocator() = default;
  template <class U>
  huge_page_allocator(const huge_page_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < huge) return std::allocator<T>().allocate(n);
    void* p = std::aligned_alloc(huge, (bytes + huge - 1) / huge * huge);
    if (!p) throw std::bad_alloc();
    (void)::madvise(p, bytes, MADV_HUGEPAGE);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) < huge)
      std::allocator<T>().deallocate(p, n);
    else
      std::free(p);
  }
  template <class U>
  bool operator==(const huge_page_allocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const huge_page_allocator<U>&) const noexcept { return false; }
};

// Counts per key in one flat, open-addressed array (linear probing, grown at 50% load): one
// probe and no allocation per event, where std::unordered_map allocates a node per key and
// chases a pointer per lookup. Keys are never removed.
template <class Key, class Hash>
class counter_table {
 public:
  std::uint64_t& operator[](const Key& k) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = Hash{}(k) & mask;; i = (i + 1) & mask) {
      slot& s = slots_[i];
      if (!s.used) {
        s.used = true;
        s.key = k;
        ++size_;
        return s.count;
      }
      if (Hash::equal(s.key, k)) return s.count;
    }
  }
  // Asks the CPU to bring k's first slot into the cache: a lookup right after a miss waits
  // for memory (the peers of a large log are spread over megabytes of slots).
  void prefetch(const Key& k) const noexcept {
    if (!slots_.empty()) prefetch_line(slots_.data() + (Hash{}(k) & (slots_.size() - 1)));
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  template <class F>
  void for_each(F f) const {
    for (const slot& s : slots_)
      if (s.used) f(s.key, s.count);
  }

 private:
  struct slot {  // 32 bytes for an ip_address key: two slots per cache line
    Key key{};
    bool used = false;
    std::uint64_t count = 0;
  };
  void grow() {
    std::vector<slot, huge_page_allocator<slot>> old(slots_.empty() ? 64 : slots_.size() * 2);
    old.swap(slots_);
    size_ = 0;
    for (const slot& s : old)
      if (s.used) (*this)[s.key] = s.count;
  }
  std::vector<slot, huge_page_allocator<slot>> slots_;
  std::size_t size_ = 0;
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
    // The peer and the local port are counted one event late: their slots are prefetched
    // now, and are in the cache when the next event (a whole line's parse later) counts
    // them. settle() counts the last ones before anything reads the counts.
    if (auto r = e.remote_endpoint()) {
      peers_.prefetch(r->address);
      if (peer_pending_) ++peers_[pending_peer_];
      pending_peer_ = r->address;
      peer_pending_ = true;
    }
    if (auto l = e.local_endpoint()) {
      prefetch_line(&local_ports_[l->port]);
      if (port_pending_) ++local_ports_[pending_port_];
      pending_port_ = l->port;
      port_pending_ = has_local_ports_ = true;
    }
    if (e.time) {
      const hour_start* h = hour_of(*e.time);
      if (h->valid) {
        const std::int64_t when =
            h->start + (std::int64_t{e.time->minute} * 60 + e.time->second) * 1000000 +
            e.time->microsecond;
        ++hour_counts_[h->counts][e.time->minute];
        timed_ = true;
        // Keep the civil times; their text is made once, when printed.
        if (!first_ || when < *first_) first_ = when, first_time_ = *e.time;
        if (!last_ || when >= *last_) last_ = when, last_time_ = *e.time;
      }
    }
  }

  std::uint64_t total() const { return total_; }

  // A Unix minute as printed: "2026-04-26T15:27Z", in UTC.
  static std::string minute_text(std::int64_t minute) {
    std::time_t t = static_cast<std::time_t>(minute * 60);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%MZ", &tm);
    return buf;
  }


  void print_text(std::FILE* out, bool terminal, std::size_t top = 10) const {
    settle();
    std::fprintf(out, "resets: %llu  (local %llu, remote %llu, transit %llu",
                 ull(total_), ull(by_sender_[0]), ull(by_sender_[1]), ull(by_sender_[2]));
    if (loopback_twins_) std::fprintf(out, "; %llu loopback pairs counted once", ull(loopback_twins_));
    std::fprintf(out, ")\n");
    if (first_)
      std::fprintf(out, "first: %s\nlast:  %s\n", rfc3339(first_time_).c_str(),
                   rfc3339(last_time_).c_str());
    std::fprintf(out, "\ntop remote peers:\n");
    for (auto& [addr, n] : top_of(peers_, top))
      std::fprintf(out, "  %-40s %llu\n", addr.to_string().c_str(), ull(n));
    std::fprintf(out, "\ntop local ports:\n");
    for (auto& [port, n] : top_ports(top))
      std::fprintf(out, "  %-40u %llu\n", unsigned(port), ull(n));
    if (!timed_) return;  // no event had a time
    std::fprintf(out, "\nresets per minute:\n");
    if (terminal)
      print_chart(out);
    else
      for (auto& [minute, n] : minutes())
        std::fprintf(out, "  %s  %llu\n", minute_text(minute).c_str(), ull(n));
  }

  void print_json(std::FILE* out, std::size_t top = 10) const {
    settle();
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
    first_ ? (void)w.String(rfc3339(first_time_).c_str()) : (void)w.Null();
    w.Key("last");
    last_ ? (void)w.String(rfc3339(last_time_).c_str()) : (void)w.Null();
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
    for (auto& [port, n] : top_ports(top)) {
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
    for (auto& [minute, n] : minutes()) {
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
  static std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // rounds toward -infinity
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
  }

  // The hour of `t`: its first microsecond (civil_time::unix_microseconds) and its minutes'
  // counts. A direct-mapped table of 256 hours remembers the last ones, so the zone's offset,
  // the day count and the counts' place are worked out once per hour, not per event, also
  // when a log interleaves hours, days or months (merged files; the mixed benchmark log,
  // whose every line has another date).
  struct hour_start {
    std::uint64_t key = 0;  // year, month, day, hour and written offset, packed
    std::int64_t start = 0;
    std::uint32_t counts = 0;  // index in hour_counts_
    bool valid = false;        // the hour has a Unix time (a year, a known offset)
    bool known = false;        // the slot holds an hour
  };
  const hour_start* hour_of(const civil_time& t) {
    const std::uint64_t key =
        (static_cast<std::uint64_t>(static_cast<std::uint32_t>(t.year)) << 32) |
        (std::uint64_t{t.month} << 28) | (std::uint64_t{t.day} << 23) |
        (std::uint64_t{t.hour} << 18) | (std::uint64_t{t.has_offset} << 17) |
        static_cast<std::uint16_t>(t.offset_minutes);
    hour_start& h = hours_[(key * 0x9e3779b97f4a7c15ull) >> 56];
    if (h.known && h.key == key) return &h;
    civil_time start = t;
    start.minute = start.second = 0;
    start.microsecond = 0;
    const auto us = start.unix_microseconds();
    h = {key, us.value_or(0), 0, us.has_value(), true};
    if (us) {
      // Hours that name the same instant (written with other offsets) share their counts.
      auto [it, added] = hour_index_.try_emplace(*us, hour_counts_.size());
      if (added) hour_counts_.emplace_back();
      h.counts = static_cast<std::uint32_t>(it->second);
    }
    return &h;
  }

  // Counts the peer and the port add() left pending.
  void settle() const {
    if (peer_pending_) ++peers_[pending_peer_];
    if (port_pending_) ++local_ports_[pending_port_];
    peer_pending_ = port_pending_ = false;
  }

  template <class Key>
  static void keep_top(std::vector<std::pair<Key, std::uint64_t>>& v, std::size_t n) {
    auto cut = v.begin() + static_cast<std::ptrdiff_t>(std::min(n, v.size()));
    std::partial_sort(v.begin(), cut, v.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    v.erase(cut, v.end());
  }
  template <class Key, class Hash>
  static std::vector<std::pair<Key, std::uint64_t>> top_of(const counter_table<Key, Hash>& m,
                                                           std::size_t n) {
    std::vector<std::pair<Key, std::uint64_t>> v;
    v.reserve(m.size());
    m.for_each([&](const Key& k, std::uint64_t c) { v.emplace_back(k, c); });
    keep_top(v, n);
    return v;
  }
  std::vector<std::pair<std::uint16_t, std::uint64_t>> top_ports(std::size_t n) const {
    std::vector<std::pair<std::uint16_t, std::uint64_t>> v;
    if (has_local_ports_)
      for (std::size_t p = 0; p < local_ports_.size(); ++p)
        if (local_ports_[p]) v.emplace_back(static_cast<std::uint16_t>(p), local_ports_[p]);
    keep_top(v, n);
    return v;
  }
  // Minutes in time order.
  std::vector<std::pair<std::int64_t, std::uint64_t>> minutes() const {
    std::vector<std::pair<std::int64_t, std::uint64_t>> v;
    for (const auto& [start, index] : hour_index_)
      for (std::size_t m = 0; m < 60; ++m)
        if (const std::uint64_t c = hour_counts_[index][m])
          v.emplace_back(floor_div(start, 60000000) + static_cast<std::int64_t>(m), c);
    std::sort(v.begin(), v.end());
    std::vector<std::pair<std::int64_t, std::uint64_t>> merged;
    for (auto& [m, c] : v) {
      if (!merged.empty() && merged.back().first == m)
        merged.back().second += c;
      else
        merged.emplace_back(m, c);
    }
    return merged;
  }

  // One bar per minute, or per hour when the span is long, drawn with Unicode eighth blocks so
  // a burst stands out.
  void print_chart(std::FILE* out) const {
    const auto all = minutes();
    std::int64_t from = all.front().first, to = all.back().first;
    std::int64_t step = (to - from) > 120 ? 60 : 1;
    std::map<std::int64_t, std::uint64_t> buckets;
    for (auto& [m, n] : all) buckets[(m - from) / step] += n;
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
  mutable counter_table<ip_address, address_hash> peers_;  // settle() completes it
  mutable ip_address pending_peer_;
  mutable bool peer_pending_ = false;
  mutable std::vector<std::uint64_t> local_ports_ = std::vector<std::uint64_t>(65536);  // by port
  mutable std::uint16_t pending_port_ = 0;
  mutable bool port_pending_ = false;
  bool has_local_ports_ = false;
  std::vector<hour_start> hours_ = std::vector<hour_start>(256);
  std::unordered_map<std::int64_t, std::size_t> hour_index_;  // an hour's start: its counts
  std::vector<std::array<std::uint64_t, 60>> hour_counts_;   // resets per minute of each hour
  bool timed_ = false;  // an event had a time
  std::unordered_set<loop_key, loop_hash> pending_loop_;
  std::optional<std::int64_t> first_, last_;
  civil_time first_time_, last_time_;
};

}  // namespace rstwatch::read
