#include "mesh/common/strings.h"

#include "gtest/gtest.h"

namespace mesh::common {
namespace {

TEST(GlobMatch, StarAndQuestion) {
  EXPECT_TRUE(GlobMatch("Pod testing/*", "Pod testing/mypod"));
  EXPECT_FALSE(GlobMatch("Pod testing/*", "Pod other/mypod"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_TRUE(GlobMatch("*foo*bar", "xxfooyybar"));
  EXPECT_FALSE(GlobMatch("*foo*bar", "xxfooyybaz"));
}

TEST(GoFormatting, QuoteAndList) {
  EXPECT_EQ(GoQuote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(GoList({"a", "b"}), "[a b]");
  EXPECT_EQ(GoList({}), "[]");
}

}  // namespace
}  // namespace mesh::common
