// Fuzz target: the parser's fast path (rules/detail/canonical_rule.hpp). Each line of the input
// is a rule line; for every line the fast path takes, the general path must agree with it on
// everything: the tokens, the families, the diagnostics of validate() and the text restore()
// saves (tests/support/canonical_oracle.hpp, which the specification uses too).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rules_support.hpp"
#include "tests/support/canonical_oracle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    const std::size_t eol = input.find('\n');
    const std::string_view line = input.substr(0, eol);
    input.remove_prefix(eol == std::string_view::npos ? input.size() : eol + 1);
    if (line.find('\0') != std::string_view::npos) continue;  // parse() refuses the file
    const std::string why = rstwatch::testing::canonical_disagreement(line);
    if (!why.empty()) rstwatch::fuzz::finding("the general path disagrees with the fast path", line, why);
  }
  return 0;
}
