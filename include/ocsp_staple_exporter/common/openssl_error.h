#pragma once
#include <string>

namespace ose {

/// Drains the calling thread's OpenSSL error queue (ERR_get_error until
/// empty) and returns the messages joined by "; ", or "" when it was empty.
/// Call right after a failed OpenSSL call so the queue never leaks into an
/// unrelated later error.
std::string DrainOpenSslErrors();

}  // namespace ose
