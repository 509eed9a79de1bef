// The one translation unit of rstwatch-install that compiles the X3 grammars.
#include <rstwatch/instantiate.hpp>
