// The boundary between the bullmq-worker binary and its `files` plugin
// (bullmq-worker-files.so). The document pipeline (extractors, poppler,
// libmagic, libzip, libpq and their ~50 shared libraries) lives in the
// plugin, loaded only by `run --processors files`, `migrate` and the
// `extract-file` child, so a worker running other processors maps none of it.
// Both sides are built from this tree by the same compiler; the plugin stays
// loaded for the life of the process (its processors are in the registry).
#pragma once

#include <cstddef>
#include <cstdint>

#include "bullmq/processor.hpp"

extern "C" {

struct BullmqFilesConfig {
  const char* database_url;
  const char* storage_base_path;
  std::int64_t batch_processing_timeout_s;
  int database_pool_size;
  const char* worker_executable;  // for the isolated `extract-file` child
};

// Adds process-file and aggregate-batch to `registry`, with the checks of
// their dependencies (PostgreSQL, the storage root). Returns 0, or 1 with a
// message in `error` (NUL-terminated, at most `error_size` bytes).
using BullmqFilesRegisterFn = int (*)(bullmq::ProcessorRegistry* registry,
                                      const BullmqFilesConfig* config, char* error,
                                      std::size_t error_size);
// `bullmq-worker migrate`: returns the process exit code.
using BullmqFilesMigrateFn = int (*)(const char* database_url);
// The `extract-file` child: returns the process exit code.
using BullmqFilesExtractFn = int (*)(int argc, char** argv);
}

namespace app {
inline constexpr const char* kFilesPluginFile = "bullmq-worker-files.so";
inline constexpr const char* kFilesRegisterSymbol = "bullmq_files_register";
inline constexpr const char* kFilesMigrateSymbol = "bullmq_files_migrate";
inline constexpr const char* kFilesExtractSymbol = "bullmq_files_extract";
}  // namespace app
