#include "ocsp_staple_exporter/common/boxed.h"

#include <gtest/gtest.h>

#include <string>

namespace ose {
namespace {

// Boxed is std::optional on the heap: a copy is independent of its source,
// a move leaves the source empty, and an empty one costs one pointer.
TEST(Boxed, CopiesAreIndependentAndMovesTakeThePointer) {
  static_assert(sizeof(Boxed<std::string[8]>) == sizeof(void*));
  Boxed<std::string> a;
  EXPECT_FALSE(a);
  EXPECT_FALSE(a.has_value());
  a = std::string("thisUpdate");
  ASSERT_TRUE(a);
  Boxed<std::string> b = a;
  b->append(" changed");
  EXPECT_EQ(*a, "thisUpdate");
  EXPECT_EQ(*b, "thisUpdate changed");
  b = a;
  EXPECT_EQ(*b, "thisUpdate");
  EXPECT_NE(&*a, &*b);
  const std::string* held = &*a;
  Boxed<std::string> c = std::move(a);
  EXPECT_EQ(&*c, held);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty, as unique_ptr
  c.emplace(3, 'x');
  EXPECT_EQ(*c, "xxx");
  c = std::nullopt;
  EXPECT_FALSE(c);
  Boxed<std::string> empty;
  b = empty;
  EXPECT_FALSE(b);
}

}  // namespace
}  // namespace ose
