#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/util/temp_dir.h"

namespace tpjit {
namespace {
namespace fs = std::filesystem;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_plain(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

size_t count_files(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFile, CommitPublishesWholeFileAndLeavesNoTemp) {
  testing::TempDir dir;
  fs::path target = dir.path() / "out.bin";
  Result<AtomicFile> file = AtomicFile::create(target);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->temp_path().parent_path(), dir.path());
  EXPECT_TRUE(is_atomic_temp_name(file->temp_path().filename().string()));
  ASSERT_TRUE(file->write("hello "));
  ASSERT_TRUE(file->write(std::string(100000, 'x')));
  EXPECT_FALSE(fs::exists(target));  // nothing visible before commit
  Status committed = file->commit();
  ASSERT_TRUE(committed) << committed.error().message;
  EXPECT_EQ(read_all(target), "hello " + std::string(100000, 'x'));
  EXPECT_EQ(count_files(dir.path()), 1u);
}

TEST(AtomicFile, TargetKeepsOldContentUntilCommit) {
  testing::TempDir dir;
  fs::path target = dir.path() / "out.txt";
  write_plain(target, "old");
  Result<AtomicFile> file = AtomicFile::create(target);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->write("new"));
  EXPECT_EQ(read_all(target), "old");
  ASSERT_TRUE(file->commit());
  EXPECT_EQ(read_all(target), "new");
}

TEST(AtomicFile, UncommittedIsRemovedAndTargetUntouched) {
  testing::TempDir dir;
  fs::path target = dir.path() / "out.txt";
  write_plain(target, "old");
  fs::path temp;
  {
    Result<AtomicFile> file = AtomicFile::create(target);
    ASSERT_TRUE(file);
    temp = file->temp_path();
    ASSERT_TRUE(file->write("partial"));
    EXPECT_TRUE(fs::exists(temp));
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_EQ(read_all(target), "old");
  EXPECT_EQ(count_files(dir.path()), 1u);
}

TEST(AtomicFile, MovedFromDoesNotRemoveTheTemp) {
  testing::TempDir dir;
  fs::path target = dir.path() / "out.txt";
  Result<AtomicFile> created = AtomicFile::create(target);
  ASSERT_TRUE(created);
  AtomicFile owner = std::move(*created);
  { AtomicFile moved_from = std::move(owner); owner = std::move(moved_from); }
  ASSERT_TRUE(owner.write("kept"));
  ASSERT_TRUE(owner.commit());
  EXPECT_EQ(read_all(target), "kept");
}

TEST(AtomicFile, MissingDirectoryIsAnErrorNamingThePath) {
  testing::TempDir dir;
  fs::path target = dir.path() / "no" / "such" / "out.txt";
  Result<AtomicFile> file = AtomicFile::create(target);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, errc::kInternal);
  EXPECT_NE(file.error().message.find("mkostemp"), std::string::npos) << file.error().message;
  EXPECT_NE(file.error().message.find((dir.path() / "no").string()), std::string::npos);
}

TEST(AtomicFile, CommitTwiceAndWriteAfterCommitFail) {
  testing::TempDir dir;
  Result<AtomicFile> file = AtomicFile::create(dir.path() / "out.txt");
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->commit());
  EXPECT_FALSE(file->commit());
  EXPECT_FALSE(file->write("late"));
}

TEST(AtomicFile, TempNameMatcher) {
  EXPECT_TRUE(is_atomic_temp_name("abc.cubin.tmp.Xy12Zq"));
  EXPECT_FALSE(is_atomic_temp_name("abc.cubin"));
  EXPECT_FALSE(is_atomic_temp_name("abc.tmp.toolong"));
  EXPECT_FALSE(is_atomic_temp_name("abc.tmp."));
}

TEST(UniqueFd, ClosesOnceAndMoves) {
  testing::TempDir dir;
  int raw = ::open((dir.path() / "f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), raw);
    EXPECT_NE(::fcntl(raw, F_GETFD), -1);
    EXPECT_TRUE(b.close());
    EXPECT_FALSE(b);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
}

}  // namespace
}  // namespace tpjit
