// Which nodes hold a subscription matching a topic: MQTT filters (`+`, `#`) of many nodes in one
// trie, each filter counted per node. Used for cluster-wide QoS 1/2 (persistent_interest.hpp):
// the publishing node asks it which other nodes must confirm a message. Not thread-safe: the
// owner locks.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::cluster {

class node_filter_index {
 public:
  void add(const std::string& node, std::string_view filter);
  void remove(const std::string& node, std::string_view filter);  // a filter not added: nothing
  // Appends to `out` each node with a filter matching `topic`, once (sorted, no duplicates).
  void match(std::string_view topic, std::vector<std::string>& out) const;
  std::size_t filters_of(const std::string& node) const;
  const std::map<std::string, std::size_t, std::less<>>& per_node() const { return per_node_; }

 private:
  struct level {
    std::map<std::string, std::unique_ptr<level>, std::less<>> children;  // "+" is a child too
    std::map<std::string, std::size_t, std::less<>> ends;                 // node -> filters ending here
    std::map<std::string, std::size_t, std::less<>> hash;                 // node -> filters with "#" here
    bool empty() const { return children.empty() && ends.empty() && hash.empty(); }
  };
  void collect(const level& l, std::vector<std::string_view>& levels, std::size_t i,
               std::vector<std::string>& out) const;
  level root_;
  std::map<std::string, std::size_t, std::less<>> per_node_;
};

}  // namespace edgemq::cluster
