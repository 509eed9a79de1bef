// Fuzz target for the iptables-restore parser and the iptables-save printer.
// Properties, beyond "no crash, no hang, no UB": a file that parses reprints byte for byte
// (print_source), and printing what iptables-restore would load is idempotent — the saved
// text parses, loads again, and prints the same bytes (with and without counters, for both
// families).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>

#include <rstwatch/instantiate.hpp>
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>

#include "rules_support.hpp"

namespace rr = rstwatch::rules;

namespace {

using rstwatch::fuzz::finding;
using rstwatch::fuzz::has_unprintable_interface;

void check_saved(const rr::ast::file& file, rr::family fam, bool counters) {
  const auto saved = rstwatch::fuzz::saved_text(file, fam, counters);
  if (!saved) return;
  const std::string& once = *saved;
  rr::restore_options ro;
  ro.fam = fam;
  ro.counters = counters;
  rr::save_options so;
  so.counters = counters;
  auto reparsed = rr::parse(once);
  if (!reparsed) finding("print_saved output does not parse", once, rstwatch::format(reparsed.error()));
  auto reloaded = rr::restore(rr::empty_ruleset(fam), *reparsed, ro);
  if (!reloaded) finding("print_saved output does not load", once, rstwatch::format(reloaded.error()));
  std::string twice = rr::print_saved(*reloaded, so);
  if (twice != once) finding("print_saved is not idempotent", once, twice);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = rr::parse(input, "fuzz");
  if (!parsed) {
    (void)rstwatch::format(parsed.error());  // the diagnostic itself must be printable
    return 0;
  }
  std::string source = rr::print_source(*parsed);
  if (source != input) finding("print_source differs from the input", input, source);
  // One (family, counters) variant per input, picked by its length, keeps executions fast;
  // the fuzzer reaches all four through inputs of different lengths.
  check_saved(*parsed, size % 2 ? rr::family::ipv6 : rr::family::ipv4, size % 4 >= 2);
  return 0;
}
