package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// CheckJSONSchemaVersion inspects the top-level "schema_version" field of a
// JSON object document of the named kind and reports whether it is one of
// supported. An absent or null field is ErrSchemaMissing; a field that is not
// an unsigned integer fitting 32 bits is ErrSchemaInvalid; an integer not in
// supported is ErrSchemaUnsupported. A document that is not a JSON object is
// ErrCorrupt.
func CheckJSONSchemaVersion(kind string, doc []byte, supported ...uint32) (uint32, error) {
	var probe struct {
		SchemaVersion json.RawMessage `json:"schema_version"`
	}
	if err := json.Unmarshal(doc, &probe); err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrCorrupt, kind, err)
	}
	raw := bytes.TrimSpace(probe.SchemaVersion)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, &SchemaError{Kind: kind, Err: ErrSchemaMissing}
	}
	v, err := strconv.ParseUint(string(raw), 10, 32)
	if err != nil {
		return 0, &SchemaError{Kind: kind, Err: ErrSchemaInvalid}
	}
	for _, s := range supported {
		if uint32(v) == s {
			return s, nil
		}
	}
	return uint32(v), &SchemaError{Kind: kind, Version: v, Err: ErrSchemaUnsupported}
}
