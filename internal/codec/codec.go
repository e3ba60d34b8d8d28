// Package codec is the on-disk envelope of every object stowage writes:
// a fixed header (magic, kind, schema version, lengths, CRC-32C), then the
// payload, zstd-compressed when that pays.
//
// # Layout
//
//	offset size field
//	0      4    magic "STWG"
//	4      1    envelope format (1)
//	5      1    compression: 0 none, 1 zstd
//	6      2    schema version of the payload, big endian; 0 = missing
//	8      4    kind: four ASCII bytes naming the object type ("HEAD", ...)
//	12     4    stored payload length, big endian
//	16     4    decoded payload length, big endian
//	20     4    CRC-32C (Castagnoli) of bytes 0-19 and the stored payload
//	24     ...  stored payload
//
// # Errors
//
// A buffer that is short, too long, has a wrong magic, kind or checksum, or
// fails to decompress is corrupt (ErrCorrupt). A schema version of 0 is
// ErrSchemaMissing, one outside the reader's supported range is
// ErrSchemaUnsupported, and a JSON document whose "schema_version" is not an
// unsigned integer is ErrSchemaInvalid (see CheckJSONSchemaVersion). The
// four are distinct: no error matches two of them.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	fastjson "github.com/segmentio/encoding/json"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Sentinel errors.
var (
	// ErrCorrupt is returned for a truncated, damaged or foreign buffer.
	ErrCorrupt = errors.New("codec: corrupt object")
	// ErrSchemaMissing is returned when an object carries no schema version.
	ErrSchemaMissing = errors.New("codec: schema version missing")
	// ErrSchemaUnsupported is returned for a schema version this reader does
	// not know (typically written by a newer release).
	ErrSchemaUnsupported = errors.New("codec: schema version unsupported")
	// ErrSchemaInvalid is returned when a schema version is present but is
	// not a valid version number.
	ErrSchemaInvalid = errors.New("codec: schema version invalid")
)

// SchemaError carries the kind and version of a schema failure. It matches
// exactly one of ErrSchemaMissing, ErrSchemaUnsupported, ErrSchemaInvalid.
type SchemaError struct {
	Kind    string
	Version uint64 // 0 when missing or invalid
	Err     error
}

func (e *SchemaError) Error() string {
	switch {
	case errors.Is(e.Err, ErrSchemaUnsupported):
		return fmt.Sprintf("%v: %s version %d", e.Err, e.Kind, e.Version)
	default:
		return fmt.Sprintf("%v: %s", e.Err, e.Kind)
	}
}

func (e *SchemaError) Unwrap() error { return e.Err }

const (
	magic         = "STWG"
	formatV1      = 1
	headerLen     = 24
	compNone      = 0
	compZstd      = 1
	minCompress   = 256     // payloads shorter than this are stored as is
	MaxPayloadLen = 1 << 30 // upper bound on a decoded payload
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// The encoder and decoder are expensive to build and safe for concurrent
// EncodeAll/DecodeAll, so one of each serves the process. Frames carry no
// content checksum (xxhash of the decoded bytes, computed on each encode
// and decode): the envelope's CRC-32C covers the stored bytes. Literals
// are entropy-coded even in a block that repeats nothing, which the
// fastest level skips by default: text with no repeats still shrinks by
// its letters' frequencies (a segment of four 8 KiB nodes of such text,
// 33.6 KB stored raw, is 22.8 KB so: docs/performance.md, "Literals
// entropy-coded in every envelope (2026-12-07, evening)").
var (
	zOnce sync.Once
	zEnc  *zstd.Encoder
	zDec  *zstd.Decoder
	zErr  error
)

func zstdCodecs() (*zstd.Encoder, *zstd.Decoder, error) {
	zOnce.Do(func() {
		if zEnc, zErr = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(false),
			zstd.WithAllLitEntropyCompression(true)); zErr != nil {
			return
		}
		// An encoder makes its pool on first use: make it now, where the
		// codecs are first asked for, not wherever it is first used.
		zEnc.EncodeAll(nil, nil)
		zDec, zErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxPayloadLen))
	})
	return zEnc, zDec, zErr
}

// Schema names an object type and the schema versions a reader accepts.
type Schema struct {
	Kind string // exactly four ASCII bytes
	// Current is the version written; readers accept Min..Current.
	Current uint16
	Min     uint16
}

func (s Schema) check() error {
	if len(s.Kind) != 4 {
		return fmt.Errorf("codec: kind %q must be four bytes", s.Kind)
	}
	if s.Current == 0 || s.Min == 0 || s.Min > s.Current {
		return fmt.Errorf("codec: bad schema range %d..%d for %s", s.Min, s.Current, s.Kind)
	}
	return nil
}

// EncodeRaw wraps payload in an envelope of schema s at version s.Current.
func EncodeRaw(s Schema, payload []byte) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(payload) > MaxPayloadLen {
		return nil, fmt.Errorf("codec: payload of %d bytes exceeds %d", len(payload), MaxPayloadLen)
	}
	comp := byte(compNone)
	out := make([]byte, headerLen, headerLen+len(payload)/2+64)
	if len(payload) >= minCompress {
		enc, _, err := zstdCodecs()
		if err != nil {
			return nil, fmt.Errorf("codec: zstd: %w", err)
		}
		out = enc.EncodeAll(payload, out)
		if len(out)-headerLen < len(payload) {
			comp = compZstd
		} else {
			out = out[:headerLen]
		}
	}
	if comp == compNone {
		out = append(out, payload...)
	}
	seal(out, s, comp, len(payload))
	return out, nil
}

// seal writes the header of the envelope out, whose stored payload (of
// rawLen bytes decoded) follows the header's room.
func seal(out []byte, s Schema, comp byte, rawLen int) {
	stored := out[headerLen:]
	copy(out[0:4], magic)
	out[4] = formatV1
	out[5] = comp
	binary.BigEndian.PutUint16(out[6:8], s.Current)
	copy(out[8:12], s.Kind)
	binary.BigEndian.PutUint32(out[12:16], uint32(len(stored)))
	binary.BigEndian.PutUint32(out[16:20], uint32(rawLen))
	crc := crc32.Update(0, castagnoli, out[:20])
	crc = crc32.Update(crc, castagnoli, stored)
	binary.BigEndian.PutUint32(out[20:24], crc)
}

// Encode marshals v as JSON and wraps it with EncodeRaw.
func Encode(s Schema, v any) ([]byte, error) {
	payload, err := MarshalJSON(v)
	if err != nil {
		return nil, fmt.Errorf("codec: marshal %s: %w", s.Kind, err)
	}
	return EncodeRaw(s, payload)
}

// Verify checks the envelope in data without decoding its payload: its
// header, its checksum (over the stored bytes, so a compressed payload is
// not decompressed), its kind and its schema version, which it returns.
// It fails exactly where DecodeRaw would before decompressing.
func Verify(s Schema, data []byte) (uint16, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if len(data) < headerLen {
		return 0, fmt.Errorf("%w: %d bytes is shorter than the header", ErrCorrupt, len(data))
	}
	if string(data[0:4]) != magic {
		return 0, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if data[4] != formatV1 {
		return 0, fmt.Errorf("%w: unknown envelope format %d", ErrCorrupt, data[4])
	}
	storedLen := binary.BigEndian.Uint32(data[12:16])
	if uint64(len(data)-headerLen) != uint64(storedLen) {
		return 0, fmt.Errorf("%w: payload is %d bytes, header says %d", ErrCorrupt, len(data)-headerLen, storedLen)
	}
	crc := crc32.Update(0, castagnoli, data[:20])
	crc = crc32.Update(crc, castagnoli, data[headerLen:])
	if crc != binary.BigEndian.Uint32(data[20:24]) {
		return 0, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if kind := string(data[8:12]); kind != s.Kind {
		return 0, fmt.Errorf("%w: kind %q, want %q", ErrCorrupt, kind, s.Kind)
	}
	version := binary.BigEndian.Uint16(data[6:8])
	switch {
	case version == 0:
		return 0, &SchemaError{Kind: s.Kind, Err: ErrSchemaMissing}
	case version < s.Min || version > s.Current:
		return version, &SchemaError{Kind: s.Kind, Version: uint64(version), Err: ErrSchemaUnsupported}
	}
	return version, nil
}

// DecodeRaw verifies the envelope in data and returns its decoded payload
// and schema version. The payload does not alias data.
func DecodeRaw(s Schema, data []byte) ([]byte, uint16, error) {
	version, err := Verify(s, data)
	if err != nil {
		return nil, version, err
	}
	storedLen := binary.BigEndian.Uint32(data[12:16])
	rawLen := binary.BigEndian.Uint32(data[16:20])
	stored := data[headerLen:]
	if rawLen > MaxPayloadLen {
		return nil, version, fmt.Errorf("%w: decoded length %d too large", ErrCorrupt, rawLen)
	}
	switch data[5] {
	case compNone:
		if rawLen != storedLen {
			return nil, version, fmt.Errorf("%w: length mismatch", ErrCorrupt)
		}
		return append([]byte(nil), stored...), version, nil
	case compZstd:
		_, dec, err := zstdCodecs()
		if err != nil {
			return nil, version, fmt.Errorf("codec: zstd: %w", err)
		}
		out, err := dec.DecodeAll(stored, make([]byte, 0, rawLen))
		if err != nil {
			return nil, version, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		if uint32(len(out)) != rawLen {
			return nil, version, fmt.Errorf("%w: decoded %d bytes, header says %d", ErrCorrupt, len(out), rawLen)
		}
		return out, version, nil
	default:
		return nil, version, fmt.Errorf("%w: unknown compression %d", ErrCorrupt, data[5])
	}
}

// MarshalJSON encodes v as JSON, like encoding/json (which readers of
// every version accept), with the faster encoder every payload uses.
func MarshalJSON(v any) ([]byte, error) { return fastjson.Marshal(v) }

// AppendJSON appends the JSON of v, as MarshalJSON encodes it, to b.
func AppendJSON(b []byte, v any) ([]byte, error) {
	return fastjson.Append(b, v, fastjson.EscapeHTML|fastjson.SortMapKeys)
}

// ValidJSON reports whether data is one JSON value, by the rules of the
// decoder every payload is read with (so a value it accepts decodes).
func ValidJSON(data []byte) bool { return fastjson.Valid(data) }

// UnmarshalJSON decodes JSON into v, like encoding/json, with the faster
// decoder every payload uses (measured: BenchmarkColdLoad in package
// session, docs/performance.md).
func UnmarshalJSON(data []byte, v any) error { return fastjson.Unmarshal(data, v) }

// Decode verifies the envelope and unmarshals its JSON payload into v. A
// payload that is not valid JSON for v is ErrCorrupt.
func Decode(s Schema, data []byte, v any) (uint16, error) {
	return DecodeInto(s, data, func(uint16) any { return v })
}

// DecodeInto is Decode into the value into returns for the envelope's
// schema version (a reader that decodes one version partly and another
// whole verifies and decompresses the envelope once).
func DecodeInto(s Schema, data []byte, into func(version uint16) any) (uint16, error) {
	payload, version, err := DecodeRaw(s, data)
	if err != nil {
		return version, err
	}
	if err := UnmarshalJSON(payload, into(version)); err != nil {
		return version, fmt.Errorf("%w: %s payload: %v", ErrCorrupt, s.Kind, err)
	}
	return version, nil
}

// Split returns the first envelope of data, its kind, and the bytes after
// it: an object may be a sequence of envelopes (a blocked segment), each
// self-delimiting by its header's stored length. The envelope is not
// verified; decode it to check it. A buffer too short for the header or for
// the length it states is ErrCorrupt.
func Split(data []byte) (env []byte, kind string, rest []byte, err error) {
	if len(data) < headerLen {
		return nil, "", nil, fmt.Errorf("%w: %d bytes is shorter than the header", ErrCorrupt, len(data))
	}
	if string(data[0:4]) != magic {
		return nil, "", nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	n := uint64(headerLen) + uint64(binary.BigEndian.Uint32(data[12:16]))
	if n > uint64(len(data)) {
		return nil, "", nil, fmt.Errorf("%w: envelope of %d bytes, %d left", ErrCorrupt, n, len(data))
	}
	return data[:n], string(data[8:12]), data[n:], nil
}
