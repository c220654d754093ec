#pragma once
// RAII owners for every OpenSSL type the project touches. Use these instead
// of calling *_free by hand: an object is freed exactly once, when its owner
// goes out of scope.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <vector>

namespace ose {

template <typename T, void (*Free)(T*)>
struct OsslDeleter {
  void operator()(T* p) const noexcept { Free(p); }
};

template <typename T, void (*Free)(T*)>
using OsslPtr = std::unique_ptr<T, OsslDeleter<T, Free>>;

using X509Ptr = OsslPtr<X509, X509_free>;
using X509NamePtr = OsslPtr<X509_NAME, X509_NAME_free>;
using X509ExtensionPtr = OsslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using EvpPkeyPtr = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = OsslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using BioPtr = OsslPtr<BIO, BIO_free_all>;
using OcspResponsePtr = OsslPtr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicRespPtr = OsslPtr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertIdPtr = OsslPtr<OCSP_CERTID, OCSP_CERTID_free>;
using Asn1TimePtr = OsslPtr<ASN1_TIME, ASN1_TIME_free>;
using Asn1IntegerPtr = OsslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1EnumeratedPtr = OsslPtr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
using BignumPtr = OsslPtr<BIGNUM, BN_free>;
using SslCtxPtr = OsslPtr<SSL_CTX, SSL_CTX_free>;
using LibCtxPtr = OsslPtr<OSSL_LIB_CTX, OSSL_LIB_CTX_free>;
using SslPtr = OsslPtr<SSL, SSL_free>;

inline void FreeTlsFeature(TLS_FEATURE* f) { TLS_FEATURE_free(f); }
using TlsFeaturePtr = OsslPtr<TLS_FEATURE, FreeTlsFeature>;

/// Owner of the string stack X509_get1_ocsp / X509_get1_email return.
using OpensslStringStackPtr = OsslPtr<STACK_OF(OPENSSL_STRING), X509_email_free>;
using OcspRequestPtr = OsslPtr<OCSP_REQUEST, OCSP_REQUEST_free>;

inline void FreeX509Stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
using X509StackPtr = OsslPtr<STACK_OF(X509), FreeX509Stack>;

/// A stack that borrows its certificates: only the stack is freed.
inline void FreeX509StackShallow(STACK_OF(X509) * s) { sk_X509_free(s); }
using X509BorrowedStackPtr = OsslPtr<STACK_OF(X509), FreeX509StackShallow>;
using X509StorePtr = OsslPtr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = OsslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;

/// Owner of a buffer OpenSSL allocated (e.g. by i2d_*): freed with OPENSSL_free.
struct OpensslFreeDeleter {
  void operator()(unsigned char* p) const noexcept { OPENSSL_free(p); }
};
using OpensslBytesPtr = std::unique_ptr<unsigned char, OpensslFreeDeleter>;

/// Takes a new reference on `x` (X509_up_ref) and returns an owner of it.
inline X509Ptr ShareX509(X509* x) {
  if (x != nullptr) X509_up_ref(x);
  return X509Ptr(x);
}

}  // namespace ose
