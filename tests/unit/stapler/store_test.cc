#include "ocsp_staple_exporter/stapler/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "pki.h"

namespace ose {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("ose-store-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(StoreTest, KeyIsSha256OfTheLeaf) {
  auto key = testing::GenerateKey();
  int64_t now = std::time(nullptr);
  auto a = testing::IssueCert({.serial = 1, .not_before = now, .not_after = now + 60}, key.get(),
                              nullptr, key.get());
  auto b = testing::IssueCert({.serial = 2, .not_before = now, .not_after = now + 60}, key.get(),
                              nullptr, key.get());
  EXPECT_EQ(CertKey(a.get()).size(), 64u);
  EXPECT_EQ(CertKey(a.get()), CertKey(a.get()));
  EXPECT_NE(CertKey(a.get()), CertKey(b.get()));  // a rotated certificate has a new key
}

TEST_F(StoreTest, SaveLoadRoundTripAndPrivateFolder) {
  StapleStore store(dir_);
  StoreEntry e;
  e.der = {0x30, 0x03, 0x0a, 0x01, 0x00};
  e.certificate = "api \"quoted\"";
  e.status = "revoked";
  e.url = "http://ocsp.test/";
  e.fetched_at = 1234;
  e.next_update = 5678;
  ASSERT_TRUE(store.Save("abc", e).ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto got = store.Load("abc");
  ASSERT_TRUE(got.ok()) << got.error().detail;
  EXPECT_EQ(got->der, e.der);
  EXPECT_EQ(got->certificate, e.certificate);
  EXPECT_EQ(got->status, "revoked");
  EXPECT_EQ(got->url, e.url);
  EXPECT_EQ(got->fetched_at, 1234);
  EXPECT_EQ(got->next_update, 5678);
  EXPECT_FALSE(got->this_update.has_value());
  // No temporary files are left behind.
  for (const auto& f : fs::directory_iterator(dir_)) {
    EXPECT_EQ(f.path().string().find(".tmp."), std::string::npos) << f.path();
  }
}

TEST_F(StoreTest, MissingAndCorruptEntries) {
  StapleStore store(dir_);
  EXPECT_EQ(store.Load("nope").error().reason, "missing");
  StoreEntry e;
  e.der = {1, 2, 3};
  ASSERT_TRUE(store.Save("k", e).ok());
  std::ofstream(dir_ + "/k.toml") << "this is [ not toml";
  auto bad = store.Load("k");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().reason, "corrupt");
  EXPECT_NE(bad.error().detail.find("k.toml:1"), std::string::npos) << bad.error().detail;
  std::ofstream(dir_ + "/e.der") << "";
  std::ofstream(dir_ + "/e.toml") << "";
  EXPECT_EQ(store.Load("e").error().reason, "corrupt");
}

TEST_F(StoreTest, PurgeOnlyOldEntriesOfUnconfiguredCertificates) {
  StapleStore store(dir_);
  StoreEntry e;
  e.der = {1};
  for (const char* k : {"kept", "old", "recent"}) ASSERT_TRUE(store.Save(k, e).ok());
  int64_t now = std::time(nullptr);
  utimbuf old{static_cast<time_t>(now - 8 * 86400), static_cast<time_t>(now - 8 * 86400)};
  ::utime((dir_ + "/old.der").c_str(), &old);
  ::utime((dir_ + "/kept.der").c_str(), &old);
  auto removed = store.Purge({"kept"}, now, 7 * 86400);
  EXPECT_EQ(removed, std::vector<std::string>{"old"});
  EXPECT_FALSE(fs::exists(dir_ + "/old.der"));
  EXPECT_FALSE(fs::exists(dir_ + "/old.toml"));
  EXPECT_TRUE(fs::exists(dir_ + "/kept.der"));
  EXPECT_TRUE(fs::exists(dir_ + "/recent.der"));
}

TEST_F(StoreTest, AFifoOrFolderEntryIsCorruptWithoutBlocking) {
  fs::create_directories(dir_);
  StapleStore store(dir_);
  ASSERT_EQ(::mkfifo((fs::path(dir_) / "fifo.der").c_str(), 0600), 0);
  auto fifo = store.Load("fifo");
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().reason, "corrupt");
  EXPECT_NE(fifo.error().detail.find("FIFO"), std::string::npos) << fifo.error().detail;
  fs::create_directories(fs::path(dir_) / "folder.der");
  EXPECT_EQ(store.Load("folder").error().reason, "corrupt");
}

// Found by fuzz_store: a float far outside int64 where an integer belongs
// was converted (undefined behaviour). Now it is ignored.
TEST_F(StoreTest, SidecarWithFloatsWhereIntegersBelong) {
  fs::create_directories(dir_);
  std::ofstream(fs::path(dir_) / "k.der") << "\x30\x03\x0a\x01\x03";
  std::ofstream(fs::path(dir_) / "k.toml")
      << "this_update = 4555555555555555555555555555555555555555555555555555555555555555555"
         "55555555555555555555555555555179574.740\nfetched_at = 1e300\nurl = 7\n";
  auto e = StapleStore(dir_).Load("k");
  ASSERT_TRUE(e) << e.error().detail;
  EXPECT_FALSE(e->this_update.has_value());
  EXPECT_EQ(e->fetched_at, 0);
  EXPECT_EQ(e->url, "");
}

}  // namespace
}  // namespace ose
