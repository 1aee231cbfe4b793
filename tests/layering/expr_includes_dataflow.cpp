// Must not compile: the expression language is pure (nlohmann_json only), below the broker and
// the rest of the dataflow library.
#include "dataflow/record.hpp"
