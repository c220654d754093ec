// [[discovery]]: the file_sd parser and the watcher over real files.
#include "ocsp_staple_exporter/config/discovery.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ocsp_staple_exporter/config/file_sd.h"

namespace ose {
namespace {

namespace fs = std::filesystem;

std::string Error(std::string_view text, FileSdFormat format) {
  auto r = ParseFileSd(text, format, "sd.x");
  return r ? "ok" : r.error().detail;
}

TEST(FileSd, JsonAndYamlGiveTheSameGroups) {
  auto json = ParseFileSd(R"([{"targets": ["a.example.net:443", "[::1]:8443"],
                               "labels": {"team": "web", "env": "prod"}},
                              {"targets": ["10.0.0.5:443"]}])",
                          FileSdFormat::kJson, "sd.json");
  ASSERT_TRUE(json) << json.error().detail;
  auto yaml = ParseFileSd("- targets: [a.example.net:443, '[::1]:8443']\n"
                          "  labels: {team: web, env: prod}\n"
                          "- targets:\n    - 10.0.0.5:443\n",
                          FileSdFormat::kYaml, "sd.yml");
  ASSERT_TRUE(yaml) << yaml.error().detail;
  for (const auto* groups : {&json.value(), &yaml.value()}) {
    ASSERT_EQ(groups->size(), 2u);
    EXPECT_EQ((*groups)[0].targets,
              (std::vector<DiscoveredAddress>{{"a.example.net:443", {"a.example.net", 443}},
                                              {"[::1]:8443", {"::1", 8443}}}));
    EXPECT_EQ((*groups)[0].labels, (LabelPairs{{"env", "prod"}, {"team", "web"}}));
    EXPECT_TRUE((*groups)[1].labels.empty());
  }
  // An empty file (or an empty list) is no targets, not an error.
  EXPECT_EQ(Error("", FileSdFormat::kYaml), "ok");
  EXPECT_EQ(Error("[]", FileSdFormat::kJson), "ok");
}

TEST(FileSd, BadFilesNameTheElement) {
  const std::tuple<std::string, FileSdFormat, std::string> cases[] = {
      {"[{", FileSdFormat::kJson, "sd.x: not valid JSON"},
      {"{\"targets\": []}", FileSdFormat::kJson, "sd.x: must be a list of target groups"},
      {"[{\"labels\": {}}]", FileSdFormat::kJson,
       "sd.x: [0].targets: must be a list of HOST:PORT strings"},
      {"[{\"targets\": [\"a:1\"], \"label\": {}}]", FileSdFormat::kJson,
       "sd.x: [0].label: unknown key"},
      {"[{\"targets\": [\"a:1\"]}, {\"targets\": [\"nohost\"]}]", FileSdFormat::kJson,
       "sd.x: [1].targets[0]: invalid address \"nohost\": want HOST:PORT"},
      {"[{\"targets\": [443]}]", FileSdFormat::kJson, "sd.x: [0].targets[0]: must be a string"},
      {"[{\"targets\": [\"a:1\"], \"labels\": {\"target\": \"x\"}}]", FileSdFormat::kJson,
       "sd.x: [0].labels.target: reserved: the exporter or Prometheus sets this label itself"},
      // A second `status` on ocsp_response_status would make the series invalid.
      {"[{\"targets\": [\"a:1\"], \"labels\": {\"status\": \"x\"}}]", FileSdFormat::kJson,
       "sd.x: [0].labels.status: reserved: the exporter or Prometheus sets this label itself"},
      {"[{\"targets\": [\"a:1\"], \"labels\": {\"le\": \"x\"}}]", FileSdFormat::kJson,
       "sd.x: [0].labels.le: reserved: the exporter or Prometheus sets this label itself"},
      {"[{\"targets\": [\"a:1\"], \"labels\": {\"instance\": \"x\"}}]", FileSdFormat::kJson,
       "sd.x: [0].labels.instance: reserved: the exporter or Prometheus sets this label itself"},
      {"[{\"targets\": [\"a:1\"], \"labels\": {\"address\": \"x\"}}]", FileSdFormat::kJson,
       "sd.x: [0].labels.address: reserved: the exporter or Prometheus sets this label itself"},
      {"[{\"targets\": [\"a:1\"], \"labels\": {\"__meta_x\": \"x\"}}]", FileSdFormat::kJson,
       "sd.x: [0].labels.__meta_x: invalid label name (want [a-zA-Z_][a-zA-Z0-9_]*, not "
       "__-prefixed)"},
      {"[{\"targets\": [\"a:1\"], \"labels\": {\"1x\": \"x\"}}]", FileSdFormat::kJson,
       "sd.x: [0].labels.1x: invalid label name (want [a-zA-Z_][a-zA-Z0-9_]*, not "
       "__-prefixed)"},
      {"[{\"targets\": [\"a:1\"], \"labels\": {\"n\": 1}}]", FileSdFormat::kJson,
       "sd.x: [0].labels.n: must be a string"},
      {"- targets: [a:1]\n  labels: {team: caf\xe9}\n", FileSdFormat::kYaml,
       "sd.x: [0].labels.team: is not valid UTF-8"},
      {"- targets: [a:1\n", FileSdFormat::kYaml, "sd.x: line 2, column 1: end of sequence flow not found"},
  };
  for (const auto& [text, format, want] : cases) {
    EXPECT_EQ(Error(text, format), want) << text;
  }
  // Deep nesting is refused, not recursed into.
  std::string deep(5000, '[');
  EXPECT_NE(Error(deep, FileSdFormat::kYaml), "ok");
  EXPECT_EQ(FileSdFormatOf("/x/sd.txt").error().reason, "bad_format");
}

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ose-discovery-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    block_.name = "sd";
    block_.files = {(dir_ / "*.json").string(), (dir_ / "static.yml").string()};
    block_.refresh_interval = std::chrono::seconds(30);
    block_.defaults.handshakes = 3;
    block_.defaults.server_name = "www.example.net";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Replaced by rename, as a careful writer (and Kubernetes) does.
  void Write(const std::string& name, const std::string& text) {
    const fs::path tmp = dir_ / (name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, dir_ / name);
  }

  std::vector<std::string> Names(const std::map<std::string, std::string>& configured = {}) {
    std::vector<std::string> out;
    for (const auto& t : watcher_.Targets({block_}, configured)) out.push_back(t.name);
    return out;
  }

  fs::path dir_;
  DiscoveryConfig block_;
  DiscoveryWatcher watcher_;
  int64_t now_ = 1'000'000;
};

TEST_F(WatcherTest, FilesChangeAppearAndDisappear) {
  Write("a.json", R"([{"targets": ["a.example.net:443"], "labels": {"team": "web"}}])");
  EXPECT_TRUE(watcher_.Poll({block_}, now_, false));
  auto targets = watcher_.Targets({block_}, {});
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].name, "a.example.net:443");
  EXPECT_EQ(targets[0].endpoint.port, 443);
  EXPECT_EQ(targets[0].handshakes, 3);  // the block's defaults
  EXPECT_EQ(targets[0].server_name, "www.example.net");
  EXPECT_EQ(targets[0].labels, (LabelPairs{{"team", "web"}}));

  // Nothing changed: nothing to apply.
  EXPECT_FALSE(watcher_.Poll({block_}, now_ += 31'000, false));

  // A second file, matched by name.
  Write("static.yml", "- targets: [b.example.net:443, a.example.net:443]\n");
  Write("ignored.txt", "not matched");
  // Not yet: the refresh interval has not passed.
  EXPECT_FALSE(watcher_.Poll({block_}, now_ + 1'000, false));
  EXPECT_TRUE(watcher_.Poll({block_}, now_ += 31'000, false));
  // a.example.net:443 is listed twice: the first (a.json) wins.
  EXPECT_EQ(Names(), (std::vector<std::string>{"a.example.net:443", "b.example.net:443"}));
  // A name the config file already has is skipped.
  EXPECT_EQ(Names({{"b.example.net:443", "tls"}}),
            (std::vector<std::string>{"a.example.net:443"}));
  // Issue 20 point 16: the name of a configured [[responder]], [[file]] or
  // [[crl]] target is refused (it would take over that target's series).
  for (const char* kind : {"responder", "file", "crl"}) {
    EXPECT_EQ(Names({{"a.example.net:443", kind}}),
              (std::vector<std::string>{"b.example.net:443"}))
        << kind;
  }

  // A half-written file keeps what it gave; the error is counted once.
  {
    std::ofstream(dir_ / "a.json") << "[{\"targets\": [\"a.exa";
  }
  EXPECT_FALSE(watcher_.Poll({block_}, now_ += 31'000, false));
  EXPECT_EQ(Names(), (std::vector<std::string>{"a.example.net:443", "b.example.net:443"}));
  EXPECT_FALSE(watcher_.Poll({block_}, now_ += 31'000, false));
  auto stats = watcher_.Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].read_errors, 1u);
  EXPECT_EQ(stats[0].files, 2u);

  // Fixed, with another label: applied.
  Write("a.json", R"([{"targets": ["a.example.net:443"], "labels": {"team": "edge"}}])");
  EXPECT_TRUE(watcher_.Poll({block_}, now_ += 31'000, false));
  EXPECT_EQ(watcher_.Targets({block_}, {})[0].labels, (LabelPairs{{"team", "edge"}}));

  // Deleted: its targets go.
  fs::remove(dir_ / "static.yml");
  EXPECT_TRUE(watcher_.Poll({block_}, now_ += 31'000, false));
  EXPECT_EQ(Names(), (std::vector<std::string>{"a.example.net:443"}));

  // A reload forces a check at once; a block removed from the config goes.
  Write("c.json", R"([{"targets": ["c.example.net:443"]}])");
  EXPECT_TRUE(watcher_.Poll({block_}, now_ + 1, true));
  EXPECT_EQ(Names().size(), 2u);
  EXPECT_TRUE(watcher_.Poll({}, now_ + 2, true));
  EXPECT_TRUE(watcher_.Targets({block_}, {}).empty());
  EXPECT_TRUE(watcher_.Stats().empty());
}

TEST_F(WatcherTest, OversizedAndUnreadableFilesAreErrorsNotTargets) {
  {
    std::ofstream big(dir_ / "big.json");
    big << "[";
    std::string filler(1 << 20, ' ');
    for (size_t i = 0; i <= kMaxFileSdBytes / filler.size(); ++i) big << filler;
    big << "]";
  }
  EXPECT_FALSE(watcher_.Poll({block_}, now_, false));
  EXPECT_TRUE(Names().empty());
  EXPECT_EQ(watcher_.Stats()[0].read_errors, 1u);
  // A folder named like a file is not read.
  fs::create_directories(dir_ / "folder.json");
  EXPECT_FALSE(watcher_.Poll({block_}, now_ += 31'000, false));
}

}  // namespace
}  // namespace ose
