// The one iterator and context type every rstwatch X3 grammar is instantiated with (STYLE §3):
// parse.hpp files and instantiate.hpp use only these, so declarations and instantiations agree.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <boost/spirit/home/x3.hpp>

namespace rstwatch::detail {

namespace x3 = boost::spirit::x3;

using iterator_type = char const*;

// What a parse needs besides the input: where the input starts, which line the grammar is on
// (token positions are taken from it as tokens are made, so no second pass walks the text),
// and what the top rule's on_error handler saw when an expectation failed.
struct parse_state {
  iterator_type begin = nullptr;
  iterator_type line_start = nullptr;
  std::uint32_t line = 1;

  bool failed = false;
  iterator_type where = nullptr;
  std::string which;  // the name of what was expected
};

struct parse_state_tag;

using context_type = x3::context<parse_state_tag, std::reference_wrapper<parse_state>>;

}  // namespace rstwatch::detail
