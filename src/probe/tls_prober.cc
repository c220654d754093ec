#include "ocsp_staple_exporter/common/clock.h"
#include "ocsp_staple_exporter/probe/tls_prober.h"
#include "ocsp_staple_exporter/probe/chain_revocation.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include "ocsp_staple_exporter/common/asio.h"
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cerrno>
#include <optional>
#include <cstdlib>
#include <cstring>
#include <span>
#include <stdexcept>
#include <thread>
#include <atomic>

#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/common/openssl_error.h"
#include "ocsp_staple_exporter/ocsp/certificate.h"
#include "ocsp_staple_exporter/probe/dns_resolver.h"
#include "ocsp_staple_exporter/probe/fleet.h"
#include "ocsp_staple_exporter/probe/verify_cache.h"

namespace ose {
namespace {

using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;



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

// Where the leaf's issuer is looked for: first in the chain the server
// sent, then in ca_file. Borrowed from `ssl` and `req`.
std::vector<X509*> IssuerCandidates(SSL* ssl, const TlsProbeRequest& req) {
  std::vector<X509*> out;
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(chain); ++i) out.push_back(sk_X509_value(chain, i));
  }
  if (req.extra_issuers) {
    for (const auto& c : *req.extra_issuers) out.push_back(c.get());
  }
  return out;
}

// Verifies what a completed handshake carries: chain, trust, name, issuer,
// Must-Staple, staple and its verdict at `now`. Pure apart from reading `ssl`.
HandshakeFacts VerifyHandshake(SSL* ssl, X509* leaf, const TlsProbeRequest& req,
                               X509_STORE* system, int64_t now) {
  HandshakeFacts f;
  f.subject = SubjectString(leaf);
  f.identity = IdentityOf(leaf);
  f.must_staple = HasMustStaple(leaf);
  f.not_after = NotAfterUnix(leaf);
  f.ocsp_url_present = !OcspUrls(leaf).empty();
  f.crl_url_present = !CrlUrls(leaf).empty();
  std::string chain_error;
  f.chain_verified = VerifyChain(ssl, leaf, system, req.extra_issuers, &chain_error);
  // None allocated when it verified; the few texts OpenSSL has are held once.
  if (!chain_error.empty()) f.chain_error = InternedString(chain_error);
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  f.name_matched = sni != nullptr ? X509_check_host(leaf, sni, 0, 0, nullptr) == 1
                                  : X509_check_ip_asc(leaf, req.host.c_str(), 0) == 1;
  DrainOpenSslErrors();

  const unsigned char* staple = nullptr;
  long len = SSL_get_tlsext_status_ocsp_resp(ssl, &staple);
  if (staple == nullptr || len <= 0) {
    f.staple_present = false;  // verdict kAbsent
    if (!f.ocsp_url_present) f.verdict.Mut().detail = "no OCSP URL in the certificate";
    return f;
  }
  f.staple_present = true;

  X509* issuer = FindIssuer(leaf, IssuerCandidates(ssl, req));
  if (issuer == nullptr) {
    OcspVerdict& v = f.verdict.Mut();
    v.state = ResponseState::kInvalid;
    v.invalid_reason = std::string(invalid_reason::kIssuerUnknown);
    v.detail =
        "issuer of the leaf is neither in the served chain nor in ca_file; cannot verify "
        "the staple";
    return f;
  }
  f.verdict = VerifyOcspResponse(std::span<const uint8_t>(staple, static_cast<size_t>(len)),
                                 leaf, issuer, req.verify, now);
  return f;
}

// The digest of everything VerifyHandshake reads: the served chain (leaf
// first) and staple as DER, the name checked, the ca_file pool (by
// address; the cache pins it) and the verification options.
InputDigest HandshakeDigest(SSL* ssl, X509* leaf, const TlsProbeRequest& req) {
  thread_local std::vector<unsigned char> buf;
  InputHasher h;
  auto add_cert = [&](X509* x) {
    int n = i2d_X509(x, nullptr);
    if (n <= 0) return h.AddInt(-1);
    buf.resize(static_cast<size_t>(n));
    unsigned char* p = buf.data();
    i2d_X509(x, &p);
    h.Add(buf.data(), buf.size());
  };
  h.Add("tls-v1");
  add_cert(leaf);
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  const int n = chain != nullptr ? sk_X509_num(chain) : 0;
  h.AddInt(n);
  for (int i = 0; i < n; ++i) add_cert(sk_X509_value(chain, i));
  const unsigned char* staple = nullptr;
  long len = SSL_get_tlsext_status_ocsp_resp(ssl, &staple);
  h.AddInt(staple != nullptr ? len : -1);
  if (staple != nullptr && len > 0) h.Add(staple, static_cast<size_t>(len));
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  h.Add(sni != nullptr ? std::string_view("sni:") : std::string_view("ip:"));
  h.Add(sni != nullptr ? std::string_view(sni) : std::string_view(req.host));
  h.AddInt(static_cast<int64_t>(reinterpret_cast<uintptr_t>(req.extra_issuers.get())));
  h.AddInt(req.verify.skew_seconds);
  h.AddInt(req.verify.default_validity_seconds);
  return h.Finish();
}

// Until when facts verified at `now` hold apart from the clock checks
// VerdictAt repeats: see verify_cache.h.
int64_t FactsLifetime(SSL* ssl, const HandshakeFacts& f, const TlsProbeRequest& req,
                      int64_t now) {
  int64_t until = now + 3600;
  auto bound = [&](std::optional<int64_t> t) {
    if (t && *t > now) until = std::min(until, *t);
    if (t && *t <= now) until = std::min(until, now + 60);  // already past: recheck soon
  };
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      X509* x = sk_X509_value(chain, i);
      bound(Asn1TimeToUnix(X509_get0_notAfter(x)));
      auto nb = Asn1TimeToUnix(X509_get0_notBefore(x));
      if (nb && *nb > now) until = std::min(until, *nb);
    }
  }
  if (req.extra_issuers) {
    for (const auto& c : *req.extra_issuers) bound(NotAfterUnix(c.get()));
  }
  bound(f.verdict->signer_not_after);
  if (f.verdict->invalid_reason == invalid_reason::kNotYetValid && f.verdict->this_update) {
    until = std::min(until, std::max(now + 1, *f.verdict->this_update - req.verify.skew_seconds));
  }
  return std::max(until, now + 1);
}

// Turns a completed handshake into facts, verifying only inputs not seen
// (within their lifetime) before.
void CollectFacts(SSL* ssl, const TlsProbeRequest& req, X509_STORE* system,
                  VerificationCache& cache, ProbeResult& r) {
  r.tls_version = SSL_get_version(ssl);
  X509Ptr leaf(SSL_get1_peer_certificate(ssl));
  if (!leaf) {
    r.success = false;
    r.failure_reason = std::string(probe_failure::kNoCertificate);
    r.detail = "server sent no certificate";
    return;
  }
  const int64_t now = NowUnix();
  const InputDigest key = HandshakeDigest(ssl, leaf.get(), req);
  std::optional<HandshakeFacts> facts = cache.Find(key, now);
  if (!facts) {
    facts = VerifyHandshake(ssl, leaf.get(), req, system, now);
    cache.Insert(key, *facts, FactsLifetime(ssl, *facts, req, now), req.extra_issuers);
  }
  HandshakeFacts& f = *facts;
  r.subject = std::move(f.subject);
  r.identity = std::move(f.identity);
  r.must_staple = f.must_staple;
  r.not_after = f.not_after;
  r.ocsp_url_present = f.ocsp_url_present;
  r.crl_url_present = f.crl_url_present;
  r.chain_verified = f.chain_verified;
  r.chain_error = std::move(f.chain_error);
  r.name_matched = f.name_matched;
  r.staple_present = f.staple_present;
  r.verdict = std::move(f.verdict);
  if (req.chain_subjects) {
    r.extras_mut().chain_subjects = ChainSubjects(leaf.get(), IssuerCandidates(ssl, req), system);
  }
  if (req.crl_subject) {
    auto s = std::make_shared<ProbeResult::CrlSubject>();
    if (X509* issuer = FindIssuer(leaf.get(), IssuerCandidates(ssl, req))) {
      s->issuer = ShareX509(issuer);
    }
    s->urls = CrlUrls(leaf.get());
    s->leaf = std::move(leaf);
    r.extras_mut().crl_subjects = {std::move(s)};
  }
}

// The system trust store, held in memory. X509_STORE_set_default_paths
// would add OpenSSL 3's "store" lookup, which opens and lists the whole
// certificate directory on every verification whose issuer is not in it
// (a private CA): 16% of a probe's CPU in getdents64. The bundle file
// (SSL_CERT_FILE, else OpenSSL's default, on Debian ca-certificates.crt)
// is read once; only when it cannot be read is the hashed directory used.
X509StorePtr LoadSystemTrust() {
  X509StorePtr store(X509_STORE_new());
  if (!store) return store;
  const char* env = std::getenv(X509_get_default_cert_file_env());
  const char* file = env != nullptr && *env != '\0' ? env : X509_get_default_cert_file();
  if (X509_STORE_load_file(store.get(), file) != 1) {
    DrainOpenSslErrors();
    const char* denv = std::getenv(X509_get_default_cert_dir_env());
    const char* dir = denv != nullptr && *denv != '\0' ? denv : X509_get_default_cert_dir();
    if (X509_STORE_load_path(store.get(), dir) != 1) DrainOpenSslErrors();
  }
  return store;
}

}  // namespace

// A library context for one probe loop, configured from the same
// openssl.cnf as the default one (OPENSSL_CONF, else the built-in path):
// the same providers (a FIPS provider included) and system TLS policy. A
// missing file leaves OpenSSL's defaults (the default provider, loaded on
// first use); a file that fails to load is logged and left out, as the
// default context's own initialisation leaves it.
LibCtxPtr NewProbeLibCtx() {
  LibCtxPtr libctx(OSSL_LIB_CTX_new());
  if (!libctx) throw std::runtime_error("OSSL_LIB_CTX_new: " + DrainOpenSslErrors());
  const std::string path = OpenSslConfigFile();
  if (!path.empty() && access(path.c_str(), R_OK) == 0 &&
      OSSL_LIB_CTX_load_config(libctx.get(), path.c_str()) != 1) {
    log::Warn("OpenSSL config not loaded into a probe loop's library context; using defaults",
              {{"file", path}, {"err", DrainOpenSslErrors()}});
  }
  return libctx;
}

// One event loop that runs probes: its library context, SSL_CTX and
// resolver are used from its thread only.
struct ProbeLoop {
  ProbeLoop(asio::io_context& loop_io, DnsOptions dns_options)
      : io(loop_io), dns(loop_io, std::move(dns_options)) {
    ctx.reset(SSL_CTX_new_ex(libctx.get(), nullptr, TLS_client_method()));
    SSL_CTX* c = ctx.get();
    if (c == nullptr) {
      throw std::runtime_error("SSL_CTX_new: " + DrainOpenSslErrors() + OpenSslConfigNote());
    }
    if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1) {
      throw std::runtime_error("SSL_CTX_set_min_proto_version: " + DrainOpenSslErrors());
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);  // every probe a full handshake
    // Thousands of probes wait on slow servers: free idle record buffers
    // (measured: no CPU cost per probe, ose_bench section 4).
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  }
  asio::io_context& io;
  // A library context of its own: OpenSSL 3.0 guards each context's
  // provider store and name map with read-write locks, and two loops
  // taking them for every fetch bounced them between cores (11% of a
  // probe's CPU samples). The handshake fetches its algorithms and decodes
  // the peer's certificates in this one (/probe: 0.95 -> 0.87 ms of CPU).
  LibCtxPtr libctx = NewProbeLibCtx();
  SslCtxPtr ctx;
  DnsResolver dns;
};

// A loop with a thread of its own.
struct WorkerLoop {
  explicit WorkerLoop(const DnsOptions& dns) : loop(io, dns) {}
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  ProbeLoop loop;
  std::thread thread;
};

// The worker loop this thread runs, if any, and whose it is (ProbeAnyThread
// starts a probe asked from a worker thread on that worker, with no hop).
thread_local const void* tl_owner = nullptr;
thread_local ProbeLoop* tl_loop = nullptr;

struct TlsProber::Impl {
  Impl(asio::io_context& home_io, DnsOptions dns, int threads) : home(home_io) {
    if (threads <= 0) {
      inline_loop = std::make_unique<ProbeLoop>(home_io, dns);
      return;
    }
    for (int i = 0; i < threads; ++i) workers.push_back(std::make_unique<WorkerLoop>(dns));
    for (auto& w : workers) {
      w->thread = std::thread([this, io = &w->io, loop = &w->loop] {
        tl_owner = this;
        tl_loop = loop;
        // OpenSSL writes to the socket itself: a server that has closed
        // gives EPIPE, never a SIGPIPE that would end the process.
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
        // Probes turn failures into data; this only guards the loop.
        while (true) {
          try {
            io->run();
            return;
          } catch (const std::exception& e) {
            log::Error("uncaught exception on a probe loop; continuing", {{"err", e.what()}});
          } catch (...) {
            log::Error("uncaught exception on a probe loop; continuing", {});
          }
        }
      });
    }
  }
  ~Impl() {
    for (auto& w : workers) {
      w->work.reset();
      w->io.stop();
      if (w->thread.joinable()) w->thread.join();
    }
  }
  asio::io_context& home;
  /// The system's trust anchors, loaded once (chain verification only);
  /// X509_STORE is safe to share between threads for verification.
  X509StorePtr system = LoadSystemTrust();
  VerificationCache cache;  ///< shared by every loop (it locks)
  std::unique_ptr<ProbeLoop> inline_loop;  ///< threads == 0: probes run on home
  std::vector<std::unique_ptr<WorkerLoop>> workers;
  std::atomic<size_t> next{0};
};

namespace {

// One handshake in flight: connect to the first of the given addresses
// that accepts, handshake, verify. No timer of its own: the TlsProbeOp
// that started it calls TimeOut at the probe's deadline.
class HandshakeOp : public std::enable_shared_from_this<HandshakeOp> {
 public:
  /// `req` and `endpoints` belong to the TlsProbeOp, which outlives this
  /// handshake (its callback holds the TlsProbeOp).
  HandshakeOp(asio::io_context& io, SSL_CTX* ctx, X509_STORE* system, VerificationCache& cache,
              const TlsProbeRequest& req, const std::vector<tcp::endpoint>& endpoints,
              TlsProber::Callback done)
      : system_(system),
        cache_(cache),
        endpoints_(endpoints),
        req_(req),
        done_(std::move(done)),
        ctx_(ctx),
        socket_(io),
        start_(SteadyClock::now()) {}

  /// Connects to the first of the endpoints that accepts, then handshakes.
  void Start() {
    phase_ = "connecting";
    auto self = shared_from_this();
    asio::async_connect(socket_, endpoints_,
                        [self](const boost::system::error_code& ec2, const tcp::endpoint& to) {
                          if (!ec2) self->address_ = FormatEndpoint(to);
                          self->OnConnected(ec2);
                        });
  }

  /// The probe's deadline has passed: fails now with the phase it was in;
  /// handlers still pending see finished_ and return.
  void TimeOut() {
    if (finished_) return;
    timed_out_ = true;
    Fail(probe_failure::kTimeout, "");
  }

 private:
  void OnConnected(const boost::system::error_code& ec) {
    if (finished_) return;
    if (ec) return Fail(probe_failure::kConnect, "connect: " + ec.message());
    if (req_.starttls != StartTls::kNone) {
      phase_ = "in the STARTTLS exchange";
      std::string domain = req_.server_name.empty() ? req_.host : req_.server_name;
      starttls_ = std::make_unique<StartTlsDialogue>(req_.starttls, req_.starttls_ehlo,
                                                     std::move(domain));
      return Converse(starttls_->Start());
    }
    StartHandshake();
  }

  // One step of STARTTLS: write what the dialogue says, read what it needs,
  // until it gives the go-ahead (then the handshake starts on the same
  // connection) or fails. Bounded by the dialogue's limits and the probe's
  // deadline.
  void Converse(StartTlsDialogue::Step step) {
    using Kind = StartTlsDialogue::Step::Kind;
    auto self = shared_from_this();
    switch (step.kind) {
      case Kind::kSend:
        plaintext_out_ = std::move(step.send);
        asio::async_write(socket_, asio::buffer(plaintext_out_),
                          [self](const boost::system::error_code& ec, size_t) {
                            if (self->finished_) return;
                            if (ec) return self->StartTlsFailed(ec);
                            self->Converse(StartTlsDialogue::Step{});  // read the answer
                          });
        return;
      case Kind::kRead:
        socket_.async_read_some(
            asio::buffer(plaintext_in_), [self](const boost::system::error_code& ec, size_t n) {
              if (self->finished_) return;
              if (ec == asio::error::eof) return self->Converse(self->starttls_->Closed());
              if (ec) return self->StartTlsFailed(ec);
              self->Converse(self->starttls_->Feed(std::string_view(self->plaintext_in_.data(), n)));
            });
        return;
      case Kind::kReady:
        starttls_.reset();
        plaintext_out_.clear();
        return StartHandshake();
      case Kind::kFail:
        return Fail(step.reason, "STARTTLS (" + std::string(StartTlsName(req_.starttls)) +
                                     "): " + step.detail);
    }
  }

  void StartTlsFailed(const boost::system::error_code& ec) {
    Fail(probe_failure::kStartTlsProtocol,
         "STARTTLS (" + std::string(StartTlsName(req_.starttls)) + "): " + ec.message());
  }

  void StartHandshake() {
    // OpenSSL reads and writes the non-blocking socket itself (as a bare
    // client does); asio only says when it is ready. No record buffers of
    // our own, no BIO pair to copy through.
    boost::system::error_code nb;
    socket_.non_blocking(true, nb);
    ssl_.reset(SSL_new(ctx_));
    SSL* ssl = ssl_.get();
    if (ssl == nullptr || nb || SSL_set_fd(ssl, socket_.native_handle()) != 1) {
      return Fail(probe_failure::kTlsHandshake, "cannot start TLS: " + DrainOpenSslErrors());
    }
    SSL_set_connect_state(ssl);
    std::string sni = req_.server_name;
    if (sni.empty() && !IsIpLiteral(req_.host)) sni = req_.host;
    if (!sni.empty() && SSL_set_tlsext_host_name(ssl, sni.c_str()) != 1) {
      return Fail(probe_failure::kTlsHandshake, "cannot set SNI: " + DrainOpenSslErrors());
    }
    SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
    phase_ = "in the TLS handshake";
    Handshake();
  }

  // One step of the handshake; waits for the socket when OpenSSL wants to.
  void Handshake() {
    if (finished_) return;
    errno = 0;
    const int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) {
      ProbeResult r;
      r.success = true;
      CollectFacts(ssl_.get(), req_, system_, cache_, r);
      return Finish(std::move(r));
    }
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      auto self = shared_from_this();
      socket_.async_wait(err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read
                                                    : tcp::socket::wait_write,
                         [self](const boost::system::error_code& ec) {
                           if (self->finished_) return;
                           if (ec) {
                             return self->Fail(probe_failure::kTlsHandshake,
                                               "TLS handshake: " + ec.message());
                           }
                           self->Handshake();
                         });
      return;
    }
    const int saved_errno = errno;
    std::string queue = DrainOpenSslErrors();
    std::string why;
    if (err == SSL_ERROR_SSL) {
      why = queue.empty() ? "protocol error" : queue;
    } else if (err == SSL_ERROR_SYSCALL && saved_errno != 0) {
      why = std::strerror(saved_errno);
    } else {
      why = "the server closed the connection";
    }
    Fail(probe_failure::kTlsHandshake, "TLS handshake: " + why);
  }

  void Fail(std::string_view reason, std::string detail) {
    ProbeResult r;
    if (timed_out_) {
      r.failure_reason = std::string(probe_failure::kTimeout);
      r.detail = "timed out after " + std::to_string(req_.timeout.count()) + "ms (" + phase_ + ")";
    } else {
      r.failure_reason = std::string(reason);
      r.detail = std::move(detail);
    }
    Finish(std::move(r));
  }

  void Finish(ProbeResult r) {
    if (finished_) return;
    finished_ = true;
    r.starttls = req_.starttls;
    ssl_.reset();  // before the descriptor it reads goes away
    boost::system::error_code ignored;
    socket_.close(ignored);
    r.duration_seconds = std::chrono::duration<double>(SteadyClock::now() - start_).count();
    r.finished_at = NowUnix();
    r.address = address_;
    DrainOpenSslErrors();  // nothing of this probe leaks into the next
    auto done = std::move(done_);
    done(std::move(r));
  }

  X509_STORE* system_;  ///< owned by TlsProber::Impl
  VerificationCache& cache_;  ///< owned by TlsProber::Impl
  const std::vector<tcp::endpoint>& endpoints_;  ///< owned by the TlsProbeOp
  const char* phase_ = "starting";  ///< for the timeout's detail
  const TlsProbeRequest& req_;      ///< owned by the TlsProbeOp
  TlsProber::Callback done_;
  SSL_CTX* ctx_;  ///< owned by the ProbeLoop
  tcp::socket socket_;
  SslPtr ssl_;    ///< created once connected
  std::unique_ptr<StartTlsDialogue> starttls_;  ///< during STARTTLS only
  std::string plaintext_out_;                   ///< STARTTLS: the write in flight
  std::array<char, 4096> plaintext_in_{};       ///< STARTTLS: the read in flight
  SteadyClock::time_point start_;
  std::string address_;  ///< the endpoint connected to, once connected
  bool timed_out_ = false;
  bool finished_ = false;
};

// Every TLS probe: resolves once, asks `admit`, then runs the handshakes
// of each address group in turn (groups in parallel: one group of every
// address, or with addresses = "all" one per address), all within the
// request's timeout (one timer), and folds them (fleet.h).
class TlsProbeOp : public std::enable_shared_from_this<TlsProbeOp> {
 public:
  TlsProbeOp(ProbeLoop& loop, X509_STORE* system, VerificationCache& cache, TlsProbeRequest req,
             TlsProber::Callback done)
      : loop_(loop),
        system_(system),
        cache_(cache),
        req_(std::move(req)),
        done_(std::move(done)),
        timer_(loop.io),
        start_(SteadyClock::now()),
        deadline_(start_ + req_.timeout) {}

  void Start() {
    auto self = shared_from_this();
    timer_.expires_at(deadline_);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->OnDeadline();
    });
    loop_.dns.Resolve(req_.host, req_.port, [self](Result<std::vector<tcp::endpoint>> r) {
      self->OnResolved(std::move(r));
    });
  }

 private:
  void OnDeadline() {
    deadline_passed_ = true;
    if (!resolved_) {
      resolved_ = true;  // a late answer is ignored
      return Fail(probe_failure::kTimeout,
                  "timed out after " + std::to_string(req_.timeout.count()) + "ms (resolving)");
    }
    for (const auto& running : running_) {
      if (std::shared_ptr<HandshakeOp> op = running.lock()) op->TimeOut();
    }
  }

  void OnResolved(Result<std::vector<tcp::endpoint>> endpoints) {
    if (resolved_) return;
    resolved_ = true;
    if (!endpoints) return Fail(probe_failure::kResolve, endpoints.error().detail);
    std::vector<tcp::endpoint> all = std::move(endpoints).value();
    if (req_.admit) {
      if (auto ok = req_.admit(all); !ok) return Fail(probe_failure::kForbidden, ok.error().detail);
      req_.admit = nullptr;
    }
    if (req_.all_addresses) {
      for (const auto& e : all) {
        const bool seen = std::any_of(groups_.begin(), groups_.end(),
                                      [&](const auto& g) { return g.front() == e; });
        if (!seen) groups_.push_back({e});
      }
    } else {
      groups_.push_back(std::move(all));
    }
    if (groups_.empty()) return Fail(probe_failure::kResolve, "no address for " + req_.host);
    runs_.resize(groups_.size());
    results_.resize(groups_.size());
    running_.resize(groups_.size());
    pending_ = groups_.size();
    for (size_t i = 0; i < groups_.size(); ++i) RunHandshake(i);
  }

  void RunHandshake(size_t group) {
    auto self = shared_from_this();
    auto op = std::make_shared<HandshakeOp>(
        loop_.io, loop_.ctx.get(), system_, cache_, req_, groups_[group],
        [self, group](ProbeResult r) { self->OnHandshake(group, std::move(r)); });
    running_[group] = op;
    op->Start();
    // Started after the deadline (the previous handshake ended just then).
    if (deadline_passed_) op->TimeOut();
  }

  void OnHandshake(size_t group, ProbeResult r) {
    running_[group].reset();
    if (req_.handshakes == 1 && !req_.all_addresses) return Finish(std::move(r));
    std::vector<ProbeResult>& run = runs_[group];
    const bool failed = !r.success;
    run.push_back(std::move(r));
    if (!failed && static_cast<int>(run.size()) < req_.handshakes) return RunHandshake(group);
    ProbeResult folded = CombineHandshakes(std::move(run), req_.handshakes);
    if (req_.all_addresses && folded.address.empty()) {
      folded.address = FormatEndpoint(groups_[group].front());
    }
    results_[group] = std::move(folded);
    if (--pending_ == 0) Deliver();
  }

  void Deliver() {
    ProbeResult r = req_.all_addresses ? CombineAddresses(std::move(results_))
                                       : std::move(results_.front());
    Finish(std::move(r));
  }

  void Fail(std::string_view reason, std::string detail) {
    ProbeResult r;
    r.failure_reason = std::string(reason);
    r.detail = std::move(detail);
    r.starttls = req_.starttls;
    r.every_address = req_.all_addresses;
    if (req_.handshakes > 1) {
      r.extras_mut().handshakes = ProbeResult::Handshakes{req_.handshakes, 0, 0};
    }
    Finish(std::move(r));
  }

  void Finish(ProbeResult r) {
    timer_.cancel();
    r.duration_seconds = std::chrono::duration<double>(SteadyClock::now() - start_).count();
    r.finished_at = NowUnix();
    auto done = std::move(done_);
    done(std::move(r));
  }

  ProbeLoop& loop_;
  X509_STORE* system_;
  VerificationCache& cache_;
  TlsProbeRequest req_;
  TlsProber::Callback done_;
  asio::steady_timer timer_;  ///< the whole probe's deadline
  SteadyClock::time_point start_, deadline_;
  bool resolved_ = false;
  bool deadline_passed_ = false;
  /// Per group, the handshake in flight (its pending handlers own it: no
  /// cycle through its callback, which owns this).
  std::vector<std::weak_ptr<HandshakeOp>> running_;
  std::vector<std::vector<tcp::endpoint>> groups_;  ///< one per address probed
  std::vector<std::vector<ProbeResult>> runs_;      ///< handshakes so far, per group
  std::vector<ProbeResult> results_;                ///< folded, per group
  size_t pending_ = 0;
};

}  // namespace

TlsProber::TlsProber(asio::io_context& io, DnsOptions dns, int threads)
    : impl_(std::make_unique<Impl>(io, std::move(dns), threads)) {}

TlsProber::~TlsProber() = default;

void TlsProber::Probe(TlsProbeRequest request, Callback done) {
  Start(std::move(request), std::move(done), /*home=*/true);
}

void TlsProber::ProbeAnyThread(TlsProbeRequest request, Callback done) {
  Start(std::move(request), std::move(done), /*home=*/false);
}

void TlsProber::Start(TlsProbeRequest request, Callback done, bool deliver_home) {
  Impl& impl = *impl_;
  auto run = [&impl](ProbeLoop& l, TlsProbeRequest req, Callback cb) {
    req.handshakes = std::clamp(req.handshakes, 1, kMaxHandshakes);
    std::make_shared<TlsProbeOp>(l, impl.system.get(), impl.cache, std::move(req), std::move(cb))
        ->Start();
  };
  if (impl.inline_loop) return run(*impl.inline_loop, std::move(request), std::move(done));
  if (!deliver_home && tl_owner == &impl) {
    // Asked on one of our loops (a /probe connection served there): run
    // here, answer here.
    return run(*tl_loop, std::move(request), std::move(done));
  }
  WorkerLoop& w = *impl.workers[impl.next++ % impl.workers.size()];
  asio::post(w.io, [&impl, &l = w.loop, run, request = std::move(request),
                    done = std::move(done), deliver_home]() mutable {
    if (deliver_home) {
      // The result goes back to the home loop, where the caller lives.
      done = [&home_io = impl.home, done = std::move(done)](ProbeResult r) mutable {
        asio::post(home_io, [done = std::move(done), r = std::move(r)]() mutable {
          done(std::move(r));
        });
      };
    }
    run(l, std::move(request), std::move(done));
  });
}

VerificationCache& TlsProber::verification_cache() { return impl_->cache; }

std::vector<asio::io_context*> TlsProber::Loops() const {
  std::vector<asio::io_context*> out;
  for (auto& w : impl_->workers) out.push_back(&w->io);
  return out;
}

void TlsProber::SetDnsServers(std::vector<std::string> servers) {
  if (impl_->inline_loop) impl_->inline_loop->dns.SetServers(servers);
  for (auto& w : impl_->workers) w->loop.dns.SetServers(servers);
}

}  // namespace ose
