// Test support for reading rstwatch-read's output: its lines, and its JSON lines parsed.
#pragma once

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace rstwatch::test {

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Every line of `text` that is a JSON object, parsed (a broken one throws and fails the test).
inline std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (auto& l : lines_of(text))
    if (!l.empty() && l[0] == '{') out.push_back(nlohmann::json::parse(l));
  return out;
}

}  // namespace rstwatch::test
