// The header-only default: without RSTWATCH_SEPARATE_GRAMMARS, parse.hpp brings the grammar's
// definition with it. This TU compiles it that way in a binary whose other TUs use the
// explicit instantiation, so the inline rule objects must not break the ODR.
#undef RSTWATCH_SEPARATE_GRAMMARS
#include <rstwatch/rules/parse.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

SCENARIO("the default header-only mode parses like the separately instantiated grammar",
         "[rules][parse][odr]") {
  GIVEN("every file in tests/data/rules") {
    namespace fs = std::filesystem;
    std::size_t files = 0;
    for (auto& e : fs::directory_iterator(fs::path(RSTWATCH_TEST_DATA) / "rules")) {
      std::ifstream in(e.path(), std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      std::string text = s.str();
      WHEN("it is parsed in default mode: " << e.path().filename().string()) {
        auto f = rstwatch::rules::parse(text);
        REQUIRE(f);
        THEN("it reprints byte for byte") { CHECK(rstwatch::rules::print_source(*f) == text); }
      }
      ++files;
    }
    CHECK(files >= 120);
  }
}
