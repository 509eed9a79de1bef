// The one translation unit of rstwatch-spec-rules that compiles the X3 grammars.
#include <rstwatch/instantiate.hpp>
