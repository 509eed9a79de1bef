// What the rules and validate fuzz targets share: how a property violation is reported, which
// files the reload properties must leave out, and the text they reload.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/saved.hpp>

namespace rstwatch::fuzz {

[[noreturn]] inline void finding(const char* what, std::string_view a, std::string_view b) {
  std::fprintf(stderr, "PROPERTY VIOLATED: %s\n--- first ---\n%.*s\n--- second ---\n%.*s\n", what,
               int(a.size()), a.data(), int(b.size()), b.data());
  std::abort();
}

// iptables-save prints interface names raw (not through xtables_save_string()), so a name with
// a blank, or an empty one, comes out as text that neither iptables-restore nor restore()
// loads again (tests/rules/saved.cpp, "an interface name with a blank ..."): no reload check.
inline bool has_unprintable_interface(const rules::ast::file& file) {
  for (const auto& l : file.lines)
    for (const auto& o : l.rule.options) {
      std::string_view n = o.name.text;
      bool iface = n == "-i" || n == "-o" ||
                   (n.size() > 3 && (n.substr(0, 4) == "--in" || n.substr(0, 4) == "--ou"));
      if (!iface) continue;
      for (const auto& a : o.args) {
        std::string v = a.value();
        if (v.empty() || v.find_first_of(" \t\n\v\f\r") != std::string::npos) return true;
      }
    }
  return false;
}

// A quote left open takes the line's newline into its word, which iptables-save prints inside
// quotes: a rule line cut in two that neither iptables-restore nor restore() loads again
// (tests/rules/saved.cpp, "a quote left open ..."): no reload check either.
inline bool has_open_quote(const rules::ast::file& file) {
  for (const auto& l : file.lines)
    for (const auto& o : l.rule.options) {
      if (o.name.open_quote()) return true;
      for (const auto& a : o.args)
        if (a.open_quote()) return true;
    }
  return false;
}

// What iptables-save prints once iptables-restore has loaded `file` (restore(), then
// print_saved()); nothing when restore() refuses the file (validate() checks a file on its own,
// restore() also knows the kernel's rules: `-R INPUT 1` on an empty chain) or when the reload
// properties must leave it out (has_unprintable_interface, has_open_quote).
inline std::optional<std::string> saved_text(const rules::ast::file& file, rules::family fam,
                                             bool counters) {
  rules::restore_options ro;
  ro.fam = fam;
  ro.counters = counters;
  auto loaded = rules::restore(rules::empty_ruleset(fam), file, ro);
  if (!loaded || has_unprintable_interface(file) || has_open_quote(file)) return std::nullopt;
  rules::save_options so;
  so.counters = counters;
  return rules::print_saved(*loaded, so);
}

}  // namespace rstwatch::fuzz
