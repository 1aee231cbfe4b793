// Must not compile with edgemq-cli's libraries: the CLI is a client of the public protocol.
#include "broker/broker.hpp"
#include "edgemq/statestore/protocol.hpp"
