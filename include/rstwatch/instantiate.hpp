// Explicit instantiations of every rstwatch grammar for detail::iterator_type and
// detail::context_type. With RSTWATCH_SEPARATE_GRAMMARS defined, exactly one translation unit
// of a program includes this header (cf. spirit example/x3/minimal/employee.cpp).
#pragma once

#include <rstwatch/detail/x3_config.hpp>
#include <rstwatch/rules/grammar_def.hpp>

namespace rstwatch::rules::grammar {
BOOST_SPIRIT_INSTANTIATE(restore_file_type, rstwatch::detail::iterator_type,
                         rstwatch::detail::context_type)
}  // namespace rstwatch::rules::grammar
