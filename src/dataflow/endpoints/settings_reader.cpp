#include "dataflow/endpoints/settings_reader.hpp"

namespace edgemq::dataflow {

settings_reader::settings_reader(const nlohmann::json* obj, std::string path, problems& out, bool required)
    : obj_(obj), path_(std::move(path)), out_(out) {
  if (obj_ == nullptr) {
    if (required) out_.push_back({path_, "is required"});
  } else if (!obj_->is_object()) {
    out_.push_back({path_, "must be an object"});
    obj_ = nullptr;
  }
}

const nlohmann::json* settings_reader::raw(const char* key) const {
  if (obj_ == nullptr) return nullptr;
  auto it = obj_->find(key);
  return it == obj_->end() || it->is_null() ? nullptr : &*it;
}

void settings_reader::problem(const char* key, std::string message) {
  out_.push_back({join_pointer(path_, key), std::move(message)});
}

std::optional<std::string> settings_reader::string(const char* key, bool required) {
  const auto* v = raw(key);
  if (v == nullptr) {
    if (required && obj_ != nullptr) problem(key, "is required");
    return std::nullopt;
  }
  if (!v->is_string()) {
    problem(key, "must be a string");
    return std::nullopt;
  }
  if (required && v->get_ref<const std::string&>().empty()) {
    problem(key, "must not be empty");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<std::int64_t> settings_reader::integer(const char* key, std::int64_t min, std::int64_t max) {
  const auto* v = raw(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) {
    problem(key, "must be an integer");
    return std::nullopt;
  }
  const auto n = v->is_number_unsigned() && v->get<std::uint64_t>() > std::uint64_t(INT64_MAX) ? INT64_MAX
                                                                                               : v->get<std::int64_t>();
  if (n < min || n > max) {
    problem(key,
            "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + std::to_string(n));
    return std::nullopt;
  }
  return n;
}

std::optional<std::string> settings_reader::one_of(const char* key, std::initializer_list<const char*> allowed) {
  auto s = string(key);
  if (!s) return std::nullopt;
  std::string list;
  for (const auto* a : allowed) {
    if (*s == a) return s;
    list += list.empty() ? "" : ", ";
    list += a;
  }
  problem(key, "must be one of " + list + ", got \"" + *s + "\"");
  return std::nullopt;
}

settings_reader settings_reader::object(const char* key, bool required) {
  const auto* v = raw(key);
  if (v == nullptr && (!required || obj_ == nullptr))
    return settings_reader(nullptr, join_pointer(path_, key), out_, false);
  return settings_reader(v, join_pointer(path_, key), out_, required);
}

}  // namespace edgemq::dataflow
