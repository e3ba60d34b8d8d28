package attach

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/stowage-dev/stowage/objstore"
)

// meter hashes and counts the bytes read through it and fails once they
// exceed limit (< 0: no limit). It remembers the first failure of the
// underlying reader, so the caller can report it whatever a backend made of
// it.
type meter struct {
	r     io.Reader
	h     hash.Hash
	n     int64
	limit int64
	err   error
}

func newMeter(r io.Reader, limit int64) *meter {
	return &meter{r: r, h: sha256.New(), limit: limit}
}

func (m *meter) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.r.Read(p)
	if m.limit >= 0 && m.n+int64(n) > m.limit {
		m.err = &TooLargeError{Limit: m.limit}
		return 0, m.err
	}
	m.h.Write(p[:n])
	m.n += int64(n)
	if err != nil && err != io.EOF {
		m.err = err
	}
	return n, err
}

// digest returns the lowercase hex SHA-256 of the bytes read so far.
func (m *meter) digest() string { return hex.EncodeToString(m.h.Sum(nil)) }

// cause returns the meter's own failure if it had one, else err.
func (m *meter) cause(err error) error {
	if m.err != nil {
		return m.err
	}
	return err
}

// verifier hashes what it reads and, at EOF, fails with ErrChecksum unless
// the bytes hash to want and number size.
type verifier struct {
	r      io.Reader
	closer func() error
	h      hash.Hash
	n      int64
	want   string
	size   int64
	err    error
	// ahead: r may be read by WriteTo's goroutine while closer runs (an
	// object body, whose Close ends a read in flight).
	ahead bool
}

func newVerifier(r io.Reader, closer func() error, want string, size int64) *verifier {
	return &verifier{r: r, closer: closer, h: sha256.New(), want: want, size: size}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		err = v.check()
		v.err = err
	case err != nil:
		v.err = err
	}
	return n, err
}

func (v *verifier) Close() error { return v.closer() }

// Read-ahead of WriteTo: chunks of readAheadChunk bytes, at most
// readAheadDepth read and not yet written (at most readAheadDepth+2
// buffers, 6 MiB: no more than the size left takes; a body of one chunk or
// less is not read ahead). Chunks of 1 MiB rather than 256
// KiB read a 1 GiB attachment from MinIO 5-22% faster on two cores
// shared with the server: fewer hand-overs between the two goroutines, and
// reads that take more of what the socket holds at once.
const (
	readAheadChunk = 1 << 20
	readAheadDepth = 4
)

// chunk is one read of WriteTo's reader goroutine.
type chunk struct {
	b   []byte
	err error
}

// WriteTo streams the rest of the bytes to w (io.Copy uses it): a goroutine
// reads the next chunks from the network while this one hashes the current
// chunk and writes it to w, without copying it again. Like Read, it fails
// at the end unless the bytes hash to the digest, and w has then had them.
func (v *verifier) WriteTo(w io.Writer) (int64, error) {
	if v.err != nil {
		if errors.Is(v.err, io.EOF) {
			return 0, nil
		}
		return 0, v.err
	}
	// A body of one chunk or less has nothing to read ahead of: it is
	// copied as Read reads it, without the goroutine and its buffers
	// (which, 6 zeroed buffers per Get, cost a small attachment's read
	// far more than its bytes; internal/sim spent 44% of its CPU in them).
	if !v.ahead || v.size-v.n <= readAheadChunk {
		return io.Copy(w, struct{ io.Reader }{v})
	}
	chunks, free, stop := v.readAhead()
	defer close(stop)
	var written int64
	for c := range chunks {
		v.h.Write(c.b)
		v.n += int64(len(c.b))
		n, werr := w.Write(c.b)
		written += int64(n)
		free <- c.b[:cap(c.b)]
		switch {
		case werr != nil:
			v.err = werr
			return written, werr
		case errors.Is(c.err, io.EOF):
			v.err = v.check()
			if errors.Is(v.err, io.EOF) {
				return written, nil
			}
			return written, v.err
		case c.err != nil:
			v.err = c.err
			return written, c.err
		}
	}
	return written, v.err
}

// readAhead starts the reader goroutine of WriteTo: it fills buffers taken
// from free and sends them on chunks until the reader ends (io.EOF) or
// fails, or stop is closed.
func (v *verifier) readAhead() (chunks <-chan chunk, free chan<- []byte, stop chan<- struct{}) {
	out := make(chan chunk, readAheadDepth)
	bufs := make(chan []byte, readAheadDepth+2)
	done := make(chan struct{})
	// No more buffers than the reads of the size left (its full chunks and
	// the last, short or empty, one) take; a body longer than its size
	// (damaged) recycles them.
	for range min(readAheadDepth+2, (v.size-v.n)/readAheadChunk+1) {
		bufs <- make([]byte, readAheadChunk)
	}
	go func() {
		defer close(out)
		for {
			var b []byte
			select {
			case b = <-bufs:
			case <-done:
				return
			}
			// Only io.EOF ends the body: a body cut short (a connection
			// lost mid-read: io.ErrUnexpectedEOF) fails with its own
			// error, as through Read, not as a checksum mismatch.
			n, eof, err := objstore.ReadChunk(v.r, b)
			if eof {
				err = io.EOF
			}
			select {
			case out <- chunk{b: b[:n], err: err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out, bufs, done
}

// check is the verdict at the end of the bytes: io.EOF if they are the
// attachment's, else ErrChecksum.
func (v *verifier) check() error {
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want || v.n != v.size {
		return fmt.Errorf("%w: %d bytes hash to %s, want %d bytes of %s", ErrChecksum, v.n, got, v.size, v.want)
	}
	return io.EOF
}
