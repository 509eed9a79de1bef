// A second translation unit that includes every trace header: the spec binary links only if
// the headers define nothing that is not inline (one definition rule).
#include <rstwatch/trace/instance.hpp>
#include <rstwatch/trace/prefix.hpp>
#include <rstwatch/trace/record.hpp>
#include <rstwatch/trace/reset.hpp>

#include <string_view>

namespace rstwatch::test {

// The classification of `line` as computed in this translation unit.
trace::line_kind classify_elsewhere(std::string_view line) { return trace::classify(line).kind; }

}  // namespace rstwatch::test
