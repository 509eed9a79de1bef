// Chain names to values, for the tens of thousands of chains a kube-proxy table declares and
// the one or two lookups every rule line makes. One array of slots, open addressing, and the
// name kept in its slot: iptables refuses chain names of 29 bytes or more, so a slot holds any
// name it accepts and a lookup reads one slot (std::unordered_map reads a bucket, a node and
// the key's text elsewhere in the file: three cache misses in a table larger than the cache).
// A longer name (only in a file iptables refuses) goes to a side table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rstwatch::rules::detail {

// Asks the processor to bring the memory at `p` into the cache, without waiting for it (a
// hint: nothing on compilers without the builtin).
inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

template <class V>
class chain_map {
 public:
  static constexpr std::size_t max_inline_name = 64 - 4 - 1 - sizeof(V);
  static_assert(max_inline_name >= 28, "a slot holds every chain name iptables accepts");

  std::size_t size() const noexcept { return size_ + long_.size(); }

  void clear() {
    slots_.clear();
    size_ = 0;
    long_.clear();
  }

  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    if (cap > slots_.size()) rehash(cap);
  }

  // The value of `name`; null when absent. Valid until the next insert or erase.
  V* find(std::string_view name) noexcept {
    if (name.size() > max_inline_name) {
      auto it = long_.find(std::string(name));
      return it == long_.end() ? nullptr : &it->second;
    }
    const std::size_t i = index_of(name);
    return i == npos ? nullptr : &slots_[i].value;
  }
  const V* find(std::string_view name) const noexcept {
    return const_cast<chain_map*>(this)->find(name);
  }
  bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }

  // Asks the processor for the slot where a lookup of `name` starts, so that the lookup, made
  // a little later, finds it in the cache (see chain_line_ahead in canonical_rule.hpp).
  void prefetch(std::string_view name) const noexcept {
    if (!slots_.empty() && name.size() <= max_inline_name) detail::prefetch(&slots_[hash(name) & mask()]);
  }

  // Adds `name` with `value` unless it is there; the value in the map and whether it was added.
  // One probe run: the name's slot if it is there, else the empty slot that ends the run.
  std::pair<V*, bool> insert(std::string_view name, V value) {
    if (name.size() > max_inline_name) {
      auto [it, added] = long_.emplace(std::string(name), std::move(value));
      return {&it->second, added};
    }
    if (2 * (size_ + 1) > slots_.size()) rehash(slots_.empty() ? 16 : 2 * slots_.size());
    const std::uint32_t h = hash(name);
    std::size_t i = h & mask();
    for (; slots_[i].hash != 0; i = (i + 1) & mask()) {
      slot& s = slots_[i];
      if (holds(s, h, name))
        return {&s.value, false};
    }
    slot& s = slots_[i];
    s.hash = h;
    s.size = static_cast<std::uint8_t>(name.size());
    std::memcpy(s.name, name.data(), name.size());
    s.value = std::move(value);
    ++size_;
    return {&s.value, true};
  }

  // Removes `name`; whether it was there. The entries after it in its probe run move back
  // (backward-shift deletion: no tombstones to slow later lookups).
  bool erase(std::string_view name) {
    if (name.size() > max_inline_name) return long_.erase(std::string(name)) > 0;
    std::size_t hole = index_of(name);
    if (hole == npos) return false;
    for (std::size_t j = (hole + 1) & mask(); slots_[j].hash != 0; j = (j + 1) & mask()) {
      const std::size_t home = slots_[j].hash & mask();
      // Slot j may fill the hole when its home is not cyclically inside (hole, j].
      const bool home_after_hole = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!home_after_hole) {
        slots_[hole] = std::move(slots_[j]);
        hole = j;
      }
    }
    slots_[hole].hash = 0;
    slots_[hole].value = V();
    --size_;
    return true;
  }

 private:
  // One cache line each: a slot of 48 bytes straddled two lines every other time, and a
  // lookup then waited for both (the name compare, or the value, in the second).
  struct alignas(64) slot {
    std::uint32_t hash = 0;  // 0: empty (hash() never returns 0)
    std::uint8_t size = 0;
    char name[max_inline_name] = {};
    V value{};
  };
  static constexpr std::size_t npos = ~std::size_t{0};

  // Whether slot `s` holds `name`, whose hash is `h`: what a lookup and an insert both ask.
  static bool holds(const slot& s, std::uint32_t h, std::string_view name) noexcept {
    return s.hash == h && s.size == name.size() && std::memcmp(s.name, name.data(), name.size()) == 0;
  }

  std::size_t mask() const noexcept { return slots_.size() - 1; }

  // The slot of an inline-sized `name`, npos when absent.
  std::size_t index_of(std::string_view name) const noexcept {
    if (slots_.empty()) return npos;
    const std::uint32_t h = hash(name);
    for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
      const slot& s = slots_[i];
      if (s.hash == 0) return npos;
      if (holds(s, h, name))
        return i;
    }
  }

  // Eight bytes at a time, each folded in with a multiply; the high half of the 64-bit state
  // mixes best. Never 0, the empty mark.
  static std::uint32_t hash(std::string_view name) noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15ull ^ name.size();
    std::size_t i = 0;
    for (; i + 8 <= name.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, name.data() + i, 8);
      h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
      h ^= h >> 31;
    }
    if (i < name.size()) {
      std::uint64_t w = 0;
      std::memcpy(&w, name.data() + i, name.size() - i);
      h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
      h ^= h >> 31;
    }
    h *= 0x94d049bb133111ebull;
    const auto r = static_cast<std::uint32_t>(h >> 32);
    return r ? r : 1;
  }

  void rehash(std::size_t capacity) {
    std::vector<slot> old(capacity);
    old.swap(slots_);
    for (slot& s : old) {
      if (s.hash == 0) continue;
      std::size_t i = s.hash & mask();
      while (slots_[i].hash != 0) i = (i + 1) & mask();
      slots_[i] = std::move(s);
    }
  }

  std::vector<slot> slots_;
  std::size_t size_ = 0;
  std::unordered_map<std::string, V> long_;
};

}  // namespace rstwatch::rules::detail
