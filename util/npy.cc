#include "util/npy.h"

#include <cstring>
#include <fstream>

#include "util/atomic_file.h"

namespace tpjit {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;

Error bad(const std::filesystem::path& path, const std::string& what) {
  return make_error(errc::kBadRequest, path.string() + ": " + what, path.string());
}

// The text after `'key':` in a header dict, spaces skipped; npos if the key is absent.
size_t value_of(const std::string& dict, const std::string& key) {
  size_t at = dict.find("'" + key + "'");
  if (at == std::string::npos) return at;
  at = dict.find(':', at);
  if (at == std::string::npos) return at;
  ++at;
  while (at < dict.size() && dict[at] == ' ') ++at;
  return at;
}

Result<NpyHeader> parse_dict(const std::filesystem::path& path, const std::string& dict) {
  NpyHeader h;
  size_t d = value_of(dict, "descr");
  if (d == std::string::npos || d >= dict.size() || dict[d] != '\'')
    return bad(path, "header has no 'descr' string");
  size_t end = dict.find('\'', d + 1);
  if (end == std::string::npos) return bad(path, "unterminated 'descr'");
  h.descr = dict.substr(d + 1, end - d - 1);
  h.itemsize = npy_itemsize(h.descr);
  if (h.itemsize == 0)
    return bad(path, "dtype '" + h.descr +
                         "' is not supported; use '<f4' (float32), '<u1' (fp8 bytes) or '<u2' "
                         "(bf16/fp16 bits)");
  size_t f = value_of(dict, "fortran_order");
  if (f == std::string::npos) return bad(path, "header has no 'fortran_order'");
  if (dict.compare(f, 4, "True") == 0)
    return bad(path, "Fortran-order arrays are not supported; save with np.ascontiguousarray");
  if (dict.compare(f, 5, "False") != 0) return bad(path, "'fortran_order' is not True/False");
  size_t s = value_of(dict, "shape");
  if (s == std::string::npos || s >= dict.size() || dict[s] != '(')
    return bad(path, "header has no 'shape' tuple");
  size_t close = dict.find(')', s);
  if (close == std::string::npos) return bad(path, "unterminated 'shape'");
  std::string tuple = dict.substr(s + 1, close - s - 1);
  size_t i = 0;
  while (i < tuple.size()) {
    while (i < tuple.size() && (tuple[i] == ' ' || tuple[i] == ',')) ++i;
    if (i >= tuple.size()) break;
    int64_t v = 0;
    size_t digits = 0;
    while (i < tuple.size() && tuple[i] >= '0' && tuple[i] <= '9') {
      if (v > (int64_t{1} << 40)) return bad(path, "a dimension is too large");
      v = v * 10 + (tuple[i++] - '0');
      ++digits;
    }
    if (digits == 0) return bad(path, "bad 'shape' tuple (" + tuple + ")");
    if (h.shape.size() == kMaxNpyRank)
      return bad(path, "rank over " + std::to_string(kMaxNpyRank));
    h.shape.push_back(v);
  }
  uint64_t count = 1;
  for (int64_t dim : h.shape) {
    if (dim != 0 && count > kMaxNpyDataBytes / static_cast<uint64_t>(dim))
      return bad(path, "array larger than 64 GiB");
    count *= static_cast<uint64_t>(dim);
  }
  if (count * h.itemsize > kMaxNpyDataBytes) return bad(path, "array larger than 64 GiB");
  return h;
}

}  // namespace

uint64_t NpyHeader::count() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

size_t npy_itemsize(const std::string& descr) {
  if (descr == "<f4") return 4;
  if (descr == "<u1" || descr == "|u1") return 1;
  if (descr == "<u2" || descr == "<V2" || descr == "|V2" || descr == "<i2") return 2;
  return 0;
}

Result<NpyHeader> read_npy_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad(path, std::string("cannot open: ") + std::strerror(errno));
  char pre[10];
  in.read(pre, 8);
  if (in.gcount() != 8 || std::memcmp(pre, kMagic, kMagicBytes) != 0)
    return bad(path, "not a .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<uint8_t>(pre[6]);
  uint32_t hlen = 0;
  uint64_t prefix = 0;
  if (major == 1) {
    in.read(pre + 8, 2);
    if (in.gcount() != 2) return bad(path, "truncated header");
    hlen = static_cast<uint8_t>(pre[8]) | (static_cast<uint8_t>(pre[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    unsigned char len[4];
    in.read(reinterpret_cast<char*>(len), 4);
    if (in.gcount() != 4) return bad(path, "truncated header");
    hlen = len[0] | (len[1] << 8) | (len[2] << 16) | (uint32_t(len[3]) << 24);
    prefix = 12;
  } else {
    return bad(path, "unsupported .npy version " + std::to_string(major));
  }
  if (hlen > kMaxNpyHeaderBytes)
    return bad(path, "header of " + std::to_string(hlen) + " bytes is over the 64 KiB cap");
  std::string dict(hlen, '\0');
  in.read(dict.data(), hlen);
  if (static_cast<uint32_t>(in.gcount()) != hlen) return bad(path, "truncated header");
  auto h = parse_dict(path, dict);
  if (!h) return h;
  h->data_offset = prefix + hlen;
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return bad(path, "cannot stat: " + ec.message());
  if (size < h->data_offset + h->data_bytes())
    return bad(path, "file holds " + std::to_string(size - h->data_offset) +
                         " data bytes; its header says " + std::to_string(h->data_bytes()));
  return h;
}

Result<NpyArray> read_npy(const std::filesystem::path& path) {
  auto h = read_npy_header(path);
  if (!h) return h.error();
  NpyArray a{*h, std::vector<uint8_t>(h->data_bytes())};
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(h->data_offset));
  in.read(reinterpret_cast<char*>(a.data.data()), static_cast<std::streamsize>(a.data.size()));
  if (static_cast<uint64_t>(in.gcount()) != a.data.size()) return bad(path, "truncated data");
  return a;
}

Status write_npy(const std::filesystem::path& path, const std::string& descr,
                 const std::vector<int64_t>& shape, const std::vector<uint8_t>& data) {
  size_t item = npy_itemsize(descr);
  if (item == 0) return bad(path, "cannot write dtype '" + descr + "'");
  NpyHeader h{descr, item, shape, 0};
  if (h.data_bytes() != data.size())
    return bad(path, "data is " + std::to_string(data.size()) + " bytes; the shape needs " +
                         std::to_string(h.data_bytes()));
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + ", ";
  if (shape.size() > 1) dict.resize(dict.size() - 2);  // (3,) keeps its comma; (3, 4) has none
  if (shape.size() == 1) dict.resize(dict.size() - 1);
  dict += "), }";
  const bool v2 = dict.size() + 11 > 65535;
  const size_t prefix = v2 ? 12 : 10;
  size_t total = prefix + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string head(kMagic, kMagicBytes);
  head += static_cast<char>(v2 ? 2 : 1);
  head += '\0';
  uint32_t hlen = static_cast<uint32_t>(dict.size());
  head += static_cast<char>(hlen & 0xff);
  head += static_cast<char>((hlen >> 8) & 0xff);
  if (v2) {
    head += static_cast<char>((hlen >> 16) & 0xff);
    head += static_cast<char>((hlen >> 24) & 0xff);
  }
  head += dict;
  auto file = AtomicFile::create(path);
  if (!file) return file.error();
  if (Status s = file->write(head); !s.ok()) return s;
  if (Status s = file->write(std::span<const uint8_t>(data)); !s.ok()) return s;
  return file->commit();
}

}  // namespace tpjit
