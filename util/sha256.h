// SHA-256 (FIPS 180-4). Used for cache keys and entry checksums, where a collision-resistant
// hash is the point (a non-cryptographic key could alias two kernels).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tpjit {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256() { reset(); }
  // Feeds bytes; any split of a message into updates gives the same digest.
  void update(std::span<const uint8_t> bytes);
  void update(std::string_view bytes);
  // The digest of everything fed since construction or the last finish(); then resets.
  Digest finish();

 private:
  void reset();
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;       // bytes in buffer_
  uint64_t total_bytes_ = 0;  // message length so far
};

// Lowercase hex of bytes.
std::string to_hex(std::span<const uint8_t> bytes);
// Lowercase hex of the SHA-256 of bytes (64 characters).
std::string sha256_hex(std::string_view bytes);

}  // namespace tpjit
