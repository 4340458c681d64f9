// Fuzz target: LongBench JSONL data files as both apps read them (read_dataset_records in
// lib/data/suite.*: the line reader, the record fields, duplicate ids, empty files). Every
// record that reads has its fields; an error is a cokv::Error naming the file.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "data/suite.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cokv::SuiteDataset d;
  d.info.name = "fuzz";
  d.data_path = cokv_fuzz::write_input(data, size, ".jsonl");
  try {
    const auto recs = cokv::read_dataset_records(d);
    if (recs.empty()) cokv_fuzz::property_failed("an empty dataset read without an error");
  } catch (const cokv::Error& e) {
    if (std::string(e.what()).find(d.data_path) == std::string::npos)
      cokv_fuzz::property_failed("an error that does not name the file");
  }
  // The skip mode of the plain reader drops what it cannot read and counts it.
  cokv::longbench::ReadStats st;
  const auto kept = cokv::longbench::read_records(d.data_path, {true}, &st);
  if (kept.size() != st.n_read) cokv_fuzz::property_failed("skip mode miscounted");
  return 0;
}
