#include "ipc/frame.h"

#include <cstring>

namespace tpjit::ipc {
namespace {

uint32_t read_be32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

std::string printable_prefix(const char* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string encode_frame(std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderBytes + payload.size());
  out.append(kFrameMagic, 4);
  auto n = static_cast<uint32_t>(payload.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  out.append(payload);
  return out;
}

FrameDecoder::FrameDecoder(uint32_t max_payload_bytes) : max_payload_(max_payload_bytes) {}

void FrameDecoder::feed(const char* data, size_t size) {
  if (error_ || size == 0) return;
  // Drop consumed bytes before growing, so a long-lived connection's buffer stays small.
  if (start_ > 0 && (start_ == buffer_.size() || start_ >= buffer_.size() / 2)) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  // Callers drain next() before feeding the next read, so the buffer holds at most one
  // partial frame (whose header already passed the cap check) plus one read.
  buffer_.append(data, size);
}

Result<std::optional<std::string>> FrameDecoder::next() {
  if (error_) return *error_;
  const size_t available = buffer_.size() - start_;
  const char* p = buffer_.data() + start_;
  // Check the magic as soon as its bytes arrive, so garbage fails fast, not after 8 bytes.
  const size_t magic_seen = available < 4 ? available : 4;
  if (std::memcmp(p, kFrameMagic, magic_seen) != 0) {
    error_ = make_error(errc::kBadFrame,
                        "frame does not start with magic \"TPJF\" (got \"" +
                            printable_prefix(p, magic_seen) +
                            "\"); the peer is not speaking the tpjit protocol",
                        "frame.magic");
    return *error_;
  }
  if (available < kFrameHeaderBytes) return std::optional<std::string>{};
  const uint32_t length = read_be32(p + 4);
  if (length == 0) {
    error_ = make_error(errc::kBadFrame, "frame has an empty payload; a frame carries one JSON message",
                        "frame.length");
    return *error_;
  }
  if (length > max_payload_) {
    error_ = make_error(errc::kFrameTooLarge,
                        "frame payload of " + std::to_string(length) + " bytes exceeds the cap of " +
                            std::to_string(max_payload_) +
                            " bytes; send a smaller message or raise tpjitd --max-frame-mb",
                        "frame.length");
    return *error_;
  }
  if (available - kFrameHeaderBytes < length) return std::optional<std::string>{};
  std::string payload(p + kFrameHeaderBytes, length);
  start_ += kFrameHeaderBytes + length;
  return std::optional<std::string>{std::move(payload)};
}

}  // namespace tpjit::ipc
