// rstwatch-read's outputs for each reset event: an aligned table for people, JSON lines and
// RFC 4180 CSV for programs. Each writes through one reused buffer; in live modes every event
// is flushed at once, even into a pipe.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "read/event_json.hpp"

namespace rstwatch::read {

enum class format { table, json, csv };

class sink {
 public:
  sink(std::FILE* out, bool flush_each) : out_(out), flush_each_(flush_each) {}
  virtual ~sink() = default;
  virtual void event(const reset_event& e, std::string_view source_name) = 0;
  virtual void finish() { std::fflush(out_); }

 protected:
  void emit(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), out_);
    if (flush_each_) std::fflush(out_);
  }
  std::FILE* out_;
  bool flush_each_;
};

class json_sink final : public sink {
 public:
  using sink::sink;
  void event(const reset_event& e, std::string_view source_name) override {
    line_.clear();  // keeps its capacity: no allocation per event
    w_.write(line_, e, source_name);
    line_ += '\n';
    emit(line_);
  }

 private:
  std::string line_;
  event_json_writer w_;
};

namespace detail {

// RFC 4180: a field holding a comma, a double quote, CR or LF is quoted, its quotes doubled.
inline void csv_field(std::string& row, std::string_view v) {
  bool plain = true;  // one pass, where find_first_of searches the set once per byte
  for (char c : v) plain &= c != ',' && c != '"' && c != '\r' && c != '\n';
  if (plain) {
    row += v;
    return;
  }
  row += '"';
  for (char c : v) {
    if (c == '"') row += '"';
    row += c;
  }
  row += '"';
}

inline std::string time_column(const reset_event& e) {
  if (e.time)
    if (std::string t = rfc3339(*e.time); !t.empty()) return t;
  if (e.uptime) {
    char buf[32];
    return "[" + std::string(buf, uptime_chars(*e.uptime, buf)) + "]";
  }
  return std::string(e.time_text.empty() ? "-" : e.time_text);
}

}  // namespace detail

class csv_sink final : public sink {
 public:
  csv_sink(std::FILE* out, bool flush_each) : sink(out, flush_each) {
    emit("time,uptime,host,prefix,sender,src,sport,dst,dport,local_addr,local_port,remote_addr,"
         "remote_port,in,out,loopback,seq,ack,flags,origin,event,source\r\n");
  }
  void event(const reset_event& e, std::string_view source_name) override {
    row_.clear();
    char addr[64];
    auto field = [&](std::string_view v) {
      detail::csv_field(row_, v);
      row_ += ',';
    };
    char text[rfc3339_max_size];
    auto number = [&](std::uint64_t v) {
      row_.append(text, static_cast<std::size_t>(detail::put_uint(text, v) - text));
      row_ += ',';
    };
    field(e.time ? time_.text(*e.time) : std::string_view());
    if (e.uptime) row_.append(text, uptime_chars(*e.uptime, text));
    row_ += ',';
    field(e.host);
    field(e.prefix);
    field(to_string(e.sender));
    field(detail::address_text(e.source.address, addr));
    number(e.source.port);
    field(detail::address_text(e.destination.address, addr));
    number(e.destination.port);
    for (auto ep : {e.local_endpoint(), e.remote_endpoint()}) {
      if (ep) {
        field(detail::address_text(ep->address, addr));
        number(ep->port);
      } else {
        row_ += ",,";
      }
    }
    field(e.in_interface);
    field(e.out_interface);
    field(e.loopback ? "true" : "false");
    if (e.has_sequence) {
      number(e.sequence);
      number(e.acknowledgment);
    } else {
      row_ += ",,";
    }
    for (std::size_t k = 0, n = 0; k < std::size(tcp_flags::kernel_order); ++k) {
      if (!(e.flags.bits() & tcp_flags::kernel_order[k])) continue;
      if (n++) row_ += ' ';
      row_ += tcp_flags::names[k];  // as tcp_flags::to_string() spells them, without a string
    }
    row_ += ',';
    field(to_string(e.origin));
    field(e.tracepoint);
    const std::size_t at = row_.size();
    detail::csv_field(row_, source_name);
    if (row_.size() != at + source_name.size()) {  // quoted: the line number goes inside
      row_.resize(at);
      detail::csv_field(row_, std::string(source_name) + ":" + std::to_string(e.line_number));
    } else {
      row_ += ':';
      row_.append(text, static_cast<std::size_t>(detail::put_uint(text, e.line_number) - text));
    }
    row_ += "\r\n";
    emit(row_);
  }

 private:
  std::string row_;
  rfc3339_cache time_;
};

// Columns: when, host, who sent the RST, this host's end, an arrow pointing away from the
// side that sent the RST, the peer's end, devices, flags, prefix. A forwarded RST shows its
// source on the left and its destination on the right.
class table_sink final : public sink {
 public:
  using sink::sink;
  void event(const reset_event& e, std::string_view) override {
    if (!header_done_) header();
    row(e);
  }

 private:
  // The header comes with the first row, so a run that finds nothing (or fails) prints none.
  void header() {
    header_done_ = true;
    char line[256];
    std::snprintf(line, sizeof line, "%-32s %-10s %-8s %-24s %-8s %-24s %-14s %-9s %s\n", "TIME",
                  "HOST", "SENDER", "LOCAL", "RST", "REMOTE", "IN/OUT", "FLAGS", "PREFIX");
    emit(line);
  }

  void row(const reset_event& e) {
    std::string left, right, arrow;
    switch (e.sender) {
      case reset_sender::local:
        left = e.source.to_string(), right = e.destination.to_string(), arrow = "--RST-->";
        break;
      case reset_sender::remote:
        left = e.destination.to_string(), right = e.source.to_string(), arrow = "<--RST--";
        break;
      case reset_sender::transit:
        left = e.source.to_string(), right = e.destination.to_string(), arrow = "--RST-->";
        break;
    }
    std::string devices = e.origin == event_origin::trace
                              ? std::string("-")
                              : std::string(e.in_interface.empty() ? "-" : e.in_interface) + "/" +
                                    std::string(e.out_interface.empty() ? "-" : e.out_interface);
    std::string sender = std::string(to_string(e.sender)) + (e.loopback ? "*" : "");
    std::string prefix(e.origin == event_origin::trace ? e.tracepoint : e.prefix);
    while (!prefix.empty() && prefix.back() == ' ') prefix.pop_back();
    row_.clear();
    auto column = [&](std::string_view v, std::size_t width) {
      row_ += v;
      row_.append(v.size() < width ? width - v.size() : 0, ' ');
      row_ += ' ';
    };
    column(detail::time_column(e), 32);
    column(e.host.empty() ? std::string_view("-") : e.host, 10);
    column(sender, 8);
    column(left, 24);
    column(arrow, 8);
    column(right, 24);
    column(devices, 14);
    column(e.flags.to_string(), 9);
    row_ += prefix;
    row_ += '\n';
    emit(row_);
  }

  bool header_done_ = false;
  std::string row_;
};

inline std::unique_ptr<sink> make_sink(format f, std::FILE* out, bool flush_each) {
  switch (f) {
    case format::json: return std::make_unique<json_sink>(out, flush_each);
    case format::csv: return std::make_unique<csv_sink>(out, flush_each);
    case format::table: break;
  }
  return std::make_unique<table_sink>(out, flush_each);
}

}  // namespace rstwatch::read
