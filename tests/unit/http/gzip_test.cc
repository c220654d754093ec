// GzipPieces: pieces compressed independently, in any order, join into one
// gzip member that zlib, GNU gzip and Python read back as the pieces' text
// in index order.
#include "ocsp_staple_exporter/http/gzip.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "gunzip.h"
#include "process.h"

namespace ose {
namespace {

using testing::Gunzip;

// Text that compresses like /metrics (repetitive, with varying numbers).
std::string Lines(const std::string& family, int n, std::mt19937& rng) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += family + "{target=\"t" + std::to_string(i) + "\"} " + std::to_string(rng()) + "\n";
  }
  return s;
}

TEST(GzipPieces, PiecesWrittenInAnyOrderReadBackInIndexOrder) {
  std::mt19937 rng(7);
  // Three sections filled turn by turn, as families are target by target;
  // piece 3 stays empty; several MB cross many deflate calls.
  std::vector<std::string> want(5);
  GzipPieces gz;
  for (int round = 0; round < 40; ++round) {
    for (size_t piece : {2u, 0u, 4u}) {
      std::string chunk = Lines("family_" + std::to_string(piece), 2000, rng);
      want[piece] += chunk;
      gz.Append(piece, chunk);
    }
  }
  want[1] = "# a short piece\n";
  gz.Append(1, want[1]);
  auto out = gz.Join();
  ASSERT_TRUE(out.has_value());
  std::string all = want[0] + want[1] + want[2] + want[3] + want[4];
  EXPECT_GT(all.size(), 5u << 20);
  EXPECT_LT(out->size(), all.size() / 3);
  EXPECT_EQ(Gunzip(*out), all);

  // GNU gzip and Python's gzip module read the same member.
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("ose-gzip-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/m.gz", std::ios::binary) << *out;
  std::ofstream(dir + "/m.txt", std::ios::binary) << all;
  std::string log;
  EXPECT_EQ(testing::RunCommand("gzip -t " + dir + "/m.gz && gzip -dc " + dir +
                                    "/m.gz | cmp - " + dir + "/m.txt",
                                &log),
            0)
      << log;
  EXPECT_EQ(testing::RunCommand("python3 -c 'import gzip,sys; "
                                "sys.exit(gzip.open(sys.argv[1]).read() != "
                                "open(sys.argv[2], \"rb\").read())' " +
                                    dir + "/m.gz " + dir + "/m.txt",
                                &log),
            0)
      << log;
  std::filesystem::remove_all(dir);
}

TEST(GzipPieces, PiecesCompressedOnOtherThreadsJoinOneMember) {
  std::mt19937 rng(11);
  // Two producers on threads of their own, each with its own pieces; the
  // joiner adopts them between pieces of its own.
  std::vector<std::string> text(2);
  for (int i = 0; i < 2; ++i) text[i] = Lines("family_t" + std::to_string(i), 20000, rng);
  GzipPieces a, b;
  {
    std::jthread ta([&] { a.Append(5, text[0]); });
    std::jthread tb([&] { b.Append(0, text[1]); });
  }
  GzipPieces joined;
  joined.Append(0, "# header\n");
  joined.Adopt(1, a, 5);
  joined.Adopt(2, b, 7);  // empty there: nothing moves
  joined.Adopt(3, b, 0);
  EXPECT_TRUE(joined.Has(1));
  EXPECT_FALSE(joined.Has(2));
  EXPECT_FALSE(a.Has(5));  // moved, not copied
  auto out = joined.Join();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(Gunzip(*out), "# header\n" + text[0] + text[1]);
  // A producer's zlib failure fails the member that adopts from it.
  GzipPieces bad(42), taker;
  bad.Append(0, "text");
  taker.Append(0, "ok");
  taker.Adopt(1, bad, 0);
  EXPECT_FALSE(taker.Join().has_value());
}

TEST(GzipPieces, NothingAppendedIsTheEmptyText) {
  GzipPieces gz;
  gz.Append(3, "");
  auto out = gz.Join();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(Gunzip(*out), "");
}

TEST(GzipPieces, AnImpossibleLevelFailsInsteadOfWritingGarbage) {
  GzipPieces gz(42);
  gz.Append(0, "text");
  EXPECT_FALSE(gz.Join().has_value());
}

}  // namespace
}  // namespace ose
