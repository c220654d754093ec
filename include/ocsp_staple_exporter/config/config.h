#pragma once
// The configuration file (TOML) turned into an immutable Config.
//
// Every error names the file, line and column and the offending key, in the
// form `FILE:LINE:COL: KEY: message` (KEY as `tls[0].address`). Unknown keys
// are errors. Relative paths resolve against the config file's folder.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ocsp_staple_exporter/probe/probe_policy.h"
#include "ocsp_staple_exporter/common/duration.h"
#include "ocsp_staple_exporter/common/ossl_ptr.h"
#include "ocsp_staple_exporter/common/result.h"
#include "ocsp_staple_exporter/config/file_sd.h"
#include "ocsp_staple_exporter/config/host_port.h"
#include "ocsp_staple_exporter/probe/starttls.h"

namespace ose {

/// `[global]`: defaults for every target.
/// Where a target's leaf revocation status comes from (`revocation`):
/// OCSP only (the default), the CRLs of its CRL Distribution Points
/// (RFC 5280 §4.2.1.13, §6.3), or both. On `[[tls]]` and `[[file]]` the
/// staple is verified whatever this says (it is what the target watches);
/// `crl` and `both` add the CRL lookup. On `[[responder]]`, `crl` sends no
/// OCSP request at all (certificates without an OCSP URL).
enum class Revocation { kOcsp, kCrl, kBoth };

/// "ocsp", "crl" or "both".
std::string_view RevocationName(Revocation r);

/// Which served certificates a TLS target's `revocation` checks
/// (`revocation_scope`): the leaf (the default), or with `chain` also every
/// certificate above it below the trust anchor (RFC 5280 §6.3 asks it of
/// each certificate in the path): `ocsp_chain_cert_*`.
enum class RevocationScope { kLeaf, kChain };

struct GlobalConfig {
  Duration interval = std::chrono::seconds(60);  ///< probe interval
  Duration timeout = std::chrono::seconds(10);   ///< per-probe deadline
  int concurrency = 256;                         ///< probes in flight at once
  /// Clock skew tolerated on thisUpdate / nextUpdate (RFC 6960 §4.2.2.1).
  Duration skew = std::chrono::seconds(300);
  /// How long a response without nextUpdate counts as fresh after its
  /// thisUpdate (RFC 6960 §4.2.2.1 leaves it to the client).
  Duration default_validity = std::chrono::hours(1);
  /// Requests in flight at once to one responder host (`[[responder]]`).
  int per_host_concurrency = 4;
  /// Resolvers for TLS targets' names, "IP", "IP:port" or "[IPv6]:port";
  /// empty: /etc/resolv.conf. /etc/hosts is read first either way.
  std::vector<std::string> dns_servers;
  /// The default of every target's `revocation`.
  Revocation revocation = Revocation::kOcsp;
  /// The most the shared CRL store holds (bytes of CRLs as fetched); past
  /// it the least recently used CRLs are forgotten. 1 MiB to 1 TiB.
  int64_t crl_cache_max_bytes = int64_t{512} << 20;
  /// Sharding over replicas (`shard_index`, `shard_count`, or the
  /// --shard.* flags): this replica probes only the targets whose name
  /// hashes to shard_index (ShardOf). Count 1: every target.
  int shard_index = 0;
  int shard_count = 1;
};

/// Prometheus' `hashmod` of `name`: the last 8 bytes of its MD5 as a
/// big-endian integer, modulo `count` (> 0). The same rule as a
/// `hashmod` relabeling of the `target` label, so one sharding can be
/// reasoned about across Prometheus and the exporter.
uint64_t HashMod(std::string_view name, uint64_t count);

/// Whether `name` is this replica's (HashMod(name, count) == index).
bool InShard(std::string_view name, const GlobalConfig& global);

/// True for an IPv4 or IPv6 address literal (no brackets).
bool IsIpLiteral(const std::string& host);

/// Checks one `dns_servers` entry ("IP", "IP:port", "[IPv6]:port").
/// Errors (reason "config") name the entry.
Result<Ok> ValidateDnsServer(const std::string& entry);

/// Shared, immutable certificates loaded from a PEM file (e.g. `ca_file`).
using CertPool = std::shared_ptr<const std::vector<X509Ptr>>;

/// One `[[tls]]` section: a TLS endpoint whose stapled response is probed.
/// Most fresh handshakes one probe may make (`handshakes` is 1..10).
inline constexpr int kMaxHandshakes = 10;

struct TlsTarget {
  std::string name;         ///< unique across the file; the `target` label
  std::string address;      ///< as written, "host:port"
  HostPort endpoint;        ///< parsed `address`
  std::string server_name;  ///< SNI; empty means: host when it is a name
  std::string ca_file;      ///< absolute path or empty
  CertPool ca_certs;        ///< certificates of ca_file (issuer lookup); null when unset
  Duration interval{};      ///< resolved against [global]
  Duration timeout{};       ///< resolved against [global]
  Revocation revocation = Revocation::kOcsp;  ///< resolved against [global]
  RevocationScope revocation_scope = RevocationScope::kLeaf;  ///< `revocation_scope`
  bool all_addresses = false;  ///< `addresses = "all"` (default "first")
  int handshakes = 1;          ///< fresh handshakes per probe, 1..10
  /// `starttls`: the plaintext protocol upgraded before the handshake
  /// (mail, directory, database, chat servers); kNone: TLS from the start.
  StartTls starttls = StartTls::kNone;
  /// `starttls_ehlo` (smtp only): the EHLO name; default the exporter's
  /// host name. Empty unless starttls is smtp.
  std::string starttls_ehlo;
  /// Discovered targets: the labels of their file_sd group, added to every
  /// series after `target`; empty for targets of the config file.
  LabelPairs labels;
};

/// A certificate and its issuer, loaded once (`cert_file` / `issuer_file`).
struct LoadedCert {
  X509Ptr cert;
  X509Ptr issuer;
  bool must_staple = false;
  std::vector<std::string> ocsp_urls;  ///< AIA id-ad-ocsp, in order
  std::vector<std::string> crl_urls;   ///< CRL Distribution Points URIs, in order
};
using LoadedCertPtr = std::shared_ptr<const LoadedCert>;

/// How `[[responder]]` sends its request (RFC 5019 §5 / RFC 6960 App. A).
enum class HttpMethod { kAuto, kGet, kPost };

/// One `[[responder]]` section: ask an OCSP responder directly.
struct ResponderTarget {
  std::string name;
  std::string cert_file;
  std::string issuer_file;  ///< "" when cert_file holds the chain
  LoadedCertPtr cert;
  /// `url`, or else the certificate's AIA OCSP URLs; tried in order.
  std::vector<std::string> urls;
  bool urls_from_aia = false;  ///< no `url`: follow the certificate's AIA on renewal
  HttpMethod method = HttpMethod::kAuto;
  bool nonce = false;  ///< send a nonce (RFC 8954) and require it back
  Duration interval{};
  Duration timeout{};
  Revocation revocation = Revocation::kOcsp;  ///< kCrl: no OCSP request, no URL needed
};

/// One `[[file]]` section: a DER staple file a server will serve.
struct FileTarget {
  std::string name;
  std::string path;  ///< absolute
  std::string cert_file;
  std::string issuer_file;
  LoadedCertPtr cert;
  Duration interval{};
  Revocation revocation = Revocation::kOcsp;
};

/// Largest CRL accepted by default (64 MiB); `max_size` changes it.
inline constexpr int64_t kDefaultCrlMaxSize = 64LL << 20;

/// One `[[crl]]` section: a CRL fetched over HTTP(S) or read from disk and
/// verified against its issuer (RFC 5280 §5, §6.3.3).
struct CrlTarget {
  std::string name;         ///< unique across the file; the `target` label
  std::string url;          ///< http:// or https://; empty when `path` is set
  std::string path;         ///< absolute; empty when `url` is set
  std::string issuer_file;  ///< as resolved
  CertPool issuer;          ///< certificates of issuer_file; the first signs the CRL
  Duration interval{};      ///< longest time between fetches
  Duration timeout{};
  int64_t max_size = kDefaultCrlMaxSize;  ///< bytes; larger is body_too_large
  bool follow_redirects = false;          ///< HTTP redirects (at most 5) are followed
};

/// One `[[module]]` section: options for /probe?target=...&module=NAME.
struct Module {
  std::string name;
  std::string server_name;
  std::string ca_file;
  CertPool ca_certs;
  Duration timeout{};
  /// `revocation` (default ocsp, not [global]'s): with `crl`/`both`,
  /// /probe looks the leaf up in the shared CRL store (and the chain, with
  /// scope chain); also the most `&revocation=` may ask for.
  Revocation revocation = Revocation::kOcsp;
  RevocationScope revocation_scope = RevocationScope::kLeaf;  ///< as TlsTarget's
  bool all_addresses = false;  ///< `addresses = "all"`
  int handshakes = 1;          ///< 1..10
  StartTls starttls = StartTls::kNone;  ///< as TlsTarget::starttls
  std::string starttls_ehlo;            ///< as TlsTarget::starttls_ehlo
};

/// One `[[stapler.certificate]]`: a certificate the engine staples.
struct StaplerCertificate {
  std::string name;  ///< unique among stapler certificates; the `certificate` label
  std::string cert_file;
  std::string issuer_file;
  LoadedCertPtr cert;
  std::string mode = "auto";        ///< auto | must | always | never
  std::vector<std::string> urls;    ///< `url`, or the AIA OCSP URLs
  bool urls_from_aia = false;       ///< no `url`: follow the certificate's AIA on renewal
  std::string output_file;          ///< DER staple for nginx / HAProxy; "" for none
  std::string haproxy_socket;       ///< HAProxy admin socket; "" for none
  std::string reload_command;       ///< run (sh -c) after output_file changed
  Duration timeout{};
  /// `revocation` ([global]'s when unset): with `crl` or `both` the
  /// certificate is also looked up in the CRLs of its distribution points
  /// at each fetch; listed as revoked, it is never stapled good and
  /// must/always turn fatal, as for an OCSP revocation.
  Revocation revocation = Revocation::kOcsp;
};

/// `[stapler]`: the stapling engine.
struct StaplerConfig {
  std::string store_dir;             ///< absolute; required with certificates
  Duration min_refresh = std::chrono::minutes(5);
  Duration max_refresh = std::chrono::hours(1);
  Duration reload_min_interval = std::chrono::seconds(10);  ///< between reload_command runs
  /// First retry after a failed fetch; doubles per failure, capped at 1 h.
  Duration failure_backoff = std::chrono::seconds(60);
  Duration ready_timeout = std::chrono::seconds(30);  ///< longest /-/ready waits for first fetches
  bool exit_on_fatal = false;
  std::string fatal_command;         ///< run (sh -c) when a certificate turns fatal
  /// reload_command / fatal_command are killed (their process group) after this.
  Duration command_timeout = std::chrono::seconds(30);
  std::vector<StaplerCertificate> certificates;
};

/// `[alertmanager]`: where the stapling engine pushes fatal events.
struct AlertmanagerConfig {
  std::string url;  ///< base URL, e.g. http://127.0.0.1:9093; "" when unset
  Duration timeout = std::chrono::seconds(5);
  Duration resend_interval = std::chrono::minutes(1);  ///< while an alert fires
};

/// One `[[discovery]]`: `[[tls]]` targets read from Prometheus file_sd
/// files (file_sd.h), re-read when they change (see discovery.h).
struct DiscoveryConfig {
  std::string name;  ///< unique among [[discovery]]; label `discovery` of its own metrics
  /// Absolute paths or glob(7) patterns (in the last path element), each
  /// ending .json, .yml or .yaml.
  std::vector<std::string> files;
  Duration refresh_interval{};  ///< how often the files are checked (default 30s)
  /// What every discovered target starts from: server_name, ca_file,
  /// interval, timeout, revocation, addresses and handshakes (name,
  /// address and labels come from the files).
  TlsTarget defaults;
};

struct Config {
  std::string file;  ///< path it was loaded from
  GlobalConfig global;
  std::vector<TlsTarget> tls;
  std::vector<ResponderTarget> responders;
  std::vector<FileTarget> files;
  std::vector<CrlTarget> crls;
  std::vector<Module> modules;
  StaplerConfig stapler;
  AlertmanagerConfig alertmanager;
  ProbePolicy probe;  ///< `[probe]`: where /probe may connect
  /// `[fetch]`: where URLs taken from certificates (CRL Distribution
  /// Points) may be fetched; `enabled` is always true.
  ProbePolicy fetch;
  std::vector<DiscoveryConfig> discovery;
};

/// Every target name of `config` ([[tls]], [[responder]], [[file]], [[crl]])
/// with its kind: "tls", "responder", "file" or "crl".
std::map<std::string, std::string> TargetKinds(const Config& config);

/// The longest probe interval of `config`: [global] and every [[tls]],
/// [[responder]] and [[file]] target's.
Duration LongestInterval(const Config& config);

/// Reads and validates `path`. Error reason "config"; detail holds one line
/// per problem found, each `FILE:LINE:COL: KEY: message`.
Result<Config> LoadConfig(const std::string& path);

/// Validates TOML `text` as if read from `path` (used for messages and to
/// resolve relative paths). Same errors as LoadConfig.
Result<Config> ParseConfig(std::string_view text, const std::string& path);

}  // namespace ose
