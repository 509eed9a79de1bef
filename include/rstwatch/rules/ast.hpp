// The lossless syntax tree of an iptables-restore file: every line and every token keeps its
// bytes as written and its source position, so a file can be reprinted byte for byte.
//
// Storage is flat and compact (a kube-proxy file has over a million tokens): each token is an
// offset and a length into the source (with its role: '!', option name or other), each line its
// kind and the index of its first token. The structs a reader sees (token, option,
// line) are views made on access from these records; a token's line and column come from the
// line it belongs to, so nothing per token stores them.
//
// Lifetime: every view points into the ast::file it came from, and tokens into the parsed text
// (ast::file::source); keep both alive and in place as long as views are used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <stdexcept>
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
    value_into(v);
    return v;
  }
  // The same as a view: the text itself when it holds no quote (nearly every token), else
  // the value written into `scratch`, which must outlive the view.
  std::string_view value_view(std::string& scratch) const {
    if (!quoted()) return text;
    value_into(scratch);
    return scratch;
  }
  // The same into `v`, reusing its storage. A quote left open takes the line's '\n' (after a
  // last '\\', which escapes it): iptables-restore reads the line with it.
  void value_into(std::string& v) const {
    if (!quoted()) {
      v.assign(text.data(), text.size());
      return;
    }
    v.resize(text.size() + 1);
    std::size_t n = 0;
    bool in_quotes = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (!in_quotes) {
        if (c == '"')
          in_quotes = true;
        else
          v[n++] = c;
      } else if (c == '\\') {
        if (i + 1 < text.size()) v[n++] = text[++i];
      } else if (c == '"') {
        in_quotes = false;
      } else {
        v[n++] = c;
      }
    }
    if (in_quotes) v[n++] = '\n';
    v.resize(n);
  }

  // Whether a quote is left open: the grammar lets it run to the end of the line.
  bool open_quote() const noexcept {
    bool in_quotes = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (in_quotes && text[i] == '\\')
        ++i;
      else if (text[i] == '"')
        in_quotes = !in_quotes;
    }
    return in_quotes;
  }
};

// `[packets:bytes]`, as a prefix of a rule line or at the end of a chain line. The numbers
// are kept as written: iptables-restore reads them only when run with --counters.
struct counters {
  token packets;
  token bytes;

  bool present() const noexcept { return packets.present(); }
};

// `:NAME POLICY [packets:bytes]`; POLICY is `-` for a user-defined chain. `count` is set when
// the word after the policy has the counters' shape (see the grammar: its bytes token may hold
// more than digits, "2:3" in "[1:2:3]"); `unread` is the rest of the line that iptables-restore
// never reads: what follows "[p:b]" or the bytes' digits, or, without counters, every word
// after the policy. Empty in a well-formed line.
struct chain_line {
  token name;
  token policy;
  counters count;
  token unread;
};

enum class line_kind : std::uint8_t { blank, comment, table, chain, commit, rule };

inline constexpr std::string_view line_kind_names[] = {"blank",  "comment", "table",
                                                       "chain",  "commit",  "rule"};

// The records the parser appends; readers use the views below.
namespace storage {

// What a token is to the options of a command line: a '!', an option's name, or anything else
// (an argument, a counter, a table or chain line's word).
enum class role : std::uint8_t { plain, name, bang };

// A token's place in the source. Tokens are shorter than 1 GiB (parse() refuses longer
// files), so the size leaves two bits for the role.
struct token_record {
  std::uint32_t offset = 0;
  std::uint32_t size_and_role = 0;

  static constexpr std::uint32_t max_size = (1u << 30) - 1;
  std::uint32_t size() const noexcept { return size_and_role & max_size; }
  storage::role role() const noexcept { return static_cast<storage::role>(size_and_role >> 30); }
};

// A line's tokens, from first_token to the next line's: table: the name; chain: name, policy
// and, with counters, packets and bytes; rule: with a `[p:b]` prefix its packets and bytes,
// then each option's tokens: its '!' if any, its name, its arguments.
struct line_record {
  std::uint32_t offset = 0;       // of the line's first byte
  std::uint32_t size = 0;         // without the '\n'
  std::uint32_t first_token = 0;
  line_kind kind = line_kind::blank;
  std::uint8_t saved_form = 0;  // line::saved_form
};

struct tree {
  std::string_view source;
  std::vector<line_record> lines;
  std::vector<token_record> tokens;

  std::uint32_t tokens_end(std::size_t line) const noexcept {
    return line + 1 < lines.size() ? lines[line + 1].first_token
                                   : static_cast<std::uint32_t>(tokens.size());
  }
  // A rule line the parser's fast path read (line_record::saved_form, "-A CHAIN ..."): its
  // text, its chain and the rest of the line after the chain, read without building the line.
  struct saved_form_line {
    std::string_view text, chain, spec;
  };
  saved_form_line saved_form_of(std::size_t line) const noexcept {
    const line_record& r = lines[line];
    const token_record& chain = tokens[r.first_token + 1];
    const std::string_view text(source.data() + r.offset, r.size);
    const std::size_t at = chain.offset - r.offset;
    return {text, text.substr(at, chain.size()), text.substr(at + chain.size())};
  }

  // How many chain and rule lines follow `line` up to the next COMMIT: what a table declares
  // and holds at most, to size the arrays of its chains and rules once.
  struct line_counts {
    std::size_t chains = 0, rules = 0;
  };
  line_counts lines_after(std::size_t line) const noexcept {
    line_counts n;
    for (std::size_t k = line + 1; k < lines.size() && lines[k].kind != line_kind::commit; ++k) {
      n.chains += lines[k].kind == line_kind::chain;
      n.rules += lines[k].kind == line_kind::rule;
    }
    return n;
  }

  // Token `i`, on the line that starts at `line_offset` and has number `line_number`.
  token make_token(std::uint32_t i, std::uint32_t line_number,
                   std::uint32_t line_offset) const noexcept {
    const token_record& r = tokens[i];
    return {std::string_view(source.data() + r.offset, r.size()), r.offset,
            {line_number, r.offset - line_offset + 1}};
  }
};

// An iterator over views made on access: List::operator[] gives the element.
template <class List, class Value>
class view_iterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = Value;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = Value;

  view_iterator() = default;
  view_iterator(const List* list, std::size_t i) : list_(list), i_(i) {}
  Value operator*() const { return (*list_)[i_]; }
  view_iterator& operator++() {
    ++i_;
    return *this;
  }
  view_iterator operator++(int) {
    view_iterator old = *this;
    ++i_;
    return old;
  }
  friend bool operator==(const view_iterator& a, const view_iterator& b) { return a.i_ == b.i_; }
  friend bool operator!=(const view_iterator& a, const view_iterator& b) { return a.i_ != b.i_; }

 private:
  const List* list_ = nullptr;
  std::size_t i_ = 0;
};

// What every view list offers: size, indexing with and without a check, iteration.
template <class Derived, class Value>
class view_list {
 public:
  using value_type = Value;
  using iterator = view_iterator<Derived, Value>;
  using const_iterator = iterator;

  bool empty() const noexcept { return self().size() == 0; }
  Value at(std::size_t i) const {
    if (i >= self().size()) throw std::out_of_range("rstwatch::rules::ast: index out of range");
    return self()[i];
  }
  Value front() const { return self()[0]; }
  Value back() const { return self()[self().size() - 1]; }
  iterator begin() const { return iterator(&self(), 0); }
  iterator end() const { return iterator(&self(), self().size()); }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

}  // namespace storage

// The arguments of one option.
class token_list : public storage::view_list<token_list, token> {
 public:
  token_list() = default;
  token_list(const storage::tree* t, std::uint32_t first, std::uint32_t count,
             std::uint32_t line_number, std::uint32_t line_offset)
      : tree_(t), first_(first), count_(count), line_(line_number), line_offset_(line_offset) {}

  std::size_t size() const noexcept { return count_; }
  token operator[](std::size_t i) const {
    return tree_->make_token(first_ + static_cast<std::uint32_t>(i), line_, line_offset_);
  }

 private:
  const storage::tree* tree_ = nullptr;
  std::uint32_t first_ = 0, count_ = 0, line_ = 0, line_offset_ = 0;
};

// One option of a command line with the arguments that follow it, e.g. `! --sport 3406`
// or `-j LOG`. `bang` is present when a `!` stands before the option.
struct option {
  token bang;
  token name;
  token_list args;
};

// The options of a command line, in the order written. They are found by walking the line's
// tokens (an option starts at a '!' or a name), so indexing walks too: iterate where you can.
class option_list {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = option;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = option;

    iterator() = default;
    iterator(const option_list* list, std::uint32_t token)
        : list_(list), token_(token), next_(token < list->end_ ? list->next(token) : token) {}
    option operator*() const { return list_->make(token_, next_); }
    iterator& operator++() {
      token_ = next_;
      if (token_ < list_->end_) next_ = list_->next(token_);
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.token_ == b.token_; }
    friend bool operator!=(const iterator& a, const iterator& b) { return a.token_ != b.token_; }

   private:
    const option_list* list_ = nullptr;
    std::uint32_t token_ = 0;
    std::uint32_t next_ = 0;  // where the option after this one starts: each option is walked once
  };
  using value_type = option;
  using const_iterator = iterator;

  option_list() = default;
  option_list(const storage::tree* t, std::uint32_t first, std::uint32_t end,
              std::uint32_t line_number, std::uint32_t line_offset)
      : tree_(t), first_(first), end_(end), line_(line_number), line_offset_(line_offset) {
    const storage::token_record* tokens = t->tokens.data();  // loaded once, not per token
    for (std::uint32_t i = first; i < end; ++i) count_ += tokens[i].role() == storage::role::name;
  }

  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  iterator begin() const { return iterator(this, first_); }
  iterator end() const { return iterator(this, end_); }
  option operator[](std::size_t i) const {
    std::uint32_t t = first_;
    for (; i > 0; --i) t = next(t);
    return make(t);
  }
  option at(std::size_t i) const {
    if (i >= size()) throw std::out_of_range("rstwatch::rules::ast: index out of range");
    return (*this)[i];
  }
  option front() const { return make(first_); }
  option back() const { return (*this)[size() - 1]; }

  // The first word whose argument (quotes removed, token::value()) is longer than `max` bytes;
  // none when all fit. One pass over the compact records: a word is built only when its text
  // is that long.
  std::optional<token> first_word_over(std::size_t max) const {
    if (first_ == end_) return std::nullopt;  // also a default list, which has no tree
    const storage::token_record* tokens = tree_->tokens.data();
    for (std::uint32_t i = first_; i < end_; ++i) {
      if (tokens[i].size() <= max) continue;
      token t = tree_->make_token(i, line_, line_offset_);
      if (t.value().size() > max) return t;
    }
    return std::nullopt;
  }

 private:
  storage::role role(std::uint32_t i) const noexcept { return tree_->tokens[i].role(); }
  // The token after the arguments of the option that starts at `t`.
  std::uint32_t next(std::uint32_t t) const noexcept {
    const storage::token_record* tokens = tree_->tokens.data();
    if (tokens[t].role() == storage::role::bang) ++t;
    for (++t; t < end_ && tokens[t].role() == storage::role::plain; ++t) {
    }
    return t;
  }
  // The option that starts at `t`; its arguments end where the next option begins, `end`.
  option make(std::uint32_t t, std::uint32_t end) const {
    option o;
    if (role(t) == storage::role::bang) o.bang = tree_->make_token(t++, line_, line_offset_);
    o.name = tree_->make_token(t, line_, line_offset_);
    o.args = token_list(tree_, t + 1, end - t - 1, line_, line_offset_);
    return o;
  }
  option make(std::uint32_t t) const { return make(t, next(t)); }

  const storage::tree* tree_ = nullptr;
  std::uint32_t first_ = 0, end_ = 0, count_ = 0, line_ = 0, line_offset_ = 0;
};

// A command line: `[p:b]`? then options in the order written; the command itself (-A, -I,
// --append, ...) is one of them, as it is for iptables' getopt loop.
struct rule_line {
  counters prefix;
  option_list options;
};

// One line of the file, without its '\n'. Only the member for its kind is filled.
struct line {
  line_kind kind = line_kind::blank;
  // A rule line: the address families (bit 1 << netfilter::family) for which iptables-save
  // prints the line exactly as written, as the parser's fast path found it
  // (rules/detail/canonical_rule.hpp); 0 when it took the general path.
  std::uint8_t saved_form = 0;
  token text;        // the whole line
  token table;       // table: the name after '*'
  chain_line chain;  // chain
  rule_line rule;    // rule
};

// The lines of a file, and the compact records behind them.
class line_list : public storage::view_list<line_list, line> {
  // A chain line's text after `last` (the policy, or the bytes token), blanks trimmed; a ']'
  // right after the bytes' digits closes the counters and is skipped. The bytes token itself
  // may hold more ("2:3", "2x"): that part is reported with the token, not here.
  static token unread_after(const line& l, const token& last, bool counters) {
    std::size_t begin = last.offset + last.text.size() - l.text.offset;
    const std::string_view text = l.text.text;
    if (counters && begin < text.size() && text[begin] == ']') ++begin;
    while (begin < text.size() && (text[begin] == ' ' || text[begin] == '\t')) ++begin;
    std::size_t end = text.size();
    while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
    if (begin == end) return {};
    return {text.substr(begin, end - begin), static_cast<std::uint32_t>(l.text.offset + begin),
            {l.text.where.line, static_cast<std::uint32_t>(begin + 1)}};
  }

 public:
  std::size_t size() const noexcept { return tree_.lines.size(); }
  line operator[](std::size_t i) const {
    const storage::line_record& r = tree_.lines[i];
    const auto number = static_cast<std::uint32_t>(i + 1);
    line l;
    l.kind = r.kind;
    l.saved_form = r.saved_form;
    l.text = {std::string_view(tree_.source.data() + r.offset, r.size), r.offset, {number, 1}};
    std::uint32_t t = r.first_token, end = tree_.tokens_end(i);
    auto tok = [&](std::uint32_t k) { return tree_.make_token(k, number, r.offset); };
    switch (r.kind) {
      case line_kind::table:
        l.table = tok(t);
        break;
      case line_kind::chain: {
        l.chain.name = tok(t);
        l.chain.policy = tok(t + 1);
        if (end - t == 4) l.chain.count = {tok(t + 2), tok(t + 3)};
        const bool counters = l.chain.count.present();
        l.chain.unread = unread_after(l, counters ? l.chain.count.bytes : l.chain.policy, counters);
        break;
      }
      case line_kind::rule:
        if (t < end && tree_.tokens[t].role() == storage::role::plain) {
          l.rule.prefix = {tok(t), tok(t + 1)};
          t += 2;
        }
        l.rule.options = option_list(&tree_, t, end, number, r.offset);
        break;
      default:
        break;
    }
    return l;
  }

  // The parser's side: the records it appends to.
  storage::tree& records() noexcept { return tree_; }
  const storage::tree& records() const noexcept { return tree_; }

 private:
  storage::tree tree_;
};

struct file {
  std::string_view source;  // the parsed text; every token views into it
  line_list lines;
};

}  // namespace rstwatch::rules::ast
