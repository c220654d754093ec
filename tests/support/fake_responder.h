#pragma once
// A misbehaving OCSP responder for tests, served by civetweb on
// 127.0.0.1:<free port>. Paths:
// (each path also answers below it, as GET requests append the request)
//   /status500        HTTP 500
//   /wrong-type       200, Content-Type text/html
//   /oversized        200, application/ocsp-response, 2 MiB body
//   /garbage          200, application/ocsp-response, bytes that are not DER
//   /hang             accepts and answers nothing for 5 s
//   /proxy/...        forwards GET (the rest of the path) or POST (the body)
//                     to `upstream`, records the method, and adds
//                     "Cache-Control: public, max-age=3600"
//   /switchable/...   as /proxy while available_, else HTTP 503
//   /canned/NAME/...  200 with the body, Content-Type and extra header lines
//                     set by SetCanned(NAME, ...) (404 until set); counts hits
//   /am/...           an Alertmanager that answers 200 after am_delay_ms_,
//                     counting requests in am_hits_

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

struct mg_context;

namespace ose::testing {

class FakeResponder {
 public:
  explicit FakeResponder(std::string upstream);
  ~FakeResponder();
  FakeResponder(const FakeResponder&) = delete;
  FakeResponder& operator=(const FakeResponder&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path) const;
  /// Methods ("GET"/"POST") of every request /proxy forwarded, in order.
  std::vector<std::string> ProxiedMethods() const;

  /// What /canned/NAME answers from now on, with HTTP `status`. `extra` is
  /// raw header lines, each ending in "\r\n" (e.g. "Cache-Control:
  /// max-age=60\r\n", or "Location: ...\r\n" with a 302).
  void SetCanned(const std::string& name, std::string body,
                 std::string content_type = "application/ocsp-response",
                 std::string extra = "", int status = 200);
  /// Requests /canned/NAME answered so far.
  int CannedHits(const std::string& name) const;

  struct Canned {
    int status = 200;
    std::string body, content_type, extra;
    int hits = 0;
  };
  std::map<std::string, Canned> canned_;

  // Implementation details used by the C handlers.
  const std::string upstream_;
  mutable std::mutex mu_;
  std::vector<std::string> methods_;
  std::atomic<bool> available_{true};
  std::atomic<int> am_delay_ms_{0};
  std::atomic<int> am_hits_{0};

 private:
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

}  // namespace ose::testing
