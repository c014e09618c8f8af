// The `files` plugin (bullmq-worker-files.so): the document pipeline
// (extractors, poppler, libmagic, libzip, libpq and their ~50 shared
// libraries), loaded only by `run --processors files`, `migrate` and the
// `extract-file` child, so a worker running other processors maps none of it.
//
// Its processors come in through the SDK's plugin entry point like any
// plugin's (BULLMQ_WORKER_PLUGIN, include/bullmq_worker/plugin.hpp), with the
// configuration keys below, which `run` fills from its own flags. Two more
// C entry points serve the binary's other subcommands. The plugin stays
// loaded for the life of the process.
#pragma once

extern "C" {
// `bullmq-worker migrate`: returns the process exit code.
using BullmqFilesMigrateFn = int (*)(const char* database_url);
// The `extract-file` child: returns the process exit code.
using BullmqFilesExtractFn = int (*)(int argc, char** argv);
}

namespace app {
inline constexpr const char* kFilesPluginFile = "bullmq-worker-files.so";
inline constexpr const char* kFilesPluginName = "files";
inline constexpr const char* kFilesMigrateSymbol = "bullmq_files_migrate";
inline constexpr const char* kFilesExtractSymbol = "bullmq_files_extract";

// Configuration keys of the files plugin.
inline constexpr const char* kFilesDatabaseUrl = "database_url";
inline constexpr const char* kFilesStorageBasePath = "storage_base_path";
inline constexpr const char* kFilesBatchTimeoutSeconds = "batch_processing_timeout_s";
inline constexpr const char* kFilesDatabasePoolSize = "database_pool_size";
inline constexpr const char* kFilesWorkerExecutable = "worker_executable";
inline constexpr const char* kFilesDocumentsPerExtractor = "documents_per_extractor";
}  // namespace app
