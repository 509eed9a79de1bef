// Fuzz target: any bytes parsed, validated, translated to nft and explained never crash or hang;
// every diagnostic of a parsed file points inside it.
#include <rstwatch/rules/check_rule.hpp>
#include <rstwatch/rules/nft.hpp>
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/validate.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto f = rstwatch::rules::parse(text, "fuzz.rules");
  if (!f) return 0;
  for (auto fam : {rstwatch::netfilter::family::ipv4, rstwatch::netfilter::family::ipv6}) {
    auto r = rstwatch::rules::validate(*f, {fam, "fuzz.rules"});
    for (const auto& d : r.diagnostics)
      if (d.where.line == 0 || d.where.line > f->lines.size() + 1) std::abort();
    (void)rstwatch::rules::format_report(r, *f);
    auto nft = rstwatch::rules::to_nft(*f, {fam, "fuzz.rules"});
    (void)nft;
    for (const auto& l : f->lines)
      if (l.kind == rstwatch::rules::ast::line_kind::rule) {
        auto v = rstwatch::rules::checks::view_rule(l, fam);
        (void)rstwatch::rules::checks::tcp_of(v);
        (void)rstwatch::rules::checks::log_of(v);
        (void)rstwatch::rules::checks::multiport_of(v);
        (void)rstwatch::rules::checks::nat_of(v);
      }
  }
  return 0;
}
