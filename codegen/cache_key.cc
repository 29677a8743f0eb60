#include <string_view>

#include "codegen/compiler.h"
#include "util/sha256.h"

namespace tpjit::codegen {
namespace {

// Length prefix (8 bytes, little-endian) then the bytes.
void field(Sha256& h, std::string_view bytes) {
  uint8_t len[8];
  uint64_t n = bytes.size();
  for (uint8_t& b : len) {
    b = static_cast<uint8_t>(n & 0xff);
    n >>= 8;
  }
  h.update(std::span<const uint8_t>(len, sizeof len));
  h.update(bytes);
}

}  // namespace

std::string cache_key(const KernelSource& src, const Compiler& compiler, Arch arch) {
  Sha256 h;
  field(h, "tpjit.kernel-key/1");  // bump when the key's composition changes
  field(h, src.name);
  field(h, src.source);
  const auto& headers = embedded_headers();
  field(h, std::to_string(headers.size()));
  for (const EmbeddedHeader& e : headers) {
    field(h, e.name);
    field(h, e.contents);
  }
  field(h, compiler.version());
  const std::vector<std::string> options = compiler.options(arch);
  field(h, std::to_string(options.size()));
  for (const std::string& o : options) field(h, o);
  field(h, arch_name(arch));
  Sha256::Digest d = h.finish();
  return to_hex(d);
}

}  // namespace tpjit::codegen
