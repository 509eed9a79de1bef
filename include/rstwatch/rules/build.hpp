// A builder that reads like the rules it makes: C++ calls in the order iptables-save prints the
// options, producing restore-file text (iptables-save's form) that parse() and validate() take.
//
//   auto r = append("INPUT").protocol("tcp").match("tcp").not_().sport(3406)
//                .tcp_flags("RST", "RST").jump("LOG").log_prefix("[drds] ").log_level(7);
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rstwatch::rules::build {

namespace detail {

// iptables-save prints a string (LOG prefix, comment, NFLOG prefix) bare when it is made only
// of letters, digits, '_' and '-', and otherwise in double quotes with '"', '\\' and '\''
// escaped by a backslash (libxtables/xtables.c xtables_save_string).
inline std::string quoted(std::string_view s) {
  static constexpr std::string_view bare =
      "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  if (!s.empty() && s.find_first_not_of(bare) == std::string_view::npos) return std::string(s);
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '\'') q += '\\';
    q += c;
  }
  return q + "\"";
}

inline std::string join(std::initializer_list<std::string_view> items) {
  std::string s;
  for (auto i : items) {
    if (!s.empty()) s += ',';
    s += i;
  }
  return s;
}

}  // namespace detail

// One rule line. Every call appends what it names; not_() puts '!' before the next option.
class rule {
 public:
  explicit rule(std::string command, std::string chain) {
    text_ = command + " " + chain;
  }

  // Any option as iptables spells it, e.g. option("--ctstate", "NEW").
  rule& option(std::string_view name, std::string_view value = {}) {
    text_ += ' ';
    if (negate_next_) text_ += "! ";
    negate_next_ = false;
    text_ += name;
    if (!value.empty()) {
      text_ += ' ';
      text_ += value;
    }
    return *this;
  }
  rule& not_() {
    negate_next_ = true;
    return *this;
  }

  // Base matches.
  rule& protocol(std::string_view p) { return option("-p", p); }
  rule& source(std::string_view a) { return option("-s", a); }
  rule& destination(std::string_view a) { return option("-d", a); }
  rule& in_interface(std::string_view i) { return option("-i", i); }
  rule& out_interface(std::string_view i) { return option("-o", i); }
  rule& match(std::string_view module) { return option("-m", module); }

  // tcp and udp (libxt_tcp.c / libxt_udp.c save: --sport, --dport, ranges with ':').
  rule& sport(std::uint16_t p) { return option("--sport", std::to_string(p)); }
  rule& sport(std::uint16_t lo, std::uint16_t hi) { return option("--sport", range(lo, hi)); }
  rule& dport(std::uint16_t p) { return option("--dport", std::to_string(p)); }
  rule& dport(std::uint16_t lo, std::uint16_t hi) { return option("--dport", range(lo, hi)); }
  rule& tcp_flags(std::string_view mask, std::string_view comp) {
    return option("--tcp-flags", std::string(mask) + " " + std::string(comp));
  }
  rule& syn() { return option("--syn"); }
  rule& tcp_option(std::uint8_t n) { return option("--tcp-option", std::to_string(n)); }
  rule& icmp_type(std::string_view t) { return option("--icmp-type", t); }
  rule& icmpv6_type(std::string_view t) { return option("--icmpv6-type", t); }

  // multiport, conntrack, state, comment, mark, limit.
  rule& dports(std::initializer_list<std::string_view> ports) {
    return option("--dports", detail::join(ports));
  }
  rule& sports(std::initializer_list<std::string_view> ports) {
    return option("--sports", detail::join(ports));
  }
  rule& ctstate(std::initializer_list<std::string_view> states) {
    return option("--ctstate", detail::join(states));
  }
  rule& state(std::initializer_list<std::string_view> states) {
    return option("--state", detail::join(states));
  }
  rule& comment(std::string_view text) { return option("--comment", detail::quoted(text)); }
  rule& mark(std::string_view value_mask) { return option("--mark", value_mask); }
  rule& limit(std::string_view rate) { return option("--limit", rate); }
  rule& limit_burst(unsigned n) { return option("--limit-burst", std::to_string(n)); }

  // Targets.
  rule& jump(std::string_view target) { return option("-j", target); }
  rule& go_to(std::string_view chain) { return option("-g", chain); }
  rule& log_prefix(std::string_view p) { return option("--log-prefix", detail::quoted(p)); }
  rule& log_level(unsigned level) { return option("--log-level", std::to_string(level)); }
  rule& log_tcp_sequence() { return option("--log-tcp-sequence"); }
  rule& log_tcp_options() { return option("--log-tcp-options"); }
  rule& log_ip_options() { return option("--log-ip-options"); }
  rule& log_uid() { return option("--log-uid"); }
  rule& log_macdecode() { return option("--log-macdecode"); }
  rule& nflog_group(std::uint16_t g) { return option("--nflog-group", std::to_string(g)); }
  rule& nflog_prefix(std::string_view p) { return option("--nflog-prefix", detail::quoted(p)); }
  rule& reject_with(std::string_view type) { return option("--reject-with", type); }
  rule& to_destination(std::string_view to) { return option("--to-destination", to); }
  rule& to_source(std::string_view to) { return option("--to-source", to); }
  rule& to_ports(std::string_view ports) { return option("--to-ports", ports); }
  rule& set_xmark(std::string_view value_mask) { return option("--set-xmark", value_mask); }

  const std::string& str() const noexcept { return text_; }

 private:
  static std::string range(std::uint16_t lo, std::uint16_t hi) {
    return std::to_string(lo) + ":" + std::to_string(hi);
  }
  std::string text_;
  bool negate_next_ = false;
};

inline rule append(std::string chain) { return rule("-A", std::move(chain)); }
inline rule insert(std::string chain) { return rule("-I", std::move(chain)); }

// One `*table` section: chain lines (built-in chains with their policy, user chains with '-'),
// then rules, then COMMIT — the shape iptables-save prints.
class table {
 public:
  explicit table(std::string name) : name_(std::move(name)) {}

  table& policy(std::string chain, std::string verdict) {
    chains_.push_back(":" + chain + " " + verdict + " [0:0]");
    return *this;
  }
  table& chain(std::string name) {
    chains_.push_back(":" + name + " - [0:0]");
    return *this;
  }
  table& add(const rule& r) {
    rules_.push_back(r.str());
    return *this;
  }

  std::string str() const {
    std::string s = "*" + name_ + "\n";
    for (const auto& c : chains_) s += c + "\n";
    for (const auto& r : rules_) s += r + "\n";
    return s + "COMMIT\n";
  }

 private:
  std::string name_;
  std::vector<std::string> chains_;
  std::vector<std::string> rules_;
};

// A whole restore file: its tables in the order given.
class ruleset {
 public:
  ruleset& add(const table& t) {
    text_ += t.str();
    return *this;
  }
  const std::string& str() const noexcept { return text_; }

 private:
  std::string text_;
};

}  // namespace rstwatch::rules::build
