// The authorization policy (src/auth): any text is either a policy or an error naming where (never
// an exception or a crash); a policy answers any principal. Then the checks' own properties, on
// the input's lines: a filter that a grant covers only matches topics the grant matches (the
// subscription rule is sound), and a key glob never crashes and an escaped text matches itself.
#include <string>
#include <vector>

#include "auth/aio_policy.hpp"
#include "auth/key_glob.hpp"
#include "auth/topic_cover.hpp"
#include "edgemq/mqtt/topic.hpp"
#include "fuzz_bodies.hpp"
#include "fuzz_support.hpp"

namespace edgemq::fuzz {
namespace {

bool valid_filter(std::string_view f) {
  return mqtt::validate_topic_filter(f) == mqtt::reason_code::success;
}

// Concrete topics the filter matches: wildcards replaced by sample levels.
std::vector<std::string> samples(std::string_view filter) {
  std::vector<std::string> out(3);
  std::size_t pos = 0;
  while (true) {
    const auto slash = filter.find('/', pos);
    const auto level = filter.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    const bool first = pos == 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (!first) out[i] += '/';
      if (level == "+")
        out[i] += i == 0 ? "x" : i == 1 ? "" : "yy";
      else if (level == "#")
        out[i] += i == 0 ? "x" : i == 1 ? "x/y" : "";
      else
        out[i] += level;
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  // "a/#" also matches "a".
  if (filter.ends_with("/#")) out.emplace_back(filter.substr(0, filter.size() - 2));
  return out;
}

void policy(const std::string& text) {
  std::string why;
  auto p = auth::aio_policy::parse(text, why);
  if (!p) {
    check(!why.empty());
    return;
  }
  for (const auto& user : {std::optional<std::string>{}, std::optional<std::string>{"u"}}) {
    broker::principal who{"c", user, {{"O", "o"}, {"OU", "+"}}};
    if (auto perms = p->on_connect(who)) {
      (void)perms->may_publish("a/b");
      (void)perms->may_subscribe("a/#");
      (void)perms->may_read_key("k");
      (void)perms->may_write_key(text);
    }
  }
}

void coverage(const std::string& granted, const std::string& requested) {
  if (!valid_filter(granted) || !valid_filter(requested) || !auth::filter_covers(granted, requested)) return;
  for (const auto& t : samples(requested))
    if (mqtt::validate_topic_name(t) == mqtt::reason_code::success && mqtt::topic_matches(requested, t))
      check(mqtt::topic_matches(granted, t));
}

void globs(const std::string& pattern, const std::string& text) {
  (void)auth::glob_matches(pattern, text);
  (void)auth::valid_glob(pattern);
  check(auth::glob_matches(auth::glob_escape(text), text));
}

}  // namespace

void authz_one_input(const std::uint8_t* data, std::size_t size) {
  const std::string text(as_text(data, size));
  policy(text);
  const auto nl = text.find('\n');
  const std::string first = text.substr(0, nl);
  const std::string second = nl == std::string::npos ? std::string() : text.substr(nl + 1);
  coverage(first, second);
  globs(first, second);
}

}  // namespace edgemq::fuzz
