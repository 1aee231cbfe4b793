#include "broker/topic_tree.hpp"

#include <algorithm>
#include <mutex>

namespace edgemq::broker {

struct topic_tree::node {
  std::unordered_map<std::string, std::unique_ptr<node>> children;
  std::vector<subscriber> subscribers;
  node* parent = nullptr;
  std::string level;

  bool empty() const { return children.empty() && subscribers.empty(); }
};

namespace {

// Splits "a/b/c" into levels without allocating; an empty topic is one empty level.
template <class F>
void for_each_level(std::string_view topic, F&& f) {
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) {
      f(topic.substr(start));
      return;
    }
    f(topic.substr(start, slash - start));
    start = slash + 1;
  }
}

}  // namespace

topic_tree::topic_tree() : root_(std::make_unique<node>()) {}
topic_tree::~topic_tree() = default;

bool topic_tree::subscribe(std::string_view filter, const subscriber& sub) {
  std::unique_lock g(mu_);
  node* n = root_.get();
  for_each_level(filter, [&](std::string_view level) {
    auto it = n->children.find(std::string(level));
    if (it == n->children.end()) {
      auto child = std::make_unique<node>();
      child->parent = n;
      child->level = std::string(level);
      it = n->children.emplace(child->level, std::move(child)).first;
    }
    n = it->second.get();
  });
  for (auto& existing : n->subscribers) {
    if (existing.s == sub.s) {
      existing = sub;
      return true;
    }
  }
  n->subscribers.push_back(sub);
  ++count_;
  return false;
}

bool topic_tree::unsubscribe(std::string_view filter, const session* s) {
  std::unique_lock g(mu_);
  node* n = root_.get();
  bool found = true;
  for_each_level(filter, [&](std::string_view level) {
    if (!found) return;
    auto it = n->children.find(std::string(level));
    if (it == n->children.end()) found = false;
    else n = it->second.get();
  });
  if (!found) return false;
  auto it = std::find_if(n->subscribers.begin(), n->subscribers.end(), [&](const subscriber& x) { return x.s == s; });
  if (it == n->subscribers.end()) return false;
  n->subscribers.erase(it);
  --count_;
  // Prune empty branches so churn of unique topics does not grow the tree forever.
  while (n != root_.get() && n->empty()) {
    node* parent = n->parent;
    parent->children.erase(n->level);
    n = parent;
  }
  return true;
}

namespace {

using visit_fn = std::function<void(const subscriber&)>;

void visit_all(const std::vector<subscriber>& subs, const visit_fn& visit) {
  for (const auto& s : subs) visit(s);
}

// `n` matched the previous level; `rest` holds the levels after it (none when at_end).
template <class Node>
void match_from(const Node* n, std::string_view rest, bool at_end, const visit_fn& visit) {
  if (auto it = n->children.find("#"); it != n->children.end()) visit_all(it->second->subscribers, visit);
  if (at_end) {
    visit_all(n->subscribers, visit);
    return;
  }
  const std::size_t slash = rest.find('/');
  const std::string_view level = rest.substr(0, slash);
  const bool last = slash == std::string_view::npos;
  const std::string_view next = last ? std::string_view{} : rest.substr(slash + 1);
  // std::string key lookup: unordered_map<string> has no heterogeneous find in C++20 without
  // a transparent hash; a thread-local buffer avoids an allocation per level.
  thread_local std::string key;
  key.assign(level);
  if (auto it = n->children.find(key); it != n->children.end()) match_from(it->second.get(), next, last, visit);
  if (auto it = n->children.find("+"); it != n->children.end()) match_from(it->second.get(), next, last, visit);
}

}  // namespace

void topic_tree::match(std::string_view topic, const visit_fn& visit, const std::function<void()>& done) const {
  std::shared_lock g(mu_);
  const bool dollar = !topic.empty() && topic.front() == '$';
  // The root has no subscribers of its own; descend into the first level.
  const node* n = root_.get();
  const std::size_t slash = topic.find('/');
  const std::string_view level = topic.substr(0, slash);
  const bool last = slash == std::string_view::npos;
  const std::string_view next = last ? std::string_view{} : topic.substr(slash + 1);
  if (!dollar) {
    if (auto it = n->children.find("#"); it != n->children.end()) visit_all(it->second->subscribers, visit);
    if (auto it = n->children.find("+"); it != n->children.end()) match_from(it->second.get(), next, last, visit);
  }
  thread_local std::string key;
  key.assign(level);
  if (auto it = n->children.find(key); it != n->children.end()) match_from(it->second.get(), next, last, visit);
  if (done) done();
}

std::size_t topic_tree::size() const {
  std::shared_lock g(mu_);
  return count_;
}

}  // namespace edgemq::broker
