#include "cluster/node_filter_index.hpp"

#include <algorithm>

namespace edgemq::cluster {

namespace {

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

void bump(std::map<std::string, std::size_t, std::less<>>& m, const std::string& node, bool up) {
  if (up) {
    ++m[node];
    return;
  }
  auto it = m.find(node);
  if (it != m.end() && --it->second == 0) m.erase(it);
}

}  // namespace

void node_filter_index::add(const std::string& node, std::string_view filter) {
  auto levels = split(filter);
  const bool hash = levels.back() == "#";
  if (hash) levels.pop_back();
  level* l = &root_;
  for (const auto lv : levels) {
    auto it = l->children.find(lv);
    if (it == l->children.end()) it = l->children.emplace(std::string(lv), std::make_unique<level>()).first;
    l = it->second.get();
  }
  bump(hash ? l->hash : l->ends, node, true);
  ++per_node_[node];
}

void node_filter_index::remove(const std::string& node, std::string_view filter) {
  auto levels = split(filter);
  const bool hash = levels.back() == "#";
  if (hash) levels.pop_back();
  std::vector<std::pair<level*, std::string_view>> path;  // (parent, child name), to prune
  level* l = &root_;
  for (const auto lv : levels) {
    auto it = l->children.find(lv);
    if (it == l->children.end()) return;
    path.emplace_back(l, lv);
    l = it->second.get();
  }
  auto& counts = hash ? l->hash : l->ends;
  if (!counts.contains(node)) return;
  bump(counts, node, false);
  bump(per_node_, node, false);
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    auto child = it->first->children.find(it->second);
    if (!child->second->empty()) break;
    it->first->children.erase(child);
  }
}

void node_filter_index::collect(const level& l, std::vector<std::string_view>& levels, std::size_t i,
                                std::vector<std::string>& out) const {
  // "#" matches this level's parent too (MQTT-4.7.1-2): "a/#" matches "a".
  for (const auto& [node, n] : l.hash) out.push_back(node);
  if (i == levels.size()) {
    for (const auto& [node, n] : l.ends) out.push_back(node);
    return;
  }
  if (auto it = l.children.find(levels[i]); it != l.children.end()) collect(*it->second, levels, i + 1, out);
  if (auto it = l.children.find("+"); it != l.children.end()) collect(*it->second, levels, i + 1, out);
}

void node_filter_index::match(std::string_view topic, std::vector<std::string>& out) const {
  auto levels = split(topic);
  const auto first = out.size();
  if (!topic.empty() && topic.front() == '$') {
    // Wildcards at the first level do not match `$` topics (MQTT-4.7.2-1).
    if (auto it = root_.children.find(levels[0]); it != root_.children.end()) collect(*it->second, levels, 1, out);
  } else {
    collect(root_, levels, 0, out);
  }
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  out.erase(std::unique(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()), out.end());
}

std::size_t node_filter_index::filters_of(const std::string& node) const {
  const auto it = per_node_.find(node);
  return it == per_node_.end() ? 0 : it->second;
}

}  // namespace edgemq::cluster
