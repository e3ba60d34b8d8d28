package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/fsstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// cutter is a Store decorator whose first cuts Gets return a body cut off
// after half its bytes: with an error like a dropped connection's
// (ErrUnavailable wrapping io.ErrUnexpectedEOF), or, with clean, with a
// plain io.EOF, as a body whose end nothing announces.
type cutter struct {
	objstore.Store
	clean bool

	mu   sync.Mutex
	cuts int
	gets int
}

func (c *cutter) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	rc, info, err := c.Store.Get(ctx, key, opts)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets++
	if err != nil || c.cuts == 0 {
		return rc, info, err
	}
	c.cuts--
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, info, err
	}
	var end error = io.EOF
	if !c.clean {
		end = fmt.Errorf("%w: cut: %w", objstore.ErrUnavailable, io.ErrUnexpectedEOF)
	}
	return io.NopCloser(io.MultiReader(bytes.NewReader(data[:len(data)/2]), errReader{end})), info, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// backends are the local backends, each fresh.
func backends(t *testing.T) map[string]objstore.Store {
	fs, err := fsstore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]objstore.Store{"memstore": memstore.New(nil), "fsstore": fs}
}

// A Get whose body is cut short, with an error or with a clean EOF, is
// retried as a whole on every local backend: the caller reads the whole
// object, whole ranges, and the info of the response it read.
func TestGetRetriesTruncatedBody(t *testing.T) {
	for name, base := range backends(t) {
		for _, clean := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/clean=%v", name, clean), func(t *testing.T) {
				data := bytes.Repeat([]byte("0123456789"), 1000)
				put, err := base.Put(t.Context(), "k", data, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, rng := range []*objstore.Range{nil, {Offset: 10, Length: 100}, {Offset: 9000, Length: -1}} {
					c := &cutter{Store: base, clean: clean, cuts: 2}
					s, sl, _ := newRetry(t, c, 5)
					rc, info, err := s.Get(t.Context(), "k", &objstore.GetOptions{Range: rng})
					if err != nil {
						t.Fatalf("Get %+v: %v", rng, err)
					}
					got, err := io.ReadAll(rc)
					rc.Close()
					want := data
					if rng != nil {
						want = data[rng.Offset:]
						if rng.Length >= 0 {
							want = want[:rng.Length]
						}
					}
					if err != nil || !bytes.Equal(got, want) || info.ETag != put.ETag {
						t.Fatalf("Get %+v read %d bytes (want %d), %v; etag %q want %q", rng, len(got), len(want), err, info.ETag, put.ETag)
					}
					if c.gets != 3 || sl.n() != 2 {
						t.Errorf("Get %+v: %d attempts and %d backoffs, want 3 and 2", rng, c.gets, sl.n())
					}
				}
			})
		}
	}
}

// Attempts run out: the error says the body was cut short and is
// retryable (ErrUnavailable).
func TestGetTruncatedEveryTime(t *testing.T) {
	c := &cutter{Store: memstore.New(nil), clean: true, cuts: 10}
	if _, err := c.Store.Put(t.Context(), "k", []byte("0123456789"), nil); err != nil {
		t.Fatal(err)
	}
	s, _, _ := newRetry(t, c, 3)
	_, _, err := s.Get(t.Context(), "k", nil)
	if !errors.Is(err, retry.ErrTruncated) || !errors.Is(err, objstore.ErrUnavailable) || c.gets != 3 {
		t.Fatalf("Get = %v after %d attempts; want ErrTruncated (ErrUnavailable) after 3", err, c.gets)
	}
}

// liar is a Store decorator whose Gets announce one byte less than their
// bodies hold.
type liar struct{ objstore.Store }

func (l liar) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	rc, info, err := l.Store.Get(ctx, key, opts)
	info.Size--
	return rc, info, err
}

// A body read whole that runs past the length its response announced fails
// with ErrTruncated, as a short one does, instead of passing cut to length.
func TestGetLongBodyFails(t *testing.T) {
	base := memstore.New(nil)
	if _, err := base.Put(t.Context(), "k", []byte("0123456789"), nil); err != nil {
		t.Fatal(err)
	}
	s, _, _ := newRetry(t, liar{base}, 2)
	if _, _, err := s.Get(t.Context(), "k", nil); !errors.Is(err, retry.ErrTruncated) {
		t.Fatalf("Get = %v, want ErrTruncated", err)
	}
}

// A body larger than ReadWhole streams; cut short with a clean EOF, its
// read fails with ErrTruncated instead of passing for a shorter object.
func TestGetStreamedBodyChecksItsLength(t *testing.T) {
	c := &cutter{Store: memstore.New(nil), clean: true, cuts: 1}
	if _, err := c.Store.Put(t.Context(), "k", make([]byte, 1000), nil); err != nil {
		t.Fatal(err)
	}
	s := retry.New(c, retry.Options{ReadWhole: 100, Sleep: (&sleeper{}).Sleep, Rand: rand.New(rand.NewPCG(1, 1))})
	rc, _, err := s.Get(t.Context(), "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, retry.ErrTruncated) || n != 500 {
		t.Fatalf("read %d bytes, %v; want 500 and ErrTruncated", n, err)
	}
	rc, _, err = s.Get(t.Context(), "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil || n != 1000 {
		t.Fatalf("uncut read %d bytes, %v; want 1000", n, err)
	}
}
