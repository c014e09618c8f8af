#include "processing/pipeline/pipeline_dependencies.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

namespace processing {

bullmq_worker::DependencyCheck database_check(std::shared_ptr<db::ConnectionPool> pool) {
  return [pool = std::move(pool)]() -> std::string {
    try {
      pool->transact([](pqxx::work& tx) { tx.exec("SELECT 1"); });
      return {};
    } catch (const std::exception& e) {
      std::string message = e.what();
      return message.empty() ? std::string("PostgreSQL did not answer") : message;
    }
  };
}

bullmq_worker::DependencyCheck storage_check(std::filesystem::path storage_root) {
  return [root = std::move(storage_root)]() { return storage_root_problem(root); };
}

std::string storage_root_problem(const std::filesystem::path& storage_root) {
  const std::string shown = "the storage root " + storage_root.string();
  struct stat info {};
  if (::stat(storage_root.c_str(), &info) != 0)
    return shown + " cannot be reached (" + std::strerror(errno) + ")";
  if (!S_ISDIR(info.st_mode)) return shown + " is not a directory";
  DIR* dir = ::opendir(storage_root.c_str());
  if (!dir) return shown + " cannot be listed (" + std::strerror(errno) + ")";
  ::closedir(dir);
  return {};
}

void throw_database_unavailable(const std::string& message) {
  throw bullmq_worker::DependencyUnavailable(kDatabaseDependency, message);
}

}  // namespace processing
