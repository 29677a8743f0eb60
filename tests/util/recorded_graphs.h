// The recorded graphs in tests/data/graphs/: every *.json there but the *.expected.json files
// that hold what the fusion test expects of them.
#pragma once

#include <algorithm>
#include <filesystem>
#include <vector>

namespace tpjit::testing {

// Sorted; empty if `dir` does not exist.
inline std::vector<std::filesystem::path> recorded_graph_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".json") && !name.ends_with(".expected.json")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tpjit::testing
