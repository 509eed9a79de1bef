// The one translation unit of rstwatch-rules that compiles the X3 grammars.
#include <rstwatch/instantiate.hpp>
