// The netfilter model: families, hooks, iptables tables and their built-in chains, hook
// priorities, which targets each (table, chain) accepts, chain-name rules, and the ordered
// (table, chain) path a packet takes when it is delivered locally, sent locally or forwarded.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rstwatch::netfilter {

// ---------------------------------------------------------------------------------------------
// Names. Each enum has one keyword table, indexed by the enum's value.

enum class family : std::uint8_t { ipv4, ipv6, inet };
inline constexpr std::array<std::string_view, 3> family_names = {"ipv4", "ipv6", "inet"};
// nftables spells the families "ip", "ip6" and "inet" (nft(8), ADDRESS FAMILIES).
inline constexpr std::array<std::string_view, 3> family_nft_names = {"ip", "ip6", "inet"};

// The five hooks of include/uapi/linux/netfilter.h (enum nf_inet_hooks), in that order; the
// built-in chain of each hook carries the hook's name in upper case.
enum class hook : std::uint8_t { prerouting, input, forward, output, postrouting };
inline constexpr std::array<std::string_view, 5> hook_names = {"prerouting", "input", "forward",
                                                               "output", "postrouting"};
inline constexpr std::array<std::string_view, 5> chain_names = {"PREROUTING", "INPUT", "FORWARD",
                                                                "OUTPUT", "POSTROUTING"};
// The kernel's own names (NF_IP_PRE_ROUTING …), as the seed lists them.
inline constexpr std::array<std::string_view, 5> kernel_hook_names = {
    "NF_IP_PRE_ROUTING", "NF_IP_LOCAL_IN", "NF_IP_FORWARD", "NF_IP_LOCAL_OUT",
    "NF_IP_POST_ROUTING"};

enum class table : std::uint8_t { raw, mangle, nat, filter, security };
inline constexpr std::array<std::string_view, 5> table_names = {"raw", "mangle", "nat", "filter",
                                                                "security"};

inline constexpr std::array<family, 3> all_families = {family::ipv4, family::ipv6, family::inet};
inline constexpr std::array<hook, 5> all_hooks = {hook::prerouting, hook::input, hook::forward,
                                                  hook::output, hook::postrouting};
inline constexpr std::array<table, 5> all_tables = {table::raw, table::mangle, table::nat,
                                                    table::filter, table::security};

constexpr std::string_view to_string(family f) noexcept {
  return family_names[static_cast<std::size_t>(f)];
}
constexpr std::string_view to_string(hook h) noexcept {
  return hook_names[static_cast<std::size_t>(h)];
}
constexpr std::string_view to_string(table t) noexcept {
  return table_names[static_cast<std::size_t>(t)];
}
constexpr std::string_view nft_name(family f) noexcept {
  return family_nft_names[static_cast<std::size_t>(f)];
}
// "INPUT" for hook::input.
constexpr std::string_view chain_name(hook h) noexcept {
  return chain_names[static_cast<std::size_t>(h)];
}
constexpr std::string_view kernel_name(hook h) noexcept {
  return kernel_hook_names[static_cast<std::size_t>(h)];
}

namespace detail {
template <class Enum, std::size_t N>
constexpr std::optional<Enum> lookup(const std::array<std::string_view, N>& names,
                                     std::string_view s) noexcept {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<Enum>(i);
  return std::nullopt;
}
}  // namespace detail

// Case-sensitive, as iptables is: "filter" is a table, "FILTER" is not.
constexpr std::optional<family> parse_family(std::string_view s) noexcept {
  if (auto f = detail::lookup<family>(family_names, s)) return f;
  return detail::lookup<family>(family_nft_names, s);
}
constexpr std::optional<hook> parse_hook(std::string_view s) noexcept {
  return detail::lookup<hook>(hook_names, s);
}
constexpr std::optional<table> parse_table(std::string_view s) noexcept {
  return detail::lookup<table>(table_names, s);
}
// The hook whose built-in chain is called `s` ("INPUT" → hook::input); nullopt for user chains.
constexpr std::optional<hook> builtin_chain(std::string_view s) noexcept {
  return detail::lookup<hook>(chain_names, s);
}

// ---------------------------------------------------------------------------------------------
// Tables, chains and priorities.

using hook_mask = std::uint8_t;
constexpr hook_mask bit(hook h) noexcept { return static_cast<hook_mask>(1u << static_cast<unsigned>(h)); }
constexpr bool contains(hook_mask m, hook h) noexcept { return (m & bit(h)) != 0; }

// The built-in chains of each table: the *_VALID_HOOKS masks of net/ipv4/netfilter/iptable_*.c
// and net/ipv6/netfilter/ip6table_*.c (identical for both families). nftables' inet family has
// no predefined tables; rstwatch lays its own inet tables out the same way so that the
// iptables and nftables forms of a rule set hook in at the same places.
constexpr hook_mask builtin_chains(family, table t) noexcept {
  switch (t) {
    case table::raw: return bit(hook::prerouting) | bit(hook::output);
    case table::mangle:
      return bit(hook::prerouting) | bit(hook::input) | bit(hook::forward) | bit(hook::output) |
             bit(hook::postrouting);
    case table::nat:
      return bit(hook::prerouting) | bit(hook::input) | bit(hook::output) | bit(hook::postrouting);
    case table::filter:
    case table::security: return bit(hook::input) | bit(hook::forward) | bit(hook::output);
  }
  return 0;
}

constexpr bool has_chain(family f, table t, hook h) noexcept {
  return contains(builtin_chains(f, t), h);
}

// Hook priorities of include/uapi/linux/netfilter_ipv4.h (enum nf_ip_hook_priorities; the
// NF_IP6_PRI_* values of netfilter_ipv6.h are the same). Lower runs first on a hook.
namespace priority {
inline constexpr int raw = -300;           // NF_IP_PRI_RAW
inline constexpr int conntrack = -200;     // NF_IP_PRI_CONNTRACK
inline constexpr int mangle = -150;        // NF_IP_PRI_MANGLE
inline constexpr int nat_dst = -100;       // NF_IP_PRI_NAT_DST
inline constexpr int filter = 0;           // NF_IP_PRI_FILTER
inline constexpr int security = 50;        // NF_IP_PRI_SECURITY
inline constexpr int nat_src = 100;        // NF_IP_PRI_NAT_SRC
}  // namespace priority

// The priority at which a table's chain runs on a hook. nat has two: destination NAT before
// routing (PREROUTING, OUTPUT), source NAT after it (INPUT, POSTROUTING) — see
// net/netfilter/nf_nat_proto.c (nf_nat_ipv4_ops).
constexpr int hook_priority(table t, hook h) noexcept {
  switch (t) {
    case table::raw: return priority::raw;
    case table::mangle: return priority::mangle;
    case table::nat:
      return (h == hook::prerouting || h == hook::output) ? priority::nat_dst : priority::nat_src;
    case table::filter: return priority::filter;
    case table::security: return priority::security;
  }
  return 0;
}

// The nft base-chain type that reproduces an iptables table's chain: mangle OUTPUT is a
// `route` chain (it re-routes when the mark changes, iptable_mangle.c ipt_mangle_out), nat
// chains are `nat`, everything else `filter` (nft(8), CHAINS).
constexpr std::string_view nft_chain_type(table t, hook h) noexcept {
  if (t == table::nat) return "nat";
  if (t == table::mangle && h == hook::output) return "route";
  return "filter";
}

// ---------------------------------------------------------------------------------------------
// Targets and where they are accepted.

enum class target : std::uint8_t {
  accept, drop, return_, queue, user_chain,  // verdicts and jumps (no extension)
  log, nflog, reject, mark, connmark, dnat, snat, masquerade, redirect, ct, notrack, trace,
};
// The spelling after -j; user_chain has none (it is the chain's own name).
inline constexpr std::array<std::string_view, 17> target_names = {
    "ACCEPT", "DROP", "RETURN", "QUEUE", "", "LOG", "NFLOG", "REJECT",
    "MARK", "CONNMARK", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "CT", "NOTRACK", "TRACE"};
inline constexpr std::array<target, 17> all_targets = {
    target::accept, target::drop,     target::return_, target::queue,      target::user_chain,
    target::log,    target::nflog,    target::reject,  target::mark,       target::connmark,
    target::dnat,   target::snat,     target::masquerade, target::redirect, target::ct,
    target::notrack, target::trace};

constexpr std::string_view to_string(target t) noexcept {
  return target_names[static_cast<std::size_t>(t)];
}
constexpr std::optional<target> parse_target(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  return detail::lookup<target>(target_names, s);
}

// The four verdicts that need no extension (libiptc's standard targets).
constexpr bool is_verdict(target t) noexcept {
  return t == target::accept || t == target::drop || t == target::return_ || t == target::queue;
}

// Where the kernel lets an extension target be used: the `.table` and `.hooks` fields of its
// struct xt_target (checked by xt_check_target in net/netfilter/x_tables.c). No table means any.
struct target_scope {
  std::optional<table> only_table;
  hook_mask hooks;
};

inline constexpr hook_mask all_hook_bits = 0x1f;

constexpr target_scope scope_of(target t) noexcept {
  switch (t) {
    // net/ipv4/netfilter/ipt_REJECT.c and net/ipv6/netfilter/ip6t_REJECT.c: .table = "filter",
    // hooks LOCAL_IN | FORWARD | LOCAL_OUT.
    case target::reject:
      return {table::filter, bit(hook::input) | bit(hook::forward) | bit(hook::output)};
    // net/netfilter/xt_nat.c: DNAT before routing, SNAT after it; net/netfilter/xt_MASQUERADE.c
    // and xt_REDIRECT.c likewise.
    case target::dnat: return {table::nat, bit(hook::prerouting) | bit(hook::output)};
    case target::snat: return {table::nat, bit(hook::postrouting) | bit(hook::input)};
    case target::masquerade: return {table::nat, bit(hook::postrouting)};
    case target::redirect: return {table::nat, bit(hook::prerouting) | bit(hook::output)};
    // net/netfilter/xt_CT.c (CT, and NOTRACK, its old name for --notrack): .table = "raw", on
    // any of its hooks. (xt_TRACE.c says raw too, but iptables-nft makes TRACE the native
    // `meta nftrace set 1`, which any table takes: found with the real tools.)
    case target::ct:
    case target::notrack: return {table::raw, all_hook_bits};
    // LOG, NFLOG, MARK (revision 2), CONNMARK, the verdicts and jumps: anywhere.
    default: return {std::nullopt, all_hook_bits};
  }
}

enum class target_verdict : std::uint8_t {
  allowed,
  wrong_table,        // the kernel refuses: the target is bound to another table
  wrong_hook,         // the kernel refuses: not on this hook
  filtering_in_nat,   // iptables itself refuses DROP in nat (iptables/xshared.c)
  no_such_chain,      // the table has no built-in chain for this hook
};

// Whether `t` may appear in the built-in chain of `h` in `tb`. Rules in user chains inherit
// the constraints of every built-in chain that reaches them.
constexpr target_verdict check_target(family f, table tb, hook h, target t) noexcept {
  if (!has_chain(f, tb, h)) return target_verdict::no_such_chain;
  // "The "nat" table is not intended for filtering, the use of DROP is therefore inhibited."
  if (tb == table::nat && t == target::drop) return target_verdict::filtering_in_nat;
  auto s = scope_of(t);
  if (s.only_table && *s.only_table != tb) return target_verdict::wrong_table;
  if (!contains(s.hooks, h)) return target_verdict::wrong_hook;
  return target_verdict::allowed;
}

constexpr bool target_allowed(family f, table tb, hook h, target t) noexcept {
  return check_target(f, tb, h, t) == target_verdict::allowed;
}

// Matches the kernel binds to some hooks only (xt_check_match in net/netfilter/x_tables.c
// checks a match's `.hooks`; some checkentry functions refuse hooks for one option).
enum class match_limit : std::uint8_t {
  owner,            // net/netfilter/xt_owner.c: .hooks = LOCAL_OUT | POST_ROUTING (only there
                    // is the packet's socket this host's own)
  limit_iface_in,   // xt_addrtype.c addrtype_mt_checkentry_v1(): --limit-iface-in needs an
                    // input device, so neither LOCAL_OUT nor POST_ROUTING
  limit_iface_out,  // and --limit-iface-out an output device: neither PRE_ROUTING nor LOCAL_IN
};

constexpr hook_mask allowed_hooks(match_limit m) noexcept {
  switch (m) {
    case match_limit::owner: return bit(hook::output) | bit(hook::postrouting);
    case match_limit::limit_iface_in:
      return static_cast<hook_mask>(all_hook_bits & ~(bit(hook::output) | bit(hook::postrouting)));
    case match_limit::limit_iface_out:
      return static_cast<hook_mask>(all_hook_bits & ~(bit(hook::prerouting) | bit(hook::input)));
  }
  return all_hook_bits;
}

// ---------------------------------------------------------------------------------------------
// Chain names.

// XT_EXTENSION_MAXNAMELEN (29, include/uapi/linux/netfilter/x_tables.h) counts the NUL:
// a chain name has at most 28 characters.
inline constexpr std::size_t max_chain_name = 28;

// How a chain is declared in a restore file: a `:NAME POLICY [p:b]` line, or `-N NAME`.
// iptables 1.8.9 checks `-N` against every known target, the chain line only against the
// standard verdicts (iptables/xshared.c and iptables-restore.c).
enum class chain_declaration : std::uint8_t { chain_line, new_chain_command };

enum class chain_name_error : std::uint8_t {
  none,
  empty,
  too_long,             // "chain name `…' too long (must be under 29 chars)"
  starts_with_dash,     // "chain name not allowed to start with `-'"
  starts_with_bang,     // "chain name not allowed to start with `!'"
  has_whitespace,       // "Invalid chain name `…'"
  clashes_with_target,  // "chain name may not clash with target name"
};

inline constexpr std::array<std::string_view, 7> chain_name_error_texts = {
    "",
    "a chain name may not be empty",
    "a chain name has at most 28 characters",
    "a chain name may not start with '-'",
    "a chain name may not start with '!'",
    "a chain name may not contain whitespace",
    "a chain name may not clash with a target name",
};

constexpr std::string_view to_string(chain_name_error e) noexcept {
  return chain_name_error_texts[static_cast<std::size_t>(e)];
}

constexpr chain_name_error check_chain_name(std::string_view name,
                                            chain_declaration how) noexcept {
  if (name.empty()) return chain_name_error::empty;
  if (name.size() > max_chain_name) return chain_name_error::too_long;
  if (name.front() == '-') return chain_name_error::starts_with_dash;
  if (name.front() == '!') return chain_name_error::starts_with_bang;
  for (char c : name)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
      return chain_name_error::has_whitespace;
  if (auto t = parse_target(name)) {
    if (is_verdict(*t) || how == chain_declaration::new_chain_command)
      return chain_name_error::clashes_with_target;
  }
  return chain_name_error::none;
}

// ---------------------------------------------------------------------------------------------
// Packet paths.

// The three ways a packet crosses a host, as the seed's hook list describes them.
enum class path_kind : std::uint8_t { local_in, local_out, forwarded };
inline constexpr std::array<std::string_view, 3> path_kind_names = {"local-in", "local-out",
                                                                    "forwarded"};
constexpr std::string_view to_string(path_kind k) noexcept {
  return path_kind_names[static_cast<std::size_t>(k)];
}

struct step {
  table tbl;
  hook hk;
  int prio;
  friend constexpr bool operator==(step a, step b) noexcept {
    return a.tbl == b.tbl && a.hk == b.hk && a.prio == b.prio;
  }
};

// A packet path: at most 5 tables on each of at most 3 hooks.
class path {
 public:
  constexpr const step* begin() const noexcept { return steps_.data(); }
  constexpr const step* end() const noexcept { return steps_.data() + size_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr const step& operator[](std::size_t i) const noexcept { return steps_[i]; }
  constexpr void push_back(step s) noexcept { steps_[size_++] = s; }

 private:
  std::array<step, 15> steps_{};
  std::size_t size_ = 0;
};

// The hooks a packet passes, in order: local delivery PREROUTING → INPUT, local output OUTPUT
// → POSTROUTING, forwarding PREROUTING → FORWARD → POSTROUTING (the seed's "NetFilter Hooks").
struct hook_sequence {
  std::array<hook, 3> hooks{};
  std::size_t size = 0;
  constexpr const hook* begin() const noexcept { return hooks.data(); }
  constexpr const hook* end() const noexcept { return hooks.data() + size; }
};

constexpr hook_sequence hooks_of(path_kind k) noexcept {
  switch (k) {
    case path_kind::local_in: return {{hook::prerouting, hook::input}, 2};
    case path_kind::local_out: return {{hook::output, hook::postrouting}, 2};
    case path_kind::forwarded: return {{hook::prerouting, hook::forward, hook::postrouting}, 3};
  }
  return {};
}

// The ordered (table, chain) steps of a packet: per hook, every table with a chain there, by
// priority. nat is consulted only for the first packet of a connection (nf_nat_inet_fn looks
// up the NAT binding only for a conntrack entry without one): every later packet — and so
// every RST inside an established flow, or answering a SYN — skips the nat chains.
constexpr path packet_path(family f, path_kind k, bool first_packet = true) noexcept {
  path p;
  for (hook h : hooks_of(k)) {
    // Insertion by priority; five tables at most, so a simple selection is clearest.
    std::array<step, 5> on_hook{};
    std::size_t m = 0;
    for (table t : all_tables) {
      if (!has_chain(f, t, h)) continue;
      if (t == table::nat && !first_packet) continue;
      step s{t, h, hook_priority(t, h)};
      std::size_t j = m++;
      while (j > 0 && on_hook[j - 1].prio > s.prio) {
        on_hook[j] = on_hook[j - 1];
        --j;
      }
      on_hook[j] = s;
    }
    for (std::size_t j = 0; j < m; ++j) p.push_back(on_hook[j]);
  }
  return p;
}

}  // namespace rstwatch::netfilter
