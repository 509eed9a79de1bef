// Who sent each TCP reset in a kernel log: a line source and one classify() call per line are a
// complete reader. Usage: rstwatch-classify FILE
#include <rstwatch/rstwatch.hpp>

#include <iostream>

int main(int argc, char** argv) {
  using namespace rstwatch::log;
  if (argc != 2) return std::cerr << "usage: rstwatch-classify FILE\n", 2;
  line_source lines(argv[1]);
  if (!lines.good()) return std::cerr << argv[1] << ": cannot open\n", 1;
  classified_line c;
  line_counts counts;
  for (std::string_view line; lines.next(line);) {
    classify(line, lines.line_number(), c);
    counts.add(c.kind);
    if (c.kind == line_kind::reset)
      std::cout << c.event.time_text << "  " << c.event.describe() << '\n';
    else if (c.kind == line_kind::malformed)
      std::cerr << format(c.to_diagnostic(argv[1])) << '\n';
  }
  std::cout << counts.lines << " lines: " << counts.resets << " resets, " << counts.records
            << " other LOG records, " << counts.ignored << " ignored, " << counts.malformed
            << " malformed\n";
}
