// rstwatch-read's tracepoint path: trace_pipe lines (saved in a file, on stdin, or live from a
// private ftrace instance with --trace) become the same reset events as LOG lines, and land in
// the same accounting buckets.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rstwatch/log/classify.hpp>
#include <rstwatch/trace/instance.hpp>
#include <rstwatch/trace/reset.hpp>

#include "read/filter.hpp"
#include "read/output.hpp"
#include "read/summary.hpp"

namespace rstwatch::read {

class trace_lines {
 public:
  // `all_events`: also write the other tracepoint records (state changes, retransmissions,
  // destroyed sockets, probes) as JSON lines to `json_out`.
  trace_lines(const filter& f, sink* out, summary* sum, bool all_events, std::FILE* json_out,
              bool flush_each, std::size_t max_diagnostics)
      : filter_(f), out_(out), sum_(sum), all_events_(all_events), json_out_(json_out),
        flush_each_(flush_each), max_diagnostics_(max_diagnostics) {}

  // Handles one trace line, counting it in `counts`: classify() then take().
  void line(std::string_view text, std::uint64_t number, std::string_view source,
            log::line_counts& counts) {
    classify(text);
    take(text, number, source, counts);
  }

  // Classifies `text` as the current line (into a member reused line after line: a fresh
  // classified_line is a 440-byte clear).
  void classify(std::string_view text) noexcept { trace::classify(text, current_); }
  // The same for the line that `rest` starts with, found and read in one pass
  // (trace::classify_next(), whose precondition log::line_source::next_span() provides): its
  // length.
  std::size_t classify_next(std::string_view rest) noexcept {
    return trace::classify_next(rest, current_);
  }

  // Whether the current line, `text`, is one that the log path would hand to this
  // class anyway, decided without the log classifier: a reset or record of the six events
  // with every key known, no '=' before its body, and no syslog, journal or dmesg envelope.
  // log::classify() then finds no LOG record in it, for that needs an "IN=" with a later
  // " OUT=", and " OUT=" fits neither before the body (no '=') nor in it (a token there would
  // start with OUT=, an unknown key). `scratch` is reused storage.
  bool certainly_trace(std::string_view text, log::envelope& scratch) const noexcept {
    const trace::classified_line& c = current_;
    if ((c.kind != trace::line_kind::reset && c.kind != trace::line_kind::record) ||
        c.rec.unknown_count != 0 || c.rec.prefix.body_offset > text.size() ||
        std::memchr(text.data(), '=', c.rec.prefix.body_offset) != nullptr)
      return false;
    log::parse_envelope(text, scratch);
    return scratch.kind == log::envelope_kind::none ||
           scratch.kind == log::envelope_kind::kmsg_continuation;
  }

  // Handles the current line, `text`, counting it in `counts`. A tcp_receive_reset is held
  // back until a later event shows whether it was the kernel's own TCPAbortOnData abort (see
  // resolve_held()).
  void take(std::string_view text, std::uint64_t number, std::string_view source,
            log::line_counts& counts) {
    const trace::classified_line& c = current_;
    if (!held_.empty()) resolve_held(c, counts);
    switch (c.kind) {
      case trace::line_kind::reset:
        if (c.rec.kind == trace::event_kind::tcp_receive_reset) {
          hold(text, number, source, counts);
          return;
        }
        emit_reset(c, number, source, counts);
        return;
      case trace::line_kind::record:
        counts.add(log::line_kind::record);
        if (all_events_) write_record(c.rec, number, source);
        return;
      case trace::line_kind::malformed:
        counts.add(log::line_kind::malformed);
        if (shown_++ < max_diagnostics_)
          std::fprintf(stderr, "%s\n",
                       format_with_source(trace::to_diagnostic(text, c.error, std::string(source),
                                                               static_cast<std::uint32_t>(number)),
                                          text)
                           .c_str());
        return;
      case trace::line_kind::lost:
        lost_ += c.lost;
        counts.add(log::line_kind::ignored);
        return;
      case trace::line_kind::ignored:
        counts.add(log::line_kind::ignored);
        return;
    }
  }

  // Emits the held tcp_receive_resets, oldest first: at the end of input, or when the input
  // (a live trace, a pipe, a followed file) falls quiet.
  void flush(log::line_counts& counts) {
    for (held_reset* h : held_) release(h, true, counts);
    held_.clear();
  }

  std::uint64_t lost() const { return lost_; }
  std::uint64_t diagnostics_shown() const { return shown_; }

  // At most this many tcp_receive_resets wait for their send at once; beyond, the oldest is
  // emitted as a reset by the peer. Memory stays constant under a flood of resets.
  static constexpr std::size_t max_held = 64;

 private:
  // A tcp_receive_reset waiting for its verdict, with its own copy of the line.
  struct held_reset {
    std::string text, source;
    trace::classified_line line;  // views into `text`
    std::uint64_t number = 0;
  };

  // tcp_reset() fires tcp_receive_reset when tcp_rcv_state_process() aborts a socket that got
  // data after it shut down reception (TCPAbortOnData, net/ipv4/tcp_input.c): no RST arrived;
  // the RST that went on the wire is the tcp_send_reset for the same socket that follows. Held
  // receives are settled by the events of the trace, never by lines of other text:
  //  * a tcp_send_reset that abort_on_data() pairs with one of them drops it (counted as a
  //    record): the newest such one, since a socket's abort follows its own receive event;
  //  * a timestamped event more than abort_on_data_window_us after a held receive emits it;
  //  * without timestamps, the next reset that does not drop a held receive emits it.
  // Other receives and the events of other CPUs may come in between: per-CPU buffers
  // interleave, and a stalled virtual CPU lets the others run on.
  void resolve_held(const trace::classified_line& c, log::line_counts& counts) {
    if (c.kind != trace::line_kind::reset && c.kind != trace::line_kind::record) return;
    if (c.rec.kind == trace::event_kind::tcp_send_reset) {
      for (std::size_t i = held_.size(); i-- > 0;)
        if (trace::abort_on_data(held_[i]->line.rec, c.rec)) {
          release(held_[i], false, counts);
          held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
          return;  // this send settles one receive and says nothing of the others
        }
    }
    std::size_t kept = 0;
    for (held_reset* h : held_) {
      auto a = h->line.rec.prefix.uptime, b = c.rec.prefix.uptime;
      bool settled = a && b ? b->microseconds > a->microseconds + trace::abort_on_data_window_us
                            : c.kind == trace::line_kind::reset;
      if (settled)
        release(h, true, counts);
      else
        held_[kept++] = h;
    }
    held_.resize(kept);
  }

  // Holds the current line, a tcp_receive_reset, in a slot whose storage is reused: no
  // allocation once as many slots exist as receives ever waited at once.
  void hold(std::string_view text, std::uint64_t number, std::string_view source,
            log::line_counts& counts) {
    if (held_.size() == max_held) {
      release(held_.front(), true, counts);
      held_.erase(held_.begin());
    }
    if (spare_.empty()) {
      slots_.push_back(std::make_unique<held_reset>());
      spare_.push_back(slots_.back().get());
    }
    held_reset* h = spare_.back();
    spare_.pop_back();
    h->text.assign(text.data(), text.size());
    h->line = current_;  // text's classification, moved onto the copy
    trace::rebase(h->line, text, h->text.data());
    h->number = number;
    h->source.assign(source.data(), source.size());
    held_.push_back(h);
  }

  // Settles a held receive: emitted as a reset by the peer, or dropped as the kernel's own
  // abort. The caller takes it out of held_.
  void release(held_reset* h, bool as_reset, log::line_counts& counts) {
    if (as_reset) {
      emit_reset(h->line, h->number, h->source, counts);
    } else {
      counts.add(log::line_kind::record);
      if (all_events_) write_record(h->line.rec, h->number, h->source);
    }
    spare_.push_back(h);
  }

  void emit_reset(const trace::classified_line& c, std::uint64_t number, std::string_view source,
                  log::line_counts& counts) {
    counts.add(log::line_kind::reset);
    auto r = trace::to_reset(c.rec);
    if (!r) return;
    r->event.line_number = number;
    if (!filter_.matches(r->event)) return;
    if (sum_) sum_->add(r->event);
    if (out_) out_->event(r->event, source);
  }

  // The other records as JSON lines: what they are, when, the socket's ends, the states.
  void write_record(const trace::record& r, std::uint64_t number, std::string_view source) {
    buf_.Clear();
    rapidjson::Writer<rapidjson::StringBuffer> w(buf_);
    char addr[64];
    w.StartObject();
    w.Key("origin");
    w.String("trace");
    w.Key("event");
    detail::write_string(w, r.prefix.event);
    w.Key("uptime");
    if (r.prefix.uptime)
      w.Double(uptime_seconds(*r.prefix.uptime));
    else
      w.Null();
    std::optional<endpoint> local = r.local(), remote = r.remote();
    w.Key("local");
    detail::write_endpoint(w, local, addr);
    w.Key("remote");
    detail::write_endpoint(w, remote, addr);
    for (auto [key, state, present] :
         {std::tuple{"state", r.state, r.has(trace::field::state)},
          std::tuple{"oldstate", r.oldstate, r.has(trace::field::oldstate)},
          std::tuple{"newstate", r.newstate, r.has(trace::field::newstate)}}) {
      w.Key(key);
      if (present)
        detail::write_string(w, trace::to_string(state));
      else
        w.Null();
    }
    w.Key("source");
    std::string src(source);
    src += ':';
    src += std::to_string(number);
    detail::write_string(w, src);
    w.EndObject();
    buf_.Put('\n');
    std::fwrite(buf_.GetString(), 1, buf_.GetSize(), json_out_);
    if (flush_each_) std::fflush(json_out_);
  }

  const filter& filter_;
  sink* out_;
  summary* sum_;
  bool all_events_;
  std::FILE* json_out_;
  bool flush_each_;
  std::size_t max_diagnostics_;
  std::uint64_t shown_ = 0;
  std::uint64_t lost_ = 0;
  trace::classified_line current_;
  std::vector<std::unique_ptr<held_reset>> slots_;  // every slot ever made
  std::vector<held_reset*> held_;                   // waiting, oldest first
  std::vector<held_reset*> spare_;                  // free slots
  rapidjson::StringBuffer buf_;
};

// --trace: a private ftrace instance (instances/rstwatch-PID) with just the events needed,
// read until `stop`; the instance is removed on every way out. Returns the exit status.
inline int watch_tracepoints(trace_lines& lines, log::line_counts& counts, const filter& f,
                             bool all_events, const std::atomic<bool>& stop) {
  trace::instance_options options;
  if (!all_events)
    options.events = {trace::event_kind::tcp_send_reset, trace::event_kind::tcp_receive_reset};
  // One port can be filtered in the kernel where the format allows; always again in user space.
  if (f.ports.size() == 1) options.port = f.ports.front();
  auto in = trace::instance::create(options);
  if (!in) {
    std::fprintf(stderr, "rstwatch-read: %s\n", rstwatch::format(in.error()).c_str());
    return 1;
  }
  std::string_view text;
  std::uint64_t number = 0;
  while (!stop.load()) {
    if (in->next_line(text, 100))
      lines.line(text, ++number, "trace_pipe", counts);
    else
      lines.flush(counts);  // quiet for 100 ms: a held receive is no abort
  }
  lines.flush(counts);
  return 0;
}

}  // namespace rstwatch::read
