// The one translation unit of rstwatch-bench-rules that compiles the X3 grammars.
#include <rstwatch/instantiate.hpp>
