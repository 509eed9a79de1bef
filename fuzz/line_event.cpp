// Fuzz target for the whole path from a line to a reset event, through rstwatch-read's JSON
// contract. Properties: each line lands in exactly one accounting bucket; a reset event's JSON
// (written by the reader's own header) always parses, also from non-UTF-8 bytes, and reads back with the same sender, addresses and ports;
// a malformed line's diagnostic points inside the line.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <rstwatch/log/classify.hpp>

#include "read/event_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  rstwatch::log::classified_line c;
  rstwatch::log::classify(line, 1, c, rstwatch::log::classify_options::for_year(2026));
  rstwatch::log::line_counts counts;
  counts.add(c.kind);
  if (counts.lines != 1 || counts.resets + counts.records + counts.ignored + counts.malformed != 1)
    std::abort();
  using kind = rstwatch::log::line_kind;
  if (c.kind == kind::malformed) {
    auto d = c.to_diagnostic("fuzz");
    if (d.where.column < 1 || d.where.column > size + 1) std::abort();
    return 0;
  }
  if (c.kind != kind::reset) return 0;
  const auto& e = c.event;
  auto j = nlohmann::json::parse(rstwatch::read::event_json(e, "fuzz"), nullptr, false);
  if (j.is_discarded()) std::abort();
  if (j["sender"] != std::string(rstwatch::to_string(e.sender))) std::abort();
  if (j["src"] != e.source.address.to_string() || j["dst"] != e.destination.address.to_string())
    std::abort();
  if (j["sport"] != e.source.port || j["dport"] != e.destination.port) std::abort();
  // The prefix comes back as written when it is UTF-8 (other bytes become U+FFFD).
  bool utf8 = true;
  for (std::size_t i = 0, n; i < e.prefix.size() && utf8; i += n)
    utf8 = (n = rstwatch::read::detail::utf8_sequence(e.prefix, i)) != 0;
  if (utf8 && j["prefix"] != std::string(e.prefix)) std::abort();
  return 0;
}
