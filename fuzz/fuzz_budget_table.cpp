// Fuzz target: the budget-table reader (lib/kv/budget_table.*, read_budget_table as cokv-eval
// calls it) on arbitrary bytes. A table that reads must write and read back to the same table
// (scores to the bit, budgets, window, sink, levels), and name its .npy twins.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_common.h"
#include "kv/budget_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cokv::BudgetTable t;
  try {
    t = cokv::read_budget_table(cokv_fuzz::write_input(data, size, ".budget.json"));
  } catch (const cokv::Error&) {
    return 0;
  }
  const std::string text = cokv::budget_table_to_string(t);
  const cokv::BudgetTable back = cokv::read_budget_table(cokv_fuzz::write_input(
      reinterpret_cast<const uint8_t*>(text.data()), text.size(), ".budget.json"));
  if (back.scores != t.scores || back.score_stderr != t.score_stderr || back.window != t.window ||
      back.sink != t.sink || back.tables.size() != t.tables.size() || back.model.n_layers != t.model.n_layers ||
      back.model.n_kv_heads != t.model.n_kv_heads || back.method != t.method || back.task != t.task)
    cokv_fuzz::property_failed("a table did not read back as written");
  for (size_t k = 0; k < t.tables.size(); ++k) {
    if (back.tables[k].budgets != t.tables[k].budgets || back.tables[k].mean_budget != t.tables[k].mean_budget ||
        back.tables[k].alpha != t.tables[k].alpha || back.tables[k].extra != t.tables[k].extra)
      cokv_fuzz::property_failed("a budget level did not read back as written");
    (void)cokv::twin_budget_suffix(t, k);
  }
  cokv::check_against_model(t, t.model.n_layers, t.model.n_kv_heads, "fuzz", t.model.n_heads, t.model.file_sha256);
  return 0;
}
