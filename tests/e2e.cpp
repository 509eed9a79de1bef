// The whole pipeline, for real (issue 6, "End to end"): rstwatch-install in the server's and the
// router's namespaces, a private rsyslogd with the emitted drop-in, rstwatch-read --follow on
// the log file, every kind of reset in IPv4 and IPv6, and the real logrotate forcing two
// rotations meanwhile, once per rotation style. Root only; [kmsg].
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <support/daemons.hpp>
#include <support/json_lines.hpp>
#include <thread>
#include <tuple>
#include <vector>

using namespace rstwatch::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string installer = RSTWATCH_INSTALL_BIN;
const std::string reader = RSTWATCH_READ_BIN;
const std::string provoke =
    "python3 " + std::string(RSTWATCH_SOURCE_DIR) + "/tests/support/provoke_reset.py";

struct family {
  bool v6;
  std::string client, server;
};
const family families[] = {{false, "10.77.1.2", "10.77.2.2"}, {true, "fd77:1::2", "fd77:2::2"}};

// The kinds of reset of tests/log_kernel.cpp. "Forwarded" is not a kind of its own: it is the
// router's line for every reset that crosses it.
const std::vector<std::string> modes = {"closed", "server-abort", "client-abort", "unread",
                                        "rejected"};
constexpr int reject_ports = 7500;  // the router rejects SYNs to 7500-7599 with tcp-reset
constexpr int burst_port = 7300;    // closed on the server: the burst's SYNs are refused
constexpr int burst_client_port = 40000;
constexpr int burst_size = 300;

// One LOG line as the scenario expects it: the host that logged it (known by its interfaces)
// and what that host saw.
struct seen {
  std::string logger, sender, in, out;
  bool from_server;  // the RST's source is the server's address and port
  bool operator<(const seen& o) const {
    return std::tie(logger, sender, in, out, from_server) <
           std::tie(o.logger, o.sender, o.in, o.out, o.from_server);
  }
  bool operator==(const seen& o) const { return !(*this < o) && !(o < *this); }
};

// Which host logs what, with rules on the server and the router (the client has none): the
// server logs what it sends or receives, the router what it forwards and what it sends itself.
// The router's REJECT answers in the server's name.
std::multiset<seen> expected_lines(const std::string& mode) {
  if (mode == "rejected") return {{"router", "local", "", "r1", true}};
  if (mode == "client-abort")
    return {{"server", "remote", "s0", "", false}, {"router", "transit", "r1", "r2", false}};
  return {{"server", "local", "", "s0", true}, {"router", "transit", "r2", "r1", true}};
}

std::string logger_of(const json& e) {
  for (auto key : {"in", "out"}) {
    if (!e[key].is_string()) continue;
    auto dev = e[key].get<std::string>();
    if (dev == "s0") return "server";
    if (dev == "r1" || dev == "r2") return "router";
  }
  return "?";
}

// The connection a line belongs to, as "client [port] > server port", whichever way the RST
// went; with its direction.
struct keyed {
  std::string connection;
  bool from_server;
  int server_port;
  std::string server;
  seen what;
};
keyed key_of(const json& e) {
  keyed k;
  auto src = e["src"].get<std::string>();
  k.from_server = src == families[0].server || src == families[1].server;
  const auto& s = k.from_server ? e["src"] : e["dst"];
  const auto& sp = k.from_server ? e["sport"] : e["dport"];
  const auto& c = k.from_server ? e["dst"] : e["src"];
  const auto& cp = k.from_server ? e["dport"] : e["sport"];
  k.server = s.get<std::string>();
  k.server_port = sp.get<int>();
  k.connection = c.get<std::string>() + " " + std::to_string(cp.get<int>()) + " > " + k.server +
                 " " + std::to_string(k.server_port);
  auto device = [&](const char* key) {
    return e[key].is_string() ? e[key].get<std::string>() : std::string("null");
  };
  k.what = {logger_of(e), e["sender"].get<std::string>(), device("in"), device("out"),
            k.from_server};
  return k;
}

// The numbers of the reader's final line: lines, resets, other, ignored, malformed, rotations,
// truncations.
std::vector<unsigned long> accounting(const std::string& err) {
  auto pos = err.rfind("rstwatch-read: ");
  REQUIRE(pos != std::string::npos);
  std::vector<unsigned long> n(7);
  REQUIRE(std::sscanf(err.c_str() + pos,
                      "rstwatch-read: %lu lines: %lu resets, %lu other records, %lu ignored, "
                      "%lu malformed, %lu rotations, %lu truncations",
                      &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6]) == 7);
  return n;
}

// A background process, killed on scope exit if it is still running.
struct background {
  int pid = -1;
  ~background() {
    if (pid > 0) ::kill(pid, SIGKILL);
  }
  // SIGINT, then waits up to 5 s for it to exit.
  bool interrupt() {
    auto r = run("kill -INT " + std::to_string(pid) + "; for i in $(seq 50); do kill -0 " +
                 std::to_string(pid) + " 2>/dev/null || exit 0; sleep 0.1; done; exit 1");
    if (r.status == 0) pid = -1;
    return r.status == 0;
  }
};

// client c0 — r1 router r2 — s0 server, as in tests/log_kernel.cpp, but with no hand-written
// LOG rule: the installer loads its rules in the server and the router.
class pipeline {
 public:
  explicit pipeline(bool copytruncate)
      : all_netns_("/proc/sys/net/netfilter/nf_log_all_netns", "1"),
        client_("ec"),
        router_("er"),
        server_("es"),
        stage_("rstw-e2e-stage"),
        work_("rstw-e2e-work"),
        name_(unique_tag("e2e")) {
    client_.link(router_, "c0", {"10.77.1.2/24", "fd77:1::2/64"}, "r1",
                 {"10.77.1.1/24", "fd77:1::1/64"});
    router_.link(server_, "r2", {"10.77.2.1/24", "fd77:2::1/64"}, "s0",
                 {"10.77.2.2/24", "fd77:2::2/64"});
    RSTWATCH_REQUIRE_OK(
        client_.exec("ip route add default via 10.77.1.1 && "
                     "ip -6 route add default via fd77:1::1"));
    RSTWATCH_REQUIRE_OK(
        server_.exec("ip route add default via 10.77.2.1 && "
                     "ip -6 route add default via fd77:2::1"));
    RSTWATCH_REQUIRE_OK(
        router_.exec("sysctl -qw net.ipv4.ip_forward=1 "
                     "net.ipv6.conf.all.forwarding=1"));
    // The operator's tree; the log file exists (empty) before the reader starts on it.
    log_ = stage_ / ("var/log/rstwatch/" + name_ + ".log");
    RSTWATCH_REQUIRE_OK(run("cd " + shell_quote(stage_.path()) +
                            " && mkdir -p etc/rsyslog.d etc/logrotate.d etc/systemd/system "
                            "var/log/rstwatch && touch " +
                            shell_quote(log_) + " && chmod 0640 " + shell_quote(log_)));
    const std::string args = "--root " + stage_.path() + " --log-file " + log_ + " --name " +
                             name_ + (copytruncate ? " --copytruncate" : "") + " --apply";
    // The same install in both: the second finds the files unchanged and loads the rules.
    for (auto* ns : {&server_, &router_}) {
      auto r = run(ns->prefix() + installer + " " + args);
      INFO(r.output);
      REQUIRE(r.status == 0);
      auto rules = ns->exec("iptables-save; ip6tables-save").output;
      INFO(rules);
      REQUIRE(rules.find("--log-prefix \"[" + name_ + "] \"") != std::string::npos);
    }
    for (const char* ipt : {"iptables", "ip6tables"})
      RSTWATCH_REQUIRE_OK(router_.exec(
          std::string(ipt) + " -A FORWARD -p tcp --dport " + std::to_string(reject_ports) + ":" +
          std::to_string(reject_ports + 99) + " --syn -j REJECT --reject-with tcp-reset"));
    // The emitted stanza, its reopen aimed at the private rsyslogd instead of the system's
    // (what Debian's rsyslog-rotate does to the system's rsyslog).
    stanza_ = read_file(stage_ / ("etc/logrotate.d/rstwatch-" + name_));
    const std::string reopen = "\t\t/usr/lib/rsyslog/rsyslog-rotate\n";
    auto at = stanza_.find(reopen);
    if (copytruncate) {
      REQUIRE(stanza_.find("\tcopytruncate\n") != std::string::npos);
      REQUIRE(at == std::string::npos);
    } else {
      REQUIRE(at != std::string::npos);
      stanza_.replace(at, reopen.size(), "\t\tkill -HUP $(cat " + (work_ / "rsyslogd.pid") + ")\n");
    }
    write_file(work_ / "logrotate.conf", stanza_);
    daemon_ = std::make_unique<private_rsyslogd>(
        work_.path(), "global(workDirectory=\"" + (work_ / "work") +
                          "\")\nmodule(load=\"imklog\")\ninclude(file=\"" +
                          (stage_ / ("etc/rsyslog.d/30-rstwatch-" + name_ + ".conf")) +
                          "\")\naction(type=\"omfile\" file=\"" + (work_ / "rest.log") + "\")\n");
    out_ = work_ / "out.json";
    err_ = work_ / "err.txt";
    RSTWATCH_REQUIRE_OK(run(reader + " --follow --format json " + shell_quote(log_) + " >" + out_ +
                            " 2>" + err_ + " & echo $! > " + (work_ / "reader.pid")));
    reader_.pid = std::atoi(read_file(work_ / "reader.pid").c_str());
    REQUIRE(reader_.pid > 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its inotify watch is set
  }

  ~pipeline() {
    if (reader_.pid > 0) ::kill(reader_.pid, SIGKILL);
    if (daemon_) daemon_->stop();
  }

  const private_rsyslogd& daemon() const { return *daemon_; }

  // One reset of `mode` to `port`, as in tests/log_kernel.cpp: a shell command that fails
  // when the client or the server does.
  std::string reset_command(const family& f, const std::string& mode, int port) {
    const bool serve = mode != "closed" && mode != "rejected";
    std::string ready = work_ / ("ready-" + std::to_string(port));
    std::string cmd;
    if (serve)
      cmd = server_.prefix() + provoke + " serve " + f.server + " " + std::to_string(port) + " " +
            mode + " " + ready + " & server=$!; for i in $(seq 200); do [ -e " + ready +
            " ] && break; sleep 0.05; done; ";
    // When the server's RST arrives before connect() has returned to the client, connect()
    // itself fails with ECONNRESET (a busy machine): the same reset, from the same sender.
    std::string client = client_.prefix() + provoke + " client " + f.server + " " +
                         std::to_string(port) + " " + mode;
    if (mode == "server-abort")
      client = client + " 2>&1 | tee " + ready + ".client; grep -qE " +
               "'^(reset|closed)$|ConnectionResetError' " + ready + ".client";
    return cmd + client + (serve ? " && wait $server" : "");
  }

  // Every kind in both families, each to a port of its own, all at once (each python takes a
  // noticeable time to start on a busy machine).
  void provoke_mix() {
    std::string script, outputs;
    for (const auto& f : families)
      for (const auto& mode : modes) {
        int port = mode == "rejected" ? reject_ports + next_port_++ : 7100 + next_port_++;
        std::string out = work_ / ("reset-" + std::to_string(port));
        script += "(" + reset_command(f, mode, port) + ") >" + out + " 2>&1 || echo " + mode + " " +
                  f.server + " " + std::to_string(port) + " failed >>" + (work_ / "failed") +
                  " &\n";
        outputs += " " + out;
        provoked_.push_back({f, mode, port});
      }
    RSTWATCH_REQUIRE_OK(run(script + "wait"));
    INFO(run("tail -n +1" + outputs + " " + (work_ / "failed") + " 2>&1").output);
    REQUIRE_FALSE(file_exists(work_ / "failed"));
  }

  // `burst_size` connections to a closed port from known client ports, IPv4 and IPv6 in turn,
  // about one a millisecond, in the background; it says when a third of them are done.
  void start_burst() {
    write_file(work_ / "burst.py", R"(import socket, sys, time
v4, v6, port, first_client_port, n, third = sys.argv[1:]
for i in range(int(n)):
    a = v6 if i % 2 else v4
    s = socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET)
    s.bind(('', int(first_client_port) + i))
    try:
        s.connect((a, int(port)))
    except ConnectionRefusedError:
        pass
    s.close()
    if i == int(n) // 3:
        open(third, 'w').close()
    time.sleep(0.001)
)");
    const std::string args = " " + families[0].server + " " + families[1].server + " " +
                             std::to_string(burst_port) + " " + std::to_string(burst_client_port) +
                             " " + std::to_string(burst_size) + " " + (work_ / "burst.third");
    RSTWATCH_REQUIRE_OK(run(client_.prefix() + "python3 " + (work_ / "burst.py") + args + " >" +
                            (work_ / "burst.out") + " 2>&1 & echo $! > " + (work_ / "burst.pid")));
    burst_pid_ = std::atoi(read_file(work_ / "burst.pid").c_str());
  }
  // Until a third of the burst is done.
  void wait_burst_third() {
    for (int i = 0; i < 400 && !file_exists(work_ / "burst.third"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(file_exists(work_ / "burst.third"));
  }
  void wait_burst() {
    RSTWATCH_REQUIRE_OK(
        run("while kill -0 " + std::to_string(burst_pid_) + " 2>/dev/null; do sleep 0.05; done"));
    INFO(read_file(work_ / "burst.out"));
    REQUIRE(read_file(work_ / "burst.out").empty());
  }

  // The real logrotate, forced, with a private state file.
  void rotate() {
    auto r = run("logrotate -f -s " + shell_quote(work_ / "state") + " " +
                 shell_quote(work_ / "logrotate.conf"));
    INFO(stanza_ << r.output);
    REQUIRE(r.status == 0);
  }

  std::vector<json> events() const { return json_lines(read_file(out_)); }

  // Waits until the reader has shown `n` events, or nothing new for `quiet`.
  std::size_t wait_events(std::size_t n, std::chrono::milliseconds quiet) const {
    std::size_t last = 0;
    auto changed = std::chrono::steady_clock::now();
    auto deadline = changed + std::chrono::seconds(15);
    for (;;) {
      auto now = std::chrono::steady_clock::now();
      auto have = events().size();
      if (have != last) changed = now, last = have;
      if (have >= n || now - changed >= quiet || now >= deadline) return have;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::string stop_reader() {
    REQUIRE(reader_.interrupt());
    return read_file(err_);
  }

  // What the files hold once the dust has settled: the rotated set and the live file, read
  // oldest first (gzip too) by rstwatch-read itself, and the list of files.
  std::vector<json> live_events() const {
    return json_lines(run(reader + " --format json " + shell_quote(log_) + " 2>/dev/null").output);
  }

  std::vector<json> file_events(std::string& listing) const {
    listing = run("ls -l " + shell_quote(stage_ / "var/log/rstwatch")).output;
    auto r = run("cd " + shell_quote(stage_ / "var/log/rstwatch") + " && " + reader +
                 " --format json " + name_ + ".log* 2>/dev/null");
    return json_lines(r.output);
  }

  std::size_t expected_mix_lines() const {
    std::size_t n = 0;
    for (auto& p : provoked_) n += expected_lines(p.mode).size();
    return n;
  }

  struct provoked {
    family f;
    std::string mode;
    int port;
  };
  const std::vector<provoked>& provoked_resets() const { return provoked_; }

 private:
  sysctl_guard all_netns_;
  netns client_, router_, server_;
  temp_dir stage_, work_;
  std::string name_, log_, stanza_, out_, err_;
  std::unique_ptr<private_rsyslogd> daemon_;
  background reader_;
  int burst_pid_ = -1;
  int next_port_ = 0;
  std::vector<provoked> provoked_;
};

// The reader's (or the files') events grouped by connection.
std::map<std::string, std::multiset<seen>> by_connection(const std::vector<json>& events) {
  std::map<std::string, std::multiset<seen>> out;
  for (auto& e : events) {
    auto k = key_of(e);
    out[k.connection].insert(k.what);
  }
  return out;
}

// How the events compare with the scenario: the provoked mix (one connection per server
// port), and the burst (one per client port).
struct tally {
  std::vector<std::string> mix_wrong;  // a mixed reset not seen exactly as expected
  std::size_t burst_lines_seen = 0, burst_lines_missing = 0, burst_duplicates = 0;
  std::set<std::string> burst_seen;     // "connection logger" of each burst line seen
  std::vector<std::string> unexpected;  // lines of no provoked reset
};

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

tally compare(const pipeline& p, const std::vector<json>& events) {
  tally t;
  auto groups = by_connection(events);
  std::set<std::string> matched;
  for (auto& r : p.provoked_resets()) {
    std::vector<std::string> conns;
    for (auto& [conn, lines] : groups)
      if (ends_with(conn, " > " + r.f.server + " " + std::to_string(r.port)) &&
          conn.rfind(r.f.client + " ", 0) == 0)
        conns.push_back(conn);
    std::string what = r.mode + " " + r.f.server + " " + std::to_string(r.port);
    if (conns.size() != 1) {
      t.mix_wrong.push_back(what + ": " + std::to_string(conns.size()) + " connections");
      continue;
    }
    matched.insert(conns[0]);
    if (groups[conns[0]] != expected_lines(r.mode)) {
      std::string got;
      for (auto& s : groups[conns[0]])
        got += s.logger + "/" + s.sender + "/" + s.in + "/" + s.out + "/" +
               (s.from_server ? "from server " : "from client ");
      t.mix_wrong.push_back(what + ": got " + got);
    }
  }
  for (int i = 0; i < burst_size; ++i) {
    const family& f = families[i % 2];
    std::string conn = f.client + " " + std::to_string(burst_client_port + i) + " > " + f.server +
                       " " + std::to_string(burst_port);
    auto want = expected_lines("closed");
    auto it = groups.find(conn);
    if (it == groups.end()) {
      t.burst_lines_missing += want.size();
      continue;
    }
    matched.insert(conn);
    for (auto& s : want) {
      auto n = it->second.count(s);
      if (n == 0) ++t.burst_lines_missing;
      if (n >= 1) ++t.burst_lines_seen, t.burst_seen.insert(conn + " " + s.logger);
      if (n > 1) t.burst_duplicates += n - 1;
    }
    for (auto& s : it->second)
      if (!want.count(s)) t.unexpected.push_back(conn + " " + s.logger + "/" + s.sender);
  }
  for (auto& [conn, lines] : groups)
    if (!matched.count(conn)) t.unexpected.push_back(conn);
  return t;
}

// kmsg_holders() of support/daemons.hpp without a shell per file descriptor (seconds on a
// busy machine): "PID COMM" for each process holding /proc/kmsg open.
std::vector<std::string> kmsg_readers() {
  std::vector<std::string> out;
  // Processes come and go meanwhile: every step takes an error code instead of throwing.
  std::error_code ec;
  for (fs::directory_iterator proc("/proc", ec), end; !ec && proc != end; proc.increment(ec)) {
    auto pid = proc->path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code fd_ec;
    for (fs::directory_iterator fd(proc->path() / "fd", fd_ec); !fd_ec && fd != end;
         fd.increment(fd_ec)) {
      std::error_code link_ec;
      if (fs::read_symlink(fd->path(), link_ec) == "/proc/kmsg") {
        auto comm = lines_of(read_file(proc->path() / "comm"));
        out.push_back(pid + " " + (comm.empty() ? std::string() : comm[0]));
        break;
      }
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x + "\n";
  return s;
}

void run_pipeline(bool copytruncate) {
  if (!require_root("the whole pipeline in network namespaces with a private rsyslogd")) return;
  auto holders = joined(kmsg_readers());
  if (!holders.empty()) {
    // imklog consumes /proc/kmsg: with another reader, lines go to one of us at random.
    if (in_ci()) FAIL("another process reads /proc/kmsg: " << holders);
    WARN("SKIPPED: another process reads /proc/kmsg, imklog would race it: " << holders);
    return;
  }
  pipeline p(copytruncate);
  const auto style = copytruncate ? "copytruncate" : "rename + reopen";

  // Before the first rotation, between the two, and a burst during the second.
  p.provoke_mix();
  REQUIRE(p.wait_events(p.expected_mix_lines(), std::chrono::seconds(3)) == p.expected_mix_lines());
  p.rotate();
  const auto first_rotation = std::chrono::steady_clock::now();
  p.provoke_mix();
  REQUIRE(p.wait_events(p.expected_mix_lines(), std::chrono::seconds(3)) == p.expected_mix_lines());
  // The rotated names carry the epoch second: the second rotation needs a new one.
  std::this_thread::sleep_until(first_rotation + std::chrono::milliseconds(1100));
  p.start_burst();
  p.wait_burst_third();
  p.rotate();
  p.wait_burst();
  const std::size_t all_lines = p.expected_mix_lines() + 2 * burst_size;
  p.wait_events(all_lines, std::chrono::milliseconds(1500));
  // Past the reader's drain grace for a rotated-away file.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto err = p.stop_reader();
  const auto events = p.events();
  std::string listing;
  const auto in_files = p.file_events(listing);
  const auto in_live_file = p.live_events();

  // Another reader of /proc/kmsg meanwhile would have taken lines: then nothing here is proof.
  std::string others;
  for (auto& line : kmsg_readers())
    if (line.rfind(std::to_string(p.daemon().pid()) + " ", 0) != 0) others += line + "; ";
  if (!others.empty()) {
    if (in_ci()) FAIL("another process read /proc/kmsg meanwhile: " << others);
    WARN("SKIPPED: another process read /proc/kmsg meanwhile: " << others);
    return;
  }

  auto seen_by_reader = compare(p, events);
  auto seen_in_files = compare(p, in_files);
  const auto burst_in_live_file = compare(p, in_live_file).burst_lines_seen;
  const std::size_t lost_by_logrotate = seen_in_files.burst_lines_missing;
  // The reader may have shown a line before logrotate cut it from the live file uncopied, and
  // may have missed one that is in a rotated file only.
  std::size_t shown_but_in_no_file = 0, in_a_file_but_not_shown = 0;
  for (auto& l : seen_by_reader.burst_seen)
    shown_but_in_no_file += !seen_in_files.burst_seen.count(l);
  for (auto& l : seen_in_files.burst_seen)
    in_a_file_but_not_shown += !seen_by_reader.burst_seen.count(l);
  WARN("e2e " << style << ": burst of " << burst_size << " resets (" << 2 * burst_size
              << " LOG lines) during the second rotation: " << lost_by_logrotate
              << " lines in no file (lost by logrotate), " << seen_by_reader.burst_lines_missing
              << " not shown by the reader; " << shown_but_in_no_file << " shown but in no file, "
              << in_a_file_but_not_shown << " in a file but not shown; "
              << seen_by_reader.burst_duplicates << " shown twice");
  INFO(style << "\nreader stderr:\n" << err << "files:\n" << listing);

  THEN("every reset appears once with its sender and 4-tuple and the accounting adds up") {
    // The mix, in the reader's output and in the files.
    INFO(joined(seen_by_reader.mix_wrong));
    CHECK(seen_by_reader.mix_wrong.empty());
    INFO(joined(seen_in_files.mix_wrong));
    CHECK(seen_in_files.mix_wrong.empty());
    INFO(joined(seen_by_reader.unexpected));
    CHECK(seen_by_reader.unexpected.empty());
    CHECK(seen_in_files.unexpected.empty());
    CHECK(p.provoked_resets().size() == 2 * 2 * modes.size());
    // The burst: the second rotation fell inside it, nothing was repeated, and only
    // copytruncate may lose lines.
    CHECK(burst_in_live_file > 0);
    CHECK(burst_in_live_file < 2 * burst_size);
    CHECK(seen_by_reader.burst_duplicates == 0);
    CHECK(seen_in_files.burst_duplicates == 0);
    CHECK(seen_by_reader.burst_lines_seen + seen_by_reader.burst_lines_missing == 2 * burst_size);
    if (!copytruncate) {
      CHECK(seen_in_files.burst_lines_missing == 0);
      CHECK(seen_by_reader.burst_lines_missing == 0);
      CHECK(in_files.size() == all_lines);
      CHECK(events.size() == all_lines);
    }
    // The reader's last line.
    auto n = accounting(err);
    CHECK(n[0] == n[1] + n[2] + n[3] + n[4]);
    CHECK(n[1] == events.size());
    CHECK(n[4] == 0);
    CHECK(n[5] == (copytruncate ? 0u : 2u));
    CHECK(n[6] == (copytruncate ? 2u : 0u));
  }
}

}  // namespace

SCENARIO("end to end (e2e) every reset reaches rstwatch-read once via install, rsyslogd, logrotate",
         "[e2e][kmsg][root]") {
  GIVEN("logrotate's safe stanza: rename, create, and a reopen of rsyslogd") {
    WHEN("all kinds of reset happen in IPv4 and IPv6 around two forced rotations") {
      run_pipeline(false);
    }
  }
  GIVEN("the installer's --copytruncate stanza") {
    WHEN("all kinds of reset happen in IPv4 and IPv6 around two forced rotations") {
      run_pipeline(true);
    }
  }
}
