#include "ocsp_staple_exporter/stapler/alertmanager.h"

#include <curl/curl.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/common/curl_ptr.h"

namespace ose {

std::string FatalAlertJson(const StaplerCertState& s, int64_t since, int64_t now,
                           bool resolved) {
  std::string status(StateName(s.held.state));
  nlohmann::json alert = {
      {"labels",
       {{"alertname", "OCSPStaplerFatal"},
        {"certificate", s.name},
        {"severity", "critical"},
        {"mode", std::string(ModeName(s.mode))},
        {"source", "ocsp_staple_exporter"}}},
      {"annotations",
       {{"summary", "Stapling engine: " + s.name + " is in its fail-closed state"},
        {"description", "The stapling engine's mode for " + s.name + " is " +
                            std::string(ModeName(s.mode)) + " and the held staple is " + status +
                            (s.last_error.empty() ? "" : " (last error: " + s.last_error + ")") +
                            "."}}},
      {"startsAt", FormatUnixTime(since)}};
  if (resolved) alert["endsAt"] = FormatUnixTime(now);
  // Names and errors may carry bytes from the network: never throw on them.
  return nlohmann::json::array({alert}).dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
}

Result<Ok> PostAlerts(const std::string& base_url, const std::string& json,
                      std::chrono::milliseconds timeout) {
  CurlPtr curl(curl_easy_init());
  if (!curl) return Error{"alertmanager", "curl_easy_init failed"};
  CurlSlistPtr headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  std::string url = base_url + "/api/v2/alerts";
  std::string sink;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(json.size()));
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void*) { return size * n; });
  CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) return Error{"alertmanager", url + ": " + curl_easy_strerror(code)};
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return Error{"alertmanager", url + ": HTTP " + std::to_string(status)};
  return Ok{};
}

}  // namespace ose
