// Atomic writes and bounded reads against a hostile file system: planted
// symlinks, FIFOs, devices and folders where files are expected.
#include "ocsp_staple_exporter/common/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace ose {
namespace {

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ose-file-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string Slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static std::span<const uint8_t> Bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
  fs::path dir_;
};

TEST_F(FileTest, PlantedSymlinksAreNeverFollowed) {
  const fs::path victim = dir_ / "victim";
  std::ofstream(victim) << "precious";
  const fs::path out = dir_ / "staple.ocsp";
  // The names older versions used (PID-based) and a few guesses: all
  // symlinks to the victim.
  const std::vector<std::string> guesses = {".tmp", ".tmp." + std::to_string(::getpid()),
                                             ".tmp.0"};
  for (const std::string& suffix : guesses) {
    fs::create_symlink(victim, out.string() + suffix);
  }
  const std::string payload = "new staple";
  ASSERT_TRUE(WriteFileAtomic(out.string(), Bytes(payload)));
  EXPECT_EQ(Slurp(victim), "precious");
  EXPECT_EQ(Slurp(out), payload);
  EXPECT_FALSE(fs::is_symlink(out));
  // No temporary file is left behind besides the planted links.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 5);  // victim, staple.ocsp, three planted links
  // A symlink at the destination itself is replaced, not written through.
  fs::remove(out);
  fs::create_symlink(victim, out);
  ASSERT_TRUE(WriteFileAtomic(out.string(), Bytes(payload)));
  EXPECT_EQ(Slurp(victim), "precious");
  EXPECT_FALSE(fs::is_symlink(out));
}

TEST_F(FileTest, FailedWriteKeepsTheOldContentAndNamesThePath) {
  auto r = WriteFileAtomic((dir_ / "no-such-folder" / "x").string(), Bytes("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, "io");
  EXPECT_NE(r.error().detail.find("no-such-folder"), std::string::npos) << r.error().detail;
  EXPECT_NE(r.error().detail.find("No such file or directory"), std::string::npos);
}

TEST_F(FileTest, ReadsRefuseFifosDevicesAndFoldersWithoutBlocking) {
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  auto fifo = ReadFileLimited((dir_ / "fifo").string(), 1024);
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().reason, "not_regular_file");
  EXPECT_NE(fifo.error().detail.find("is a FIFO"), std::string::npos);
  auto dev = ReadFileLimited("/dev/zero", 1024);  // would never end
  ASSERT_FALSE(dev);
  EXPECT_EQ(dev.error().reason, "not_regular_file");
  auto folder = ReadFileLimited(dir_.string(), 1024);
  ASSERT_FALSE(folder);
  EXPECT_EQ(folder.error().reason, "not_regular_file");
  EXPECT_EQ(ReadFileLimited((dir_ / "none").string(), 1024).error().reason, "missing");
  std::ofstream(dir_ / "big") << std::string(2048, 'x');
  EXPECT_EQ(ReadFileLimited((dir_ / "big").string(), 1024).error().reason, "too_large");
  EXPECT_EQ(ReadFileLimited((dir_ / "big").string(), 4096)->size(), 2048u);
}

}  // namespace
}  // namespace ose
