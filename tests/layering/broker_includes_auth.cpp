// Must not compile: the broker core owns the password_checker interface and never knows its
// implementation (dependency inversion, docs/security.md).
#include "auth/password_file.hpp"
