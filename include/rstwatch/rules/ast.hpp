// The lossless syntax tree of an iptables-restore file: every line and every token keeps its
// bytes as written and its source position, so a file can be reprinted byte for byte.
//
// Lifetime: tokens are views into the parsed text (ast::file::source); keep it alive and
// unchanged as long as the tree is used.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rstwatch/diagnostic.hpp>

namespace rstwatch::rules::ast {

// One token as written. `text` is empty when the token is absent (an optional part that the
// line does not have), so presence is `!text.empty()`.
struct token {
  std::string_view text;
  std::uint32_t offset = 0;  // byte offset in the file
  source_position where;     // 1-based line and column

  bool present() const noexcept { return !text.empty(); }

  // Whether the token holds a double-quoted part; iptables then takes it verbatim.
  bool quoted() const noexcept { return text.find('"') != std::string_view::npos; }

  // The argument iptables-restore passes on for this token: quotes removed and, inside quotes,
  // a backslash escapes the next byte (iptables/xshared.c add_param_to_argv()).
  std::string value() const {
    std::string v;
    v.reserve(text.size());
    bool in_quotes = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (!in_quotes) {
        if (c == '"')
          in_quotes = true;
        else
          v += c;
      } else if (c == '\\' && i + 1 < text.size()) {
        v += text[++i];
      } else if (c == '"') {
        in_quotes = false;
      } else {
        v += c;
      }
    }
    return v;
  }
};

// `[packets:bytes]`, as a prefix of a rule line or at the end of a chain line. The numbers
// are kept as written: iptables-restore reads them only when run with --counters.
struct counters {
  token packets;
  token bytes;

  bool present() const noexcept { return packets.present(); }
};

// `:NAME POLICY [packets:bytes]`; POLICY is `-` for a user-defined chain.
struct chain_line {
  token name;
  token policy;
  counters count;
};

// One option of a command line with the arguments that follow it, e.g. `! --sport 3406`
// or `-j LOG`. `bang` is present when a `!` stands before the option.
struct option {
  token bang;
  token name;
  std::vector<token> args;
};

// A command line: `[p:b]`? then options in the order written; the command itself (-A, -I,
// --append, ...) is one of them, as it is for iptables' getopt loop.
struct rule_line {
  counters prefix;
  std::vector<option> options;
};

enum class line_kind : std::uint8_t { blank, comment, table, chain, commit, rule };

inline constexpr std::string_view line_kind_names[] = {"blank",  "comment", "table",
                                                       "chain",  "commit",  "rule"};

// One line of the file, without its '\n'. Only the member for its kind is filled.
struct line {
  line_kind kind = line_kind::blank;
  token text;        // the whole line
  token table;       // table: the name after '*'
  chain_line chain;  // chain
  rule_line rule;    // rule
};

struct file {
  std::string_view source;  // the parsed text; every token views into it
  std::vector<line> lines;
};

}  // namespace rstwatch::rules::ast
