// Parsing a source's data-quality expectations (`expectations: {<field>: {between: [0, 10],
// policy: quarantine}, ...}`) into FieldExpectationsSpec values. Internal to the spec module
// (used by spec_loader.cc); quality/expectation.h compiles and enforces what it produces.
#pragma once

#include "core/status.h"
#include "spec/project_spec.h"
#include "spec/yaml_reader.h"

namespace freshet {

// Fills source->expectations from `field` (absent: none). Errors name the file, line and key:
// an unknown field, an unknown policy or key, a field with no expectation, `between` or `in`
// values that are not of the field's type, `between`/`matches`/`max_length` on a field of the
// wrong type, a regular expression RE2 does not compile, a null_fraction_max outside [0, 1].
// REQUIRES: source->fields is complete.
Status ParseExpectations(const YamlReader& reader, const YamlField& field, SourceSpec* source);

}  // namespace freshet
