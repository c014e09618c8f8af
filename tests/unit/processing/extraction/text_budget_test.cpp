#include <doctest/doctest.h>

#include "processing/extraction/text_budget.hpp"

TEST_CASE("text budgets spend characters across pieces") {
  processing::TextBudget budget(5);
  CHECK(budget.take("abc") == "abc");
  CHECK_FALSE(budget.truncated());
  CHECK(budget.take("d\xC3\xA9"
                    "f") == "d\xC3\xA9");
  CHECK(budget.truncated());
  CHECK(budget.exhausted());
  CHECK(budget.take("more").empty());
}

TEST_CASE("text budgets take a count the caller already made") {
  processing::TextBudget budget(4);
  CHECK(budget.take("ab", 2) == "ab");
  CHECK_FALSE(budget.truncated());
  CHECK(budget.take("c\xC3\xA9"
                    "d",
                    3) == "c\xC3\xA9");  // over the budget: cut as take(text) cuts
  CHECK(budget.truncated());
  CHECK(budget.exhausted());
}
