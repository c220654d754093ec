#pragma once
// RAII owners for libcurl handles.

#include <curl/curl.h>

#include <memory>

namespace ose {

struct CurlEasyDeleter {
  void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
struct CurlStringDeleter {
  void operator()(char* p) const noexcept { curl_free(p); }
};
struct CurlUrlDeleter {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};

using CurlPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;
using CurlStringPtr = std::unique_ptr<char, CurlStringDeleter>;  ///< curl_easy_escape & co.
using CurlUrlPtr = std::unique_ptr<CURLU, CurlUrlDeleter>;

}  // namespace ose
