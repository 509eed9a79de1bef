// The install plan: every file with its full content and mode, every command, every note. A dry
// run prints it; --apply carries it out; --uninstall has a plan of its own.
#pragma once

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <rstwatch/emit/config.hpp>
#include <rstwatch/emit/firewall.hpp>
#include <rstwatch/emit/logrotate.hpp>
#include <rstwatch/emit/rc_local.hpp>
#include <rstwatch/emit/rsyslog.hpp>
#include <rstwatch/emit/systemd.hpp>
#include <string>
#include <vector>

#include "atomic_file.hpp"
#include "from_rules.hpp"
#include "probe.hpp"
#include "restart.hpp"

namespace rstwatch::install {

struct options {
  emit::install_config config;
  bool prefix_given = false;
  std::string root;        // "" is the live system
  std::string from_rules;  // path of the operator's restore file
  bool apply = false, verify = false, uninstall = false, purge = false;
  unsigned verify_seconds = 10;
};

struct planned_file {
  std::string path;  // final path, as the contents name it
  std::string content;
  unsigned mode = 0644;
  std::string what;
};

struct plan {
  std::optional<emit::valid_config> config;  // validated, with the prefix of --from-rules
  std::vector<planned_file> files;
  std::vector<std::string> dirs;           // directories the install creates (or created before)
  std::vector<std::string> tables;         // "ip mangle": iptables-nft tables the install creates
  std::string log_file;                    // final path
  std::string load_script_path;            // final path
  std::string load_script_text;            // the load script as written
  std::string staged_script;               // the load script with staged paths, run by --apply
  std::vector<std::string> live_commands;  // run under the live system, printed with --root
  std::vector<std::string> notes;          // rate limiting, backend, warnings
  std::vector<std::string> not_installed;  // --from-rules lines left out
};

// Where a final path lives on this run: under --root, inside it.
inline std::string staged(const options& o, const std::string& path) {
  return o.root.empty() ? path : o.root + path;
}

// The log file as rsyslog will write it: a path already inside --root is taken as is (tests
// point the drop-in at their staging tree), any other is staged like the other files.
inline std::string staged_log(const options& o, const std::string& log) {
  if (o.root.empty() || log.compare(0, o.root.size() + 1, o.root + "/") == 0) return log;
  return o.root + log;
}

inline std::string manifest_path(const emit::valid_config& c) {
  return c->rules_dir + "/" + c->name + ".manifest";
}

// The manifest's entries of one kind ("file", "dir", ...), in order.
inline std::vector<std::string> manifest_entries(const std::string& text, std::string_view kind) {
  std::vector<std::string> out;
  for (auto line : emit::detail::split_lines(text))
    if (line.size() > kind.size() + 1 && line.substr(0, kind.size()) == kind &&
        line[kind.size()] == ' ')
      out.emplace_back(line.substr(kind.size() + 1));
  return out;
}

// The log directory as logrotate will find it; before rsyslog has created it, as rsyslog will
// (dirCreateMode, owned by rsyslogd's user: root on Debian).
inline emit::directory_facts log_directory_facts(const options& o, const emit::valid_config& c) {
  emit::directory_facts f;
  f.mode = c->dir_mode;
  struct stat st {};
  if (::stat(parent_of(staged_log(o, c->log_file)).c_str(), &st) == 0) {
    f.mode = st.st_mode & 07777;
    f.gid = st.st_gid;
    if (const passwd* pw = ::getpwuid(st.st_uid)) f.owner = pw->pw_name;
    if (const group* gr = ::getgrgid(st.st_gid)) f.group = gr->gr_name;
  }
  return f;
}

// The directories of `files` that do not exist yet under --root, outermost first, merged with
// those an earlier install recorded (a re-install must not forget them).
inline std::vector<std::string> directories_to_create(const options& o,
                                                      const std::vector<planned_file>& files,
                                                      const std::vector<std::string>& earlier) {
  std::vector<std::string> out = earlier;
  auto add = [&](const std::string& d) {
    for (auto& x : out)
      if (x == d) return;
    out.push_back(d);
  };
  for (auto& f : files) {
    std::vector<std::string> missing;
    for (std::string d = parent_of(f.path); d != "/" && !is_directory(staged(o, d));
         d = parent_of(d))
      missing.insert(missing.begin(), d);
    for (auto& d : missing) add(d);
  }
  return out;
}

// Builds the plan for an install of `o` (also the basis of --uninstall and --verify).
[[nodiscard]] inline result<plan> build_plan(options o) {
  plan p;
  std::optional<selected_rules> selected;
  std::string rules_text;  // keeps the AST's views alive
  std::optional<rules::ast::file> parsed;
  bool ipv6 = o.config.ipv6;
  if (!o.from_rules.empty()) {
    auto s = read_state(o.from_rules);
    if (!s) return emit::detail::config_error(o.from_rules, "cannot read the rules file");
    rules_text = std::move(s->content);
    auto f = rules::parse(rules_text, o.from_rules);
    if (!f) return std::move(f).error();
    parsed = std::move(*f);  // selected_rules points into its lines
    auto sel = select_log_rules(*parsed, o.from_rules, o.config.name, o.config.limit);
    if (!sel) return std::move(sel).error();
    selected = std::move(*sel);
    if (selected->log_prefixes.size() > 1)
      return emit::detail::config_error(
          o.from_rules, "its LOG rules use " + std::to_string(selected->log_prefixes.size()) +
                            " different prefixes; the rsyslog drop-in files one");
    if (selected->log_prefixes.size() == 1) {
      const auto& fp = selected->log_prefixes.front();
      if (fp.empty())
        return emit::detail::config_error(
            o.from_rules, "a LOG rule without --log-prefix cannot be told apart in the kernel log");
      if (o.prefix_given && o.config.prefix != fp)
        return emit::detail::config_error(
            "--prefix",
            "--prefix '" + o.config.prefix + "' differs from the file's LOG prefix '" + fp + "'");
      o.config.prefix = fp;
    }
  }
  auto checked = emit::validate(o.config);
  if (!checked) return std::move(checked).error();
  p.config = *checked;
  const emit::valid_config& c = *checked;
  p.log_file = c->log_file;

  // A copy whose paths point into --root: the load script run now must read the staged files.
  emit::valid_config staged_c = c;
  if (!o.root.empty()) {
    auto k = c.get();
    k.rules_dir = o.root + k.rules_dir;
    auto sc = emit::validate(k);
    if (!sc) return std::move(sc).error();
    staged_c = std::move(*sc);
  }

  if (selected && c->backend == emit::firewall_backend::nftables) {
    auto text = own_table_nft(*selected, c, o.from_rules);
    if (!text) return std::move(text).error();
    p.files.push_back({c.nft_file(), *text, 0644,
                       "nftables rules (own table " + c.nft_table() + ", from --from-rules)"});
    p.load_script_text = emit::load_script(c);
    p.staged_script = emit::load_script(staged_c);
    p.not_installed = selected->not_installed;
    if (selected->has_nflog)
      p.notes.push_back(
          "NFLOG rules log through nfnetlink_log (ulogd), not the kernel log: the rsyslog "
          "drop-in does not see their lines");
  } else if (selected) {
    std::string v4 = own_chains_file(*selected, c, o.from_rules, false);
    p.files.push_back({c.rules_file(), v4, 0644, "IPv4 rules (own chains, from --from-rules)"});
    if (ipv6) {
      // The same rules for IPv6 when ip6tables accepts them (no IPv4 address, no icmp match).
      std::string v6 = own_chains_file(*selected, c, o.from_rules, true);
      auto f6 = rules::parse(v6, c.rules6_file());
      rules::validate_options vo;
      vo.family = netfilter::family::ipv6;
      vo.file_name = c.rules6_file();
      std::string why;
      if (!f6) {
        why = format(f6.error());
      } else {
        for (auto& d : rules::validate(*f6, vo).diagnostics)
          if (d.level == severity::error && why.empty()) why = format(d);
      }
      if (why.empty()) {
        // The validator does not know every family difference (an IPv4 address in -s, say):
        // ip6tables-restore --test parses the file as a load would and commits nothing.
        auto t = run("printf '%s' " + shell_quote(v6) +
                     " | /usr/sbin/ip6tables-restore --test --noflush");
        if (t.status != 0) why = "ip6tables-restore --test: " + t.output;
        while (!why.empty() && why.back() == '\n') why.pop_back();
      }
      if (why.empty()) {
        p.files.push_back({c.rules6_file(), v6, 0644, "IPv6 rules (the same rules)"});
      } else {
        ipv6 = false;
        p.notes.push_back("IPv6: not installed, ip6tables would refuse the rules: " + why);
      }
    }
    p.load_script_text = own_chains_script(*selected, c, ipv6);
    p.staged_script = own_chains_script(*selected, staged_c, ipv6);
    p.not_installed = selected->not_installed;
    if (selected->has_nflog)
      p.notes.push_back(
          "NFLOG rules log through nfnetlink_log (ulogd), not the kernel log: the rsyslog "
          "drop-in does not see their lines");
  } else if (c->backend == emit::firewall_backend::iptables) {
    p.files.push_back({c.rules_file(), emit::iptables_rules(c, emit::ip_family::ipv4), 0644,
                       "IPv4 rules (own chain " + c.chain() + ")"});
    if (c->ipv6)
      p.files.push_back({c.rules6_file(), emit::iptables_rules(c, emit::ip_family::ipv6), 0644,
                         "IPv6 rules (own chain " + c.chain() + ")"});
    p.load_script_text = emit::load_script(c);
    p.staged_script = emit::load_script(staged_c);
  } else {
    p.files.push_back({c.nft_file(), emit::nft_rules(c), 0644,
                       "nftables rules (own table " + c.nft_table() + ")"});
    p.load_script_text = emit::load_script(c);
    p.staged_script = emit::load_script(staged_c);
  }
  p.load_script_path = c.load_script();
  p.files.push_back({c.load_script(), p.load_script_text, 0755,
                     "load script: sh " + c.load_script() + " start|stop"});
  p.files.push_back({emit::rsyslog_dropin_path(c), emit::rsyslog_dropin(c), 0644,
                     "rsyslog drop-in: lines with prefix \"" + c->prefix + "\" to " + c->log_file});
  auto stanza = emit::logrotate_stanza(c, emit::logrotate_style::safe, log_directory_facts(o, c));
  if (!stanza) return std::move(stanza).error();
  p.files.push_back({emit::logrotate_path(c), *stanza, 0644,
                     "logrotate: daily, " + std::to_string(c->rotate_days) + " days"});
  if (c->boot == emit::boot_method::systemd) {
    p.files.push_back({emit::systemd_unit_path(c), emit::systemd_unit(c), 0644,
                       "systemd unit: loads the rules at boot"});
    p.live_commands.push_back("systemctl daemon-reload");
    p.live_commands.push_back("systemctl enable " + c.unit_name());
  } else if (c->boot == emit::boot_method::rc_local) {
    auto old = read_state(staged(o, std::string(emit::rc_local_path)));
    std::optional<std::string_view> text;
    if (old) text = old->content;
    // An operator's executable rc.local keeps its mode; a new one gets 0755 (rc-local.service
    // runs it only when it is executable).
    unsigned mode = old && (old->mode & 0100) ? old->mode : emit::rc_local_mode;
    p.files.push_back({std::string(emit::rc_local_path), emit::rc_local_install(text, c), mode,
                       "rc.local: loads the rules at boot"});
  }
  p.live_commands.push_back(rsyslog_restart_command());

  std::vector<std::string> earlier;
  if (auto m = read_state(staged(o, manifest_path(c)))) {
    earlier = manifest_entries(m->content, "dir");
    p.tables = manifest_entries(m->content, "table");
  }
  if (c->backend == emit::firewall_backend::iptables &&
      variant_of(run("/usr/sbin/iptables -V").output) == iptables_variant::nf_tables) {
    // iptables-nft creates a table on its first use and leaves it, empty, when its last rule
    // goes: remember the tables that do not exist yet, so that uninstall can drop them again.
    std::vector<std::string> used;
    if (selected)
      for (auto& k : selected->chains) used.push_back(k.table);
    else
      used.push_back("filter");
    for (std::string fam : {"ip", "ip6"}) {
      if (fam == "ip6" && !ipv6) continue;
      for (auto& t : used) {
        std::string entry = fam + " " + t;
        if (std::find(p.tables.begin(), p.tables.end(), entry) != p.tables.end()) continue;
        if (run("/usr/sbin/nft list table " + entry + " >/dev/null 2>&1").status != 0)
          p.tables.push_back(entry);
      }
    }
  }
  std::vector<planned_file> all = p.files;
  all.push_back({manifest_path(c), "", 0644, ""});
  p.dirs = directories_to_create(o, all, earlier);
  std::string manifest = "# rstwatch " + c->name +
                         ": what rstwatch-install wrote; --uninstall removes exactly this.\n";
  for (auto& f : p.files)
    manifest += (f.path == emit::rc_local_path ? "rc-local " : "file ") + f.path + "\n";
  for (auto& d : p.dirs) manifest += "dir " + d + "\n";
  for (auto& t : p.tables) manifest += "table " + t + "\n";
  manifest += "log " + c->log_file + "\n";
  p.files.push_back({manifest_path(c), manifest, 0644, "manifest: what --uninstall removes"});

  if (c->limit)
    p.notes.push_back("rate limit: at most " + std::to_string(c->limit->per_second) +
                      " LOG lines per second, bursts of " + std::to_string(c->limit->burst) +
                      " (-m limit), so a port scan cannot flood the kernel log; --no-limit "
                      "turns it off");
  else
    p.notes.push_back("rate limit: OFF (--no-limit): every reset is logged, a flood included");
  return p;
}

// Drops each of `tables` ("ip mangle") that holds no rule, no user chain and no DROP policy: the
// empty table iptables-nft left behind after rstwatch's chains went (no verdict depends on it).
inline std::vector<std::string> drop_empty_tables(const std::vector<std::string>& tables) {
  std::vector<std::string> dropped;
  for (auto& entry : tables) {
    auto sp = entry.find(' ');
    const std::string fam = entry.substr(0, sp), table = entry.substr(sp + 1);
    auto saved = run("/usr/sbin/" + std::string(fam == "ip6" ? "ip6tables" : "iptables") +
                     "-save -t " + table);
    if (saved.status != 0) continue;
    if (tables_with_rules(saved.output).empty() &&
        run("/usr/sbin/nft delete table " + entry + " 2>/dev/null").status == 0)
      dropped.push_back(entry);
  }
  return dropped;
}

inline void print_plan(std::string& out, const options& o, const plan& p) {
  for (auto& n : p.notes) out += "note: " + n + "\n";
  for (auto& d : p.dirs)
    if (!is_directory(staged(o, d))) out += "\n== create directory " + d + "\n";
  for (auto& f : p.files) {
    out += "\n== file " + f.path + " (mode " + emit::detail::octal(f.mode) + "; " + f.what + ")";
    if (!o.root.empty()) out += "\n   staged at " + staged(o, f.path);
    out += "\n" + f.content;
    if (!f.content.empty() && f.content.back() != '\n') out += "\n";
  }
  out += "\n== commands\n";
  out += "sh " + p.load_script_path + " start    # load the rules into this network namespace\n";
  for (auto& c : p.live_commands)
    out += c + (o.root.empty() ? "\n" : "    # not run under --root\n");
  if (!p.not_installed.empty()) {
    out += "\n== not installed from " + o.from_rules + "\n";
    for (auto& n : p.not_installed) out += n + "\n";
  }
}

}  // namespace rstwatch::install
