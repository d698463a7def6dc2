// Request and file bodies (a JSON object, an array of objects, NDJSON) through RecordParser
// against a fixed source schema. Every accepted record must survive the event log's codec.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_spec.h"
#include "format/record.h"
#include "format/record_parser.h"

using namespace freshet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static RecordParser* parser =
      new RecordParser(fuzz::Spec().sources.at("events"), RequiredFields(fuzz::Spec(), "events"));
  static std::vector<Record> records;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  Status st = parser->Parse(body, &records);
  if (!st.ok()) {
    FUZZ_CHECK(st.code() == StatusCode::kInvalidArgument);
    FUZZ_CHECK(records.empty());
    return 0;
  }
  std::string bytes;
  Record back;
  for (const Record& r : records) {
    FUZZ_CHECK(r.values.size() == fuzz::Spec().sources.at("events").fields.size());
    bytes.clear();
    EncodeRecord(r, &bytes);
    FUZZ_CHECK(DecodeRecord(bytes, &back).ok());
    FUZZ_CHECK(back.ts_ms == r.ts_ms);
    FUZZ_CHECK(back.values.size() == r.values.size());
  }
  return 0;
}
