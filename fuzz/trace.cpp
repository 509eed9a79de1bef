// Fuzz target for the trace line classifier: no input may crash, hang or make it read outside
// the line; every view it returns lies inside the line; the cheap detector agrees with the
// full parse; a malformed line's diagnostic points inside the line; the fast paths for the
// kernels' own prefix shape and key order give exactly what the general code gives; a reused
// classified_line ends as a fresh one; classify_next() on the input in a padded buffer reads
// its first line as classify() reads that line, and nothing past the padding.
#include <rstwatch/trace/reset.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void inside(std::string_view line, std::string_view part) {
  if (part.empty()) return;
  require(part.data() >= line.data() && part.data() + part.size() <= line.data() + line.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto c = rstwatch::trace::classify(line);
  {
    // The reusing overload gives the same, whatever the previous input left in its storage.
    static rstwatch::trace::classified_line reused;
    rstwatch::trace::classify(line, reused);
    require(reused.kind == c.kind && reused.rec == c.rec && reused.lost == c.lost &&
            reused.error.offset == c.error.offset && reused.error.expected == c.error.expected);
  }
  {
    // The buffer line_source::next_span() gives: the bytes, a '\n', exactly the padding (a
    // heap block of that size: the sanitizers see any read past it).
    const std::size_t block_size = size + 1 + rstwatch::trace::next_line_padding;
    std::unique_ptr<char[]> block(new char[block_size]);
    if (size != 0) std::memcpy(block.get(), data, size);
    block[size] = '\n';
    // Digits after it: a read past the '\n' that counted would change a value.
    std::memset(block.get() + size + 1, '1', rstwatch::trace::next_line_padding);
    const std::string_view rest(block.get(), size);
    static rstwatch::trace::classified_line next, alone;
    const std::size_t length = rstwatch::trace::classify_next(rest, next);
    const std::string_view first = rest.substr(0, rest.find('\n'));
    rstwatch::trace::classify(first, alone);
    require(length == first.size());
    require(next.kind == alone.kind && next.rec == alone.rec && next.lost == alone.lost &&
            next.error.offset == alone.error.offset && next.error.expected == alone.error.expected);
  }
  const auto& p = c.rec.prefix;
  for (auto v : {p.task, p.flags, p.timestamp, p.event, p.body, c.rec.reason, c.rec.protocol,
                 c.rec.skbaddr, c.rec.skaddr})
    inside(line, v);
  bool prefixed = rstwatch::trace::parse_prefix(line).has_value();
  require(rstwatch::trace::looks_like_trace_line(line) ==
          (prefixed || rstwatch::trace::lost_events(line).has_value()));
  {
    rstwatch::trace::line_prefix fast, general;
    require(rstwatch::trace::parse_prefix(line, fast, true) ==
            rstwatch::trace::parse_prefix(line, general, false));
    require(fast == general);
  }
  if (prefixed && c.rec.kind != rstwatch::trace::event_kind::other) {
    rstwatch::trace::record fast, general;
    fast.prefix = general.prefix = p;
    fast.kind = general.kind = c.rec.kind;
    const auto a = rstwatch::trace::parse_body(fast, true);
    const auto b = rstwatch::trace::parse_body(general, false);
    require(a.has_value() == b.has_value());
    if (a) require(a->offset == b->offset && a->expected == b->expected);
    require(fast == general);
    require(fast == c.rec);  // classify() takes the fast path
  }
  switch (c.kind) {
    case rstwatch::trace::line_kind::reset:
      require(rstwatch::trace::to_reset(c.rec).has_value());
      break;
    case rstwatch::trace::line_kind::malformed: {
      require(prefixed);
      auto d = rstwatch::trace::to_diagnostic(line, c.error);
      require(d.where.column >= 1 && d.where.column <= size + 1);
      break;
    }
    case rstwatch::trace::line_kind::record:
      require(!rstwatch::trace::to_reset(c.rec).has_value());
      break;
    default:
      break;
  }
  return 0;
}
