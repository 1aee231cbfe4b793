// RESP3 (state store requests and replies): anything accepted re-encodes canonically to the same
// value, and whatever the encoders build parses back to what they were given.
#include <string>
#include <vector>

#include "edgemq/statestore/resp3.hpp"
#include "fuzz_bodies.hpp"
#include "fuzz_support.hpp"

namespace edgemq::fuzz {
namespace {

namespace r3 = statestore::resp3;

std::string encode_reply(const r3::reply& r) {
  switch (r.type) {
    case r3::reply::kind::simple:
      return "+" + r.text + "\r\n";
    case r3::reply::kind::integer:
      return r3::integer(r.number);
    case r3::reply::kind::bulk:
      return r3::bulk(r.text);
    case r3::reply::kind::null:
      return r3::null_bulk();
    case r3::reply::kind::error:
      return r3::error(r.text);
    case r3::reply::kind::array:
      return r3::request(std::vector<std::string_view>(r.items.begin(), r.items.end()));
  }
  return {};
}

bool same(const r3::reply& a, const r3::reply& b) {
  return a.type == b.type && a.text == b.text && a.number == b.number && a.items == b.items;
}

void raw_request(std::string_view in) {
  const auto parts = r3::parse_request(in);
  if (!parts) return;
  check(!parts->empty() && parts->size() <= r3::max_request_elements);
  for (auto p : *parts) check(p.data() >= in.data() && p.data() + p.size() <= in.data() + in.size());
  check(parts->back().data() + parts->back().size() + 2 == in.data() + in.size());  // nothing after the last value
  const auto again = r3::request(*parts);
  check(again.size() <= in.size());  // the canonical form is the shortest (no leading zeros)
  const auto reparsed = r3::parse_request(again);
  check(reparsed && *reparsed == *parts);
}

void raw_reply(std::string_view in) {
  const auto r = r3::parse_reply(in);
  if (!r) return;
  if (r->type == r3::reply::kind::bulk) check(in.ends_with(r->text + "\r\n") && in.size() > r->text.size() + 4);
  const auto again = r3::parse_reply(encode_reply(*r));
  check(again && same(*r, *again));
}

// The input cut at 0xFF bytes into up to 16 values, then built by the encoders.
void encoders(std::string_view in) {
  std::vector<std::string_view> parts;
  while (parts.size() < r3::max_request_elements) {
    const auto cut = in.find('\xff');
    parts.push_back(in.substr(0, cut));
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + 1);
  }
  const auto req = r3::request(parts);
  const auto back = r3::parse_request(req);
  check(back && *back == parts);
  const auto as_reply = r3::parse_reply(req);
  check(as_reply && as_reply->type == r3::reply::kind::array &&
        std::vector<std::string_view>(as_reply->items.begin(), as_reply->items.end()) == parts);
  for (auto p : parts) {
    const auto b = r3::parse_reply(r3::bulk(p));
    check(b && b->type == r3::reply::kind::bulk && b->text == p);
    const auto e = r3::parse_reply(r3::error(p));
    check(e && e->type == r3::reply::kind::error && e->text == p);
  }
  std::int64_t n = 0;
  for (unsigned char c : parts.front().substr(0, 8))
    n = static_cast<std::int64_t>((static_cast<std::uint64_t>(n) << 8) | c);
  const auto i = r3::parse_reply(r3::integer(n));
  check(i && i->type == r3::reply::kind::integer && i->number == n);
  const auto null = r3::parse_reply(r3::null_bulk());
  check(null && null->type == r3::reply::kind::null);
  const auto ok = r3::parse_reply(r3::ok());
  check(ok && ok->type == r3::reply::kind::simple && ok->text == "OK");
}

}  // namespace

void resp3_one_input(const std::uint8_t* data, std::size_t size) {
  const auto in = as_text(data, size);
  raw_request(in);
  raw_reply(in);
  encoders(in);
}

}  // namespace edgemq::fuzz
