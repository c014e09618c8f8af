// The pipeline catches the errors of the database and extraction layers in
// the one classification they share (common/classified_error.hpp).
#include <doctest/doctest.h>

#include "common/classified_error.hpp"
#include "db/errors.hpp"
#include "processing/extraction/extraction.hpp"

TEST_CASE("database outages and extraction errors share one retryable notion") {
  auto retry_of = [](auto&& thrower) {
    try {
      thrower();
    } catch (const common::ClassifiedError& e) {
      return e.retry();
    }
    FAIL("not a ClassifiedError");
    return common::Retry::kPermanent;
  };
  CHECK(retry_of([] { throw db::DatabaseUnavailable("connection refused"); }) ==
        common::Retry::kRetryable);
  CHECK(retry_of([] {
          throw processing::ExtractionError("storage_unavailable", true, "root missing");
        }) == common::Retry::kRetryable);
  CHECK(retry_of([] { throw processing::ExtractionError("corrupt", false, "bad PDF"); }) ==
        common::Retry::kPermanent);
}
