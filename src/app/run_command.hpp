// The `run` and `migrate` commands: builds the processors, the I/O thread's
// io_context, the processing pool and the Worker, handles SIGTERM/SIGINT,
// and returns the exit code.
#pragma once

#include <string>

#include "app/config.hpp"

namespace app {

int run_worker(const RunConfig& config, const char* argv0);
int run_migrate(const std::string& database_url);
// The internal `extract-file` child of the files processors.
int run_extract_file(int argc, char** argv);

}  // namespace app
