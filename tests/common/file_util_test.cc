#include "mesh/common/file_util.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace mesh::common {
namespace {

TEST(WriteFileAtomic, ReplacesContentAndLeavesNoTemporaries) {
  testing::TempDir dir;
  std::string path = dir.path() + "/obj.yaml";
  ASSERT_TRUE(WriteFileAtomic(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "two", 0600).ok());
  auto content = ReadFile(path);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "two");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(WriteFileAtomic, MissingDirectoryIsAnErrorNotACrash) {
  auto st = WriteFileAtomic("/nonexistent-dir-for-test/x", "y");
  EXPECT_FALSE(st.ok());
}

TEST(ReadFile, MissingFileIsNotFound) {
  auto r = ReadFile("/nonexistent-file-for-test");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mesh::common
