// The password file behind the broker's password_checker hook (dependency inversion: the broker
// core owns the interface, this module implements it, the composition root plugs it in).
#pragma once

#include <memory>

#include "auth/password_file.hpp"
#include "broker/password_checker.hpp"

namespace edgemq::auth {

class file_password_checker final : public broker::password_checker {
 public:
  explicit file_password_checker(std::shared_ptr<const password_file> f) : file_(std::move(f)) {}
  bool check(std::string_view username, std::string_view password) const override {
    return file_->verify(username, password);
  }

 private:
  const std::shared_ptr<const password_file> file_;  // never changes: a reload installs a new checker
};

}  // namespace edgemq::auth
