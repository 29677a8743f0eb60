// Where tpjitd and its clients look for things when not told.
#pragma once

#include <filesystem>

namespace tpjit::ipc {

// $XDG_RUNTIME_DIR/tpjit/tpjitd.sock, else /tmp/tpjit-$UID/tpjitd.sock.
std::filesystem::path default_socket_path();

// $XDG_CACHE_HOME/tpjit, else $HOME/.cache/tpjit (HOME from the password file if unset).
std::filesystem::path default_cache_dir();

}  // namespace tpjit::ipc
