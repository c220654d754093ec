#include "ocsp_staple_exporter/common/shared.h"

#include <gtest/gtest.h>

#include <string>

namespace ose {
namespace {

// Copies share one allocation; a write through Mut() copies first when the
// value is shared, so no other holder sees it, and writes in place when not.
TEST(Shared, CopiesShareUntilOneIsWritten) {
  static_assert(sizeof(Shared<std::string[8]>) == 2 * sizeof(void*));
  Shared<std::string> a = std::string("producedAt");
  Shared<std::string> b = a;
  EXPECT_TRUE(a.SharesWith(b));
  EXPECT_EQ(&*a, &*b);

  b.Mut() += " changed";
  EXPECT_FALSE(a.SharesWith(b));
  EXPECT_EQ(*a, "producedAt");
  EXPECT_EQ(*b, "producedAt changed");

  const std::string* own = &*b;
  b.Mut() += " again";  // b's alone now: no copy
  EXPECT_EQ(&*b, own);
  EXPECT_EQ(*b, "producedAt changed again");

  a = std::string("thisUpdate");  // assignment replaces, never writes through
  EXPECT_EQ(*b, "producedAt changed again");
}

TEST(Shared, EmptyReadsAsAValueInitialisedT) {
  Shared<std::string> e;
  EXPECT_TRUE(e->empty());
  EXPECT_FALSE(e.SharesWith(Shared<std::string>()));  // nothing allocated to share
  const std::string& view = e;
  EXPECT_EQ(view, "");
  e.Mut() = "nextUpdate";
  EXPECT_EQ(*e, "nextUpdate");
  Shared<int> n;
  EXPECT_EQ(*n, 0);
}

// Interned texts are held once; a holder's write copies, so the pooled text
// (and every other holder) never changes; texts no one holds any more are
// dropped as the pool grows, and interning them again still works.
TEST(InternedString, SameTextOneAllocationAndWritesNeverReachThePool) {
  Shared<std::string> a = InternedString("CN=Lab Intermediate CA");
  Shared<std::string> b = InternedString(std::string("CN=Lab Intermediate CA"));
  EXPECT_TRUE(a.SharesWith(b));
  EXPECT_FALSE(a.SharesWith(InternedString("CN=Other CA")));

  b.Mut() += " (changed)";
  EXPECT_EQ(*a, "CN=Lab Intermediate CA");
  EXPECT_TRUE(InternedString("CN=Lab Intermediate CA").SharesWith(a));

  for (int i = 0; i < 1000; ++i) (void)InternedString("transient " + std::to_string(i));
  EXPECT_TRUE(InternedString("CN=Lab Intermediate CA").SharesWith(a)) << "held texts stay";
  EXPECT_EQ(*InternedString("transient 7"), "transient 7");
}

}  // namespace
}  // namespace ose
