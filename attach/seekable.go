package attach

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"mime"
	"runtime"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/stowage-dev/stowage/objstore"
)

// frameSize is the original bytes per zstd frame of a compressed object; the
// first frame is also the sample that decides whether to compress.
const frameSize = 1 << 20

// Magic numbers of the zstd seekable format: the seek table is a skippable
// frame (which every zstd decoder skips) ending in a footer.
const (
	skippableMagic = 0x184D2A5E
	seekableMagic  = 0x8F92EAB1
	seekFooterLen  = 9
)

// minSaving: compress only if the sample shrinks to at most 90%.
const minSavingNum, minSavingDen = 9, 10

type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// sharedCodec returns the process's zstd encoder and decoder; EncodeAll and
// DecodeAll are safe for concurrent use.
var sharedCodec = sync.OnceValue(func() codec {
	n := min(runtime.GOMAXPROCS(0), 8) // frames compressed or decompressed at once
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(n),
		zstd.WithWindowSize(frameSize))
	if err != nil {
		panic(fmt.Sprintf("attach: zstd encoder: %v", err))
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(n), zstd.WithDecoderMaxWindow(frameSize))
	if err != nil {
		panic(fmt.Sprintf("attach: zstd decoder: %v", err))
	}
	return codec{enc: enc, dec: dec}
})

// compressible reports whether a media type is worth trying to compress.
func compressible(mediaType string) bool {
	mt, _, err := mime.ParseMediaType(mediaType)
	if err != nil {
		return false
	}
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") ||
		strings.HasSuffix(mt, "+yaml") {
		return true
	}
	switch mt {
	case "application/json", "application/x-ndjson", "application/jsonl", "application/xml",
		"application/javascript", "application/ecmascript", "application/x-javascript",
		"application/yaml", "application/x-yaml", "application/toml", "application/csv",
		"application/sql", "application/x-sh", "application/x-python", "application/graphql",
		"application/x-tex", "application/rtf", "application/wasm", "application/x-tar":
		return true
	}
	return false
}

// seekTableLen is the size of the seek table of n frames.
func seekTableLen(n int64) int64 { return 8 + 8*n + seekFooterLen }

// frames returns the number of frames of an attachment of size bytes.
func frames(size, frame int64) int64 { return (size + frame - 1) / frame }

// seekableEncoder reads src and yields it as zstd-seekable: one frame per
// frameSize bytes, then the seek table. Memory: two frame buffers plus 8
// bytes per frame for the table.
type seekableEncoder struct {
	src     io.Reader
	enc     *zstd.Encoder
	in, out []byte
	pos     int
	table   []uint32 // compressed and original size of each frame
	done    bool
}

func newSeekableEncoder(src io.Reader, enc *zstd.Encoder) *seekableEncoder {
	return &seekableEncoder{src: src, enc: enc, in: make([]byte, frameSize)}
}

func (s *seekableEncoder) Read(p []byte) (int, error) {
	for s.pos >= len(s.out) {
		if s.done {
			return 0, io.EOF
		}
		if err := s.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.out[s.pos:])
	s.pos += n
	return n, nil
}

func (s *seekableEncoder) next() error {
	n, eof, err := objstore.ReadChunk(s.src, s.in)
	if err != nil {
		return err // only io.EOF ends the stream: a failed source is no short one
	}
	s.done = eof
	s.out, s.pos = s.out[:0], 0
	if n > 0 {
		s.out = s.enc.EncodeAll(s.in[:n], s.out)
		s.table = append(s.table, uint32(len(s.out)), uint32(n))
	}
	if s.done {
		s.out = appendSeekTable(s.out, s.table)
	}
	return nil
}

func appendSeekTable(dst []byte, table []uint32) []byte {
	n := len(table) / 2
	dst = binary.LittleEndian.AppendUint32(dst, skippableMagic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(8*n+seekFooterLen))
	for _, v := range table {
		dst = binary.LittleEndian.AppendUint32(dst, v)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, 0) // descriptor: no per-frame checksums (frames carry zstd's)
	return binary.LittleEndian.AppendUint32(dst, seekableMagic)
}

// frameEntry is one frame of a seek table.
type frameEntry struct {
	compressed, original int64
}

// parseSeekTable parses the seek table of n frames.
func parseSeekTable(b []byte, n int64) ([]frameEntry, error) {
	if int64(len(b)) != seekTableLen(n) ||
		binary.LittleEndian.Uint32(b) != skippableMagic ||
		int64(binary.LittleEndian.Uint32(b[4:])) != 8*n+seekFooterLen {
		return nil, fmt.Errorf("%w: malformed seek table", ErrChecksum)
	}
	foot := b[len(b)-seekFooterLen:]
	if int64(binary.LittleEndian.Uint32(foot)) != n || foot[4] != 0 ||
		binary.LittleEndian.Uint32(foot[5:]) != seekableMagic {
		return nil, fmt.Errorf("%w: malformed seek table footer", ErrChecksum)
	}
	out := make([]frameEntry, n)
	for i := range out {
		e := b[8+8*i:]
		out[i] = frameEntry{
			compressed: int64(binary.LittleEndian.Uint32(e)),
			original:   int64(binary.LittleEndian.Uint32(e[4:])),
		}
	}
	return out, nil
}

// chooseEncoding decides whether to compress the stream src of media type
// mediaType. It reads the first frame as a sample and returns a reader of
// the whole stream to store and its encoding.
func (a *Store) chooseEncoding(src io.Reader, mediaType string) (io.Reader, bool, error) {
	if !a.compress || !compressible(mediaType) {
		return src, false, nil
	}
	sample := make([]byte, frameSize)
	n, eof, err := objstore.ReadChunk(src, sample)
	if err != nil {
		return nil, false, err
	}
	if eof {
		src = eofReader{}
	}
	sample = sample[:n]
	rest := io.MultiReader(bytes.NewReader(sample), src)
	if n == 0 {
		return rest, false, nil
	}
	c := a.enc.EncodeAll(sample, nil)
	if (int64(len(c))+seekTableLen(1))*minSavingDen > int64(n)*minSavingNum {
		return rest, false, nil
	}
	return newSeekableEncoder(rest, a.enc), true, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// frameReader yields original bytes from a run of whole frames, skipping
// skip bytes of the first and stopping after remain bytes.
type frameReader struct {
	body    io.ReadCloser
	dec     *zstd.Decoder
	entries []frameEntry
	skip    int64
	remain  int64
	cbuf    []byte
	out     []byte
	pos     int
}

func (f *frameReader) Read(p []byte) (int, error) {
	if f.remain <= 0 {
		return 0, io.EOF
	}
	for f.pos >= len(f.out) {
		if len(f.entries) == 0 {
			return 0, fmt.Errorf("%w: seek table ends before the range", ErrChecksum)
		}
		if err := f.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, f.out[f.pos:min(len(f.out), f.pos+int(min(f.remain, int64(len(p)))))])
	f.pos += n
	f.remain -= int64(n)
	return n, nil
}

func (f *frameReader) next() error {
	e := f.entries[0]
	f.entries = f.entries[1:]
	if int64(cap(f.cbuf)) < e.compressed {
		f.cbuf = make([]byte, e.compressed)
	}
	f.cbuf = f.cbuf[:e.compressed]
	if _, err := io.ReadFull(f.body, f.cbuf); err != nil {
		return err
	}
	out, err := f.dec.DecodeAll(f.cbuf, f.out[:0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrChecksum, err)
	}
	if int64(len(out)) != e.original {
		return fmt.Errorf("%w: frame holds %d bytes, seek table says %d", ErrChecksum, len(out), e.original)
	}
	f.out, f.pos = out, int(min(f.skip, int64(len(out))))
	f.skip -= int64(f.pos)
	return nil
}

func (f *frameReader) Close() error { return f.body.Close() }
