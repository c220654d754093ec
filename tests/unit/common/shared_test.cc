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

}  // namespace
}  // namespace ose
