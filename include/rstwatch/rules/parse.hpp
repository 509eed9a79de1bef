// Parse an iptables-restore file into the lossless AST, and print it back as written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <rstwatch/detail/scan.hpp>
#include <rstwatch/detail/x3_config.hpp>
#include <rstwatch/diagnostic.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/detail/getopt.hpp>
#include <rstwatch/rules/grammar.hpp>

#ifndef RSTWATCH_SEPARATE_GRAMMARS
#include <rstwatch/rules/grammar_def.hpp>
#endif

namespace rstwatch::rules {

namespace detail {

// The diagnostic for the expectation that failed, with the hint iptables users need most.
inline diagnostic failure_diagnostic(std::string_view input, std::string_view file_name,
                                     const rstwatch::detail::parse_state& st) {
  diagnostic d;
  d.file = std::string(file_name);
  auto offset = static_cast<std::size_t>(st.where - st.begin);
  std::string_view rest = input.substr(offset);
  std::size_t eol = rest.find('\n');
  std::string_view here = rest.substr(0, eol);
  d.expected = st.which;
  d.found = here.empty() ? (eol == std::string_view::npos ? "end of input" : "end of line")
                         : quote_excerpt(here);
  if (st.which == "'! --option value'") {
    // Point at the '!' itself and say what iptables 1.8 says about it.
    std::size_t bang = here.find('!');
    if (bang != std::string_view::npos) offset += bang;
    std::string_view line = line_at(input, offset);
    std::size_t col = offset - static_cast<std::size_t>(line.data() - input.data());
    std::string_view before = line.substr(0, col);
    while (!before.empty() && (before.back() == ' ' || before.back() == '\t'))
      before.remove_suffix(1);
    std::string_view opt = before.substr(before.find_last_of(" \t") + 1);
    std::string_view after = line.substr(col + 1);
    after.remove_prefix(std::min(after.find_first_not_of(" \t"), after.size()));
    std::string_view value = after.substr(0, after.find_first_of(" \t"));
    d.expected.clear();
    d.message = "intrapositioned negation '" + std::string(opt) + " ! " + std::string(value) +
                "' is refused by iptables 1.8 (the '!' is read as the value of " +
                std::string(opt) + ")";
    d.hint = "write '! " + std::string(opt) + " " + std::string(value) + "'";
  }
  d.where = position_of(input, offset);
  return d;
}

}  // namespace detail

// Parses `input` (an iptables-restore / iptables-save file) into its lossless AST. The AST
// views `input`, which must outlive it. Never throws on bad input: the first syntax error
// comes back as a diagnostic naming `file_name`, line and column.
[[nodiscard]] inline result<ast::file> parse(std::string_view input,
                                             std::string_view file_name = {}) {
  if (input.size() > ast::storage::token_record::max_size) {
    diagnostic d;
    d.file = std::string(file_name);
    d.message = "file too large (1 GiB or more)";
    return d;
  }
  if (const std::size_t nul = input.find('\0'); nul != std::string_view::npos) {
    // iptables-restore reads lines as C strings: a rule would silently lose what follows.
    diagnostic d;
    d.file = std::string(file_name);
    d.where = position_of(input, nul);
    d.message = "a NUL byte: iptables-restore reads a line only up to its first NUL and ignores "
                "the rest";
    return d;
  }
  namespace x3 = boost::spirit::x3;
  ast::file f;
  f.source = input;
  ast::storage::tree& tree = f.lines.records();
  tree.source = input;
  // Sized from one pass over the text, so that the arrays never grow (and copy): a line ends
  // at each '\n' and a token before each blank or '\n' (fewer when quotes hold blanks).
  const auto counts = rstwatch::detail::scan::count_lines_and_blanks(input.data(), input.size());
  tree.lines.reserve(counts.newlines + 1);
  tree.tokens.reserve(counts.newlines + counts.blanks + 1);
  rstwatch::detail::parse_state st;
  st.begin = input.data();
  st.tree = &tree;
  rstwatch::detail::iterator_type first = input.data();
  rstwatch::detail::iterator_type const last = input.data() + input.size();
  bool ok = x3::parse(first, last,
                      x3::with<rstwatch::detail::parse_state_tag>(std::ref(st))[grammar::restore_file]);
  if (!ok || first != last) {
    if (!st.failed) {
      st.where = first;
      st.which = "a line";
    }
    return detail::failure_diagnostic(input, file_name, st);
  }
  detail::regroup_as_getopt(tree);
  return f;
}

// The file exactly as it was written: print_source(*parse(x)) == x.
inline std::string print_source(const ast::file& f) {
  std::string out;
  out.reserve(f.source.size());
  bool final_newline = !f.source.empty() && f.source.back() == '\n';
  const auto& lines = f.lines.records().lines;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += f.source.substr(lines[i].offset, lines[i].size);
    if (i + 1 < lines.size() || final_newline) out += '\n';
  }
  return out;
}

}  // namespace rstwatch::rules
