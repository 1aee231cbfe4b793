#include "broker/topic_tree.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>

#include "broker/cluster_link.hpp"
#include "broker/string_map.hpp"

namespace edgemq::broker {

struct topic_tree::node {
  string_map<std::unique_ptr<node>> children;  // looked up by string_view levels
  std::vector<subscriber> subscribers;
  std::vector<std::shared_ptr<share_group>> groups;
  node* parent = nullptr;
  std::string level;
  // The "+" and "#" children, also in `children`: every match looks for both at every level, so
  // they are reached without hashing.
  node* plus = nullptr;
  node* hash = nullptr;

  bool empty() const { return children.empty() && subscribers.empty() && groups.empty(); }
};

bool parse_shared_filter(std::string_view full, std::string_view& name, std::string_view& filter) {
  constexpr std::string_view prefix = "$share/";
  if (!full.starts_with(prefix)) return false;
  const auto rest = full.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  name = rest.substr(0, slash);
  filter = rest.substr(slash + 1);
  return !filter.empty() && name.find_first_of("+#") == std::string_view::npos;
}

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

namespace {

std::uint64_t next_version() noexcept {
  static std::atomic<std::uint64_t> v{0};
  return v.fetch_add(1, std::memory_order_relaxed) + 1;
}

// Per thread, the subscriptions and share groups a topic matched, as pointers into the tree, valid
// while the tree keeps the version they were recorded at (every change to the tree, made under its
// exclusive lock, takes a new version; readers hold the shared lock while they use them). Direct
// mapped by the topic's hash. Pairs and fan-in publishers send to the same few topics again and
// again: a hit costs one hash and one comparison instead of a hash lookup per level
// (docs/adr/0031-routing-close-to-the-limit.md). Long topics and wide matches are not remembered,
// which bounds the memory (slots x (max_topic + max_matches pointers)) per worker.
struct match_cache {
  static constexpr std::size_t slots = 256;
  static constexpr std::size_t max_topic = 256;
  static constexpr std::size_t max_matches = 64;
  struct entry {
    const void* tree = nullptr;
    std::uint64_t version = 0;
    std::string topic;
    std::vector<const subscriber*> subs;
    std::vector<const std::shared_ptr<share_group>*> groups;
  };
  std::array<entry, slots> entries;

  static entry& slot(std::string_view topic) {
    thread_local match_cache c;
    return c.entries[hash_string(topic) & (slots - 1)];
  }
};

}  // namespace

topic_tree::topic_tree() : root_(std::make_unique<node>()), version_(next_version()) {}
topic_tree::~topic_tree() = default;

bool topic_tree::subscribe(std::string_view full_filter, const subscriber& sub) {
  std::string_view share_name;
  std::string_view filter = full_filter;
  const bool shared = parse_shared_filter(full_filter, share_name, filter);
  std::unique_lock g(mu_);
  version_ = next_version();
  node* n = root_.get();
  for_each_level(filter, [&](std::string_view level) {
    auto it = n->children.find(level);
    if (it == n->children.end()) {
      auto child = std::make_unique<node>();
      child->parent = n;
      child->level = std::string(level);
      if (level == "+") n->plus = child.get();
      if (level == "#") n->hash = child.get();
      it = n->children.emplace(child->level, std::move(child)).first;
      ++nodes_;
    }
    n = it->second.get();
  });
  std::vector<subscriber>* list = &n->subscribers;
  if (shared) {
    auto git = std::find_if(n->groups.begin(), n->groups.end(), [&](auto& grp) { return grp->name == share_name; });
    if (git == n->groups.end()) {
      auto grp = std::make_shared<share_group>();
      grp->name = std::string(share_name);
      grp->filter = std::string(filter);
      git = n->groups.insert(n->groups.end(), std::move(grp));
      if (interest_) interest_->interest_added(filter, share_name);
    }
    list = &(*git)->members;
  }
  for (auto& existing : *list) {
    if (existing.s == sub.s) {
      existing = sub;
      return true;
    }
  }
  if (!shared && list->empty() && interest_) interest_->interest_added(filter, {});
  list->push_back(sub);
  ++count_;
  return false;
}

bool topic_tree::unsubscribe(std::string_view full_filter, const session* s) {
  std::string_view share_name;
  std::string_view filter = full_filter;
  const bool shared = parse_shared_filter(full_filter, share_name, filter);
  std::unique_lock g(mu_);
  version_ = next_version();
  node* n = root_.get();
  bool found = true;
  for_each_level(filter, [&](std::string_view level) {
    if (!found) return;
    auto it = n->children.find(level);
    if (it == n->children.end())
      found = false;
    else
      n = it->second.get();
  });
  if (!found) return false;
  std::vector<subscriber>* list = &n->subscribers;
  auto git = n->groups.end();
  if (shared) {
    git = std::find_if(n->groups.begin(), n->groups.end(), [&](auto& grp) { return grp->name == share_name; });
    if (git == n->groups.end()) return false;
    list = &(*git)->members;
  }
  auto it = std::find_if(list->begin(), list->end(), [&](const subscriber& x) { return x.s == s; });
  if (it == list->end()) return false;
  list->erase(it);
  --count_;
  removals_.fetch_add(1, std::memory_order_relaxed);
  if (list->empty() && interest_) interest_->interest_removed(filter, shared ? share_name : std::string_view{});
  if (shared && list->empty()) n->groups.erase(git);
  // Prune empty branches so churn of unique topics does not grow the tree forever.
  while (n != root_.get() && n->empty()) {
    node* parent = n->parent;
    if (parent->plus == n) parent->plus = nullptr;
    if (parent->hash == n) parent->hash = nullptr;
    const std::string level = std::move(n->level);  // the map's key views it: keep it until erased
    parent->children.erase(level);
    --nodes_;
    n = parent;
  }
  return true;
}

namespace {

using visit_fn = function_ref<void(const subscriber&)>;
using group_fn = function_ref<void(const std::shared_ptr<share_group>&)>;

struct visitors {
  visit_fn sub;
  group_fn group;
};

template <class Node>
void visit_all(const Node* n, const visitors& v) {
  for (const auto& s : n->subscribers) v.sub(s);
  if (v.group)
    for (const auto& g : n->groups) v.group(g);
}

// `n` matched the previous level; `rest` holds the levels after it (none when at_end).
template <class Node>
void match_from(const Node* n, std::string_view rest, bool at_end, const visitors& visit) {
  if (n->hash) visit_all(n->hash, visit);
  if (at_end) {
    visit_all(n, visit);
    return;
  }
  const std::size_t slash = rest.find('/');
  const std::string_view level = rest.substr(0, slash);
  const bool last = slash == std::string_view::npos;
  const std::string_view next = last ? std::string_view{} : rest.substr(slash + 1);
  if (auto it = n->children.find(level); it != n->children.end()) match_from(it->second.get(), next, last, visit);
  if (n->plus) match_from(n->plus, next, last, visit);
}

}  // namespace

void topic_tree::match(std::string_view topic, visit_fn visit_sub, group_fn visit_group,
                       function_ref<void()> done) const {
  std::shared_lock g(mu_);
  auto& e = match_cache::slot(topic);
  if (e.tree == this && e.version == version_ && e.topic == topic) {
    for (const subscriber* s : e.subs) visit_sub(*s);
    if (visit_group)
      for (const auto* grp : e.groups) visit_group(*grp);
    if (done) done();
    return;
  }
  // Walk the tree, remembering what matched (unless the topic or the match is too large).
  bool record = topic.size() <= match_cache::max_topic;
  e.tree = nullptr;
  e.subs.clear();
  e.groups.clear();
  const auto room = [&] { return record = record && e.subs.size() + e.groups.size() < match_cache::max_matches; };
  const auto sub = [&](const subscriber& s) {
    if (room()) e.subs.push_back(&s);
    visit_sub(s);
  };
  const auto group = [&](const std::shared_ptr<share_group>& grp) {
    if (room()) e.groups.push_back(&grp);
    if (visit_group) visit_group(grp);
  };
  const visitors visit{sub, group};
  const bool dollar = !topic.empty() && topic.front() == '$';
  // The root has no subscribers of its own; descend into the first level.
  const node* n = root_.get();
  const std::size_t slash = topic.find('/');
  const std::string_view level = topic.substr(0, slash);
  const bool last = slash == std::string_view::npos;
  const std::string_view next = last ? std::string_view{} : topic.substr(slash + 1);
  if (!dollar) {
    if (n->hash) visit_all(n->hash, visit);
    if (n->plus) match_from(n->plus, next, last, visit);
  }
  if (auto it = n->children.find(level); it != n->children.end()) match_from(it->second.get(), next, last, visit);
  if (record) {  // else not remembered: the topic or the match is too large (the vectors stay small)
    e.tree = this;
    e.version = version_;
    e.topic.assign(topic);
  }
  if (done) done();
}

namespace {

template <class Node>
void report_interest(const Node* n, std::string& path, cluster_link& l) {
  if (!n->subscribers.empty()) l.interest_added(path, {});
  for (const auto& g : n->groups) l.interest_added(path, g->name);
  for (const auto& [level, child] : n->children) {
    const auto size = path.size();
    if (n->parent) path += '/';
    path += child->level;
    report_interest(child.get(), path, l);
    path.resize(size);
  }
}

}  // namespace

void topic_tree::set_interest_listener(cluster_link* l) {
  std::unique_lock g(mu_);
  interest_ = l;
  if (!l) return;
  std::string path;
  for (const auto& [level, child] : root_->children) {
    path = child->level;
    report_interest(child.get(), path, *l);
  }
}

void topic_tree::with_shared_lock(const std::function<void()>& f) const {
  std::shared_lock g(mu_);
  f();
}

std::size_t topic_tree::size() const {
  std::shared_lock g(mu_);
  return count_;
}

std::size_t topic_tree::node_count() const {
  std::shared_lock g(mu_);
  return nodes_;
}

}  // namespace edgemq::broker
