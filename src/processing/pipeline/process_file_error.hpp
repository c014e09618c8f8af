// The error message of a failed process-file job, "process-file
// doc_id=<id>: <error_type>: <message>", and the test for which document
// such a message names. The file processor writes it (it becomes the job's
// failed reason); the aggregator looks for it among a flow's children
// failures to tell which unfinished row a failed child was processing. The
// text has this one home, so neither processor knows the other's.
#pragma once

#include <string>
#include <string_view>

namespace processing {

// "process-file doc_id=<doc_id>: <error_type>: <message>".
std::string process_file_error(std::string_view doc_id, std::string_view error_type,
                               std::string_view message);

// Whether `failure` (a failed job's reason) holds the document part of
// process_file_error(doc_id, ...), "doc_id=<doc_id>:", anywhere in it.
bool process_file_error_names(std::string_view failure, std::string_view doc_id);

}  // namespace processing
