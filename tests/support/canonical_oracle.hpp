// The contract of the parser's fast path (rules/detail/canonical_rule.hpp), as one check the
// specification (tests/rules/canonical.cpp) and the fuzz target (fuzz/canonical.cpp) share:
// for a rule line the fast path takes, the general path must agree on everything.
#pragma once

#include <rstwatch/rules/detail/canonical_rule.hpp>
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>
#include <rstwatch/rules/validate.hpp>

#include <string>
#include <string_view>

namespace rstwatch::testing {

// The tokens of the only line of `f`, after `skip` of them, as "role:text" words.
inline std::string token_words(const rules::ast::file& f, std::size_t skip) {
  const auto& tree = f.lines.records();
  std::string out;
  for (std::size_t i = skip; i < tree.tokens.size(); ++i) {
    const auto& t = tree.tokens[i];
    out += std::to_string(static_cast<int>(t.role())) + ":" +
           std::string(tree.source.substr(t.offset, t.size())) + " ";
  }
  return out;
}

// What differs between two validation reports, ignoring columns (the general path's copy of
// a line starts 6 bytes later); empty when nothing does.
inline std::string report_difference(const rules::report& a, const rules::report& b) {
  auto words = [](const rules::report& r) {
    std::string s;
    for (const diagnostic& d : r.diagnostics)
      s += std::to_string(d.where.line) + " " + std::string(to_string(d.level)) + " " + d.message + "\n";
    return s;
  };
  std::string x = words(a), y = words(b);
  return x == y ? std::string() : "fast path:\n" + x + "general path:\n" + y;
}

// Why the general path disagrees with the fast path on the rule `line` (no '\n'), or empty
// when it agrees or the fast path does not take the line. Each family the fast path takes it
// for is checked: the parser marks the line with exactly those families and records the
// tokens the grammar records; a file holding the line validates with the same diagnostics and
// restores to the same iptables-save text as the same file whose line the fast path cannot
// take (a "[0:0] " prefix, which neither restore without --counters nor validate reads).
inline std::string canonical_disagreement(std::string_view line) {
  namespace rr = rstwatch::rules;
  const auto fast = rr::detail::read_canonical_rule(line);
  auto alone = rr::parse(line);
  if (!fast) {
    if (alone && !alone->lines.empty() && alone->lines[0].saved_form != 0)
      return "the parser marks a line read_canonical_rule() refuses";
    return {};
  }
  if (!alone) return "the fast path takes a line the grammar refuses: " + format(alone.error());
  if (alone->lines.size() != 1 || alone->lines[0].saved_form != fast->families)
    return "the parser does not mark the line with its families";
  const std::string prefixed = "[0:0] " + std::string(line);
  auto general = rr::parse(prefixed);
  if (!general || general->lines[0].saved_form != 0) return "the prefixed line does not take the general path";
  if (token_words(*alone, 0) != token_words(*general, 2))
    return "tokens differ:\nfast:    " + token_words(*alone, 0) + "\ngeneral: " + token_words(*general, 2);

  // A table where the line's target may be, its chain and its jump target declared.
  const bool nat = fast->target == "DNAT" || fast->target == "SNAT" || fast->target == "MASQUERADE";
  const bool mangle = fast->target == "MARK";
  std::string head = nat ? "*nat\n" : mangle ? "*mangle\n" : "*filter\n";
  for (std::string_view name : {fast->chain, fast->target}) {
    if (name.empty() || rr::detail::names_a_target(name) || netfilter::builtin_chain(name) ||
        (name == fast->target && name == fast->chain))
      continue;
    head += ":" + std::string(name) + " - [0:0]\n";
  }
  for (auto fam : {netfilter::family::ipv4, netfilter::family::ipv6}) {
    if (!(fast->families & rr::detail::family_bit(fam))) continue;
    const std::string a = head + std::string(line) + "\nCOMMIT\n";
    const std::string b = head + prefixed + "\nCOMMIT\n";
    auto fa = rr::parse(a);
    auto fb = rr::parse(b);
    if (!fa || !fb) return "a file holding the line does not parse";
    if (!(fa->lines[fa->lines.size() - 2].saved_form & rr::detail::family_bit(fam)))
      return "the line in a file does not take the fast path";
    std::string d = report_difference(rr::validate(*fa, {fam, "a.rules"}), rr::validate(*fb, {fam, "b.rules"}));
    if (!d.empty()) return "validation differs (" + std::string(netfilter::to_string(fam)) + "):\n" + d;
    rr::restore_options ro;
    ro.fam = fam;
    auto ra = rr::restore(rr::empty_ruleset(fam), *fa, ro);
    auto rb = rr::restore(rr::empty_ruleset(fam), *fb, ro);
    if (ra.has_value() != rb.has_value())
      return std::string("restore ") + (ra ? "takes" : "refuses") + " the fast line, and " +
             (rb ? "takes" : "refuses") + " the general one (" + std::string(netfilter::to_string(fam)) + ")";
    if (ra && rr::print_saved(*ra) != rr::print_saved(*rb))
      return "saved text differs (" + std::string(netfilter::to_string(fam)) + "):\nfast:\n" +
             rr::print_saved(*ra) + "general:\n" + rr::print_saved(*rb);
    if (!ra && format(ra.error()) != format(rb.error()) &&
        ra.error().message != rb.error().message)
      return "restore errors differ:\n" + format(ra.error()) + "\n" + format(rb.error());
  }
  return {};
}

}  // namespace rstwatch::testing
