// The one iterator and context type every rstwatch X3 grammar is instantiated with (STYLE §3):
// parse.hpp files and instantiate.hpp use only these, so declarations and instantiations agree.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <boost/spirit/home/x3.hpp>

namespace rstwatch::rules::ast::storage {
struct tree;
}

namespace rstwatch::detail {

namespace x3 = boost::spirit::x3;

using iterator_type = char const*;

// What a parse needs besides the input: where the input starts, where a grammar that builds a
// flat tree appends its records (the restore-file grammar: the tree, and where the current
// line's tokens begin), and what the top rule's on_error handler saw when an
// expectation failed.
struct parse_state {
  iterator_type begin = nullptr;

  rules::ast::storage::tree* tree = nullptr;
  std::uint32_t line_first_token = 0;
  std::uint8_t line_kind = 0;
  std::uint8_t line_saved_form = 0;  // a rule line read by the fast path: its families

  bool failed = false;
  iterator_type where = nullptr;
  std::string which;  // the name of what was expected
};

struct parse_state_tag;

using context_type = x3::context<parse_state_tag, std::reference_wrapper<parse_state>>;

}  // namespace rstwatch::detail
