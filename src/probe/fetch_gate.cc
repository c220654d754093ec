#include "ocsp_staple_exporter/probe/fetch_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "ocsp_staple_exporter/common/asio.h"
#include "ocsp_staple_exporter/common/curl_body.h"

namespace ose {

Result<Ok> FetchGate::Arm(CURL* c, const std::string& url, const ProbePolicy* policy) {
  policy_ = policy;
  auto hp = UrlHostPort(url);
  if (!hp) return Error{"forbidden", "cannot read the host of the URL"};
  host_ = hp->host;
  port_ = hp->port;
  if (auto ok = policy_->CheckName(host_, port_); !ok) return ok.error();
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, &FetchGate::OpenSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, this);
  return Ok{};
}

curl_socket_t FetchGate::OpenSocket(void* data, curlsocktype purpose, curl_sockaddr* address) {
  auto* gate = static_cast<FetchGate*>(data);
  if (purpose == CURLSOCKTYPE_IPCXN && gate->policy_ != nullptr) {
    asio::ip::tcp::endpoint ep;
    if (address->family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&address->addr);
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &in->sin_addr, b.size());
      ep = {asio::ip::address_v4(b), ntohs(in->sin_port)};
    } else if (address->family == AF_INET6) {
      const auto* in = reinterpret_cast<const sockaddr_in6*>(&address->addr);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &in->sin6_addr, b.size());
      ep = {asio::ip::address_v6(b, in->sin6_scope_id), ntohs(in->sin6_port)};
    }
    if (auto ok = gate->policy_->CheckAddresses(gate->host_, gate->port_, {ep}); !ok) {
      gate->refused_ = ok.error().detail;
      return CURL_SOCKET_BAD;
    }
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

}  // namespace ose
