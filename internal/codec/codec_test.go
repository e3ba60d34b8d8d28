package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

var testSchema = Schema{Kind: "TEST", Current: 2, Min: 1}

type doc struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"x", strings.Repeat("compressible ", 1000)} {
		data, err := Encode(testSchema, doc{Name: name, N: 7})
		if err != nil {
			t.Fatal(err)
		}
		var got doc
		v, err := Decode(testSchema, data, &got)
		if err != nil {
			t.Fatal(err)
		}
		if v != 2 || got.Name != name || got.N != 7 {
			t.Fatalf("got %d %+v", v, got)
		}
	}
	big := bytes.Repeat([]byte("a"), 4096)
	data, _ := EncodeRaw(testSchema, big)
	if data[5] != compZstd || len(data) >= len(big) {
		t.Fatalf("large compressible payload not compressed: comp=%d len=%d", data[5], len(data))
	}
}

func TestIncompressibleStoredRaw(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	payload := make([]byte, 1000)
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	data, err := EncodeRaw(testSchema, payload)
	if err != nil {
		t.Fatal(err)
	}
	if data[5] != compNone {
		t.Fatalf("random payload stored compressed")
	}
	got, _, err := DecodeRaw(testSchema, data)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestTruncationAndBitFlipsAreCorrupt(t *testing.T) {
	for _, payload := range [][]byte{[]byte(`{"name":"short"}`), []byte(strings.Repeat(`{"name":"long"}`, 100))} {
		data, err := EncodeRaw(testSchema, payload)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := Verify(testSchema, data); err != nil || v != 2 {
			t.Fatalf("Verify of an intact envelope: %d, %v", v, err)
		}
		for n := 0; n < len(data); n++ {
			if _, _, err := DecodeRaw(testSchema, data[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated to %d: err = %v, want ErrCorrupt", n, err)
			}
			if _, err := Verify(testSchema, data[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Verify, truncated to %d: err = %v, want ErrCorrupt", n, err)
			}
		}
		extended := append(append([]byte(nil), data...), 0)
		if _, _, err := DecodeRaw(testSchema, extended); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("extended: err = %v", err)
		}
		for i := 0; i < len(data); i++ {
			for bit := 0; bit < 8; bit++ {
				flipped := append([]byte(nil), data...)
				flipped[i] ^= 1 << bit
				_, _, err := DecodeRaw(testSchema, flipped)
				if err == nil {
					t.Fatalf("flip byte %d bit %d: decoded without error", i, bit)
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("flip byte %d bit %d: err = %v, want ErrCorrupt", i, bit, err)
				}
				// Verify reads no payload, yet the checksum covers
				// every byte: it catches the same flips.
				if _, err := Verify(testSchema, flipped); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Verify, flip byte %d bit %d: err = %v, want ErrCorrupt", i, bit, err)
				}
			}
		}
	}
}

func TestWrongKindIsCorrupt(t *testing.T) {
	data, _ := EncodeRaw(testSchema, []byte("{}"))
	other := Schema{Kind: "OTHR", Current: 2, Min: 1}
	if _, _, err := DecodeRaw(other, data); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v", err)
	}
}

// withVersion rewrites the schema version of an envelope and fixes its CRC,
// as a writer of that version would have produced it.
func withVersion(data []byte, v uint16) []byte {
	out := append([]byte(nil), data...)
	binary.BigEndian.PutUint16(out[6:8], v)
	crc := crc32.Update(0, castagnoli, out[:20])
	crc = crc32.Update(crc, castagnoli, out[headerLen:])
	binary.BigEndian.PutUint32(out[20:24], crc)
	return out
}

func TestSchemaErrorsAreDistinct(t *testing.T) {
	data, _ := EncodeRaw(testSchema, []byte("{}"))
	cases := []struct {
		version uint16
		want    error
	}{{0, ErrSchemaMissing}, {3, ErrSchemaUnsupported}, {1, nil}, {2, nil}}
	all := []error{ErrCorrupt, ErrSchemaMissing, ErrSchemaUnsupported, ErrSchemaInvalid}
	for _, c := range cases {
		_, _, err := DecodeRaw(testSchema, withVersion(data, c.version))
		if c.want == nil {
			if err != nil {
				t.Fatalf("version %d: %v", c.version, err)
			}
			continue
		}
		for _, e := range all {
			if errors.Is(err, e) != (e == c.want) {
				t.Fatalf("version %d: err %v matches %v = %v", c.version, err, e, errors.Is(err, e))
			}
		}
		var se *SchemaError
		if !errors.As(err, &se) || se.Kind != "TEST" {
			t.Fatalf("version %d: not a *SchemaError: %v", c.version, err)
		}
	}
	// Min bound: a reader requiring at least 2 rejects 1 as unsupported.
	if _, _, err := DecodeRaw(Schema{Kind: "TEST", Current: 3, Min: 2}, withVersion(data, 1)); !errors.Is(err, ErrSchemaUnsupported) {
		t.Fatalf("below min: %v", err)
	}
}

func TestCheckJSONSchemaVersion(t *testing.T) {
	cases := []struct {
		doc  string
		want error
	}{
		{`{"schema_version":1,"x":2}`, nil},
		{`{"x":2}`, ErrSchemaMissing},
		{`{"schema_version":null}`, ErrSchemaMissing},
		{`{"schema_version":"1"}`, ErrSchemaInvalid},
		{`{"schema_version":-1}`, ErrSchemaInvalid},
		{`{"schema_version":1.5}`, ErrSchemaInvalid},
		{`{"schema_version":99999999999}`, ErrSchemaInvalid},
		{`{"schema_version":2}`, ErrSchemaUnsupported},
		{`[1]`, ErrCorrupt},
		{`{`, ErrCorrupt},
	}
	for _, c := range cases {
		_, err := CheckJSONSchemaVersion("checkpoint", []byte(c.doc), 1)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.doc, err, c.want)
		}
	}
}

func TestBadSchemaRejected(t *testing.T) {
	if _, err := EncodeRaw(Schema{Kind: "TOOLONG", Current: 1, Min: 1}, nil); err == nil {
		t.Fatal("five-byte kind accepted")
	}
	if _, err := EncodeRaw(Schema{Kind: "TEST", Current: 0, Min: 0}, nil); err == nil {
		t.Fatal("version 0 accepted for writing")
	}
}

func BenchmarkEncodeDecode4K(b *testing.B) {
	payload := []byte(strings.Repeat(`{"node_id":"n","kind":"event","event":{"text":"hello world"}},`, 64))
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		data, err := EncodeRaw(testSchema, payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := DecodeRaw(testSchema, data); err != nil {
			b.Fatal(err)
		}
	}
}

// Envelopes are written with zstd frames that carry no content checksum
// (the envelope's CRC-32C covers the stored bytes); frames written before,
// with one, still decode.
func TestZstdFramesWithAndWithoutContentChecksum(t *testing.T) {
	payload := []byte(strings.Repeat("a payload that compresses well. ", 64))
	env, err := EncodeRaw(testSchema, payload)
	if err != nil {
		t.Fatal(err)
	}
	if env[5] != compZstd {
		t.Fatalf("compression %d, want zstd", env[5])
	}
	const checksumFlag = 1 << 2 // Frame_Header_Descriptor, after the frame's 4-byte magic
	if desc := env[headerLen+4]; desc&checksumFlag != 0 {
		t.Fatalf("frame descriptor %08b: the frame carries a content checksum", desc)
	}
	old, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	stored := old.EncodeAll(payload, nil)
	if stored[4]&checksumFlag == 0 {
		t.Fatal("the old encoder wrote no content checksum")
	}
	legacy := append(env[:headerLen:headerLen], stored...)
	binary.BigEndian.PutUint32(legacy[12:16], uint32(len(stored)))
	crc := crc32.Update(0, castagnoli, legacy[:20])
	binary.BigEndian.PutUint32(legacy[20:24], crc32.Update(crc, castagnoli, stored))
	got, _, err := DecodeRaw(testSchema, legacy)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("an envelope whose frame has a content checksum: %v", err)
	}
}
