// The landing page as an on-call engineer sees it: the real exporter with
// 100 targets (the lab's, plus more against its servers), rendered by
// Debian's headless Chromium. `--dump-dom` gives the page as the browser
// parsed it (order, summary counts, groups); tests/browser/landing_page.mjs
// lays it out at 1024 px and 390 px (no cell wider than the viewport, one
// line per detail, the stylesheet applied under the Content-Security-Policy)
// and keeps a screenshot of each in build/artifacts/.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "exporter_under_test.h"
#include "process.h"

namespace ose::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr int kTargets = 100;
// The landing page's groups, worst first (landing_page.h).
const std::vector<std::string> kGroups = {"revoked", "invalid", "must-staple", "failed",
                                          "absent",  "unknown", "good",        "pending"};

class BrowserTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("ose-browser-" + std::to_string(::getpid()))).string();
    // Below the ephemeral range, apart from the other suites' labs.
    const int base = 10000 + (::getpid() % 50) * 40;  // the lab takes 32 ports
    std::string out;
    ASSERT_EQ(RunCommand("bash " + kLab + " up " + dir_ + " " + std::to_string(base), &out), 0)
        << out;
    std::string cfg = ReadFile(dir_ + "/exporter.toml");
    int n = 0;
    for (const char* kind : {"[[tls]]", "[[responder]]", "[[file]]", "[[crl]]"}) {
      for (size_t at = cfg.find(kind); at != std::string::npos; at = cfg.find(kind, at + 1)) ++n;
    }
    // More targets on the lab's servers: stapling, revoked, no staple,
    // Must-Staple without staple, nothing listening.
    const int ports[] = {base + 1, base + 2, base + 3, base + 4, base + 8};
    for (int i = 0; n < kTargets; ++i, ++n) {
      cfg += "\n[[tls]]\nname = \"fleet-" + std::to_string(100 + i) +
             "-a-rather-long-host-name.eu-west-1.example.internal\"\naddress = \"127.0.0.1:" +
             std::to_string(ports[i % 5]) + "\"\nserver_name = \"localhost\"\n";
    }
    config_ = dir_ + "/browser.toml";
    std::ofstream(config_) << cfg;
    log_ = dir_ + "/exporter.log";
    exporter_ = StartExporter(config_, log_, &port_);
    ASSERT_GT(port_, 0) << ReadFile(log_);
    ASSERT_TRUE(WaitFor([] { return HttpGet(Url("/-/ready")).status == 200; }, seconds(60)))
        << ReadFile(log_);
  }

  static void TearDownTestSuite() {
    delete exporter_;
    RunCommand("bash " + kLab + " down " + dir_);
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(dir_);
  }

  static std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  static inline std::string dir_, config_, log_;
  static inline int port_ = 0;
  static inline Process* exporter_ = nullptr;
};

TEST_F(BrowserTest, DumpedDomIsOrderedWorstFirstAndCountsMatch) {
  const std::string dom_file = dir_ + "/dom.html";
  ASSERT_EQ(RunCommand("sh -c 'timeout 60 chromium --headless=new --no-sandbox --disable-gpu "
                       "--dump-dom " + Url("/") + " > " + dom_file + " 2>/dev/null'"),
            0);
  const std::string dom = ReadFile(dom_file);
  ASSERT_NE(dom.find("id=\"targets\""), std::string::npos) << dom.substr(0, 2000);

  // The summary's counts, by what they count.
  std::map<std::string, int> summary;
  const std::regex item("data-count=\"([0-9]+)\" data-what=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), item); it != std::sregex_iterator();
       ++it) {
    summary[(*it)[2]] = std::stoi((*it)[1]);
  }
  const std::map<std::string, std::string> names = {
      {"revoked", "revoked"}, {"invalid", "invalid"}, {"must-staple", "Must-Staple without staple"},
      {"failed", "failed"},   {"absent", "absent"},   {"unknown", "unknown"},
      {"good", "good"},       {"pending", "pending"}};
  int total = 0;
  for (const auto& g : kGroups) total += summary[names.at(g)];
  EXPECT_EQ(total, kTargets) << "every target is counted once";
  EXPECT_GE(summary["revoked"], 1);
  EXPECT_GE(summary["Must-Staple without staple"], 1);
  EXPECT_GE(summary["failed"], 1);
  EXPECT_GE(summary["CRL expired"], 1);
  EXPECT_EQ(summary["fatal"], 0);

  // Groups in the order; each holds as many target rows as its count.
  std::map<std::string, std::string> rows_of;  // group -> its <tbody>
  size_t last = 0;
  int last_index = -1;
  const std::regex tbody("<tbody id=\"g-([a-z-]+)\">");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), tbody); it != std::sregex_iterator();
       ++it) {
    const std::string g = (*it)[1];
    const int index = static_cast<int>(std::find(kGroups.begin(), kGroups.end(), g) - kGroups.begin());
    EXPECT_GT(index, last_index) << g << " comes after a better group";
    last_index = index;
    last = static_cast<size_t>(it->position());
    const size_t end = dom.find("</tbody>", last);
    rows_of[g] = dom.substr(last, end - last);
  }
  for (const auto& [g, body] : rows_of) {
    int rows = 0;
    for (size_t at = body.find("<tr><td class=\"n\""); at != std::string::npos;
         at = body.find("<tr><td class=\"n\"", at + 1)) {
      ++rows;
    }
    EXPECT_EQ(rows, summary[names.at(g)]) << g;
  }
  EXPECT_NE(rows_of["revoked"].find(">nginx-revoked</td>"), std::string::npos);
  EXPECT_NE(rows_of["must-staple"].find(">nginx-must-staple-missing</td>"), std::string::npos);
  EXPECT_NE(rows_of["failed"].find(">nothing-listens</td>"), std::string::npos);
  EXPECT_NE(rows_of["invalid"].find(">s_server-expired</td>"), std::string::npos);
  EXPECT_NE(rows_of["good"].find(">nginx-good</td>"), std::string::npos);

  // Within the good group, the smallest margin to nextUpdate first.
  const std::string& good = rows_of["good"];
  std::vector<std::string> times;
  const std::regex margin("<td class=\"m\" data-label=\"nextUpdate\"><time datetime=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(good.begin(), good.end(), margin);
       it != std::sregex_iterator(); ++it) {
    times.push_back((*it)[1]);
  }
  ASSERT_GE(times.size(), 10u);
  EXPECT_TRUE(std::is_sorted(times.begin(), times.end()))
      << "margins out of order: " << times.front() << " ... " << times.back();
}

TEST_F(BrowserTest, LayoutAtLaptopAndPhoneWidths) {
  const std::string browser_dir = std::string(OSE_SOURCE_DIR) + "/tests/browser";
  std::string out;
  if (!fs::exists(browser_dir + "/node_modules/playwright-core")) {
    ASSERT_EQ(RunCommand("cd " + browser_dir + " && npm ci --no-audit --no-fund", &out), 0) << out;
  }
  out.clear();
  const int rc = RunCommand("timeout 180 node " + browser_dir + "/landing_page.mjs " + Url("/") +
                                " " + OSE_ARTIFACT_DIR,
                            &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ok: laptop: no table cell wider than the viewport"), std::string::npos) << out;
  EXPECT_NE(out.find("ok: phone: no table cell wider than the viewport"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(std::string(OSE_ARTIFACT_DIR) + "/landing-page-1024.png")) << out;
  EXPECT_TRUE(fs::exists(std::string(OSE_ARTIFACT_DIR) + "/landing-page-390.png")) << out;
  std::cout << out;
}

}  // namespace
}  // namespace ose::testing
