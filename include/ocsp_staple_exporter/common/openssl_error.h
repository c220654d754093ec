#pragma once
#include <string>

namespace ose {

/// Drains the calling thread's OpenSSL error queue (ERR_get_error until
/// empty) and returns the messages joined by "; ", or "" when it was empty.
/// Call right after a failed OpenSSL call so the queue never leaks into an
/// unrelated later error.
std::string DrainOpenSslErrors();

/// The openssl.cnf OpenSSL reads (OPENSSL_CONF, else its built-in path);
/// "" when OpenSSL names none. The file need not exist.
std::string OpenSslConfigFile();

/// " (OpenSSL configuration: PATH)" for OpenSslConfigFile(), to append to
/// errors that configuration can cause; "" when OpenSSL names none.
std::string OpenSslConfigNote();

/// Start-up check: can OpenSSL make a TLS client context with the default
/// library context (an openssl.cnf that activates a missing provider leaves
/// it without algorithms, and every certificate would then read as
/// unparseable)? "" when it can, else the reason with OpenSslConfigNote().
std::string OpenSslUnusable();

}  // namespace ose
