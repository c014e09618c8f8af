#include "processing/pipeline/batch_summary.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

#include "processing/pipeline/pipeline_json.hpp"

namespace processing {
namespace {

namespace pj = pipeline_json;

std::string type_from_extension(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const auto dot = base.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return "other";
  std::string ext = base.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == "pdf" || ext == "docx" || ext == "xlsx" || ext == "zip") return ext;
  if (ext == "txt" || ext == "md" || ext == "csv" || ext == "json" || ext == "xml" ||
      ext == "html" || ext == "htm" || ext == "log") {
    return "text";
  }
  return "other";
}

struct Folder {
  std::string name;
  std::string path;
  int file_count = 0;
  std::map<std::string, int> by_status;
  std::map<std::string, int> by_type;
  std::map<std::string, std::unique_ptr<Folder>> folders;
  std::vector<const db::FileExtraction*> files;
};

void write_counts(pj::Writer& w, const std::map<std::string, int>& counts) {
  w.StartObject();
  for (const auto& [key, n] : counts) {
    pj::write_string(w, key);
    w.Int(n);
  }
  w.EndObject();
}

void write_folder(pj::Writer& w, const Folder& folder) {
  w.StartObject();
  w.Key("name");
  pj::write_string(w, folder.name);
  w.Key("path");
  pj::write_string(w, folder.path);
  w.Key("file_count");
  w.Int(folder.file_count);
  w.Key("by_status");
  write_counts(w, folder.by_status);
  w.Key("by_type");
  write_counts(w, folder.by_type);
  w.Key("folders");
  w.StartArray();
  for (const auto& [name, child] : folder.folders) write_folder(w, *child);
  w.EndArray();
  w.Key("files");
  w.StartArray();
  for (const db::FileExtraction* file : folder.files) {
    const FileFacts facts = file_facts(*file);
    w.StartObject();
    w.Key("name");
    pj::write_string(w, facts.name);
    w.Key("doc_id");
    pj::write_string(w, file->doc_id);
    w.Key("type");
    pj::write_string(w, facts.type);
    w.Key("status");
    pj::write_string(w, file->status);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

BatchCounts count_files(const db::ProcessingJob& batch,
                        const std::vector<db::FileExtraction>& files) {
  BatchCounts c;
  c.file_count = static_cast<int>(files.size());
  for (const auto& f : files) {
    if (f.status == "completed") {
      ++c.completed;
    } else if (f.status == "failed") {
      ++c.failed;
    } else if (f.status == "processing") {
      ++c.processing;
    } else {
      ++c.pending;
    }
  }
  if (batch.total_files && *batch.total_files > c.file_count) {
    c.missing = *batch.total_files - c.file_count;
  }
  return c;
}

std::string final_status(const BatchCounts& counts) {
  if (counts.failed == 0) return "completed";
  if (counts.completed == 0) return "failed";
  return "completed_with_errors";
}

std::optional<std::string> final_error_message(const BatchCounts& counts) {
  if (counts.failed == 0) return std::nullopt;
  if (counts.completed == 0) return "all " + std::to_string(counts.failed) + " files failed";
  return std::to_string(counts.failed) + " of " + std::to_string(counts.file_count) +
         " files failed";
}

FileFacts file_facts(const db::FileExtraction& file) {
  FileFacts facts;
  const auto slash = file.file_path.find_last_of('/');
  // Folders are relative to the batch: the backend extracts a batch under
  // "<run_id>/" in storage, a prefix every file of the batch shares.
  std::string_view batch_path = file.file_path;
  if (!file.run_id.empty() && batch_path.starts_with(file.run_id + "/")) {
    batch_path.remove_prefix(file.run_id.size() + 1);
  }
  const auto folder_end = batch_path.find_last_of('/');
  facts.folder =
      folder_end == std::string_view::npos ? "" : std::string(batch_path.substr(0, folder_end));
  facts.name = file.file_name.value_or(
      slash == std::string::npos ? file.file_path : file.file_path.substr(slash + 1));
  rapidjson::Document raw;
  std::optional<std::string> kind;
  if (file.raw_extraction && pj::parse_object(*file.raw_extraction, raw)) {
    kind = pj::get_string(raw, "kind");
    if (!kind) kind = pj::get_string(raw, "type");
    facts.mime_type = pj::get_string(raw, "mime_type");
    facts.sha256 = pj::get_string(raw, "sha256");
    facts.pages = pj::get_int(raw, "pages");
    facts.words = pj::get_int(raw, "words");
    facts.size_bytes = pj::get_int(raw, "size_bytes");
  }
  facts.type = kind && !kind->empty() ? *kind : type_from_extension(file.file_path);
  return facts;
}

// batch_id, run_id and status: how every batch object starts.
static void write_batch_identity(pj::Writer& w, const db::ProcessingJob& batch) {
  w.Key("batch_id");
  pj::write_string(w, batch.batch_id);
  w.Key("run_id");
  pj::write_string(w, batch.run_id);
  w.Key("status");
  pj::write_string(w, batch.status);
}

void write_batch_outcome_fields(pj::Writer& w, const db::ProcessingJob& batch,
                                const BatchCounts& counts) {
  write_batch_identity(w, batch);
  w.Key("file_count");
  w.Int(counts.file_count);
  w.Key("success_count");
  w.Int(counts.completed);
  w.Key("error_count");
  w.Int(counts.failed);
}

std::string build_ui_json(const db::ProcessingJob& batch,
                          const std::vector<db::FileExtraction>& files, const BatchCounts& counts,
                          const FlowInputs& flow) {
  rapidjson::StringBuffer buffer;
  pj::Writer w(buffer);
  w.StartObject();
  w.Key("batch");
  w.StartObject();
  write_batch_outcome_fields(w, batch, counts);
  w.Key("zip_path");
  pj::write_opt_string(w, batch.zip_path);
  w.Key("total_files");
  pj::write_opt_int(w, batch.total_files);
  w.Key("unfinished_count");
  w.Int(counts.unfinished());
  w.Key("error_message");
  pj::write_opt_string(w, batch.error_message);
  w.Key("created_at");
  pj::write_string(w, batch.created_at);
  w.Key("completed_at");
  pj::write_opt_string(w, batch.completed_at);
  w.EndObject();

  w.Key("files");
  w.StartArray();
  for (const auto& f : files) {
    const FileFacts facts = file_facts(f);
    w.StartObject();
    w.Key("doc_id");
    pj::write_string(w, f.doc_id);
    w.Key("name");
    pj::write_string(w, facts.name);
    w.Key("path");
    pj::write_string(w, f.file_path);
    w.Key("folder");
    pj::write_string(w, facts.folder);
    w.Key("type");
    pj::write_string(w, facts.type);
    w.Key("mime_type");
    pj::write_opt_string(w, facts.mime_type);
    w.Key("status");
    pj::write_string(w, f.status);
    w.Key("pages");
    pj::write_opt_int(w, facts.pages);
    w.Key("words");
    pj::write_opt_int(w, facts.words);
    w.Key("size_bytes");
    pj::write_opt_int(w, facts.size_bytes);
    w.Key("sha256");
    pj::write_opt_string(w, facts.sha256);
    w.Key("duration_ms");
    pj::write_opt_int(w, f.processing_duration_ms);
    w.Key("retry_count");
    w.Int(f.retry_count);
    w.Key("error_type");
    pj::write_opt_string(w, f.error_type);
    w.Key("error");
    pj::write_opt_string(w, f.error_message);
    w.EndObject();
  }
  w.EndArray();

  if (flow.present()) {
    w.Key("flow");
    w.StartObject();
    w.Key("children_completed");
    w.Int(static_cast<int>(flow.children_values.size()));
    w.Key("children_failed");
    w.Int(static_cast<int>(flow.children_failures.size()));
    w.Key("failures");
    w.StartArray();
    for (const auto& [key, reason] : flow.children_failures) {
      w.StartObject();
      w.Key("job");
      pj::write_string(w, key);
      w.Key("reason");
      pj::write_string(w, reason);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string build_nested_summary(const db::ProcessingJob& batch,
                                 const std::vector<db::FileExtraction>& files) {
  Folder root;
  for (const auto& f : files) {
    const FileFacts facts = file_facts(f);
    Folder* folder = &root;
    auto count = [&](Folder& node) {
      ++node.file_count;
      ++node.by_status[f.status];
      ++node.by_type[facts.type];
    };
    count(root);
    std::size_t start = 0;
    while (start < facts.folder.size()) {
      auto end = facts.folder.find('/', start);
      if (end == std::string::npos) end = facts.folder.size();
      const std::string part = facts.folder.substr(start, end - start);
      start = end + 1;
      if (part.empty()) continue;
      auto& child = folder->folders[part];
      if (!child) {
        child = std::make_unique<Folder>();
        child->name = part;
        child->path = folder->path.empty() ? part : folder->path + "/" + part;
      }
      folder = child.get();
      count(*folder);
    }
    folder->files.push_back(&f);
  }

  rapidjson::StringBuffer buffer;
  pj::Writer w(buffer);
  w.StartObject();
  write_batch_identity(w, batch);
  w.Key("tree");
  write_folder(w, root);
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace processing
