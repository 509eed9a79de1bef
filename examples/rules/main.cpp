// rstwatch-rules: read an iptables-restore file and print it as iptables-save would (fmt), say
// what is wrong with it (check), what each chain and LOG rule does (explain), or translate it
// into an nftables script (to-nft). Exit status: 0 fine, 1 the file has errors, 2 usage error.
#include <rstwatch/netfilter.hpp>
#include <rstwatch/rules/check_rule.hpp>
#include <rstwatch/rules/nft.hpp>
#include <rstwatch/rules/parse.hpp>
#include <rstwatch/rules/saved.hpp>
#include <rstwatch/rules/validate.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace nf = rstwatch::netfilter;
namespace rules = rstwatch::rules;
namespace checks = rstwatch::rules::checks;

namespace {

struct input {
  std::string name;  // for diagnostics
  std::string text;
};

bool read_input(const std::string& path, input& in) {
  std::ostringstream s;
  if (path == "-") {
    in.name = "<stdin>";
    s << std::cin.rdbuf();
  } else {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "rstwatch-rules: cannot open %s\n", path.c_str());
      return false;
    }
    in.name = path;
    s << f.rdbuf();
  }
  in.text = s.str();
  return true;
}

// A syntax error, printed like a compiler's with the line and a caret.
int syntax_error(const rstwatch::diagnostic& d, const std::string& text) {
  std::size_t offset = 0;
  for (std::uint32_t line = 1; line < d.where.line && offset < text.size(); ++offset)
    if (text[offset] == '\n') ++line;
  std::cerr << rstwatch::format_with_source(d, rstwatch::line_at(text, offset)) << "\n";
  return 1;
}

// --- explain ---------------------------------------------------------------------------------

std::string where_packets_are(std::string_view chain) {
  auto h = nf::builtin_chain(chain);
  if (!h) return "";
  switch (*h) {
    case nf::hook::prerouting: return "as they arrive, before routing";
    case nf::hook::input: return "addressed to this host";
    case nf::hook::forward: return "forwarded through this host";
    case nf::hook::output: return "sent by this host";
    case nf::hook::postrouting: return "as they leave, after routing";
  }
  return "";
}

std::string flag_words(std::uint8_t bits) {
  static constexpr const char* names[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG"};
  std::string s;
  for (int i = 0; i < 6; ++i)
    if (bits & (1u << i)) s += std::string(s.empty() ? "" : ",") + names[i];
  return s;
}

std::string port_words(const checks::port_range& r) {
  return r.single() ? std::to_string(r.first)
                    : std::to_string(r.first) + " to " + std::to_string(r.last);
}

// Which packets a rule selects, in words.
std::string packets_of(const checks::rule_view& v) {
  std::string proto = v.protocol_name();
  std::string s = proto.empty() || proto == "all"
                      ? std::string("all packets")
                      : (v.protocol->bang.present() ? "packets other than " : "") +
                            [&] {
                              std::string u = proto;
                              for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                              return u;
                            }() +
                            " packets";
  auto add = [&](const std::optional<rstwatch::rules::ast::option>& o, const char* what) {
    if (o && !o->args.empty())
      s += std::string(" ") + what + (o->bang.present() ? " not " : " ") + o->args[0].value();
  };
  add(v.source, "from");
  add(v.destination, "to");
  add(v.in_interface, "coming in on");
  add(v.out_interface, "going out on");
  for (const char* p : {"tcp", "udp"}) {
    auto t = checks::tcp_of(v, p);
    if (!t) continue;
    if (t->source_port)
      s += std::string(" whose source port is ") + (t->source_port->negated ? "not " : "") +
           port_words(t->source_port->value);
    if (t->destination_port)
      s += std::string(t->source_port ? " and" : "") + " whose destination port is " +
           (t->destination_port->negated ? "not " : "") + port_words(t->destination_port->value);
    if (t->flags) {
      auto [mask, comp] = t->flags->value;
      std::string set = flag_words(comp), clear = flag_words(static_cast<std::uint8_t>(mask & ~comp));
      s += t->flags->negated ? " except those" : "";
      if (!set.empty()) s += " with " + set + " set";
      if (!clear.empty()) s += std::string(set.empty() ? " with " : " and ") + clear + " clear";
    }
    if (t->syn) s += t->syn_negated ? " that do not open a connection" : " that open a connection (SYN)";
  }
  for (const auto& m : v.matches) {
    if (m.name == "tcp" || m.name == "udp") continue;
    s += " matching -m " + m.name;
    for (const auto& o : m.options) {
      s += std::string(o.negated() ? " !" : "") + " " + std::string(o.opt->name.text);
      for (const auto& a : o.opt->args) s += " " + a.value();
    }
  }
  return s;
}

std::string level_words(std::uint8_t level) {
  static constexpr const char* names[] = {"emerg", "alert", "crit", "error",
                                          "warning", "notice", "info", "debug"};
  return std::to_string(level) + " (" + names[level & 7] + ")";
}

int explain(const rules::ast::file& f, nf::family fam) {
  std::string table;
  std::optional<nf::table> tbl;
  std::vector<std::string> chains;
  std::map<std::string, std::set<std::string>> callers;  // user chain → chains jumping to it
  std::vector<std::pair<rules::ast::line, checks::rule_view>> logs;
  auto flush = [&] {
    if (!tbl) return;
    std::cout << "*" << table << "\n";
    for (auto h : nf::all_hooks) {
      if (!nf::has_chain(fam, *tbl, h)) continue;
      std::cout << "  " << nf::chain_name(h) << ": hook " << nf::to_string(h) << " ("
                << nf::kernel_name(h) << "), priority " << nf::hook_priority(*tbl, h) << ", "
                << nf::nft_chain_type(*tbl, h) << " chain; sees packets "
                << where_packets_are(nf::chain_name(h)) << "\n";
    }
    for (const auto& c : chains) {
      if (nf::builtin_chain(c) && nf::has_chain(fam, *tbl, *nf::builtin_chain(c))) continue;
      std::cout << "  " << c << ": user chain, ";
      auto it = callers.find(c);
      if (it == callers.end()) {
        std::cout << "no rule jumps to it\n";
      } else {
        std::cout << "called from";
        for (const auto& from : it->second) std::cout << " " << from;
        std::cout << "\n";
      }
    }
    for (const auto& [line, v] : logs) {
      auto log = checks::log_of(v);
      std::string where = where_packets_are(v.chain);
      std::cout << "  line " << line.text.where.line << ": logs " << packets_of(v);
      if (!where.empty()) std::cout << ", " << where;
      else {
        std::cout << ", in user chain " << v.chain;
        auto it = callers.find(v.chain);
        if (it == callers.end()) {
          std::cout << " (which no rule jumps to)";
        } else {
          std::cout << " (called from";
          for (const auto& from : it->second) std::cout << " " << from;
          std::cout << ")";
        }
      }
      std::cout << ", to the kernel log with prefix \"" << log->prefix << "\" at level "
                << level_words(log->level);
      std::vector<std::string> extra;
      if (log->tcp_sequence) extra.push_back("TCP sequence numbers");
      if (log->tcp_options) extra.push_back("TCP options");
      if (log->ip_options) extra.push_back("IP options");
      if (log->uid) extra.push_back("the sending user id");
      if (log->macdecode) extra.push_back("decoded MAC addresses");
      for (std::size_t i = 0; i < extra.size(); ++i)
        std::cout << (i == 0 ? ", with " : i + 1 == extra.size() ? " and " : ", ") << extra[i];
      std::cout << "\n";
    }
  };
  for (const auto& l : f.lines) {
    using k = rules::ast::line_kind;
    if (l.kind == k::table) {
      table = std::string(l.table.text);
      tbl = nf::parse_table(l.table.text);
      chains.clear();
      callers.clear();
      logs.clear();
    } else if (l.kind == k::chain) {
      chains.emplace_back(l.chain.name.text);
    } else if (l.kind == k::rule) {
      auto v = checks::view_rule(l, fam);
      if (v.cmd == checks::command::new_chain) chains.push_back(v.chain);
      if (!v.target.empty() && !nf::parse_target(v.target) && !checks::known_unmodelled(v.target, true))
        callers[v.target].insert(v.chain);
      if (v.target == "LOG") logs.emplace_back(l, std::move(v));
    } else if (l.kind == k::commit) {
      flush();
      tbl.reset();
    }
  }
  flush();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Read, check, explain and translate iptables-restore files", "rstwatch-rules"};
  app.require_subcommand(1);

  std::string path;
  bool v4 = false, v6 = false, counters = false, source = false, werror = false;
  auto common = [&](CLI::App* sub) {
    sub->add_flag("-4", v4, "read an iptables (IPv4) file (the default)");
    sub->add_flag("-6", v6, "read an ip6tables (IPv6) file");
    sub->add_option("FILE", path, "the restore file, or - for standard input")->required();
  };
  CLI::App* fmt = app.add_subcommand("fmt", "print the file as iptables-save would print it");
  common(fmt);
  fmt->add_flag("--counters", counters, "print counters, as iptables-save -c");
  fmt->add_flag("--source", source, "print the file exactly as written");
  CLI::App* check = app.add_subcommand("check", "report errors and warnings like a compiler");
  common(check);
  check->add_flag("--werror", werror, "treat warnings as errors");
  CLI::App* expl = app.add_subcommand("explain", "say what each chain and LOG rule does");
  common(expl);
  CLI::App* tonft = app.add_subcommand("to-nft", "translate the file into an nftables script");
  common(tonft);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return 2;
  }
  if (v4 && v6) {
    std::fprintf(stderr, "rstwatch-rules: -4 and -6 exclude each other\n");
    return 2;
  }
  const nf::family fam = v6 ? nf::family::ipv6 : nf::family::ipv4;

  input in;
  if (!read_input(path, in)) return 1;
  auto parsed = rules::parse(in.text, in.name);
  if (!parsed) return syntax_error(parsed.error(), in.text);
  const rules::ast::file& f = *parsed;

  if (fmt->parsed()) {
    if (source) {
      std::cout << rules::print_source(f);
      return 0;
    }
    rules::restore_options ro;
    ro.fam = v6 ? rules::family::ipv6 : rules::family::ipv4;
    ro.counters = counters;
    ro.file_name = in.name;
    rules::save_options so;
    so.counters = counters;
    auto rs = rules::restore(rules::empty_ruleset(ro.fam), f, ro);
    if (!rs) return syntax_error(rs.error(), in.text);
    // Streamed: a 100,000-rule file is not held a second time as one string.
    rules::write_saved(*rs, [](std::string_view piece) {
      std::cout.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    }, so);
    return 0;
  }

  rules::report r = rules::validate(f, {fam, in.name});
  if (check->parsed()) {
    std::cerr << rules::format_report(r, f);
    std::cerr << in.name << ": " << r.errors() << " error(s), " << r.warnings()
              << " warning(s)\n";
    return r.errors() > 0 || (werror && r.warnings() > 0) ? 1 : 0;
  }
  if (expl->parsed()) return explain(f, fam);

  // to-nft: only a file iptables would load is translated.
  if (!r.ok()) {
    std::cerr << rules::format_report(r, f);
    return 1;
  }
  auto nft = rules::to_nft(f, {fam, in.name});
  if (!nft) {
    std::string_view line = nft.error().where.line >= 1 && nft.error().where.line <= f.lines.size()
                                ? f.lines[nft.error().where.line - 1].text.text
                                : std::string_view();
    std::cerr << rstwatch::format_with_source(nft.error(), line) << "\n";
    return 1;
  }
  std::cout << *nft;
  return 0;
}
