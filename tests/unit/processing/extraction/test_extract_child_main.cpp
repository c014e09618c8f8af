// A stand-in for the worker binary in the isolated-extraction tests. Like the
// worker's main.cpp it dispatches "extract-file" to run_extract_file_command;
// PROCESSING_TEST_CHILD_MODE makes it misbehave on purpose instead:
//   abort   - dies with SIGABRT (a crashing parser)
//   hang    - never finishes (a looping parser)
//   garbage - prints something that is not the protocol's JSON
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "processing/extraction/isolated_extraction.hpp"

int main(int argc, char** argv) {
  const char* mode = std::getenv("PROCESSING_TEST_CHILD_MODE");
  const std::string_view misbehaviour = mode == nullptr ? "" : mode;
  if (misbehaviour == "abort") std::abort();
  if (misbehaviour == "hang") {
    while (true) pause();
  }
  if (misbehaviour == "garbage") {
    std::puts("this is not json");
    return 0;
  }
  if (argc >= 2 && std::string_view(argv[1]) == "extract-file") {
    return processing::run_extract_file_command(argc, argv);
  }
  std::fputs("usage: processing_test_extract_child extract-file --root R --path P\n", stderr);
  return 2;
}
