// Builds argument vectors without braced initializer lists: GCC 12 miscompiles
// ("array used as initializer") a std::initializer_list<std::string> that is
// created inside a coroutine, so coroutines build command vectors with this.
#pragma once

#include <string>
#include <vector>

namespace bullmq {

template <typename... Parts>
std::vector<std::string> strings(Parts&&... parts) {
  std::vector<std::string> out;
  out.reserve(sizeof...(parts));
  (out.emplace_back(std::forward<Parts>(parts)), ...);
  return out;
}

}  // namespace bullmq
