// The containers the rule readers keep from line to line: chain_map (chain names to values,
// names in the slots) and reuse_list (elements that keep their storage across clear()).
#include <rstwatch/detail/reuse_list.hpp>
#include <rstwatch/rules/detail/chain_map.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

using rstwatch::rules::detail::chain_map;

namespace {

// Names shaped like kube-proxy's (a shared prefix, then 16 base32 characters), short ones, and
// some longer than a slot holds.
std::string name_for(std::uint32_t n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  switch (n % 4) {
    case 0: {
      std::string s = "KUBE-SEP-";
      for (int i = 0; i < 16; ++i, n /= 7) s += alphabet[(n + i * 5) & 31];
      return s;
    }
    case 1: return "c" + std::to_string(n);
    case 2: return std::string(32 + n % 9, 'L') + std::to_string(n);
    default: return "KUBE-SVC-" + std::to_string(n * 2654435761u);
  }
}

}  // namespace

SCENARIO("a chain map answers as an ordered map does, whatever the sequence of changes", "[rules][chain_map]") {
  GIVEN("a chain map and a std::map, and 200,000 random inserts, erases and lookups on 3,000 names") {
    chain_map<int> m;
    std::map<std::string, int> model;
    std::mt19937 rng(20261126);
    std::vector<std::string> names;
    for (std::uint32_t i = 0; i < 3000; ++i) names.push_back(name_for(i));
    std::size_t mismatches = 0, found = 0, erased = 0;
    for (int step = 0; step < 200000; ++step) {
      const std::string& n = names[rng() % names.size()];
      switch (rng() % 3) {
        case 0: {
          const int v = static_cast<int>(rng() % 1000);
          auto [slot, added] = m.insert(n, v);
          auto [it, model_added] = model.emplace(n, v);
          mismatches += added != model_added || *slot != it->second;
          break;
        }
        case 1: {
          const bool gone = m.erase(n);
          mismatches += gone != (model.erase(n) == 1);
          erased += gone;
          break;
        }
        default: {
          const int* v = m.find(n);
          auto it = model.find(n);
          mismatches += (v == nullptr) != (it == model.end()) || (v && *v != it->second);
          found += v != nullptr;
        }
      }
      mismatches += m.size() != model.size();
    }
    THEN("every answer agreed, and the sequence exercised both hits and erasures") {
      CHECK(mismatches == 0);
      CHECK(found > 10000);
      CHECK(erased > 10000);
    }
    THEN("every name the map holds is found with its value, every other one is not") {
      std::size_t wrong = 0;
      for (const auto& n : names) {
        const int* v = m.find(n);
        auto it = model.find(n);
        wrong += (v == nullptr) != (it == model.end()) || (v && *v != it->second);
      }
      CHECK(wrong == 0);
    }
  }
  GIVEN("a map emptied by erasing every name it held") {
    chain_map<int> m;
    for (std::uint32_t i = 0; i < 500; ++i) m.insert(name_for(i), static_cast<int>(i));
    for (std::uint32_t i = 0; i < 500; ++i) m.erase(name_for(i));
    THEN("it holds nothing and takes the names again") {
      CHECK(m.size() == 0);
      CHECK_FALSE(m.contains(name_for(7)));
      CHECK(m.insert(name_for(7), 70).second);
      CHECK(*m.find(name_for(7)) == 70);
    }
  }
  GIVEN("a name and the same name with one byte changed or one byte more") {
    chain_map<int> m;
    m.insert("KUBE-SVC-ABCDEFGHIJKLMNOP", 1);
    THEN("only the exact name is found") {
      CHECK(m.find("KUBE-SVC-ABCDEFGHIJKLMNOP") != nullptr);
      CHECK(m.find("KUBE-SVC-ABCDEFGHIJKLMNOQ") == nullptr);
      CHECK(m.find("KUBE-SVC-ABCDEFGHIJKLMNOPQ") == nullptr);
      CHECK(m.find("") == nullptr);
    }
  }
}

SCENARIO("a reuse list hands back its elements with their storage after clear", "[rules][reuse_list]") {
  GIVEN("a list of strings filled with long texts, then cleared") {
    rstwatch::detail::reuse_list<std::string> l;
    l.add() = std::string(100, 'a');
    l.add() = std::string(200, 'b');
    const std::size_t capacity = l[1].capacity();
    l.clear();
    WHEN("one element is added again") {
      std::string& s = l.add();
      THEN("the list holds one element, which kept the first one's text and storage") {
        CHECK(l.size() == 1);
        CHECK(s == std::string(100, 'a'));
        CHECK(std::distance(l.begin(), l.end()) == 1);
      }
      AND_WHEN("a second is added") {
        std::string& t = l.add();
        THEN("it is the second of before, its storage kept") {
          CHECK(t.capacity() == capacity);
          CHECK(l.back().size() == 200);
          CHECK_THROWS_AS(l.at(2), std::out_of_range);
        }
      }
    }
  }
}
