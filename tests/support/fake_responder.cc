#include "fake_responder.h"

#include <civetweb.h>
#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

namespace ose::testing {
namespace {

void Send(mg_connection* conn, int status, const char* type, const std::string& body,
          const char* extra = "") {
  mg_printf(conn,
            "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close"
            "\r\n\r\n",
            status, type, body.size(), extra);
  mg_write(conn, body.data(), body.size());
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// GET requests append "/<base64 request>" to the responder URL.
bool Under(const std::string& uri, const std::string& path) {
  return uri == path || uri.rfind(path + "/", 0) == 0;
}

int Handle(mg_connection* conn, void* data) {
  auto* self = static_cast<FakeResponder*>(data);
  const mg_request_info* req = mg_get_request_info(conn);
  std::string uri = req->local_uri ? req->local_uri : "";
  std::string method = req->request_method ? req->request_method : "";
  if (Under(uri, "/status500")) {
    Send(conn, 500, "text/plain", "internal error\n");
  } else if (Under(uri, "/wrong-type")) {
    Send(conn, 200, "text/html", "<html>not OCSP</html>");
  } else if (Under(uri, "/oversized")) {
    Send(conn, 200, "application/ocsp-response", std::string(2 << 20, '\x30'));
  } else if (Under(uri, "/garbage")) {
    Send(conn, 200, "application/ocsp-response", "\x30\x82garbage, not DER");
  } else if (Under(uri, "/hang")) {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    Send(conn, 500, "text/plain", "too late\n");
  } else if (uri.rfind("/am/", 0) == 0) {
    char buf[4096];
    while (mg_read(conn, buf, sizeof buf) > 0) {
    }
    ++self->am_hits_;
    std::this_thread::sleep_for(std::chrono::milliseconds(self->am_delay_ms_.load()));
    Send(conn, 200, "application/json", "{}");
  } else if (uri.rfind("/canned/", 0) == 0) {
    std::string name = uri.substr(8);
    name = name.substr(0, name.find('/'));
    std::unique_lock lock(self->mu_);
    auto it = self->canned_.find(name);
    if (it == self->canned_.end()) {
      lock.unlock();
      Send(conn, 404, "text/plain", "nothing canned\n");
    } else {
      ++it->second.hits;
      FakeResponder::Canned c = it->second;
      lock.unlock();
      Send(conn, c.status, c.content_type.c_str(), c.body, c.extra.c_str());
    }
  } else if (Under(uri, "/switchable") && !self->available_) {
    Send(conn, 503, "text/plain", "switched off\n");
  } else if (uri.rfind("/proxy", 0) == 0 || Under(uri, "/switchable")) {
    const std::string prefix = uri.rfind("/proxy", 0) == 0 ? "/proxy" : "/switchable";
    {
      std::lock_guard lock(self->mu_);
      self->methods_.push_back(method);
    }
    // civetweb decodes local_uri; forward the raw request_uri instead.
    std::string raw = req->request_uri ? req->request_uri : uri;
    std::string rest = raw.substr(prefix.size());
    std::string body;
    if (method == "POST") {
      char buf[4096];
      int n;
      while ((n = mg_read(conn, buf, sizeof buf)) > 0) body.append(buf, static_cast<size_t>(n));
    }
    std::string answer;
    CURL* c = curl_easy_init();
    std::string url = self->upstream_ + (method == "GET" ? rest : "/");
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_slist* headers = nullptr;
    if (method == "POST") {
      headers = curl_slist_append(headers, "Content-Type: application/ocsp-request");
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
      Send(conn, 502, "text/plain", "upstream failed\n");
    } else {
      Send(conn, 200, "application/ocsp-response", answer,
           "Cache-Control: public, max-age=3600\r\n");
    }
  } else {
    Send(conn, 404, "text/plain", "not found\n");
  }
  return 1;
}

}  // namespace

FakeResponder::FakeResponder(std::string upstream) : upstream_(std::move(upstream)) {
  mg_init_library(0);
  const char* opts[] = {"listening_ports", "127.0.0.1:0", "num_threads", "8", nullptr};
  mg_callbacks callbacks{};
  ctx_ = mg_start(&callbacks, nullptr, opts);
  if (ctx_ == nullptr) throw std::runtime_error("FakeResponder: mg_start failed");
  mg_set_request_handler(ctx_, "/", Handle, this);
  mg_server_port ports[2];
  if (mg_get_server_ports(ctx_, 2, ports) < 1) throw std::runtime_error("FakeResponder: no port");
  port_ = ports[0].port;
}

FakeResponder::~FakeResponder() { mg_stop(ctx_); }

std::string FakeResponder::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void FakeResponder::SetCanned(const std::string& name, std::string body,
                              std::string content_type, std::string extra, int status) {
  std::lock_guard lock(mu_);
  Canned& c = canned_[name];
  c.status = status;
  c.body = std::move(body);
  c.content_type = std::move(content_type);
  c.extra = std::move(extra);
}

int FakeResponder::CannedHits(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = canned_.find(name);
  return it == canned_.end() ? 0 : it->second.hits;
}

std::vector<std::string> FakeResponder::ProxiedMethods() const {
  std::lock_guard lock(mu_);
  return methods_;
}

}  // namespace ose::testing
