// Error codes that belong to the wire layer but not (yet) to util/result.h. Same namespace as
// the rest, so callers write errc::kPeerRefused like any other code. docs/protocol.md lists
// each one.
#pragma once

namespace tpjit::errc {
// Sent by the daemon: the connecting process runs as another user.
inline constexpr const char* kPeerRefused = "peer_refused";
// Client side only, never on the wire: no daemon reachable, or the connection dropped.
inline constexpr const char* kUnavailable = "unavailable";
// Client side only: no reply within the receive timeout.
inline constexpr const char* kTimeout = "timeout";
// Client side only: the daemon sent a frame that is not a valid reply.
inline constexpr const char* kBadReply = "bad_reply";
}  // namespace tpjit::errc

namespace tpjit::errc {
// tpjitd start-up only (printed, never on the wire): another daemon serves on the socket path.
inline constexpr const char* kSocketInUse = "socket_in_use";
// tpjitd start-up only: the socket directory or file is not private to this user.
inline constexpr const char* kUnsafeSocket = "unsafe_socket";
}  // namespace tpjit::errc
