// Fuzz target for the nf_log record grammar (the message part of a kernel LOG line).
// Properties: every view the record holds lies inside the input (zero-copy, no stray
// pointers); a malformed record's error offset lies inside the input; parsing is deterministic;
// the fast path for the kernel's usual field order gives exactly what the general loop gives
// (same status, same fields, same error).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <rstwatch/log/record.hpp>

#include "views.hpp"

using rstwatch::fuzz::inside;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto r = rstwatch::log::parse_record(input);
  auto again = rstwatch::log::parse_record(input);
  if (r.state != again.state) std::abort();
  using status = rstwatch::log::record_result::status;
  {
    rstwatch::log::record_view general;
    rstwatch::log::parse_error general_error;
    const auto g = rstwatch::log::detail::parse_record_with(input, general, general_error, false);
    if (g != r.state) std::abort();
    if (g == status::record && !(general == r.record)) std::abort();
    if (g == status::malformed &&
        (general_error.offset != r.error.offset || general_error.expected != r.error.expected))
      std::abort();
  }
  if (r.state == status::malformed && r.error.offset > input.size()) std::abort();
  if (r.state != status::record) return 0;
  const auto& v = r.record;
  for (auto part : {v.text, v.prefix, v.in, v.out, v.physical_in, v.physical_out, v.mac, v.tunnel,
                    v.mac_source, v.mac_destination, v.mac_protocol, v.vlan_protocol})
    inside(input, part);
  for (std::size_t k = 0; k < std::min<std::size_t>(v.unknown_count, v.max_unknown); ++k)
    inside(input, v.unknown[k]);
  // The prefix is what comes first: it starts the message.
  if (!v.prefix.empty() && v.prefix.data() != input.data()) std::abort();
  return 0;
}
