// What the rules and validate fuzz targets share: how a property violation is reported, and
// which files the reload properties must leave out.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <rstwatch/rules/ast.hpp>

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

}  // namespace rstwatch::fuzz
