#include "util/npy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace tpjit {
namespace {

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tpjit_npy_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }
  void write_raw(const std::filesystem::path& p, const std::string& bytes) const {
    std::ofstream(p, std::ios::binary) << bytes;
  }
  // A v1 file with `dict` as its header (padded) and `data_bytes` bytes of data.
  std::string v1(const std::string& dict, size_t data_bytes) const {
    std::string d = dict;
    while ((10 + d.size() + 1) % 64) d += ' ';
    d += '\n';
    std::string s = "\x93NUMPY\x01";
    s += '\0';
    s += static_cast<char>(d.size() & 0xff);
    s += static_cast<char>(d.size() >> 8);
    return s + d + std::string(data_bytes, '\x07');
  }
  std::filesystem::path dir_;
};

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST_F(NpyTest, RoundTripsEveryDtypeAndRank) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> cases = {
      {"<f4", {}}, {"<f4", {3}}, {"<u1", {5, 7}}, {"<u2", {2, 3, 4}}, {"<V2", {1, 0}}};
  int i = 0;
  for (const auto& [descr, shape] : cases) {
    NpyHeader h{descr, npy_itemsize(descr), shape, 0};
    auto data = random_bytes(h.data_bytes(), ++i);
    auto p = file("a" + std::to_string(i) + ".npy");
    ASSERT_TRUE(write_npy(p, descr, shape, data).ok());
    EXPECT_EQ(std::filesystem::file_size(p) % 64, h.data_bytes() % 64) << "data 64-aligned";
    auto r = read_npy(p);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->header.descr, descr);
    EXPECT_EQ(r->header.shape, shape);
    EXPECT_EQ(r->data, data);
  }
}

TEST_F(NpyTest, ReadsNumpyStyleHeaderAndVersion2) {
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }";
  write_raw(file("v1.npy"), v1(dict, 4));
  auto a = read_npy(file("v1.npy"));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->header.shape, std::vector<int64_t>{4});
  EXPECT_EQ(a->data, std::vector<uint8_t>(4, 7));
  std::string s = v1(dict, 4);
  // The same header in a v2 prefix: 4-byte length.
  std::string head = s.substr(10, s.size() - 14);
  std::string v2 = std::string("\x93NUMPY\x02", 7) + '\0';
  v2 += static_cast<char>(head.size() & 0xff);
  v2 += static_cast<char>(head.size() >> 8);
  v2 += std::string(2, '\0');
  write_raw(file("v2.npy"), v2 + head + std::string(4, '\x07'));
  auto b = read_npy(file("v2.npy"));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->data, a->data);
}

void expect_bad(const Result<NpyArray>& r, const std::filesystem::path& p, const std::string& what) {
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.error().code, errc::kBadRequest);
  EXPECT_NE(r.error().message.find(p.string()), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().where, p.string());
}

TEST_F(NpyTest, EveryBadFileGetsAClearErrorNamingIt) {
  auto p = file("bad.npy");
  expect_bad(read_npy(file("missing.npy")), file("missing.npy"), "cannot open");
  write_raw(p, "PK\x03\x04 not numpy");
  expect_bad(read_npy(p), p, "not a .npy file");
  write_raw(p, "\x93NUMPY\x01");
  expect_bad(read_npy(p), p, "not a .npy file");
  write_raw(p, std::string("\x93NUMPY\x09\x00\x10\x00", 10));
  expect_bad(read_npy(p), p, "unsupported .npy version 9");
  write_raw(p, std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12));
  expect_bad(read_npy(p), p, "over the 64 KiB cap");
  write_raw(p, std::string("\x93NUMPY\x01\x00\x40\x00{'descr'", 18));
  expect_bad(read_npy(p), p, "truncated header");
  write_raw(p, v1("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16));
  expect_bad(read_npy(p), p, "dtype '<f8' is not supported");
  write_raw(p, v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16));
  expect_bad(read_npy(p), p, "Fortran-order");
  write_raw(p, v1("{'descr': '<f4', 'fortran_order': False}", 16));
  expect_bad(read_npy(p), p, "no 'shape'");
  write_raw(p, v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 16));
  expect_bad(read_npy(p), p, "bad 'shape'");
  write_raw(p, v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4));
  expect_bad(read_npy(p), p, "rank over 8");
  write_raw(p, v1("{'descr': '<u1', 'fortran_order': False, 'shape': (1048576, 1048576), }", 4));
  expect_bad(read_npy(p), p, "larger than 64 GiB");
  write_raw(p, v1("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }", 60));
  expect_bad(read_npy(p), p, "header says 64");
}

TEST_F(NpyTest, WriteRefusesMismatchedData) {
  auto s = write_npy(file("w.npy"), "<f4", {2, 2}, std::vector<uint8_t>(15));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("needs 16"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(file("w.npy")));
  EXPECT_FALSE(write_npy(file("w.npy"), "<f8", {1}, std::vector<uint8_t>(8)).ok());
}

}  // namespace
}  // namespace tpjit
