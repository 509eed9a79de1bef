// A consumer that builds rstwatch from source with add_subdirectory.
#include <rstwatch/netfilter.hpp>

#include <cstdio>

int main() {
  namespace nf = rstwatch::netfilter;
  std::printf("security OUTPUT at priority %d\n",
              nf::hook_priority(nf::table::security, nf::hook::output));
  return 0;
}
