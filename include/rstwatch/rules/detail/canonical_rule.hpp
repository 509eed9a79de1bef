// The parser's fast path: a rule line that is already written as iptables-save prints it, in
// the vocabulary of machine-written files (kube-proxy, docker, iptables-save itself), needs
// neither X3 nor the getopt emulation. read_canonical_rule() recognises such a line in one
// pass over its text, checking every value as iptables reads it and that it prints back as
// written; anything else (another option, spelling, order, spacing, a value that prints
// differently or that iptables refuses) says "not canonical" and the general path reads the
// line, as it reads every rule. The grammar tries it first on every line (grammar_def.hpp) and
// marks the lines it takes with their families (ast::line::saved_form); restore() then keeps
// such a line's text as its saved form and validate() skips view_rule() for it. The contract,
// checked by tests/rules/canonical.cpp over every rule of the test files and by the fuzz target
// fuzz/canonical.cpp: for a line read here, the general path records the same tokens, finds no
// problem in it and restores it with the same text (the line itself after "-A CHAIN").
//
// The vocabulary, in iptables-save's order, each part optional:
//   -A CHAIN [[!] -s A.B.C.D/N] [[!] -d A.B.C.D/N] [-p tcp|udp]
//   [-m tcp|udp [[!] --sport P[:P]] [[!] --dport P[:P]]]  [-m comment --comment TEXT]
//   [-m statistic --mode random [!] --probability F]  [-m conntrack [!] --ctstate LIST]
//   [-m state [!] --state LIST]  [-m mark [!] --mark V[/M]]   (matches in any order, once each)
//   [-j ACCEPT|DROP|RETURN|CHAIN | -j REJECT --reject-with TYPE | -j DNAT --to-destination
//    A.B.C.D[:P] | -j SNAT --to-source A.B.C.D[:P] | -j MASQUERADE | -j MARK --set-xmark V/M]
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include <rstwatch/netfilter.hpp>
#include <rstwatch/rules/ast.hpp>
#include <rstwatch/rules/detail/extensions.hpp>
#include <rstwatch/rules/detail/values.hpp>

namespace rstwatch::rules::detail {

struct canonical_rule {
  std::string_view chain;     // after "-A "
  std::string_view target;    // the word after " -j "; empty without one
  std::uint8_t families = 0;  // family_bit() of each family the line is canonical for
};

namespace canonical {

inline bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

// a == b for the short words of a line, without a call to memcmp().
inline bool same(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// A decimal number as printf("%u") prints it (no sign, no leading zero), at most `max`.
inline std::optional<std::uint32_t> number(std::string_view s, std::uint32_t max) noexcept {
  if (s.empty() || s.size() > 10 || (s[0] == '0' && s.size() > 1)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!digit(c)) return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

// A number as "0x%x" prints it.
inline std::optional<std::uint32_t> hex_number(std::string_view s) noexcept {
  if (s.size() < 3 || s.size() > 10 || s[0] != '0' || s[1] != 'x' || (s[2] == '0' && s.size() > 3))
    return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s.substr(2)) {
    unsigned d = digit(c) ? unsigned(c - '0') : c >= 'a' && c <= 'f' ? unsigned(c - 'a' + 10) : 16;
    if (d == 16) return std::nullopt;
    v = v << 4 | d;
  }
  return v;
}

// A dotted quad as inet_ntop() prints it, in one pass.
inline std::optional<std::uint32_t> ipv4(std::string_view s) noexcept {
  std::uint32_t a = 0, part = 0;
  std::size_t digits = 0;
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      if (digits == 0 || ++dots > 3) return std::nullopt;
      a = a << 8 | part;
      part = 0;
      digits = 0;
    } else if (digit(c) && !(digits == 1 && part == 0) && digits < 3) {
      part = part * 10 + static_cast<std::uint32_t>(c - '0');
      if (part > 255) return std::nullopt;
      ++digits;
    } else {
      return std::nullopt;
    }
  }
  if (dots != 3 || digits == 0) return std::nullopt;
  return a << 8 | part;
}

// ADDR/N as iptables-save prints -s and -d: a prefix of 1 to 32 bits (0 prints no option at
// all) and no host bit set (iptables masks the address).
inline bool ipv4_prefix(std::string_view s) noexcept {
  std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  auto a = ipv4(s.substr(0, slash));
  auto n = number(s.substr(slash + 1), 32);
  if (!a || !n || *n == 0) return false;
  const std::uint32_t host = *n == 32 ? 0 : 0xffffffffu >> *n;
  return (*a & host) == 0;
}

// A port or a range as print_port_range() prints it; 0:65535 (no restriction) never prints.
inline bool ports(std::string_view s) noexcept {
  std::size_t colon = s.find(':');
  auto low = number(s.substr(0, colon), 65535);
  if (!low) return false;
  if (colon == std::string_view::npos) return true;
  auto high = number(s.substr(colon + 1), 65535);
  return high && *low < *high && !(*low == 0 && *high == 65535);
}

// A comma list printed back in the order of `table` (canonical_list()), for the few states of
// conntrack and state.
template <std::size_t N>
inline bool state_list(std::string_view s, const std::string_view (&table)[N], std::size_t usable) {
  std::size_t next = 0;  // states must come in table order, each once
  while (true) {
    std::size_t comma = s.find(',');
    std::string_view w = s.substr(0, comma);
    std::size_t i = next;
    while (i < usable && table[i] != w) ++i;
    if (i == usable) return false;
    next = i + 1;
    if (comma == std::string_view::npos) return true;
    s.remove_prefix(comma + 1);
  }
}

// What each byte may be, one table lookup per byte: part of a bare saved string
// ([A-Za-z0-9_-]), of a chain name ([A-Za-z0-9_.-]), of a target name iptables has ([A-Z0-9_]:
// every verdict and extension target, tests/rules/canonical.cpp checks), of a quoted string
// the fast path takes (printable, no '"', '\\' or '\'', which print escaped).
enum : std::uint8_t { bare_char = 1, chain_char = 2, target_char = 4, quoted_char = 8 };
inline constexpr struct char_classes {
  std::uint8_t of[256] = {};
  constexpr char_classes() {
    for (int c = 0; c < 256; ++c) {
      const bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z', num = c >= '0' && c <= '9';
      std::uint8_t k = 0;
      if (upper || lower || num || c == '_' || c == '-') k |= bare_char;
      if (upper || lower || num || c == '_' || c == '-' || c == '.') k |= chain_char;
      if (upper || num || c == '_') k |= target_char;
      if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\' && c != '\'') k |= quoted_char;
      of[c] = k;
    }
  }
  // The classes every byte of `s` is in (all of them for an empty `s`).
  std::uint8_t common(std::string_view s) const noexcept {
    std::uint8_t acc = 0xff;
    for (char c : s) acc &= of[static_cast<unsigned char>(c)];
    return acc;
  }
  bool all(std::string_view s, std::uint8_t k) const noexcept { return (common(s) & k) == k; }
} chars{};

// A word of a restore line as append_saved_string() prints it, at most max_comment bytes:
// bare when it is made of [A-Za-z0-9_-] only (a '-' first would read as an option), else in
// double quotes; escaped characters are left to the general path.
// `k` is chars.common() of the word, or of what its quotes hold.
inline bool saved_string(std::string_view s, std::uint8_t k) noexcept {
  if (s.empty() || s.front() == '-') return false;
  if (s.front() != '"') return (k & bare_char) && s.size() <= max_comment;
  const std::size_t inner = s.size() - 2;
  return (k & quoted_char) && (inner == 0 || !(k & bare_char)) && inner <= max_comment;
}

// A chain name or jump target as written by tools: [A-Za-z0-9_.-], a letter or digit first,
// under 29 characters.
// `k` is chars.common(s).
inline bool chain_name(std::string_view s, std::uint8_t k) noexcept {
  return !s.empty() && s.size() < 29 && (k & chain_char) && s[0] != '-' && s[0] != '.' && s[0] != '_';
}

// The line being read: single spaces between words, nothing after the last. Each word read
// is kept as the grammar records it (an option's name, a '!' before it, a plain argument), in
// a fixed array: a line of the vocabulary has fewer than `max_tokens` words, one with more is
// not read here.
class cursor {
 public:
  using token_record = ast::storage::token_record;
  using role = ast::storage::role;

  static constexpr std::size_t max_tokens = 64;

  cursor(std::string_view s, std::uint32_t offset) : s_(s), offset_(offset) {}

  // The words read, as token records of the file; nothing when there were too many.
  const token_record* tokens() const noexcept { return tokens_; }
  std::size_t token_count() const noexcept { return count_ <= max_tokens ? count_ : 0; }
  bool overflowed() const noexcept { return count_ > max_tokens; }

  std::size_t at() const noexcept { return i_; }
  // chars.common() of the last argument(), or of what its quotes hold.
  std::uint8_t classes() const noexcept { return classes_; }
  bool done() const noexcept { return i_ == s_.size(); }

  // The option `name` ("-s") when the line goes on with it, as the first word or after a space.
  bool option(std::string_view name) noexcept {
    const std::size_t start = i_ + (i_ != 0);
    if (start + name.size() > s_.size() || (i_ != 0 && s_[i_] != ' ')) return false;
    for (std::size_t k = 0; k < name.size(); ++k)
      if (s_[start + k] != name[k]) return false;
    if (!word_ends(start + name.size())) return false;
    emit(start, name.size(), role::name);
    i_ = start + name.size();
    return true;
  }
  // The option `name`, inverted or not: 0 when absent (nothing read), 1 as is, 2 after "! ".
  int negatable(std::string_view name) noexcept {
    const std::size_t start = i_;
    const std::size_t kept = count_;
    if (i_ + 2 <= s_.size() && s_[i_] == ' ' && s_[i_ + 1] == '!' && word_ends(i_ + 2)) {
      emit(i_ + 1, 1, role::bang);
      i_ += 2;
      if (option(name)) return 2;
      i_ = start;
      count_ = kept;
      return 0;
    }
    return option(name) ? 1 : 0;
  }
  // The next word, after its space: up to the next space or the end of the line; a word that
  // opens a quote runs to the closing quote, which must end it. Empty when there is none.
  std::string_view argument() noexcept {
    const char* const begin = s_.data();
    const char* const last = begin + s_.size();
    const char* p = begin + i_;
    if (p == last || *p != ' ') return {};
    const char* const start = ++p;
    if (p != last && *p == '"') {
      p = static_cast<const char*>(std::memchr(p + 1, '"', static_cast<std::size_t>(last - p - 1)));
      if (!p || (p + 1 != last && p[1] != ' ')) return {};
      classes_ = chars.common(std::string_view(start + 1, static_cast<std::size_t>(p - start - 1)));
      ++p;
    } else {
      std::uint8_t k = 0xff;
      for (; p != last && *p != ' '; ++p) k &= chars.of[static_cast<unsigned char>(*p)];
      classes_ = k;
    }
    if (p == start) return {};
    const auto at = static_cast<std::size_t>(start - begin), size = static_cast<std::size_t>(p - start);
    emit(at, size, role::plain);
    i_ = at + size;
    return std::string_view(start, size);
  }

 private:
  bool word_ends(std::size_t j) const noexcept { return j == s_.size() || s_[j] == ' '; }
  void emit(std::size_t at, std::size_t size, role r) noexcept {
    if (count_ < max_tokens)
      tokens_[count_] = {offset_ + static_cast<std::uint32_t>(at),
                         static_cast<std::uint32_t>(size) | (static_cast<std::uint32_t>(r) << 30)};
    ++count_;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::uint32_t offset_;
  std::uint8_t classes_ = 0;
  std::size_t count_ = 0;
  token_record tokens_[max_tokens];
};

}  // namespace canonical

// The address families (bit 1 << family) a canonical rule is written for.
inline constexpr std::uint8_t family_bit(family f) noexcept {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(f));
}

// The rule `line` (a whole restore-file line, at `offset` in its file) when it is written as
// iptables-save prints it, in the vocabulary above, with values iptables takes, for at least
// one family; nullopt otherwise. Its words are appended to `tokens` when given (nothing is
// when the line is not canonical).
inline std::optional<canonical_rule> read_canonical_rule(
    std::string_view line, std::uint32_t offset = 0,
    std::vector<ast::storage::token_record>* tokens = nullptr) {
  using namespace canonical;
  constexpr std::uint8_t v4 = family_bit(family::ipv4), v6 = family_bit(family::ipv6);
  cursor c(line, offset);
  canonical_rule r;
  r.families = v4 | v6;
  if (!c.option("-A")) return std::nullopt;
  r.chain = c.argument();
  if (!chain_name(r.chain, c.classes())) return std::nullopt;
  for (std::string_view opt : {std::string_view("-s"), std::string_view("-d")})
    if (c.negatable(opt)) {
      if (!ipv4_prefix(c.argument())) return std::nullopt;
      r.families &= v4;
    }
  std::uint8_t proto = 0;
  if (c.option("-p")) {
    std::string_view p = c.argument();
    proto = same(p, "tcp") ? 6 : same(p, "udp") ? 17 : 0;
    if (!proto) return std::nullopt;
  }
  unsigned seen = 0;  // the matches read, one bit each
  while (c.option("-m")) {
    std::string_view name = c.argument();
    static constexpr std::string_view names[] = {"tcp",      "udp",   "comment", "statistic",
                                                 "conntrack", "state", "mark"};
    std::size_t m = 0;
    while (m < std::size(names) && !same(names[m], name)) ++m;
    if (m == std::size(names) || (seen >> m & 1)) return std::nullopt;
    seen |= 1u << m;
    bool ok = true;
    switch (m) {
      case 0:
      case 1:
        ok = proto == (m == 0 ? 6 : 17);
        for (std::string_view opt : {std::string_view("--sport"), std::string_view("--dport")})
          if (ok && c.negatable(opt)) ok = ports(c.argument());
        break;
      case 2: {
        ok = c.option("--comment");
        std::string_view text = ok ? c.argument() : std::string_view();
        ok = ok && saved_string(text, c.classes());
        break;
      }
      case 3: {
        ok = c.option("--mode") && c.argument() == "random" && c.negatable("--probability");
        if (!ok) break;
        // "D.DDDDDDDDDDD": strtod() of it is the double nearest to N / 10^11, which is what
        // dividing the two exact doubles gives (IEEE division rounds correctly).
        std::string_view text = c.argument();
        if (text.size() != 13 || text[1] != '.') return std::nullopt;
        std::uint64_t n = 0;
        for (std::size_t k = 0; k < 13; ++k) {
          if (k == 1) continue;
          if (!digit(text[k])) return std::nullopt;
          n = n * 10 + static_cast<unsigned>(text[k] - '0');
        }
        const double p = static_cast<double>(n) / 1e11;
        char printed[13];
        ok = p <= 1.0 && print_probability(p, printed) == text;
        break;
      }
      case 4: ok = c.negatable("--ctstate") && state_list(c.argument(), ct_states, std::size(ct_states)); break;
      case 5: ok = c.negatable("--state") && state_list(c.argument(), ct_states, 5); break;
      case 6: {
        ok = c.negatable("--mark");
        if (!ok) break;
        std::string_view v = c.argument();
        std::size_t slash = v.find('/');
        auto mask = slash == std::string_view::npos ? std::optional<std::uint32_t>(0xffffffffu)
                                                    : hex_number(v.substr(slash + 1));
        ok = hex_number(v.substr(0, slash)) && mask &&
             (slash == std::string_view::npos) == (*mask == 0xffffffffu);
        break;
      }
    }
    if (!ok) return std::nullopt;
  }
  if (c.option("-j")) {
    r.target = c.argument();
    const std::uint8_t target_classes = c.classes();
    auto nat_to = [&](std::string_view v) {
      std::size_t colon = v.find(':');
      return ipv4(v.substr(0, colon)) &&
             (colon == std::string_view::npos ||
              (proto && number(v.substr(colon + 1), 65535).value_or(0) != 0));
    };
    bool ok = true;
    if (same(r.target, "REJECT")) {
      ok = c.option("--reject-with");
      std::string_view type = ok ? c.argument() : std::string_view();
      auto named = [type](const auto& table) {
        for (const reject_name& n : table)
          if (n.name == type) return true;
        return false;
      };
      r.families &= (named(reject4) ? v4 : 0) | (named(reject6) ? v6 : 0);
      ok = ok && (type != "tcp-reset" || proto == 6);
    } else if (same(r.target, "DNAT") || same(r.target, "SNAT")) {
      ok = c.option(same(r.target, "DNAT") ? "--to-destination" : "--to-source") && nat_to(c.argument());
      r.families &= v4;
    } else if (same(r.target, "MARK")) {
      ok = c.option("--set-xmark");
      std::string_view v = ok ? c.argument() : std::string_view();
      std::size_t slash = v.find('/');
      ok = ok && slash != std::string_view::npos && hex_number(v.substr(0, slash)) &&
           hex_number(v.substr(slash + 1));
    } else if (!same(r.target, "ACCEPT") && !same(r.target, "DROP") && !same(r.target, "RETURN") &&
               !same(r.target, "MASQUERADE")) {
      ok = chain_name(r.target, target_classes) && !((target_classes & target_char) && names_a_target(r.target));
    }
    if (!ok) return std::nullopt;
  }
  if (!c.done() || r.families == 0 || c.overflowed()) return std::nullopt;
  if (tokens) tokens->insert(tokens->end(), c.tokens(), c.tokens() + c.token_count());
  return r;
}

// A table's chain lines come one after another, tens of thousands of them in a kube-proxy
// file, and each looks its name up in a map larger than the cache: restore() and validate()
// ask for the slot of the chain line `ahead` lines on (chain_map::prefetch()), so that the
// lookups overlap instead of each waiting for memory in turn.
inline constexpr std::size_t chain_line_ahead = 8;

template <class Map>
void prefetch_chain_line(const ast::storage::tree& tree, std::size_t line, const Map& chains) {
  if (line < tree.lines.size() && tree.lines[line].kind == ast::line_kind::chain) {
    const ast::storage::token_record& name = tree.tokens[tree.lines[line].first_token];
    chains.prefetch(tree.source.substr(name.offset, name.size()));
  }
}

}  // namespace rstwatch::rules::detail
