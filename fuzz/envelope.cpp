// Fuzz target for the envelope detector (syslog, RFC 3339, journalctl, dmesg, /dev/kmsg).
// Properties: the message, time text, host and tag are views inside the line; a parsed time
// has a valid month, day and clock; detection is deterministic.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <rstwatch/log/envelope.hpp>

#include "views.hpp"

using rstwatch::fuzz::inside;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto e = rstwatch::log::parse_envelope(line);
  auto again = rstwatch::log::parse_envelope(line);
  if (e.kind != again.kind || e.message.size() != again.message.size()) std::abort();
  for (auto part : {e.time_text, e.host, e.tag, e.message}) inside(line, part);
  if (e.time) {
    const auto& t = *e.time;
    if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > 31 || t.hour > 23 || t.minute > 59 ||
        t.second > 60 || t.microsecond > 999999)
      std::abort();
  }
  if (e.level < -1 || e.level > 7) std::abort();
  return 0;
}
