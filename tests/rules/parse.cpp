// Specification of the restore-file parser: lossless, positions, iptables' tokenizer, errors.
#include <rstwatch/rules/parse.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

using namespace rstwatch;
using namespace rstwatch::rules;

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string seed_text() { return read_file(std::string(RSTWATCH_TEST_DATA) + "/rules/drds_filter.rules"); }

// The rule lines of a parsed file, in order.
std::vector<ast::line> rule_lines(const ast::file& f) {
  std::vector<ast::line> out;
  for (const auto& l : f.lines)
    if (l.kind == ast::line_kind::rule) out.push_back(l);
  return out;
}

// The diagnostic for text that must not parse.
diagnostic error_of(std::string_view text) {
  auto r = parse(text, "t.rules");
  REQUIRE_FALSE(r);
  return r.error();
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<rstwatch::source_position> {
  static std::string convert(rstwatch::source_position p) {
    return std::to_string(p.line) + ":" + std::to_string(p.column);
  }
};
}  // namespace Catch

SCENARIO("the seed file is reprinted byte for byte", "[rules][parse]") {
  GIVEN("drds_filter.conf from the user's recipe") {
    std::string text = seed_text();
    WHEN("it is parsed and printed as source") {
      auto f = parse(text, "drds_filter.conf");
      REQUIRE(f);
      THEN("the bytes are the same") { CHECK(print_source(*f) == text); }
    }
  }
}

SCENARIO("every line of the seed file has its kind", "[rules][parse]") {
  GIVEN("drds_filter.conf") {
    std::string text = seed_text();
    WHEN("it is parsed") {
      auto f = parse(text);
      REQUIRE(f);
      THEN("comments, table, chains, rules and COMMIT are told apart") {
        using k = ast::line_kind;
        std::vector<k> kinds;
        for (const auto& l : f->lines) kinds.push_back(l.kind);
        CHECK(kinds == std::vector<k>{k::comment, k::table, k::chain, k::chain, k::chain,
                                      k::comment, k::rule, k::comment, k::rule, k::commit,
                                      k::comment});
        CHECK(f->lines[1].table.text == "filter");
        CHECK(f->lines[2].chain.name.text == "INPUT");
        CHECK(f->lines[2].chain.policy.text == "ACCEPT");
        CHECK(f->lines[2].chain.count.packets.text == "557");
        CHECK(f->lines[2].chain.count.bytes.text == "88127");
      }
    }
  }
}

SCENARIO("a rule line splits into options with their arguments", "[rules][parse]") {
  GIVEN("the seed's first active rule") {
    std::string text = seed_text();
    auto f = parse(text);
    REQUIRE(f);
    const ast::line l = rule_lines(*f).at(0);
    WHEN("its options are listed") {
      const auto& o = l.rule.options;
      THEN("each option keeps its '!' and arguments in order") {
        REQUIRE(o.size() == 11);
        CHECK(o[0].name.text == "-A");
        REQUIRE(o[0].args.size() == 1);
        CHECK(o[0].args[0].text == "INPUT");
        CHECK(o[3].name.text == "--sport");
        CHECK(o[3].bang.text == "!");
        CHECK(o[3].args[0].text == "3406");
        CHECK(o[4].name.text == "--tcp-flags");
        REQUIRE(o[4].args.size() == 2);
        CHECK_FALSE(o[2].bang.present());
        CHECK(o[6].name.text == "--log-prefix");
        CHECK(o[6].args[0].text == "\"[drds] \"");
        CHECK(o[6].args[0].value() == "[drds] ");
        CHECK(o[10].name.text == "--log-ip-options");
        CHECK(o[10].args.empty());
      }
      THEN("every token knows its line and column") {
        CHECK(l.text.where == source_position{7, 1});
        CHECK(o[3].bang.where == source_position{7, 24});
        CHECK(o[3].name.where == source_position{7, 26});
        CHECK(o[6].args[0].where.line == 7);
        CHECK(o[6].args[0].where.column == l.text.text.find("\"[drds] \"") + 1);
        CHECK(text.substr(o[6].args[0].offset, o[6].args[0].text.size()) == "\"[drds] \"");
      }
    }
  }
}

SCENARIO("arguments are split the way iptables-restore splits them", "[rules][parse]") {
  GIVEN("quoted comments with spaces, escaped quotes, and a quote ending a token") {
    std::string text =
        "*filter\n"
        "-A INPUT -m comment --comment \"web \\\"x\\\" y\" -j ACCEPT\n"
        "-A INPUT -m comment --comment a\"b c\"d\t-j ACCEPT\n"
        "-A INPUT -m comment --comment \"\" -j ACCEPT\n"
        "-A INPUT -m comment --comment \"back\\\\slash\" -j ACCEPT\n"
        "COMMIT\n";
    WHEN("it is parsed") {
      auto f = parse(text);
      REQUIRE(f);
      auto r = rule_lines(*f);
      THEN("a backslash inside quotes takes the next byte") {
        CHECK(r[0].rule.options[2].args[0].value() == "web \"x\" y");
        CHECK(r[3].rule.options[2].args[0].value() == "back\\slash");
      }
      THEN("a closing quote ends the argument, even with no space after it") {
        REQUIRE(r[1].rule.options[2].args.size() == 2);
        CHECK(r[1].rule.options[2].args[0].value() == "ab c");
        CHECK(r[1].rule.options[2].args[1].value() == "d");
        CHECK(r[1].rule.options[3].name.text == "-j");
      }
      THEN("an empty quoted string is an empty argument") {
        REQUIRE(r[2].rule.options[2].args.size() == 1);
        CHECK(r[2].rule.options[2].args[0].value().empty());
        CHECK(r[2].rule.options[2].args[0].quoted());
      }
      THEN("the file is reprinted byte for byte") { CHECK(print_source(*f) == text); }
    }
  }
}

SCENARIO("counters are kept in both forms", "[rules][parse]") {
  GIVEN("a [p:b] prefix and an inline -c") {
    std::string text = "*filter\n[5:600] -A INPUT -j ACCEPT\n-A INPUT -c 7 800 -j DROP\nCOMMIT\n";
    auto f = parse(text);
    REQUIRE(f);
    auto r = rule_lines(*f);
    WHEN("the prefix is read") {
      THEN("its numbers are tokens at their columns") {
        CHECK(r[0].rule.prefix.packets.text == "5");
        CHECK(r[0].rule.prefix.bytes.text == "600");
        CHECK(r[0].rule.prefix.bytes.where == source_position{2, 4});
        CHECK(r[0].rule.options[0].name.text == "-A");
      }
    }
    WHEN("the inline form is read") {
      THEN("it is an option with two arguments and no prefix") {
        CHECK_FALSE(r[1].rule.prefix.present());
        CHECK(r[1].rule.options[1].name.text == "-c");
        REQUIRE(r[1].rule.options[1].args.size() == 2);
        CHECK(r[1].rule.options[1].args[1].text == "800");
      }
    }
  }
}

SCENARIO("every command is read in its short and long spelling", "[rules][parse]") {
  GIVEN("a file using -A -I -D -R -N -F -X -Z -P -E and their long names") {
    std::string text =
        "*filter\n:FOO - [0:0]\n"
        "-N BAR\n--new-chain BAZ\n-A FOO -j ACCEPT\n--append FOO -j DROP\n"
        "-I FOO 2 -j RETURN\n--insert FOO -j ACCEPT\n-R FOO 1 -j DROP\n--replace FOO 1 -j DROP\n"
        "-D FOO 1\n--delete FOO -j DROP\n-F BAR\n--flush\n-Z FOO\n--zero\n"
        "-X BAZ\n--delete-chain BAR\n-P INPUT DROP\n--policy OUTPUT ACCEPT\n"
        "-E FOO QUX\n--rename-chain QUX FOO\nCOMMIT\n";
    WHEN("it is parsed") {
      auto f = parse(text);
      REQUIRE(f);
      THEN("each command is the first option of its line with its arguments") {
        std::vector<std::string> got;
        for (const auto& l : rule_lines(*f)) {
          std::string s(l.rule.options[0].name.text);
          for (const auto& a : l.rule.options[0].args) s += " " + std::string(a.text);
          got.push_back(s);
        }
        CHECK(got == std::vector<std::string>{
                         "-N BAR", "--new-chain BAZ", "-A FOO", "--append FOO", "-I FOO 2",
                         "--insert FOO", "-R FOO 1", "--replace FOO 1", "-D FOO 1",
                         "--delete FOO", "-F BAR", "--flush", "-Z FOO", "--zero", "-X BAZ",
                         "--delete-chain BAR", "-P INPUT DROP", "--policy OUTPUT ACCEPT",
                         "-E FOO QUX", "--rename-chain QUX FOO"});
        CHECK(print_source(*f) == text);
      }
    }
  }
}

SCENARIO("blank lines, comments and a missing final newline are kept", "[rules][parse]") {
  GIVEN("a file with blank lines, a comment, CR bytes and no final newline") {
    std::string text = "\n# hello\r\n\n*raw\n\n-A OUTPUT -j CT --notrack  \nCOMMIT";
    WHEN("it is parsed and reprinted") {
      auto f = parse(text);
      REQUIRE(f);
      THEN("the bytes are the same") { CHECK(print_source(*f) == text); }
      THEN("blank lines are lines of their own") {
        CHECK(f->lines.size() == 7);
        CHECK(f->lines[0].kind == ast::line_kind::blank);
        CHECK(f->lines[1].kind == ast::line_kind::comment);
        CHECK(f->lines[6].kind == ast::line_kind::commit);
        CHECK(f->lines[6].text.where == source_position{7, 1});
      }
    }
  }
  GIVEN("an empty text") {
    WHEN("it is parsed") {
      auto f = parse("");
      REQUIRE(f);
      THEN("it has no lines and prints as nothing") {
        CHECK(f->lines.empty());
        CHECK(print_source(*f).empty());
      }
    }
  }
}

SCENARIO("intrapositioned negation is an error with the iptables 1.8 spelling as hint",
         "[rules][parse][error]") {
  GIVEN("the iptables 1.4 form --sport ! 3406") {
    std::string text = "*filter\n-A INPUT -p tcp -m tcp --sport ! 3406 -j ACCEPT\nCOMMIT\n";
    WHEN("it is parsed") {
      auto d = error_of(text);
      THEN("the error points at the '!' and says how to write it") {
        CHECK(d.where == source_position{2, 32});
        CHECK(d.message ==
              "intrapositioned negation '--sport ! 3406' is refused by iptables 1.8 (the '!' "
              "is read as the value of --sport)");
        CHECK(d.hint == "write '! --sport 3406'");
        CHECK(format(d).rfind("t.rules:2:32: error: intrapositioned negation", 0) == 0);
      }
    }
  }
}

// iptables-restore reads a line with fgets(), its '\n' included, and add_param_to_argv() puts
// every byte after an open quote into the word, that '\n' too: `--comment "abc def -j ACCEPT`
// loads a rule with the comment "abc def -j ACCEPT\n" and no target (tests/rules/saved.cpp
// shows what iptables-save prints of it; validate() warns).
SCENARIO("a quote left open runs to the end of the line, the newline included in its word",
         "[rules][parse]") {
  GIVEN("a comment whose quote is never closed, and one that ends in a backslash") {
    const std::string text = "*filter\n-A INPUT -m comment --comment \"abc def -j ACCEPT\n"
                             "-A INPUT -m comment --comment \"x\\\nCOMMIT\n";
    auto f = parse(text, "t.rules");
    REQUIRE(f);
    const auto rules = rule_lines(*f);
    REQUIRE(rules.size() == 2);
    WHEN("the rules' last words are read") {
      const ast::option first = rules[0].rule.options.back();
      const ast::option second = rules[1].rule.options.back();
      THEN("each is the rest of its line, and its value ends with the newline") {
        CHECK(first.name.text == "--comment");
        REQUIRE(first.args.size() == 1);
        CHECK(first.args[0].text == "\"abc def -j ACCEPT");
        CHECK(first.args[0].open_quote());
        CHECK(first.args[0].value() == "abc def -j ACCEPT\n");
        CHECK(second.args[0].value() == "x\n");
        CHECK(print_source(*f) == text);
      }
    }
  }
  GIVEN("quotes that are closed") {
    auto f = parse("*filter\n-A INPUT -m comment --comment \"a\\\"b\" -j ACCEPT\nCOMMIT\n", "t.rules");
    REQUIRE(f);
    const auto rules = rule_lines(*f);
    THEN("no word has an open quote") {
      for (const auto& o : rules[0].rule.options)
        for (const auto& a : o.args) CHECK_FALSE(a.open_quote());
    }
  }
}

SCENARIO("syntax errors name the line, the column and what was expected",
         "[rules][parse][error]") {
  GIVEN("a line of spaces inside a table (iptables: no command specified)") {
    auto d = error_of("*filter\n   \nCOMMIT\n");
    THEN("an option is expected at the end of that line") {
      CHECK(d.where == source_position{2, 4});
      CHECK(d.what() == "expected an option, found end of line");
    }
  }
  GIVEN("COMMIT followed by a space (iptables: Bad argument `COMMIT')") {
    auto d = error_of("*filter\nCOMMIT \n");
    THEN("COMMIT is read as an argument where an option was expected") {
      CHECK(d.where == source_position{2, 1});
      CHECK(d.what() == "expected an option, found 'COMMIT '");
    }
  }
  GIVEN("a '!' with no option after it") {
    auto d = error_of("*filter\n-A INPUT ! \nCOMMIT\n");
    THEN("an option after '!' is expected") {
      CHECK(d.where == source_position{2, 12});
      CHECK(d.what() == "expected an option after '!', found end of line");
    }
  }
  GIVEN("a table line without a name") {
    auto d = error_of("*\n");
    THEN("a name is expected right after the star") {
      CHECK(d.where == source_position{1, 2});
      CHECK(d.what() == "expected a name, found end of line");
    }
  }
  GIVEN("a chain line without a policy") {
    auto d = error_of("*filter\n:INPUT\nCOMMIT\n");
    THEN("a policy is expected after the name") {
      CHECK(d.where == source_position{2, 7});
      CHECK(d.what() == "expected a policy, found end of line");
    }
  }
  GIVEN("a counters prefix without its closing bracket") {
    auto d = error_of("*filter\n[1:2 -A INPUT -j ACCEPT\nCOMMIT\n");
    THEN("the bracket is expected where the bytes end") {
      CHECK(d.where == source_position{2, 5});
      CHECK(d.expected == "']'");
    }
  }
  GIVEN("a table line with a second word") {
    auto d = error_of("*filter nat\nCOMMIT\n");
    THEN("the end of the line is expected") {
      CHECK(d.where == source_position{1, 9});
      CHECK(d.what() == "expected end of line, found 'nat'");
    }
  }
}

SCENARIO("no input bytes crash or hang the parser", "[rules][parse][robust]") {
  GIVEN("every prefix of the seed file") {
    std::string text = seed_text();
    THEN("each parses or fails with a position inside the text, and successes reprint") {
      for (std::size_t n = 0; n <= text.size(); ++n) {
        std::string_view cut(text.data(), n);
        auto r = parse(cut);
        if (r) {
          CHECK(print_source(*r) == cut);
        } else {
          CHECK(r.error().where.line >= 1);
          CHECK(r.error().where.line <= 12);
        }
      }
    }
  }
  GIVEN("random bytes drawn mostly from the restore-file alphabet") {
    std::mt19937 rng(20260325);
    const std::string alphabet = " \t\n\"\\!-[]:*#ACOMITxyz0129";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::uniform_int_distribution<int> len(0, 80);
    std::uniform_int_distribution<int> raw(0, 255);
    THEN("parsing always returns, and what parses reprints byte for byte") {
      std::size_t parsed = 0;
      for (int i = 0; i < 3000; ++i) {
        std::string s;
        int n = len(rng);
        for (int j = 0; j < n; ++j)
          s += (j % 17 == 16) ? static_cast<char>(raw(rng)) : alphabet[pick(rng)];
        auto r = parse(s);
        if (r) {
          ++parsed;
          REQUIRE(print_source(*r) == s);
        } else {
          REQUIRE(r.error().where.line >= 1);
        }
      }
      CHECK(parsed > 0);
    }
  }
}
