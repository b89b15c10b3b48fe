#include "mesh/common/strings.h"

#include "mesh/common/duration.h"

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

TEST(ParseGoDuration, IstioStyleDurations) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*ParseGoDuration("1h30m"), milliseconds(5400000));
  EXPECT_EQ(*ParseGoDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseGoDuration("250ms"), milliseconds(250));
  EXPECT_FALSE(ParseGoDuration("").ok());
  EXPECT_FALSE(ParseGoDuration("5").ok());
  EXPECT_FALSE(ParseGoDuration("5 seconds").ok());
  EXPECT_FALSE(ParseGoDuration("s").ok());
}

}  // namespace
}  // namespace mesh::common
