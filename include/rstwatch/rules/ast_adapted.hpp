// Fusion adaptation of the restore-file AST so X3 fills its structs from sequences.
#pragma once

#include <boost/fusion/include/adapt_struct.hpp>

#include <rstwatch/rules/ast.hpp>

BOOST_FUSION_ADAPT_STRUCT(rstwatch::rules::ast::counters, packets, bytes)
BOOST_FUSION_ADAPT_STRUCT(rstwatch::rules::ast::chain_line, name, policy, count)
BOOST_FUSION_ADAPT_STRUCT(rstwatch::rules::ast::option, bang, name, args)
BOOST_FUSION_ADAPT_STRUCT(rstwatch::rules::ast::rule_line, prefix, options)
