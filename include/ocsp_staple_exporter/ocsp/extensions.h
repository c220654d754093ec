#pragma once
// RFC 5280 §4.2: a critical extension the reader does not understand makes
// the whole object unusable. Shared by OCSP response and CRL verification.

#include <openssl/objects.h>
#include <openssl/x509.h>

#include <initializer_list>
#include <string>

namespace ose {

/// The first critical extension among `count` (read with `get(i)`, which
/// returns a borrowed X509_EXTENSION* or null) whose NID is not in `known`,
/// as a dotted OID; "" when there is none.
template <typename Get>
std::string UnknownCriticalExtension(int count, Get get, std::initializer_list<int> known) {
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* ext = get(i);
    if (ext == nullptr || X509_EXTENSION_get_critical(ext) == 0) continue;
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    bool ok = false;
    for (int k : known) ok = ok || (nid != NID_undef && nid == k);
    if (!ok) {
      char oid[80];
      OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(ext), 1);
      return oid;
    }
  }
  return "";
}

}  // namespace ose
