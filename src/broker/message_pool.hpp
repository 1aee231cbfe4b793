// Recycled messages for the publish hot path: a message and its shared_ptr control block come
// from per-thread free lists and go back to the free list of whichever thread drops the last
// reference, with their strings' capacity intact. Steady QoS 0 traffic then allocates nothing
// per message. Bounded per thread; large payload buffers are not kept.
#pragma once

#include <memory>

#include "broker/message.hpp"

namespace edgemq::broker {

// An empty message to fill (topic/payload assigned, not moved, to reuse their capacity).
std::shared_ptr<message> make_pooled_message();

}  // namespace edgemq::broker
