package codec

import (
	"fmt"
	"slices"
	"sync"
)

// A zstd payload may be several frames one after the other: a decoder
// returns the concatenation of their contents (every reader of every
// release does: DecodeRaw decodes frame after frame). A payload assembled
// from pieces compressed at different times, some of them long before, is
// therefore read exactly as the same bytes compressed at once. Framed builds
// such a payload, so that a writer re-sending mostly unchanged bytes (a
// session head carries the deltas of earlier commits) compresses only what
// is new.

// Frame compresses piece into one zstd frame for Framed.Append, as every
// envelope is compressed (literals entropy-coded even where the piece
// repeats nothing), so that a payload made of frames is about as small as
// the same payload compressed whole: each frame costs its header and its
// own tables, a few bytes to a few dozen.
// The frame is compressed into a pooled buffer and returned in memory of
// its own size: a caller keeps it as long as the piece it caches.
func Frame(piece []byte) ([]byte, error) {
	enc, _, err := zstdCodecs()
	if err != nil {
		return nil, fmt.Errorf("codec: zstd: %w", err)
	}
	buf := frameBuffers.Get().(*[]byte)
	out := enc.EncodeAll(piece, slices.Grow((*buf)[:0], frameBound(piece)))
	frame := slices.Clone(out)
	if *buf = out[:0]; cap(out) <= maxPooledFrame {
		frameBuffers.Put(buf)
	}
	return frame, nil
}

// frameBuffers hold the frames Frame compresses before it copies them out;
// a buffer grown past maxPooledFrame is left to the garbage collector.
var frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooledFrame = 1 << 20

// frameBound is room enough for the frame of piece, stored raw at worst.
func frameBound(piece []byte) int { return len(piece) + len(piece)>>10 + 32 }

// Framed is an envelope whose payload is assembled from zstd frames, each
// made by Frame (now or earlier) or by Compress. The zero value is empty and
// ready; Envelope seals it.
type Framed struct {
	out    []byte // the header's room, then the frames
	rawLen int    // bytes the frames decode to
}

// Grow makes room for n more stored bytes.
func (f *Framed) Grow(n int) {
	if f.out == nil {
		f.out = make([]byte, headerLen, headerLen+n)
		return
	}
	if cap(f.out)-len(f.out) < n {
		f.out = append(make([]byte, 0, len(f.out)+n), f.out...)
	}
}

// Compress appends one frame of piece, compressed as EncodeRaw compresses
// a payload: for bytes made now, such as the JSON around cached frames.
func (f *Framed) Compress(piece []byte) error {
	enc, _, err := zstdCodecs()
	if err != nil {
		return fmt.Errorf("codec: zstd: %w", err)
	}
	f.Grow(frameBound(piece))
	f.out = enc.EncodeAll(piece, f.out)
	f.rawLen += len(piece)
	return nil
}

// Append appends frame, made by Frame from a piece of rawLen bytes.
func (f *Framed) Append(frame []byte, rawLen int) {
	f.Grow(len(frame))
	f.out = append(f.out, frame...)
	f.rawLen += rawLen
}

// Len returns the bytes the payload decodes to so far.
func (f *Framed) Len() int { return f.rawLen }

// Envelope seals the payload as an envelope of schema s at version
// s.Current, compressed with zstd, and returns it; f is empty after.
func (f *Framed) Envelope(s Schema) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if f.rawLen > MaxPayloadLen {
		return nil, fmt.Errorf("codec: payload of %d bytes exceeds %d", f.rawLen, MaxPayloadLen)
	}
	f.Grow(0)
	out := f.out
	seal(out, s, compZstd, f.rawLen)
	*f = Framed{}
	return out, nil
}
