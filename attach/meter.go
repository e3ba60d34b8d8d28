package attach

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
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
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want || v.n != v.size {
			err = fmt.Errorf("%w: %d bytes hash to %s, want %d bytes of %s", ErrChecksum, v.n, got, v.size, v.want)
		}
		v.err = err
	case err != nil:
		v.err = err
	}
	return n, err
}

func (v *verifier) Close() error { return v.closer() }
