// rstwatch-install: log every TCP reset this host sends, receives or forwards to a file of its
// own, rotated, and reloaded at boot — the seed's recipe without its three flaws (a filter that
// misses lines with the kernel uptime, an iptables-restore that flushes the filter table, an
// rc.local line appended on every run). Default: print the plan and change nothing.
// Exit status: 0 done, 1 a step failed (and was undone) or the rules file was refused, 2 usage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "atomic_file.hpp"
#include "plan.hpp"
#include "probe.hpp"

namespace emit = rstwatch::emit;
using namespace rstwatch::install;

namespace {

constexpr const char* me = "rstwatch-install";

void say(const std::string& s) { std::cerr << me << ": " << s << "\n"; }

// A diagnostic from the rules file (it has a line) shown with its source line and a caret; a
// configuration problem named by its command-line option.
void report(const rstwatch::diagnostic& d) {
  if (d.where.line != 0) {
    std::string line;
    if (auto s = read_state(d.file)) {
      std::string_view text = s->content;
      std::size_t off = 0;
      for (std::uint32_t l = 1; l < d.where.line && off < text.size(); ++off)
        if (text[off] == '\n') ++l;
      line = std::string(rstwatch::line_at(text, off));
    }
    std::cerr << rstwatch::format_with_source(d, line) << "\n";
    say("the rules file has errors: nothing was installed");
    return;
  }
  std::string option = d.file;
  if (option == "excluded_ports") option = "exclude-port";
  for (char& c : option)
    if (c == '_') c = '-';
  if (!option.empty() && option[0] != '-' && option[0] != '/') option = "--" + option;
  std::cerr << me << ": " << (option.empty() ? "" : option + ": ") << "error: " << d.what()
            << (d.hint.empty() ? "" : " (" + d.hint + ")") << "\n";
}

// Runs a script text with /bin/sh (the same text as the installed file, or its staged twin).
command_result run_script(const std::string& text, const std::string& arg) {
  return run("/bin/sh -c " + shell_quote(text) + " rstwatch-load " + arg);
}

void warn_about_namespace() {
  auto ns = probe_netns();
  if (ns.initial) return;
  if (!ns.all_netns)
    say("warning: this is not the initial network namespace and net.netfilter.nf_log_all_netns "
        "could not be read: the kernel logs nothing from here unless it is 1");
  else if (!*ns.all_netns)
    say("warning: this is not the initial network namespace and net.netfilter.nf_log_all_netns "
        "is 0: the kernel logs nothing from here (sysctl -w net.netfilter.nf_log_all_netns=1 "
        "in the initial namespace)");
}

// The backend check of --apply: never mix iptables-nft and iptables-legacy.
bool probe_backend(const emit::valid_config& c, std::string& why) {
  if (c->backend == emit::firewall_backend::nftables) {
    auto r = run("/usr/sbin/nft --version");
    if (r.status != 0) why = "nft is not usable: " + r.output;
    return r.status == 0;
  }
  auto p = probe_iptables(c->ipv6);
  if (!p.variant) {
    why = p.problem;
    return false;
  }
  say("iptables backend: " + std::string(to_string(*p.variant)) + " (" + p.version +
      "); every rule goes through it");
  return true;
}

void run_live(const options& o, const std::vector<std::string>& commands, bool& failed,
              std::string& why) {
  for (auto& cmd : commands) {
    if (!o.root.empty()) {
      std::cout << "not run under --root: " << cmd << "\n";
      continue;
    }
    if (cmd.rfind("systemctl ", 0) == 0 && cmd.find("rsyslog") == std::string::npos &&
        !systemd_running()) {
      std::cout << "systemd is not running: run later: " << cmd << "\n";
      continue;
    }
    if (cmd.find("rsyslog") != std::string::npos && system_rsyslogd_pid() == 0) {
      std::cout << "rsyslog is not running: start it to write the log file\n";
      continue;
    }
    if (cmd == restart_by_pid_file) {
      auto r = restart_rsyslogd_by_pid_file();
      std::cout << r.message << "\n";
      if (!r.ok) {
        failed = true;
        why = "the rsyslogd restart failed: " + r.message;
        return;
      }
      continue;
    }
    auto r = run(cmd);
    std::cout << "ran: " << cmd << "\n";
    if (r.status != 0) {
      failed = true;
      why = cmd + " failed: " + r.output;
      return;
    }
  }
}

// The old load script, with its rules paths moved under --root like the new one.
std::string staged_text(const options& o, const emit::valid_config& c, std::string text) {
  if (o.root.empty()) return text;
  const std::string from = " " + c->rules_dir + "/", to = " " + o.root + c->rules_dir + "/";
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

int apply(const options& o, const plan& p, const emit::valid_config& c) {
  std::string why;
  if (!probe_backend(c, why)) {
    say("error: " + why + "; nothing was changed");
    return 1;
  }
  warn_about_namespace();
  const auto old_script = read_state(staged(o, p.load_script_path));
  journal j;
  bool rules_touched = false;
  auto fail = [&](const std::string& step, const std::string& problem) {
    say("error: step '" + step + "' failed: " + problem);
    if (rules_touched) (void)run_script(p.staged_script, "stop");
    auto problems = j.roll_back();
    if (rules_touched && old_script)
      (void)run_script(staged_text(o, c, old_script->content), "start");
    else if (rules_touched)
      (void)drop_empty_tables(p.tables);
    for (auto& q : problems) say("rollback: " + q);
    say(problems.empty() ? "rolled back: the system is as it was before"
                         : "rollback was incomplete, see above");
    return 1;
  };
  for (auto& f : p.files) {
    bool changed = false;
    auto e = j.write(staged(o, f.path), f.content, f.mode, changed);
    if (!e.empty()) return fail("write " + f.path, e);
    std::cout << (changed ? "wrote     " : "unchanged ") << f.path << "\n";
  }
  rules_touched = true;
  if (old_script && old_script->content != p.load_script_text) {
    // The previous install may have loaded chains this one does not (e.g. IPv6): remove them.
    auto r = run_script(staged_text(o, c, old_script->content), "stop");
    if (r.status != 0) return fail("unload the previous rules", r.output);
  }
  auto r = run_script(p.staged_script, "start");
  if (r.status != 0) return fail("load the rules (sh " + p.load_script_path + " start)", r.output);
  std::cout << "loaded    the rules into this network namespace\n";
  bool failed = false;
  run_live(o, p.live_commands, failed, why);
  if (failed) return fail("live command", why);
  return 0;
}

std::string stage_relative(const options& o, const std::string& staged_path) {
  return o.root.empty() ? staged_path : staged_path.substr(o.root.size());
}

int uninstall(const options& o, const plan& p, const emit::valid_config& c) {
  warn_about_namespace();
  const auto manifest = read_state(staged(o, manifest_path(c)));
  std::vector<std::string> files, dirs;
  std::vector<std::string> rc_local;
  std::string log = c->log_file;
  if (manifest) {
    files = manifest_entries(manifest->content, "file");
    rc_local = manifest_entries(manifest->content, "rc-local");
    dirs = manifest_entries(manifest->content, "dir");
    auto logs = manifest_entries(manifest->content, "log");
    if (!logs.empty()) log = logs.front();
  } else {
    say("no manifest " + manifest_path(c) + ": removing the files this configuration names");
    for (auto& f : p.files) (f.path == emit::rc_local_path ? rc_local : files).push_back(f.path);
  }
  files.erase(std::remove(files.begin(), files.end(), manifest_path(c)), files.end());
  files.push_back(manifest_path(c));

  // 1. The rules: the installed script's stop removes exactly its chains (or table).
  const auto script = read_state(staged(o, c.load_script()));
  auto r = run_script(script ? script->content : p.staged_script, "stop");
  if (r.status != 0) {
    say("error: step 'unload the rules' failed: " + r.output + "; nothing else was changed");
    return 1;
  }
  std::cout << "unloaded  the rules from this network namespace\n";
  const auto tables = manifest ? manifest_entries(manifest->content, "table") : p.tables;
  for (auto& t : drop_empty_tables(tables))
    std::cout << "dropped   the empty table " << t << " that iptables-nft created for them\n";
  journal j;
  auto fail = [&](const std::string& step, const std::string& problem) {
    say("error: step '" + step + "' failed: " + problem);
    auto problems = j.roll_back();
    if (script) (void)run_script(staged_text(o, c, script->content), "start");
    for (auto& q : problems) say("rollback: " + q);
    say(problems.empty() ? "rolled back: the system is as it was before"
                         : "rollback was incomplete, see above");
    return 1;
  };
  // 2. The files, rc.local edited back (and removed when only rstwatch's skeleton is left).
  for (auto& path : rc_local) {
    auto old = read_state(staged(o, path));
    if (!old) continue;
    std::string kept = emit::rc_local_remove(old->content, c);
    bool changed = false;
    std::string e;
    if (kept == emit::rc_local_remove(emit::rc_local_install(std::nullopt, c), c))
      e = j.remove(staged(o, path), changed);
    else
      e = j.write(staged(o, path), kept, old->mode, changed);
    if (!e.empty()) return fail("edit " + path, e);
    std::cout << (changed ? "edited    " : "unchanged ") << path << "\n";
  }
  for (auto& path : files) {
    bool changed = false;
    auto e = j.remove(staged(o, path), changed);
    if (!e.empty()) return fail("remove " + path, e);
    std::cout << (changed ? "removed   " : "absent    ") << path << "\n";
  }
  // 3. The directories the install created, innermost first, when nothing else is in them.
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    auto d = staged(o, *it);
    if (is_directory(d) && directory_is_empty(d) && ::rmdir(d.c_str()) == 0)
      std::cout << "removed   " << *it << "/\n";
    else if (is_directory(d))
      std::cout << "kept      " << *it << "/ (not empty)\n";
  }
  // 4. The log files: kept unless --purge.
  const std::string staged_log_file = staged_log(o, log);
  if (o.purge) {
    const std::string dir = parent_of(staged_log_file);
    const std::string base = staged_log_file.substr(dir.size() + 1);
    if (DIR* d = ::opendir(dir.c_str())) {
      std::vector<std::string> victims;
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == base || n.rfind(base + "-", 0) == 0 || n.rfind(base + ".", 0) == 0)
          victims.push_back(dir + "/" + n);
      }
      ::closedir(d);
      std::sort(victims.begin(), victims.end());
      for (auto& v : victims) {
        if (auto e = remove_file(v); !e.empty()) return fail("purge " + v, e);
        std::cout << "purged    " << stage_relative(o, v) << "\n";
      }
      if (directory_is_empty(dir) && ::rmdir(dir.c_str()) == 0)
        std::cout << "removed   " << stage_relative(o, dir) << "/\n";
    }
  } else if (exists(staged_log_file)) {
    std::cout << "kept      " << log << " (--purge removes it)\n";
  }
  std::vector<std::string> live;
  if (std::find(files.begin(), files.end(), emit::systemd_unit_path(c)) != files.end()) {
    live.push_back("systemctl disable " + c.unit_name());
    live.push_back("systemctl daemon-reload");
  }
  live.push_back(rsyslog_restart_command());
  bool failed = false;
  std::string why;
  run_live(o, live, failed, why);
  if (failed) say("warning: " + why + " (the files are removed; restart rsyslog by hand)");
  return 0;
}

// --verify: one reset on loopback (a connection to a closed port), then its LOG line in the
// log file, where rsyslog must have put it.
int verify(const options& o, const emit::valid_config& c) {
  warn_about_namespace();
  const std::string log = staged_log(o, c->log_file);
  std::uint16_t port = 0;
  for (int attempt = 0; attempt < 20 && port == 0; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    if (fd >= 0) ::close(fd);  // closed again: nobody listens there now
    for (auto x : c->excluded_ports)
      if (x == port) port = 0;
  }
  if (port == 0) {
    say("error: --verify found no free loopback port");
    return 1;
  }
  const std::string dpt = "DPT=" + std::to_string(port) + " ";
  const std::string spt = "SPT=" + std::to_string(port) + " ";
  {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    int e = errno;
    ::close(fd);
    if (rc == 0 || e != ECONNREFUSED) {
      say("error: --verify expected a reset from 127.0.0.1:" + std::to_string(port) + ", got " +
          (rc == 0 ? std::string("a connection") : errno_text(e)));
      return 1;
    }
  }
  std::cout << "verify: connected to 127.0.0.1:" << port
            << ", which sent a reset; waiting for it in " << log << "\n";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.verify_seconds);
  for (;;) {
    std::vector<std::string> seen;
    if (auto s = read_state(log))
      for (auto line : emit::detail::split_lines(s->content))
        if (line.find(c->prefix) != std::string_view::npos &&
            (line.find(spt) != std::string_view::npos || line.find(dpt) != std::string_view::npos))
          seen.emplace_back(line);
    if (!seen.empty()) {
      std::cout << "verify: OK, rsyslog wrote " << seen.size() << " line(s) for it:\n";
      for (auto& l : seen) std::cout << l << "\n";
      return 0;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  say("error: --verify: no line with prefix \"" + c->prefix + "\" and port " +
      std::to_string(port) + " reached " + log + " within " + std::to_string(o.verify_seconds) +
      " s. Check: the rules are loaded (sh " + c.load_script() +
      " start), rsyslog runs with the drop-in " + emit::rsyslog_dropin_path(c) +
      ", and outside the initial network namespace net.netfilter.nf_log_all_netns=1");
  return 1;
}

// "HOST:PORT", "[V6]:PORT" or "HOST" (port 514).
bool parse_forward(const std::string& s, emit::forward_target& t) {
  std::string host = s, port;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos) return false;
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') return false;
      port = s.substr(close + 2);
    }
  } else if (auto colon = s.rfind(':'); colon != std::string::npos && s.find(':') == colon) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  t.host = host;
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
    unsigned long v = std::stoul(port);
    if (v == 0 || v > 65535) return false;
    t.port = static_cast<std::uint16_t>(v);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Log every TCP reset this host sends, receives or forwards to a file of its own "
      "(iptables/nft LOG -> rsyslog drop-in -> logrotate), loaded again at boot. Without "
      "--apply, --verify or --uninstall it only prints the plan.",
      me};
  options o;
  auto& k = o.config;
  std::string backend = "iptables", boot = "systemd", forward;
  std::vector<unsigned> ports;
  bool no_ipv6 = false, no_limit = false;
  app.add_option("--name", k.name, "1-19 of a-z 0-9 -; names files, chains and the prefix")
      ->capture_default_str();
  auto* prefix = app.add_option("--prefix", k.prefix, "LOG prefix (default '[NAME] ')");
  app.add_option("--exclude-port", ports, "skip resets whose either port is this (repeatable)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--log-file", k.log_file, "default /var/log/rstwatch/NAME.log");
  app.add_option("--backend", backend, "iptables or nftables")
      ->check(CLI::IsMember({"iptables", "nftables"}))
      ->capture_default_str();
  app.add_flag("--no-ipv6", no_ipv6, "log IPv4 resets only");
  app.add_option("--rotate-days", k.rotate_days, "rotated files kept")->capture_default_str();
  app.add_flag("--copytruncate", k.copytruncate, "rotate by copy and truncate (loses lines)");
  app.add_option("--forward", forward, "also send the lines to a central rsyslog, HOST[:PORT]");
  app.add_option("--from-rules", o.from_rules,
                 "install the LOG/NFLOG rules of this iptables-restore file");
  app.add_option("--boot", boot, "systemd, rc-local or none")
      ->check(CLI::IsMember({"systemd", "rc-local", "none"}))
      ->capture_default_str();
  app.add_flag("--no-limit", no_limit, "do not rate-limit the LOG rules");
  app.add_option("--root", o.root, "put every file under DIR; run no live service command");
  app.add_flag("--apply", o.apply, "write the files and load the rules");
  app.add_flag("--verify", o.verify, "provoke a reset on loopback and find it in the log file");
  auto* un = app.add_flag("--uninstall", o.uninstall, "remove exactly what the install added");
  app.add_flag("--purge", o.purge, "with --uninstall: remove the log files too")->needs(un);
  app.add_option("--verify-timeout", o.verify_seconds, "seconds --verify waits")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is no error; any other is a usage error
  }
  o.prefix_given = prefix->count() > 0;
  for (auto p : ports) k.excluded_ports.push_back(static_cast<std::uint16_t>(p));
  k.backend =
      backend == "nftables" ? emit::firewall_backend::nftables : emit::firewall_backend::iptables;
  k.boot = boot == "rc-local" ? emit::boot_method::rc_local
           : boot == "none"   ? emit::boot_method::none
                              : emit::boot_method::systemd;
  k.ipv6 = !no_ipv6;
  if (no_limit) k.limit.reset();
  if (!forward.empty()) {
    emit::forward_target t;
    if (!parse_forward(forward, t)) {
      say("--forward: error: expected HOST, HOST:PORT or [IPv6]:PORT, found '" + forward + "'");
      return 2;
    }
    k.forward = t;
  }
  if (o.uninstall && o.apply) {
    say("error: --apply and --uninstall exclude each other");
    return 2;
  }
  if (!o.root.empty()) {
    if (auto why = emit::detail::path_problem(o.root)) {
      say("--root: error: " + *why);
      return 2;
    }
    if (!is_directory(o.root)) {
      say("--root: error: " + o.root + " is not a directory");
      return 2;
    }
  }

  auto planned = build_plan(o);
  if (!planned) {
    report(planned.error());
    return planned.error().where.line != 0 || !o.from_rules.empty() ? 1 : 2;
  }
  const emit::valid_config& c = *planned->config;

  if (o.uninstall) return uninstall(o, *planned, c);
  if (!o.apply && !o.verify) {
    warn_about_namespace();
    std::string why;
    if (!probe_backend(c, why)) say("warning: --apply would stop here: " + why);
    std::string out = "# rstwatch-install plan for '" + c->name +
                      "' (dry run: nothing is changed; --apply carries it out)\n";
    print_plan(out, o, *planned);
    std::cout << out;
    return 0;
  }
  if (o.apply) {
    if (int rc = apply(o, *planned, c); rc != 0) return rc;
  }
  if (o.verify) return verify(o, c);
  return 0;
}
