#include <doctest/doctest.h>

#include <string>

#include "processing/pipeline/process_file_error.hpp"

using processing::process_file_error;
using processing::process_file_error_names;

TEST_CASE("a process-file error names the document, the error type and the cause") {
  CHECK(process_file_error("f1-2", "database_unavailable", "PostgreSQL connection lost") ==
        "process-file doc_id=f1-2: database_unavailable: PostgreSQL connection lost");
  CHECK(process_file_error("?", "invalid_job_data", "job data has no doc_id") ==
        "process-file doc_id=?: invalid_job_data: job data has no doc_id");
}

TEST_CASE("the aggregator's test finds the document a process-file error names") {
  const std::string failure = process_file_error("f1-2", "corrupt", "doc_id=f9: in the message");
  CHECK(process_file_error_names(failure, "f1-2"));
  // An id that begins another id is not that document.
  CHECK_FALSE(process_file_error_names(failure, "f1"));
  CHECK_FALSE(process_file_error_names(process_file_error("f1", "corrupt", "x"), "f1-2"));
  // Reasons from elsewhere name no document.
  CHECK_FALSE(
      process_file_error_names("aggregate-batch batch_id=f1-2: batch_timeout: late", "f1-2"));
  CHECK_FALSE(process_file_error_names("", "f1-2"));
}
