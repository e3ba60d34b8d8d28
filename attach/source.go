package attach

import (
	"context"
	"io"
)

// sourceChunk is the length of every Read on a caller's stream.
const sourceChunk = 64 << 10

// source is how a put reads the caller's stream, on every path: each Read
// on the stream is of sourceChunk bytes into a buffer of its own, made only
// when the bytes handed on so far are used up, and none is made once ctx
// is done. So the stream sees the same Reads whatever consumes it: the
// proof of possession (io.Copy to io.Discard, 8 KiB at a time) or an
// upload (part buffers of the backend's size), and PutKnown does not tell
// a digest another session holds from one nobody stored through the reads
// of the caller's own reader (docs/protocol.md, "Tenant isolation").
type source struct {
	ctx      context.Context
	r        io.Reader
	buf      []byte
	pos, end int
	err      error // the stream's error (io.EOF included), once it returned one
}

func newSource(ctx context.Context, r io.Reader) *source {
	return &source{ctx: ctx, r: r}
}

func (s *source) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.pos == s.end {
		if s.err != nil {
			return 0, s.err
		}
		if err := s.ctx.Err(); err != nil {
			return 0, err
		}
		if s.buf == nil {
			s.buf = make([]byte, sourceChunk)
		}
		n, err := s.r.Read(s.buf)
		s.pos, s.end, s.err = 0, n, err
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.pos:s.end])
	s.pos += n
	return n, nil
}
