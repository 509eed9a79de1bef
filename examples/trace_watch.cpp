// rstwatch-trace-watch: prints each TCP reset as the kernel's tracepoints report it, live, from a
// private ftrace instance that it removes again on exit, SIGINT or SIGTERM — the seed's
// "tracing_point 监控" without touching the global trace buffer. A building block of
// `rstwatch-read --trace`, not a replacement for it: each event is printed as it comes, so the
// kernel's own abort on data (trace::abort_on_data()) shows as a remote reset here too.
// Usage: rstwatch-trace-watch [--port N] [--seconds S]      (root)
#include <rstwatch/trace/instance.hpp>
#include <rstwatch/trace/reset.hpp>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace trace = rstwatch::trace;

namespace {

volatile sig_atomic_t stop = 0;

extern "C" void on_signal(int) { stop = 1; }

}  // namespace

int main(int argc, char** argv) {
  trace::instance_options options;
  long seconds = -1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      options.port = static_cast<std::uint16_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::strtol(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: rstwatch-trace-watch [--port N] [--seconds S]\n");
      return 2;
    }
  }
  // No SA_RESTART: the signal interrupts poll() so the loop ends and the instance is removed.
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  options.events = {trace::event_kind::tcp_send_reset, trace::event_kind::tcp_receive_reset};
  auto in = trace::instance::create(options);
  if (!in) {
    std::fprintf(stderr, "rstwatch-trace-watch: %s\n", format(in.error()).c_str());
    return 1;
  }
  std::fprintf(stderr, "watching through %s\n", in->path().c_str());
  std::fflush(stderr);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::size_t counts[5] = {};
  std::uint64_t lost = 0;
  std::string_view line;
  while (!stop && (seconds < 0 || std::chrono::steady_clock::now() < deadline)) {
    if (!in->next_line(line, 200)) continue;
    auto c = trace::classify(line);
    ++counts[static_cast<std::size_t>(c.kind)];
    lost += c.lost;
    if (c.kind != trace::line_kind::reset) continue;
    auto r = trace::to_reset(c.rec);
    // User-space filter as well: the kernel filter cannot see 6.10+ tcp_send_reset's ports.
    if (!r || (options.port != 0 && r->event.source.port != options.port &&
               r->event.destination.port != options.port))
      continue;
    std::printf("%.*s %s %s", int(r->event.time_text.size()), r->event.time_text.data(),
                r->event.describe().c_str(), std::string(r->event.tracepoint).c_str());
    if (!r->reason.empty())
      std::printf(" reason=%.*s", int(r->reason.size()), r->reason.data());
    std::printf("\n");
    std::fflush(stdout);
  }
  std::fprintf(stderr, "resets %zu, records %zu, ignored %zu, malformed %zu, lost %llu\n", counts[0],
               counts[1], counts[2], counts[3], static_cast<unsigned long long>(lost));
  return 0;  // `in` goes out of scope here: events off, instance removed
}
