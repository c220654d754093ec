// The running exporter: construction and wiring of the components, the
// listener, the signals and the event loop. Reloads are in reload.cc, the
// /probe handler in probe_handler.cc.
#include "exporter_impl.h"

#include <chrono>
#include <thread>

#include "ocsp_staple_exporter/app/probe_handler.h"
#include "ocsp_staple_exporter/common/log.h"
#include "ocsp_staple_exporter/crl/crl_prober.h"
#include "ocsp_staple_exporter/probe/targets.h"

namespace ose {
namespace {

// The longest timeout of any target: how long the first round may take.
std::chrono::milliseconds MaxTimeout(const Config& c) {
  auto t = c.global.timeout;
  for (const auto& x : c.tls) t = std::max(t, x.timeout);
  for (const auto& x : c.responders) t = std::max(t, x.timeout);
  return t;
}

int ProbeThreads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::string Joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

}  // namespace

Exporter::Impl::Impl(ExporterOptions opts, const Config& initial)
    : options(std::move(opts)),
      work(asio::make_work_guard(io)),
      tls(io, DnsOptions{.servers = initial.global.dns_servers}, ProbeThreads()),
      crl_store([this](const std::string& url,
                       const CrlValidators& since) { return FetchCrl(url, since); },
                MakeVerifyOptions(initial.global)),
      chain_revocation(crl_store,
                       [this](ResponderProbeRequest req) {
                         // Intermediates' responders: as `[fetch]` allows.
                         std::shared_ptr<const Config> c = config();
                         req.timeout = c->global.timeout;
                         req.verify = MakeVerifyOptions(c->global);
                         req.policy = &c->fetch;
                         return ResponderProber::ProbeNow(req);
                       }),
      http_prober(io, 16),
      scheduler(io, store),
      stapler_http(io, 4),
      stapler(io, stapler_http, [this](int code) { Exit(code); }),
      requests({options.telemetry_path, "/probe", "/", "/-/healthy", "/-/ready"}),
      collector(store, status, nullptr, [this] { return stapler.Snapshot(); }),
      http(store, collector,
           HttpHooks{.ready = [this] { return Ready(); },
                     .reload = [this] { return Reload(); },
                     .probe = [this](const ProbeQuery& q, auto done) {
                       AnswerProbe(q, config(), tls,
                                   RevocationLookups{&http_prober, &crl_store, &chain_revocation},
                                   std::move(done));
                     },
                     .stapler = [this] { return stapler.Snapshot(); }},
           &requests),
      signals(io, SIGINT, SIGTERM, SIGHUP) {
  status.scheduler = &scheduler.stats();
  if (!options.disable_exporter_metrics) {
    status.requests = &requests;
    status.process = true;
  }
  status.discovery = [this] { return discovery.Stats(); };
  status.crl_fetches = [this] { return crl_store.FetchCounts(); };
  status.verification_cache = [this] {
    VerificationCache& c = tls.verification_cache();
    return std::array<uint64_t, 4>{c.size(), c.capacity(), c.hits(), c.misses()};
  };
  stapler.SetCrlStore(&crl_store);
}

std::shared_ptr<const Config> Exporter::Impl::config() const {
  std::lock_guard lock(config_mu);
  return current;
}

Result<CrlDownload> Exporter::Impl::FetchCrl(const std::string& url,
                                             const CrlValidators& since) const {
  // URLs taken from certificates: only where `[fetch]` allows.
  std::shared_ptr<const Config> c = config();
  return FetchCrlUrl(url, c->global.timeout, kDefaultCrlMaxSize, &c->fetch, since);
}

bool Exporter::Impl::Ready() const {
  const auto first = scheduler.FirstRoundDue();
  // Not before the event loop has scheduled the targets (the listener
  // starts first): until then the store is empty, "all probed" vacuous.
  if (first == std::chrono::steady_clock::time_point::max()) return false;
  const auto slack = MaxTimeout(*config()) + std::chrono::seconds(5);
  const bool round_over = std::chrono::steady_clock::now() >= first + slack;
  return (store.AllProbed() || round_over) && stapler.Ready();
}

void Exporter::Impl::Exit(int code) {
  exit_code = code;
  work.reset();
  io.stop();
}

void Exporter::Impl::OnSignal(const boost::system::error_code& ec, int signal) {
  if (ec) return;
  if (signal == SIGHUP) {
    (void)Reload();
    signals.async_wait([this](const auto& e, int s) { OnSignal(e, s); });
    return;
  }
  log::Info("shutting down", {{"signal", std::to_string(signal)}});
  work.reset();
  io.stop();
}

Exporter::Exporter(ExporterOptions options, Config config)
    : impl_(std::make_unique<Impl>(std::move(options), config)) {
  impl_->Adopt(std::move(config));
}

Exporter::~Exporter() = default;

Result<Ok> Exporter::Start() {
  Impl& x = *impl_;
  HttpServerOptions web;
  web.listen_addresses = x.options.listen;
  web.web_config_file = x.options.web_config_file;
  web.router.telemetry_path = x.options.telemetry_path;
  web.router.max_probe_requests = x.options.max_probe_requests;
  // Connections on the probe loops: a /probe runs where its request was
  // read and answers there (the listener is destroyed before the prober).
  web.connection_loops = x.tls.Loops();
  if (auto started = x.http.Start(web); !started) return started.error();
  std::vector<std::string> ports;
  for (int p : x.http.ports()) ports.push_back(std::to_string(p));
  const auto cfg = x.config();
  log::Info("listening", {{"address", Joined(x.options.listen)}, {"port", Joined(ports)},
                          {"web_config", x.options.web_config_file},
                          {"shard", std::to_string(cfg->global.shard_index) + "/" +
                                        std::to_string(cfg->global.shard_count)},
                          {"config", x.options.config_file},
                          {"version", OSE_VERSION}, {"revision", OSE_REVISION}});
  x.discovery_poll =
      std::make_unique<PeriodicThread>(std::chrono::seconds(1), [&x] { x.PollDiscovery(); });
  return Ok{};
}

int Exporter::Run() {
  Impl& x = *impl_;
  x.signals.async_wait([&x](const auto& ec, int s) { x.OnSignal(ec, s); });
  // Last-resort guard: an exception escaping a handler is logged and the
  // loop goes on serving; it never takes the process down.
  while (true) {
    try {
      x.io.run();
      break;
    } catch (const std::exception& e) {
      log::Error("uncaught exception on the event loop; continuing", {{"err", e.what()}});
    } catch (...) {
      log::Error("uncaught exception on the event loop; continuing", {});
    }
  }
  return x.exit_code;
}

Result<Ok> Exporter::Reload() { return impl_->Reload(); }

}  // namespace ose
