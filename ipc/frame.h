// Frames on the tpjitd socket. Grammar (all integers big-endian):
//   frame   := magic length payload
//   magic   := "TPJF"                      (4 bytes)
//   length  := u32                         (payload bytes; 0 < length <= cap)
//   payload := UTF-8 JSON text             (length bytes)
// The cap is checked on the header, before any byte of the payload is buffered, so a peer
// cannot make us allocate more than cap + 8 bytes per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace tpjit::ipc {

inline constexpr char kFrameMagic[4] = {'T', 'P', 'J', 'F'};
inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr uint32_t kDefaultMaxFrameBytes = 16u << 20;  // 16 MiB of payload

// The frame carrying `payload` (header + payload). The caller keeps payload within the cap.
std::string encode_frame(std::string_view payload);

// Incremental decoder for one byte stream, shared by the Asio server and the blocking client.
// feed() bytes as they arrive, then call next() until it yields no frame. After an error the
// stream is out of sync for good: next() keeps returning that error.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_payload_bytes = kDefaultMaxFrameBytes);

  // Appends bytes read from the stream.
  void feed(const char* data, size_t size);
  void feed(std::string_view bytes) { feed(bytes.data(), bytes.size()); }

  // A complete payload, nullopt when more bytes are needed, or kBadFrame / kFrameTooLarge.
  Result<std::optional<std::string>> next();

  // Bytes fed but not yet returned in a frame (0 means "between frames").
  size_t buffered() const { return buffer_.size() - start_; }
  uint32_t max_payload_bytes() const { return max_payload_; }

 private:
  uint32_t max_payload_;
  std::string buffer_;   // bytes fed; [start_, end) not yet consumed
  size_t start_ = 0;
  std::optional<Error> error_;  // sticky
};

}  // namespace tpjit::ipc
