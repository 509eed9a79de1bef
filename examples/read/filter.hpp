// rstwatch-read's filters: which side sent the RST, a port or an address on either side, the
// LOG prefix, a time window. An event passes when it meets every filter given.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rstwatch/event.hpp>

namespace rstwatch::read {

struct filter {
  std::vector<reset_sender> senders;      // empty: any
  std::vector<std::uint16_t> ports;       // either side
  std::vector<ip_network> networks;       // either side
  std::optional<std::string> prefix;      // compared without surrounding spaces
  std::optional<std::int64_t> since_us;   // Unix microseconds, inclusive
  std::optional<std::int64_t> until_us;   // exclusive

  static std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  }

  bool matches(const reset_event& e) const {
    if (!senders.empty() &&
        std::find(senders.begin(), senders.end(), e.sender) == senders.end())
      return false;
    if (!ports.empty() &&
        std::none_of(ports.begin(), ports.end(), [&](std::uint16_t p) {
          return e.source.port == p || e.destination.port == p;
        }))
      return false;
    if (!networks.empty() &&
        std::none_of(networks.begin(), networks.end(), [&](const ip_network& n) {
          return n.contains(e.source.address) || n.contains(e.destination.address);
        }))
      return false;
    if (prefix && trim(e.prefix) != trim(*prefix)) return false;
    if (since_us || until_us) {
      // A time window selects only events whose envelope has a time.
      std::optional<std::int64_t> t;
      if (e.time) t = e.time->unix_microseconds();
      if (!t) return false;
      if (since_us && *t < *since_us) return false;
      if (until_us && *t >= *until_us) return false;
    }
    return true;
  }
};

}  // namespace rstwatch::read
