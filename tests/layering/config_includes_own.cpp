// Must compile: config's own headers and the broker limits it links.
#include "broker/limits.hpp"
#include "config/config.hpp"
