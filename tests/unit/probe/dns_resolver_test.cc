// The resolver against a real DNS server (dnsmasq): the answer cache stays
// within its bounds however many distinct names are asked for, and a
// change of resolvers applies to queries already under way.
#include "ocsp_staple_exporter/probe/dns_resolver.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "dnsmasq.h"
#include "process.h"
#include "silent_server.h"

namespace ose {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class DnsResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ose-dns-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    port_ = testing::FreePort();
    // Every name under many.test is 127.0.0.1, for five minutes.
    dnsmasq_.reset(testing::StartDnsmasq(port_, {}, (dir_ / "dnsmasq.log").string(), 300,
                                         {"--address=/many.test/127.0.0.1"}));
    ASSERT_NE(dnsmasq_, nullptr) << testing::ReadFile((dir_ / "dnsmasq.log").string());
  }
  void TearDown() override {
    dnsmasq_.reset();
    fs::remove_all(dir_);
  }
  std::string Server() const { return "127.0.0.1:" + std::to_string(port_); }

  // Resolves `names` concurrently on `io`, runs it until every answer came
  // (or `limit` passed); returns how many succeeded.
  static int ResolveAll(asio::io_context& io, DnsResolver& r, const std::vector<std::string>& names,
                        seconds limit, int* answered) {
    int ok = 0;
    *answered = 0;
    for (const auto& n : names) {
      r.Resolve(n, 443, [&](auto result) {
        ++*answered;
        if (result) ++ok;
      });
    }
    io.restart();
    const auto until = std::chrono::steady_clock::now() + limit;
    while (*answered < static_cast<int>(names.size()) && std::chrono::steady_clock::now() < until) {
      io.run_for(std::chrono::milliseconds(50));
    }
    return ok;
  }

  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<testing::Process> dnsmasq_;
};

// Issue 20 point 12: a flood of distinct, unexpired names cannot grow the
// cache past its bounds (entries, then bytes).
TEST_F(DnsResolverTest, CacheStaysWithinItsBoundsWhateverTheTtl) {
  asio::io_context io;
  DnsResolver r(io, DnsOptions{.servers = {Server()}, .max_cache_entries = 50});
  std::vector<std::string> names;
  for (int i = 0; i < 400; ++i) names.push_back("n" + std::to_string(i) + ".many.test");
  int answered = 0;
  for (size_t batch = 0; batch < names.size(); batch += 100) {
    std::vector<std::string> part(names.begin() + batch, names.begin() + batch + 100);
    ASSERT_EQ(ResolveAll(io, r, part, seconds(20), &answered), 100);
    EXPECT_LE(r.cache_size().entries, 50u);
  }
  EXPECT_EQ(r.cache_size().entries, 50u) << "the most recent names stay cached";
  // The last name asked for is still cached: no new query.
  const uint64_t before = r.queries();
  ASSERT_EQ(ResolveAll(io, r, {names.back()}, seconds(5), &answered), 1);
  EXPECT_EQ(r.queries(), before);
  // And the byte bound holds on its own.
  DnsResolver small(io, DnsOptions{.servers = {Server()}, .max_cache_bytes = 4096});
  ASSERT_EQ(ResolveAll(io, small, std::vector<std::string>(names.begin(), names.begin() + 100),
                       seconds(20), &answered),
            100);
  EXPECT_LE(small.cache_size().bytes, 4096u);
  EXPECT_GT(small.cache_size().entries, 0u);
}

// Point 13: queries outstanding at a silent resolver move to the new one
// when the resolvers change (c-ares 1.18 refuses ares_set_servers while
// queries are outstanding; the channel is recreated).
TEST_F(DnsResolverTest, NewResolversApplyToQueriesUnderWay) {
  testing::SilentUdp silent;
  asio::io_context io;
  DnsResolver r(io, DnsOptions{.servers = {"127.0.0.1:" + std::to_string(silent.port())},
                               .try_timeout = std::chrono::milliseconds(8000),
                               .tries = 2});
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back("q" + std::to_string(i) + ".many.test");
  int answered = 0, ok = 0;
  for (const auto& n : names) {
    r.Resolve(n, 443, [&](auto result) {
      ++answered;
      if (result) ++ok;
    });
  }
  io.restart();
  io.run_for(std::chrono::milliseconds(500));  // all sent, none answered
  ASSERT_EQ(answered, 0);
  r.SetServers({Server()});
  const auto until = std::chrono::steady_clock::now() + seconds(5);
  while (answered < 20 && std::chrono::steady_clock::now() < until) {
    io.run_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(answered, 20) << "queries still wait on the silent resolver";
  EXPECT_EQ(ok, 20);
  // The same list again changes nothing; new names use the new resolver.
  r.SetServers({Server()});
  EXPECT_EQ(ResolveAll(io, r, {"after.many.test"}, seconds(5), &answered), 1);
}

}  // namespace
}  // namespace ose
