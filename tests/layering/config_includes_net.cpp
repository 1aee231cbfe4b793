// Must not compile: configuration is below the network layer.
#include "net/server.hpp"
