// The services the document pipeline's processors depend on, as the worker
// sees them: their names, the checks that tell whether they answer, and the
// error the processors throw when one is down (bullmq_worker::DependencyUnavailable:
// the job goes back to the queue without spending an attempt, and the worker
// claims nothing until the check passes). Owned by the pipeline.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "bullmq_worker/processor.hpp"
#include "db/connection_pool.hpp"

namespace processing {

inline constexpr const char* kDatabaseDependency = "postgresql";
inline constexpr const char* kStorageDependency = "storage";

// A round trip to PostgreSQL through `pool`.
bullmq_worker::DependencyCheck database_check(std::shared_ptr<db::ConnectionPool> pool);
// The storage root is a directory that can be listed.
bullmq_worker::DependencyCheck storage_check(std::filesystem::path storage_root);
// What keeps the storage root from being used, or empty.
std::string storage_root_problem(const std::filesystem::path& storage_root);

// The database is down: `message` says what the processor was doing.
[[noreturn]] void throw_database_unavailable(const std::string& message);

}  // namespace processing
