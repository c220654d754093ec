#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/probe/tls_prober.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <span>
#include <stdexcept>

#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"

namespace ose {
namespace {

using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}


// Whether the served chain validates to `system` (the default trust store)
// or to a certificate of ca_file (a trust anchor even when not
// self-signed, as Go's RootCAs), at the current time. The staple is
// examined either way; this only makes trust visible.
bool VerifyChain(SSL* ssl, X509* leaf, X509_STORE* system, const CertPool& ca_file,
                 std::string* error) {
  STACK_OF(X509)* served = SSL_get_peer_cert_chain(ssl);
  auto attempt = [&](X509_STORE* store, STACK_OF(X509)* anchors) {
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store, leaf, served) != 1) return false;
    if (anchors != nullptr) {
      X509_STORE_CTX_set0_trusted_stack(ctx.get(), anchors);
      X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);
    }
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
    if (X509_verify_cert(ctx.get()) == 1) return true;
    *error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    return false;
  };
  bool ok = system != nullptr && attempt(system, nullptr);
  if (!ok && ca_file && !ca_file->empty()) {
    X509BorrowedStackPtr anchors(sk_X509_new_null());
    for (const auto& c : *ca_file) sk_X509_push(anchors.get(), c.get());
    X509StorePtr empty(X509_STORE_new());
    ok = anchors && empty && attempt(empty.get(), anchors.get());
  }
  if (ok) error->clear();
  DrainOpenSslErrors();
  return ok;
}

// Turns a completed handshake into facts: chain, trust, name, issuer,
// Must-Staple, staple and its verdict. Pure apart from reading `ssl`.
void CollectFacts(SSL* ssl, const TlsProbeRequest& req, X509_STORE* system, ProbeResult& r) {
  r.tls_version = SSL_get_version(ssl);
  X509Ptr leaf(SSL_get1_peer_certificate(ssl));
  if (!leaf) {
    r.success = false;
    r.failure_reason = std::string(probe_failure::kNoCertificate);
    r.detail = "server sent no certificate";
    return;
  }
  r.subject = SubjectString(leaf.get());
  r.must_staple = HasMustStaple(leaf.get());
  r.not_after = NotAfterUnix(leaf.get());
  r.ocsp_url_present = !OcspUrls(leaf.get()).empty();
  r.crl_url_present = !CrlUrls(leaf.get()).empty();
  r.chain_verified = VerifyChain(ssl, leaf.get(), system, req.extra_issuers, &r.chain_error);
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  r.name_matched = sni != nullptr ? X509_check_host(leaf.get(), sni, 0, 0, nullptr) == 1
                                  : X509_check_ip_asc(leaf.get(), req.host.c_str(), 0) == 1;
  DrainOpenSslErrors();

  const unsigned char* staple = nullptr;
  long len = SSL_get_tlsext_status_ocsp_resp(ssl, &staple);
  if (staple == nullptr || len <= 0) {
    r.staple_present = false;
    r.verdict = OcspVerdict{};  // kAbsent
    if (!r.ocsp_url_present) r.verdict.detail = "no OCSP URL in the certificate";
    return;
  }
  r.staple_present = true;

  // Issuer: first in the chain the server sent, then in ca_file.
  std::vector<X509*> candidates;
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(chain); ++i) candidates.push_back(sk_X509_value(chain, i));
  }
  if (req.extra_issuers) {
    for (const auto& c : *req.extra_issuers) candidates.push_back(c.get());
  }
  X509* issuer = FindIssuer(leaf.get(), candidates);
  if (issuer == nullptr) {
    r.verdict.state = ResponseState::kInvalid;
    r.verdict.invalid_reason = std::string(invalid_reason::kIssuerUnknown);
    r.verdict.detail =
        "issuer of the leaf is neither in the served chain nor in ca_file; cannot verify "
        "the staple";
    return;
  }
  r.verdict = VerifyOcspResponse(std::span<const uint8_t>(staple, static_cast<size_t>(len)),
                                 leaf.get(), issuer, req.verify, NowUnix());
}

}  // namespace

struct TlsProber::Impl {
  asio::io_context& io;
  asio::ssl::context ctx{asio::ssl::context::tls_client};
  /// The system's trust anchors, loaded once (chain verification only).
  X509StorePtr system{X509_STORE_new()};
  explicit Impl(asio::io_context& io_ctx) : io(io_ctx) {
    if (system && X509_STORE_set_default_paths(system.get()) != 1) DrainOpenSslErrors();
  }
};

namespace {

// One probe in flight. Owned by the handlers that reference it.
class ProbeOp : public std::enable_shared_from_this<ProbeOp> {
 public:
  ProbeOp(asio::io_context& io, asio::ssl::context& ctx, X509_STORE* system,
          TlsProbeRequest req, TlsProber::Callback done)
      : system_(system),
        req_(std::move(req)),
        done_(std::move(done)),
        resolver_(io),
        stream_(io, ctx),
        timer_(io),
        start_(SteadyClock::now()) {}

  void Start() {
    auto self = shared_from_this();
    timer_.expires_after(req_.timeout);
    timer_.async_wait([self](const asio::error_code& ec) {
      if (ec || self->finished_) return;
      // Finish now; handlers still pending see finished_ and return.
      self->timed_out_ = true;
      self->resolver_.cancel();
      self->Fail(probe_failure::kTimeout, "");
    });
    resolver_.async_resolve(
        req_.host, std::to_string(req_.port),
        [self](const asio::error_code& ec, tcp::resolver::results_type results) {
          self->OnResolved(ec, std::move(results));
        });
  }

 private:
  void OnResolved(const asio::error_code& ec, tcp::resolver::results_type results) {
    if (finished_) return;
    if (ec) return Fail(probe_failure::kResolve, "resolve " + req_.host + ": " + ec.message());
    auto self = shared_from_this();
    asio::async_connect(stream_.lowest_layer(), results,
                        [self](const asio::error_code& ec2, const tcp::endpoint&) {
                          self->OnConnected(ec2);
                        });
  }

  void OnConnected(const asio::error_code& ec) {
    if (finished_) return;
    if (ec) return Fail(probe_failure::kConnect, "connect: " + ec.message());
    SSL* ssl = stream_.native_handle();
    std::string sni = req_.server_name;
    if (sni.empty() && !IsIpLiteral(req_.host)) sni = req_.host;
    if (!sni.empty() && SSL_set_tlsext_host_name(ssl, sni.c_str()) != 1) {
      return Fail(probe_failure::kTlsHandshake, "cannot set SNI: " + DrainOpenSslErrors());
    }
    SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
    auto self = shared_from_this();
    stream_.async_handshake(asio::ssl::stream_base::client,
                            [self](const asio::error_code& ec2) { self->OnHandshake(ec2); });
  }

  void OnHandshake(const asio::error_code& ec) {
    if (finished_) return;
    if (ec) {
      std::string queue = DrainOpenSslErrors();
      return Fail(probe_failure::kTlsHandshake,
                  "TLS handshake: " + ec.message() + (queue.empty() ? "" : " (" + queue + ")"));
    }
    ProbeResult r;
    r.success = true;
    CollectFacts(stream_.native_handle(), req_, system_, r);
    Finish(std::move(r));
  }

  void Fail(std::string_view reason, std::string detail) {
    ProbeResult r;
    if (timed_out_) {
      r.failure_reason = std::string(probe_failure::kTimeout);
      r.detail = "timed out after " + std::to_string(req_.timeout.count()) + "ms";
    } else {
      r.failure_reason = std::string(reason);
      r.detail = std::move(detail);
    }
    Finish(std::move(r));
  }

  void Finish(ProbeResult r) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    asio::error_code ignored;
    stream_.lowest_layer().close(ignored);
    r.duration_seconds = std::chrono::duration<double>(SteadyClock::now() - start_).count();
    r.finished_at = NowUnix();
    DrainOpenSslErrors();  // nothing of this probe leaks into the next
    auto done = std::move(done_);
    done(std::move(r));
  }

  X509_STORE* system_;  ///< owned by TlsProber::Impl
  TlsProbeRequest req_;
  TlsProber::Callback done_;
  tcp::resolver resolver_;
  asio::ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  SteadyClock::time_point start_;
  bool timed_out_ = false;
  bool finished_ = false;
};

}  // namespace

TlsProber::TlsProber(asio::io_context& io) : impl_(std::make_unique<Impl>(io)) {
  SSL_CTX* ctx = impl_->ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    throw std::runtime_error("SSL_CTX_set_min_proto_version: " + DrainOpenSslErrors());
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);  // every probe a full handshake
  // Thousands of probes wait on slow servers: free idle record buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

TlsProber::~TlsProber() = default;

void TlsProber::Probe(TlsProbeRequest request, Callback done) {
  auto op = std::make_shared<ProbeOp>(impl_->io, impl_->ctx, impl_->system.get(),
                                      std::move(request), std::move(done));
  op->Start();
}

}  // namespace ose
