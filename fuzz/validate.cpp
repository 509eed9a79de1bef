// Fuzz target: any bytes parsed, validated, translated to nft and explained never crash or hang;
// every diagnostic of a parsed file points inside it; and a file that validates without errors
// still validates without errors once iptables-restore has loaded it and iptables-save printed
// it (validate(parse(print_saved(parse(x)))) has no errors).
#include <rstwatch/rules/check_rule.hpp>
#include <rstwatch/rules/nft.hpp>
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>
#include <rstwatch/rules/validate.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rules_support.hpp"

namespace rr = rstwatch::rules;

namespace {

using rstwatch::fuzz::finding;
using rstwatch::fuzz::has_unprintable_interface;

// `file` validated without errors for `fam`: what iptables-save prints after loading it must too.
void check_saved_validates(const rr::ast::file& file, rstwatch::netfilter::family fam,
                           bool counters) {
  const auto text = rstwatch::fuzz::saved_text(file, fam, counters);
  if (!text) return;
  const std::string& saved = *text;
  auto reparsed = rr::parse(saved, "saved.rules");
  if (!reparsed) finding("print_saved output does not parse", saved, rstwatch::format(reparsed.error()));
  auto r = rr::validate(*reparsed, {fam, "saved.rules"});
  if (!r.ok()) finding("print_saved output fails validation", saved, rr::format_report(r, *reparsed));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto f = rr::parse(text, "fuzz.rules");
  if (!f) return 0;
  // One family per input, picked (like the counters below) by the input's length: checking
  // both doubled the cost of every run, and a campaign reaches both anyway.
  for (auto fam : {size / 2 % 2 == 0 ? rstwatch::netfilter::family::ipv4
                                     : rstwatch::netfilter::family::ipv6}) {
    auto r = rr::validate(*f, {fam, "fuzz.rules"});
    for (const auto& d : r.diagnostics)
      if (d.where.line == 0 || d.where.line > f->lines.size() + 1) std::abort();
    (void)rr::format_report(r, *f);
    // With or without counters, picked by the input's length (both show up over a campaign).
    if (r.ok()) check_saved_validates(*f, fam, size % 2 == 1);
    auto nft = rr::to_nft(*f, {fam, "fuzz.rules"});
    (void)nft;
    for (const auto& l : f->lines)
      if (l.kind == rr::ast::line_kind::rule) {
        auto v = rr::checks::view_rule(l, fam);
        (void)rr::checks::tcp_of(v);
        (void)rr::checks::log_of(v);
        (void)rr::checks::multiport_of(v);
        (void)rr::checks::nat_of(v);
      }
  }
  return 0;
}
