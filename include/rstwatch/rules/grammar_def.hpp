// The restore-file grammar, as iptables-restore reads a file line by line
// (iptables/xtables-restore.c xtables_restore_parse_line() for the line kinds,
// iptables/xshared.c add_param_to_argv() for how a command line splits into arguments).
// Syntax only: which commands, chains and options make sense is decided later.
#pragma once

#include <boost/spirit/home/x3.hpp>

#include <rstwatch/detail/x3_config.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/detail/canonical_rule.hpp>
#include <rstwatch/rules/grammar.hpp>

namespace rstwatch::rules::grammar {

namespace detail {

using rstwatch::detail::parse_state;
using rstwatch::detail::parse_state_tag;

// The grammar appends to the flat tree of ast.hpp as it goes. Only parsers that consume input
// for good carry these actions: the lookaheads (`!`, `&`) use action-free twins, so nothing is
// appended twice; a branch that fails after appending throws, failing the whole parse.

// Appends the token a rule matched, with its role in a command line.
template <ast::storage::role Role>
struct push_token {
  template <class Context>
  void operator()(Context const& ctx) const {
    parse_state& st = x3::get<parse_state_tag>(ctx).get();
    auto const& range = x3::_attr(ctx);
    st.tree->tokens.push_back(
        {static_cast<std::uint32_t>(range.begin() - st.begin),
         static_cast<std::uint32_t>(range.size()) | (static_cast<std::uint32_t>(Role) << 30)});
  }
};
using push_plain = push_token<ast::storage::role::plain>;

template <ast::line_kind Kind>
struct set_kind {
  template <class Context>
  void operator()(Context const& ctx) const {
    x3::get<parse_state_tag>(ctx).get().line_kind = static_cast<std::uint8_t>(Kind);
  }
};

// The whole line, whatever kind it turned out to be, with the records it appended.
struct end_line {
  template <class Context>
  void operator()(Context const& ctx) const {
    parse_state& st = x3::get<parse_state_tag>(ctx).get();
    auto const& range = x3::_attr(ctx);
    ast::storage::line_record r;
    r.offset = static_cast<std::uint32_t>(range.begin() - st.begin);
    r.size = static_cast<std::uint32_t>(range.size());
    r.first_token = st.line_first_token;
    r.kind = static_cast<ast::line_kind>(st.line_kind);
    r.saved_form = st.line_saved_form;
    st.line_saved_form = 0;
    st.tree->lines.push_back(r);
    st.line_first_token = static_cast<std::uint32_t>(st.tree->tokens.size());
  }
};

// The fast path (rules/detail/canonical_rule.hpp): a rule line written as iptables-save prints
// it is read by hand in one pass, its tokens appended as the rules below would append them,
// and marked with the families it is canonical for. Any other line fails here having
// appended nothing, and the rules below read it.
struct canonical_rule_line_parser : x3::parser<canonical_rule_line_parser> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;

  template <class Iterator, class Context, class RContext, class Attribute>
  bool parse(Iterator& first, Iterator const& last, Context const& ctx, RContext&, Attribute&) const {
    if (last - first < 3 || first[0] != '-' || first[1] != 'A' || first[2] != ' ') return false;
    parse_state& st = x3::get<parse_state_tag>(ctx).get();
    std::string_view rest(first, static_cast<std::size_t>(last - first));
    std::string_view text = rest.substr(0, rest.find('\n'));
    auto r = rules::detail::read_canonical_rule(
        text, static_cast<std::uint32_t>(first - st.begin), &st.tree->tokens);
    if (!r) return false;
    st.line_saved_form = r->families;
    first += text.size();
    return true;
  }
};
auto const canonical_rule_line = canonical_rule_line_parser{};

// Rule IDs. The names are what diagnostics say was expected.
struct line_class;
struct word_class;
struct argument_token_class;
struct option_name_class;
struct bang_class;
struct counters_class;
struct chain_line_class;
struct option_class;
struct rule_line_class;
struct no_intrapositioned_class;
struct line_end_class;
struct policy_class;
struct counter_number_class;
struct option_after_bang_class;
struct option_list_class;

x3::rule<line_class> const line = "line";
x3::rule<word_class> const word = "a name";
x3::rule<argument_token_class> const argument_token = "an argument";
x3::rule<option_name_class> const option_name = "an option";
x3::rule<bang_class> const bang = "'!'";
x3::rule<counters_class> const counters = "counters '[packets:bytes]'";
x3::rule<chain_line_class> const chain_line = "a chain line";
x3::rule<option_class> const option = "an option";
x3::rule<rule_line_class> const rule_line = "a command";
x3::rule<no_intrapositioned_class> const no_intrapositioned = "'! --option value'";
x3::rule<line_end_class> const line_end = "end of line";
x3::rule<policy_class> const policy = "a policy";
x3::rule<counter_number_class> const counter_number = "a counter";
x3::rule<option_after_bang_class> const option_after_bang = "an option after '!'";
x3::rule<option_list_class> const option_list = "an option";

// The characters that separate arguments (add_param_to_argv: ' ', '\t', '\n').
auto const space = x3::lit(' ') | x3::lit('\t');
auto const blanks = x3::omit[+space];
auto const at_line_end = &(x3::lit('\n') | x3::eoi);
auto const newline = x3::lit('\n');

// chain and table lines are split with strtok(" \t\n"): quotes mean nothing there.
auto const word_def = x3::raw[+(x3::char_ - ' ' - '\t' - '\n')][push_plain{}];

// add_param_to_argv(): outside quotes a byte is taken as is; a '"' opens a quoted part in
// which '\\' takes the next byte literally, and the closing '"' ends the argument. A quote
// left open runs to the end of the line: iptables-restore reads a line with its '\n'
// (fgets()) and takes that '\n' into the argument, after a '\\' too (ast::token::value()
// adds it; validate() warns).
auto const plain = x3::char_ - ' ' - '\t' - '\n' - '"';
auto const open_quote_end = -x3::lit('\\') >> &(x3::lit('\n') | x3::eoi);
auto const quoted_part =
    x3::lit('"') >> *((x3::lit('\\') >> (x3::char_ - '\n')) | (x3::char_ - '"' - '\\' - '\n')) >>
    (x3::lit('"') | open_quote_end);
auto const any_token = (+plain >> -quoted_part) | quoted_part;

// The lookahead twins of bang, option_name and argument_token.
auto const bang_ahead = x3::lit('!') >> &(space | x3::lit('\n') | x3::eoi);
auto const option_name_ahead = &x3::lit('-') >> (+plain >> -quoted_part);
auto const argument_ahead = !bang_ahead >> !option_name_ahead >> any_token;

auto const bang_def = x3::raw[bang_ahead][push_token<ast::storage::role::bang>{}];
auto const option_name_def = x3::raw[option_name_ahead][push_token<ast::storage::role::name>{}];
auto const argument_token_def = x3::raw[argument_ahead][push_plain{}];
// A '!' that ends the line right after an option's name can only be its value (getopt gives
// it to an option that needs an argument: iptables-save prints an interface named "!" as
// `-o !`). A '!' anywhere else is a negation, or the value regroup_as_getopt() gives it.
auto const last_bang_ahead = bang_ahead >> -blanks >> at_line_end;
auto const bang_value = x3::raw[&last_bang_ahead >> x3::lit('!')][push_plain{}];

// iptables 1.8 no longer accepts `--sport ! 3406` (1.4 did, with a warning): the '!' reaches
// the option's own parser as its value ("invalid port/service `!' specified").
auto const no_intrapositioned_def = !(-blanks >> bang_ahead >> -blanks >> argument_ahead);

auto const option_after_bang_def = &option_name_ahead;
auto const option_def = (-((bang >> -blanks) > option_after_bang) >> option_name >>
                         ((-blanks >> bang_value) | *(-blanks >> argument_token))) >
                        no_intrapositioned;
auto const option_list_def = x3::expect[option] >> *(-blanks >> option) >> -blanks;

auto const counter_number_def =
    x3::raw[+(x3::char_ - ':' - ']' - ' ' - '\t' - '\n')][push_plain{}];
auto const counters_def = x3::lit('[') > counter_number > x3::lit(':') > counter_number >
                          x3::lit(']');

auto const policy_def = blanks >> word;

// A chain line's third word is all iptables-restore reads after the policy, and only with
// --counters: sscanf(word, "[%llu:%llu]") must convert both numbers; the rest of that word and
// any further words are never read (xtables-restore.c, parse_counters()). So "[1:2:3]", "[1:2"
// and "[1:2]x" load as [1:2]; "garbage" loads without --counters and is refused with them.
// Here the word becomes the packets and bytes tokens when it has that shape (the bytes token
// runs to ']' or the word's end: its leading digits are the count); any other word is kept
// only in the line's text. The lookahead has no actions, so a failed match pushes no token.
auto const counter_byte_chars = x3::char_ - ']' - ' ' - '\t' - '\n';
auto const chain_counters_ahead =
    x3::lit('[') >> +(x3::char_ - ':' - ']' - ' ' - '\t' - '\n') >> x3::lit(':') >>
    +counter_byte_chars;
auto const chain_counters = x3::lit('[') >> counter_number >> x3::lit(':') >>
                            x3::raw[+counter_byte_chars][push_plain{}] >>
                            *(x3::char_ - ' ' - '\t' - '\n');
auto const unread_word = +(x3::char_ - ' ' - '\t' - '\n');
auto const chain_line_def = (x3::lit(':') > word > policy) >>
                            -(blanks >> ((&chain_counters_ahead >> chain_counters) | unread_word)) >>
                            *(blanks >> unread_word) >> -blanks;

auto const rule_line_def = -counters >> -blanks >> option_list;

auto const line_end_def = at_line_end;

auto const comment_line = x3::lit('#') >> *(x3::char_ - '\n');
auto const table_line = (x3::lit('*') > word) >> -blanks;
auto const commit_line = x3::lit("COMMIT") >> at_line_end;

auto const line_def = x3::raw[(canonical_rule_line[set_kind<ast::line_kind::rule>{}] |
                       comment_line[set_kind<ast::line_kind::comment>{}] |
                       table_line[set_kind<ast::line_kind::table>{}] |
                       chain_line[set_kind<ast::line_kind::chain>{}] |
                       commit_line[set_kind<ast::line_kind::commit>{}] |
                       at_line_end[set_kind<ast::line_kind::blank>{}] |
                       rule_line[set_kind<ast::line_kind::rule>{}]) > line_end][end_line{}];

BOOST_SPIRIT_DEFINE(line, word, argument_token, option_name, bang, counters, chain_line, option,
                    rule_line, no_intrapositioned, line_end, option_after_bang,
                    option_list, counter_number, policy)

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

// A line is appended once it has matched, so each is tried only where one starts and is
// closed by its '\n' or by the end of the text (a last line may lack its '\n').
auto const restore_file_def =
    *(!x3::eoi >> detail::line >> (detail::newline | x3::eoi)) > x3::eoi;

BOOST_SPIRIT_DEFINE(restore_file)

}  // namespace rstwatch::rules::grammar
