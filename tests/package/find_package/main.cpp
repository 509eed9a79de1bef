// A consumer of the installed package: prints where it found rstwatch and one model fact.
#include <rstwatch/rstwatch.hpp>

#include <cstdio>

int main() {
  namespace nf = rstwatch::netfilter;
  std::printf("rstwatch %s from %s: filter INPUT at priority %d\n", RSTWATCH_VERSION_SEEN,
              RSTWATCH_FOUND_AT, nf::hook_priority(nf::table::filter, nf::hook::input));
  return 0;
}
