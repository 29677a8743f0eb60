// NumPy .npy files (format versions 1.0, 2.0 and 3.0), C order only, for `tpjit run`'s inputs
// and outputs. Grammar (little-endian):
//   file    := magic major minor hlen header data
//   magic   := "\x93NUMPY"                  (6 bytes)
//   major   := 1 | 2 | 3; minor := 0        (1 byte each)
//   hlen    := u16 (v1) | u32 (v2, v3)      header bytes, <= kMaxNpyHeaderBytes
//   header  := Python dict literal {'descr': D, 'fortran_order': False, 'shape': (d0, d1, ...), }
//              padded with spaces and one '\n' so that data starts 64-byte aligned
//   data    := prod(shape) * itemsize bytes, C order
// dtypes (descr) tpjit reads and writes:
//   '<f4' float32 (scales, fp32 outputs); '<u1' or '|u1' raw bytes: FP8 e4m3fn as its bit
//   pattern (numpy has no fp8; torch: t.view(torch.uint8)); '<u2' or '<V2' bfloat16 / float16
//   bits (torch: t.view(torch.int16).numpy().view('<u2')); '<i2' is taken as 16-bit bits too.
// The header size, the rank and the data size are checked before anything is allocated.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "util/result.h"

namespace tpjit {

inline constexpr uint32_t kMaxNpyHeaderBytes = 64 * 1024;
inline constexpr size_t kMaxNpyRank = 8;
inline constexpr uint64_t kMaxNpyDataBytes = 64ull << 30;  // 64 GiB

struct NpyHeader {
  std::string descr;            // as written, e.g. "<f4"
  size_t itemsize = 0;          // bytes per element, from descr
  std::vector<int64_t> shape;   // () is a scalar: one element
  uint64_t data_offset = 0;     // where the data starts in the file
  uint64_t count() const;       // elements
  uint64_t data_bytes() const { return count() * itemsize; }
};

struct NpyArray {
  NpyHeader header;
  std::vector<uint8_t> data;  // C order, header.data_bytes() bytes
};

// Reads only the header; kBadRequest naming the file for anything malformed or unsupported
// (Fortran order, a dtype outside the list above, a file shorter than its header says).
Result<NpyHeader> read_npy_header(const std::filesystem::path& path);
// Header and data.
Result<NpyArray> read_npy(const std::filesystem::path& path);

// Writes a v1.0 file through AtomicFile (a v2.0 header if the dict does not fit in 64 KiB).
// descr must be one of the dtypes above and data.size() must match the shape.
Status write_npy(const std::filesystem::path& path, const std::string& descr,
                 const std::vector<int64_t>& shape, const std::vector<uint8_t>& data);

// Bytes per element of a supported descr, 0 if unsupported.
size_t npy_itemsize(const std::string& descr);

}  // namespace tpjit
