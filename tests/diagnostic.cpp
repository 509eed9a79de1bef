#include <rstwatch/diagnostic.hpp>

#include <catch2/catch.hpp>

using namespace rstwatch;

SCENARIO("a byte offset becomes a 1-based line and column", "[diagnostic]") {
  GIVEN("a three-line text") {
    std::string_view text = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
    WHEN("the offset points at the policy on line 2") {
      auto p = position_of(text, text.find("ACCEPT"));
      THEN("it is line 2, column 8") {
        CHECK(p.line == 2);
        CHECK(p.column == 8);
      }
    }
    WHEN("the offset is past the end") {
      auto p = position_of(text, 1000);
      THEN("it is clamped to the end of the text") {
        CHECK(p.line == 4);
        CHECK(p.column == 1);
      }
    }
    WHEN("the line holding an offset is asked for") {
      THEN("its text is returned without the newline") {
        CHECK(line_at(text, text.find("ACCEPT")) == ":INPUT ACCEPT [0:0]");
        CHECK(line_at(text, 0) == "*filter");
        CHECK(line_at(text, text.find("COMMIT")) == "COMMIT");
      }
    }
  }
}

SCENARIO("a diagnostic prints like a compiler error with a caret", "[diagnostic]") {
  GIVEN("an error at line 9, column 60 of the seed file") {
    diagnostic d;
    d.file = "drds_filter.conf";
    d.where = {9, 60};
    d.expected = "a LOG option";
    d.found = "'--log-level7'";
    d.hint = "did you mean '--log-level 7'?";
    WHEN("it is formatted") {
      THEN("the first line is FILE:LINE:COL: error: expected X, found Y (hint)") {
        CHECK(format(d) ==
              "drds_filter.conf:9:60: error: expected a LOG option, found '--log-level7' "
              "(did you mean '--log-level 7'?)");
      }
    }
    WHEN("it is formatted with its source line") {
      d.where = {1, 5};
      THEN("a caret stands under the column") {
        CHECK(format_with_source(d, "-A X --log-level7").substr(format(d).size()) ==
              "\n  -A X --log-level7\n      ^");
      }
    }
  }
  GIVEN("a warning with a free-text message and no position") {
    diagnostic d;
    d.level = severity::warning;
    d.message = "chain FOO declared twice";
    THEN("it prints just the severity and the message") {
      CHECK(format(d) == "warning: chain FOO declared twice");
    }
  }
}

SCENARIO("input excerpts in messages are short, quoted and printable", "[diagnostic]") {
  GIVEN("text with control bytes and invalid UTF-8") {
    std::string text = std::string("ab\x01\xff") + "c";
    THEN("they are shown as hex escapes") { CHECK(quote_excerpt(text) == "'ab\\x01\\xffc'"); }
  }
  GIVEN("a long text") {
    THEN("it is cut with an ellipsis") {
      CHECK(quote_excerpt(std::string(40, 'x'), 4) == "'xxxx...'");
    }
  }
  GIVEN("nothing") {
    THEN("it says end of input") { CHECK(quote_excerpt("") == "end of input"); }
  }
}

SCENARIO("a result holds either a value or the diagnostic explaining its absence", "[diagnostic]") {
  GIVEN("a result made from a value") {
    result<int> r = 42;
    THEN("it converts to true and yields the value") {
      REQUIRE(r);
      CHECK(*r == 42);
    }
  }
  GIVEN("a result made from a diagnostic") {
    diagnostic d;
    d.expected = "a port";
    result<int> r = d;
    THEN("it converts to false and yields the diagnostic") {
      REQUIRE_FALSE(r);
      CHECK(r.error().expected == "a port");
    }
  }
}
