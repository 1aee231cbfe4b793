// Must not compile with edgemq-cli's libraries: the CLI is a client of the public protocol.
#include "edgemq/statestore/protocol.hpp"
#include "broker/broker.hpp"
