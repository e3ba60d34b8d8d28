package objstoretest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io"
	"math/rand/v2"
	"sync"
)

// Pattern is a deterministic generating reader: Size bytes of a ChaCha8
// stream keyed by a seed. It holds no buffer of its own, so it stands in for
// bodies far larger than memory, and it hashes (SHA-256) what it yields so a
// stored copy can be verified by streaming it through HashReader.
//
// Pattern exposes only Read to the store: wrap it in nothing and a store sees
// a body of unknown size (no Len, Size, Seek or WriteTo).
type Pattern struct {
	rng       *rand.ChaCha8
	remaining int64
	h         hash.Hash
	n         int64
}

// PatternReader returns a reader of size deterministic bytes for seed.
func PatternReader(seed uint64, size int64) *Pattern {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:8], seed)
	copy(key[8:], "objstoretest pattern v1 ")
	return &Pattern{rng: rand.NewChaCha8(key), remaining: size, h: sha256.New()}
}

// Read implements io.Reader.
func (p *Pattern) Read(b []byte) (int, error) {
	if p.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.remaining {
		b = b[:p.remaining]
	}
	n, _ := p.rng.Read(b) // ChaCha8.Read always fills b
	p.h.Write(b[:n])
	p.remaining -= int64(n)
	p.n += int64(n)
	return n, nil
}

// N returns the number of bytes read so far.
func (p *Pattern) N() int64 { return p.n }

// Sum returns the SHA-256 of the bytes read so far (of the whole pattern once
// Read has returned io.EOF).
func (p *Pattern) Sum() []byte { return p.h.Sum(nil) }

// PatternBytes returns the first size bytes of the pattern for seed, the same
// bytes PatternReader yields.
func PatternBytes(seed uint64, size int) []byte {
	b := make([]byte, size)
	if _, err := io.ReadFull(PatternReader(seed, int64(size)), b); err != nil {
		panic("objstoretest: pattern: " + err.Error()) // unreachable: a Pattern never fails
	}
	return b
}

// PatternSum returns the SHA-256 of the first size bytes of the pattern for
// seed, computed by streaming.
func PatternSum(seed uint64, size int64) []byte {
	sum, _, _ := HashReader(PatternReader(seed, size))
	return sum
}

// HashReader streams r to its end and returns the SHA-256 of what it read
// and the number of bytes.
func HashReader(r io.Reader) (sum []byte, n int64, err error) {
	h := sha256.New()
	n, err = io.Copy(h, r)
	return h.Sum(nil), n, err
}

// OnlyReader hides every method of r but Read, so that a store cannot learn
// the body's size (bytes.Reader's Len, io.Seeker, io.WriterTo).
func OnlyReader(r io.Reader) io.Reader { return struct{ io.Reader }{r} }

// cancelReader calls cancel once after yielding `after` bytes of r, and then
// keeps yielding r: a store that ignores its context would run to the end.
type cancelReader struct {
	r      io.Reader
	after  int64
	n      int64
	cancel context.CancelFunc
}

func (c *cancelReader) Read(b []byte) (int, error) {
	if c.n < c.after && int64(len(b)) > c.after-c.n {
		b = b[:c.after-c.n] // stop exactly at the cancellation point
	}
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

// gateReader yields `at` bytes of r, then signals reached and blocks until
// released (or until ctx is done, returning its error), then yields the rest.
// It makes "a store in the middle of a multipart upload" observable without
// sleeps.
type gateReader struct {
	r        io.Reader
	at       int64
	n        int64
	ctx      context.Context
	reached  chan struct{}
	release  chan struct{}
	once     sync.Once
	openOnce sync.Once
}

func newGateReader(ctx context.Context, r io.Reader, at int64) *gateReader {
	return &gateReader{r: r, at: at, ctx: ctx, reached: make(chan struct{}), release: make(chan struct{})}
}

func (g *gateReader) Read(b []byte) (int, error) {
	if g.n < g.at {
		if int64(len(b)) > g.at-g.n {
			b = b[:g.at-g.n]
		}
		n, err := g.r.Read(b)
		g.n += int64(n)
		return n, err
	}
	g.once.Do(func() { close(g.reached) })
	select {
	case <-g.release:
	case <-g.ctx.Done():
		return 0, g.ctx.Err()
	}
	return g.r.Read(b)
}

// open releases the gate; safe to call more than once.
func (g *gateReader) open() { g.openOnce.Do(func() { close(g.release) }) }
