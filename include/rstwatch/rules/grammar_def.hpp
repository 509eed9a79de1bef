// The restore-file grammar, as iptables-restore reads a file line by line
// (iptables/xtables-restore.c xtables_restore_parse_line() for the line kinds,
// iptables/xshared.c add_param_to_argv() for how a command line splits into arguments).
// Syntax only: which commands, chains and options make sense is decided later.
#pragma once

#include <boost/spirit/home/x3.hpp>

#include <rstwatch/detail/x3_config.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/ast_adapted.hpp>
#include <rstwatch/rules/grammar.hpp>

namespace rstwatch::rules::grammar {

namespace detail {

using rstwatch::detail::parse_state;
using rstwatch::detail::parse_state_tag;

// Turns the range a token rule matched into an ast::token with its position.
struct make_token {
  template <class Context>
  void operator()(Context const& ctx) const {
    parse_state& st = x3::get<parse_state_tag>(ctx).get();
    auto const& range = x3::_attr(ctx);
    ast::token& t = x3::_val(ctx);
    t.text = std::string_view(range.begin(), static_cast<std::size_t>(range.size()));
    t.offset = static_cast<std::uint32_t>(range.begin() - st.begin);
    t.where = {st.line, static_cast<std::uint32_t>(range.begin() - st.line_start + 1)};
  }
};

// Counts the '\n' the file rule consumes; lookaheads never run it, so nothing counts twice.
struct next_line {
  template <class Context>
  void operator()(Context const& ctx) const {
    parse_state& st = x3::get<parse_state_tag>(ctx).get();
    ++st.line;
    st.line_start = x3::_attr(ctx).end();
  }
};

template <ast::line_kind Kind>
struct set_kind {
  template <class Context>
  void operator()(Context const& ctx) const {
    x3::_val(ctx).kind = Kind;
  }
};

struct set_table {
  template <class Context>
  void operator()(Context const& ctx) const {
    x3::_val(ctx).kind = ast::line_kind::table;
    x3::_val(ctx).table = x3::_attr(ctx);
  }
};

struct set_chain {
  template <class Context>
  void operator()(Context const& ctx) const {
    x3::_val(ctx).kind = ast::line_kind::chain;
    x3::_val(ctx).chain = std::move(x3::_attr(ctx));
  }
};

struct set_rule {
  template <class Context>
  void operator()(Context const& ctx) const {
    x3::_val(ctx).kind = ast::line_kind::rule;
    x3::_val(ctx).rule = std::move(x3::_attr(ctx));
  }
};

// The whole line's text, whatever kind it turned out to be.
struct set_line_text {
  template <class Context>
  void operator()(Context const& ctx) const {
    parse_state& st = x3::get<parse_state_tag>(ctx).get();
    auto const& range = x3::_attr(ctx);
    ast::token& t = x3::_val(ctx).text;
    t.text = std::string_view(range.begin(), static_cast<std::size_t>(range.size()));
    t.offset = static_cast<std::uint32_t>(range.begin() - st.begin);
    t.where = {st.line, 1};
  }
};

// Rule IDs. The names are what diagnostics say was expected.
struct line_class;
struct newline_class;
struct word_class;
struct argument_token_class;
struct option_name_class;
struct bang_class;
struct counters_class;
struct chain_line_class;
struct option_class;
struct rule_line_class;
struct no_intrapositioned_class;
struct closing_quote_class;
struct line_end_class;
struct policy_class;
struct counter_number_class;
struct option_after_bang_class;
struct option_list_class;

x3::rule<line_class, ast::line> const line = "line";
x3::rule<newline_class> const newline = "end of line";
x3::rule<word_class, ast::token> const word = "a name";
x3::rule<argument_token_class, ast::token> const argument_token = "an argument";
x3::rule<option_name_class, ast::token> const option_name = "an option";
x3::rule<bang_class, ast::token> const bang = "'!'";
x3::rule<counters_class, ast::counters> const counters = "counters '[packets:bytes]'";
x3::rule<chain_line_class, ast::chain_line> const chain_line = "a chain line";
x3::rule<option_class, ast::option> const option = "an option";
x3::rule<rule_line_class, ast::rule_line> const rule_line = "a command";
x3::rule<no_intrapositioned_class> const no_intrapositioned = "'! --option value'";
x3::rule<closing_quote_class> const closing_quote = "a closing '\"'";
x3::rule<line_end_class> const line_end = "end of line";
x3::rule<policy_class, ast::token> const policy = "a policy";
x3::rule<counter_number_class, ast::token> const counter_number = "a counter";
x3::rule<option_after_bang_class> const option_after_bang = "an option after '!'";
x3::rule<option_list_class, std::vector<ast::option>> const option_list = "an option";

// The characters that separate arguments (add_param_to_argv: ' ', '\t', '\n').
auto const space = x3::lit(' ') | x3::lit('\t');
auto const blanks = x3::omit[+space];
auto const at_line_end = &(x3::lit('\n') | x3::eoi);
auto const newline_def = x3::raw[x3::lit('\n')][next_line{}];

// chain and table lines are split with strtok(" \t\n"): quotes mean nothing there.
auto const word_def = x3::raw[+(x3::char_ - ' ' - '\t' - '\n')][make_token{}];

// add_param_to_argv(): outside quotes a byte is taken as is; a '"' opens a quoted part in
// which '\\' takes the next byte literally, and the closing '"' ends the argument.
auto const plain = x3::char_ - ' ' - '\t' - '\n' - '"';
auto const quoted_part =
    (x3::lit('"') >> *((x3::lit('\\') >> (x3::char_ - '\n')) | (x3::char_ - '"' - '\\' - '\n'))) >
    closing_quote;
auto const closing_quote_def = x3::lit('"');
auto const any_token = x3::raw[(+plain >> -quoted_part) | quoted_part];

auto const bang_def = x3::raw[x3::lit('!') >> &(space | x3::lit('\n') | x3::eoi)][make_token{}];
auto const option_name_def = x3::raw[&x3::lit('-') >> (+plain >> -quoted_part)][make_token{}];
auto const argument_token_def = x3::raw[!bang >> !option_name >> any_token][make_token{}];

// iptables 1.8 no longer accepts `--sport ! 3406` (1.4 did, with a warning): the '!' reaches
// the option's own parser as its value ("invalid port/service `!' specified").
auto const no_intrapositioned_def = !(-blanks >> bang >> -blanks >> argument_token);

auto const option_after_bang_def = &option_name;
auto const option_def = (-((bang >> -blanks) > option_after_bang) >> option_name >>
                         *(-blanks >> argument_token)) > no_intrapositioned;
auto const option_list_def = x3::expect[option] >> *(-blanks >> option) >> -blanks;

auto const counter_number_def = x3::raw[+(x3::char_ - ':' - ']' - ' ' - '\t' - '\n')][make_token{}];
auto const counters_def = x3::lit('[') > counter_number > x3::lit(':') > counter_number >
                          x3::lit(']');

auto const policy_def = blanks >> word;
auto const chain_line_def =
    (x3::lit(':') > word > policy) >> -(blanks >> counters) >> -blanks;

auto const rule_line_def = -counters >> -blanks >> option_list;

auto const line_end_def = at_line_end;

auto const comment_line = x3::lit('#') >> *(x3::char_ - '\n');
auto const table_line = (x3::lit('*') > word) >> -blanks;
auto const commit_line = x3::lit("COMMIT") >> at_line_end;

auto const line_def = x3::raw[(comment_line[set_kind<ast::line_kind::comment>{}] |
                       table_line[set_table{}] | chain_line[set_chain{}] |
                       commit_line[set_kind<ast::line_kind::commit>{}] |
                       at_line_end[set_kind<ast::line_kind::blank>{}] |
                       rule_line[set_rule{}]) > line_end][set_line_text{}];

BOOST_SPIRIT_DEFINE(line, word, argument_token, option_name, bang, counters, chain_line, option,
                    rule_line, no_intrapositioned, closing_quote, line_end, option_after_bang,
                    option_list, counter_number, newline, policy)

}  // namespace detail

// Reports the first expectation failure through the parse_state in the context, where
// parse() turns it into a diagnostic (cf. spirit example/x3/rexpr/rexpr_full error_handler).
struct restore_file_class {
  template <class Iterator, class Exception, class Context>
  x3::error_handler_result on_error(Iterator const&, Iterator const&, Exception const& x,
                                    Context const& ctx) const {
    rstwatch::detail::parse_state& st = x3::get<rstwatch::detail::parse_state_tag>(ctx).get();
    st.failed = true;
    st.where = x.where();
    st.which = x.which();
    return x3::error_handler_result::fail;
  }
};

auto const restore_file_def =
    (*(detail::line >> detail::newline) >> -(!x3::eoi >> detail::line)) > x3::eoi;

BOOST_SPIRIT_DEFINE(restore_file)

}  // namespace rstwatch::rules::grammar
