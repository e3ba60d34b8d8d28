package session

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stowage-dev/stowage/internal/codec"
)

// TestCanonicalJSONIsTheEncoders: appendCanonicalJSON writes what the
// head's encoder writes for a json.RawMessage, and the encoder leaves it
// unchanged, so a node reads back the same from a head and a segment.
func TestCanonicalJSONIsTheEncoders(t *testing.T) {
	for _, v := range []string{" { \"a\" : [ 1 , 2 ] }\n", "1e999999", "\"\xff\xfe\"", "\"<a & b>\u2028\u2029\"",
		"\"\\u00e9 \\\" \\\\\"", "\"\\\\\" ", "\t[\"x y\" ,{\"k\\\"<\" :\r\n\"&\"}]", "\"\xe2\x80\"", "\"\xe2\x80\xa8\xe2\"", "null"} {
		if !codec.ValidJSON([]byte(v)) {
			t.Fatalf("%q is not valid", v)
		}
		type wrap struct {
			V json.RawMessage `json:"v"`
		}
		enc, err := codec.MarshalJSON(wrap{json.RawMessage(v)})
		if err != nil {
			t.Fatal(err)
		}
		want := enc[len(`{"v":`) : len(enc)-1]
		got := ownJSON(json.RawMessage(v))
		if !bytes.Equal(got, want) {
			t.Errorf("%q: canonical %q, encoder %q", v, got, want)
		}
		again, _ := codec.MarshalJSON(wrap{got})
		if !bytes.Equal(again, enc) {
			t.Errorf("%q: the encoder rewrites the canonical text %q as %q", v, got, again)
		}
	}
}
