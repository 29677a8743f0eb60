#include "worker/host_data.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/numerics.h"
#include "util/npy.h"

namespace tpjit::worker {
namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

double unit(uint64_t& s) { return static_cast<double>(splitmix(s) >> 11) * 0x1.0p-53; }

}  // namespace

double decode_out(codegen::OutDtype t, const uint8_t* p) {
  if (t == codegen::OutDtype::kF32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t v;
  std::memcpy(&v, p, 2);
  return t == codegen::OutDtype::kBF16 ? runtime::bf16_to_float(v) : runtime::f16_to_float(v);
}

std::vector<uint8_t> seeded_input(const InputSpec& in, uint64_t seed, int rank) {
  uint64_t state = seed ^ fnv1a(in.name) ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(rank + 1));
  if (in.kind == HostKind::kFp8) {
    std::vector<uint8_t> out(in.count);
    for (auto& b : out) b = runtime::float_to_e4m3(static_cast<float>(unit(state) * 4.0 - 2.0));
    return out;
  }
  std::vector<uint8_t> out(in.count * 4);
  for (uint64_t i = 0; i < in.count; ++i) {
    float f = static_cast<float>(0.0625 + unit(state) * 0.125);
    std::memcpy(out.data() + i * 4, &f, 4);
  }
  return out;
}

Result<std::vector<uint8_t>> npy_input(const InputSpec& in, const std::filesystem::path& dir,
                                       int rank) {
  auto path = dir / ("rank" + std::to_string(rank)) / (in.name + ".npy");
  auto a = read_npy(path);
  if (!a) return a.error();
  const size_t item = in.kind == HostKind::kFp8 ? 1 : 4;
  if (a->header.itemsize != item || a->header.count() != in.count)
    return make_error(errc::kBadRequest,
                      path.string() + ": holds " + std::to_string(a->header.count()) +
                          " elements of " + a->header.descr + "; the region needs " +
                          std::to_string(in.count) + (item == 1 ? " of '<u1'" : " of '<f4'"),
                      path.string());
  return std::move(a->data);
}

Status write_output(const std::filesystem::path& dir, int rank, const std::string& name,
                    codegen::OutDtype dtype, const std::vector<int64_t>& shape,
                    const std::vector<uint8_t>& bytes) {
  auto sub = dir / ("rank" + std::to_string(rank));
  std::error_code ec;
  std::filesystem::create_directories(sub, ec);
  if (ec)
    return make_error(errc::kBadRequest, "cannot create " + sub.string() + ": " + ec.message(),
                      sub.string());
  return write_npy(sub / (name + ".npy"), dtype == codegen::OutDtype::kF32 ? "<f4" : "<u2", shape,
                   bytes);
}

double relative_error(codegen::OutDtype dtype, const std::vector<uint8_t>& x,
                      const std::vector<uint8_t>& ref) {
  const size_t item = static_cast<size_t>(codegen::out_dtype_bytes(dtype));
  if (x.size() != ref.size()) return std::numeric_limits<double>::quiet_NaN();
  double diff = 0, norm = 0;
  for (size_t i = 0; i + item <= x.size(); i += item) {
    double a = decode_out(dtype, x.data() + i), r = decode_out(dtype, ref.data() + i);
    if (std::isnan(a) || std::isnan(r)) return std::numeric_limits<double>::quiet_NaN();
    diff += (a - r) * (a - r);
    norm += r * r;
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

}  // namespace tpjit::worker
