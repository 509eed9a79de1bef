// The restore-file grammar's top rule, declared only: parse.hpp calls it, and the one TU
// that includes grammar_def.hpp (directly, or through instantiate.hpp) defines it.
#pragma once

#include <rstwatch/detail/x3_config.hpp>
#include <rstwatch/rules/ast.hpp>

namespace rstwatch::rules::grammar {

namespace x3 = boost::spirit::x3;

struct restore_file_class;
// It appends the file's records to the tree in the parse_state of its context.
using restore_file_type = x3::rule<restore_file_class>;

inline const restore_file_type restore_file = "iptables-restore file";

BOOST_SPIRIT_DECLARE(restore_file_type)

}  // namespace rstwatch::rules::grammar
