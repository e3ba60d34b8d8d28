package attach

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"
)

// aheadVerifier is the verifier of a whole Get of body (open's), claiming
// size bytes of digest want.
func aheadVerifier(body []byte, want string, size int64) *verifier {
	v := newVerifier(bytes.NewReader(body), func() error { return nil }, want, size)
	v.ahead = true
	return v
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestVerifierWriteToSizes: io.Copy of a verifier that reads ahead
// delivers every byte of bodies around the chunk boundaries (copied
// directly at one chunk or less, read ahead past it), and fails with
// ErrChecksum when the bytes do not hash to the digest or are more or
// fewer than the size claimed.
func TestVerifierWriteToSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const c = readAheadChunk
	for _, n := range []int{0, 1, 1000, c - 1, c, c + 1, 2 * c, 2*c + 1, 7*c + 3} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(rng.Uint32())
		}
		var got bytes.Buffer
		if _, err := io.Copy(&got, aheadVerifier(body, digestOf(body), int64(n))); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got.Bytes(), body) {
			t.Fatalf("%d bytes: copied %d different bytes", n, got.Len())
		}
		for name, v := range map[string]*verifier{
			"wrong digest":     aheadVerifier(body, digestOf(append(body[:n:n], 1)), int64(n)),
			"size claimed + 1": aheadVerifier(body, digestOf(body), int64(n+1)),
			"size claimed - 1": aheadVerifier(body, digestOf(body), int64(n-1)),
			"size claimed 0":   aheadVerifier(append(body[:n:n], 1), digestOf(body), 0),
		} {
			if _, err := io.Copy(io.Discard, v); !errors.Is(err, ErrChecksum) {
				t.Fatalf("%d bytes, %s: %v", n, name, err)
			}
		}
	}
}

// TestVerifierWriteToAllocatesForItsSize: io.Copy of a small attachment
// allocates no read-ahead buffers (it once took six of 256 KiB per Get,
// 44% of internal/sim's CPU), and one of a little more than a chunk only
// the two buffers its two reads take.
func TestVerifierWriteToAllocatesForItsSize(t *testing.T) {
	for _, c := range []struct {
		size, most int
	}{{100, 64 << 10}, {readAheadChunk, 64 << 10}, {readAheadChunk + 1, 2*readAheadChunk + 64<<10}} {
		body := bytes.Repeat([]byte("x"), c.size)
		want := digestOf(body)
		const runs = 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			if _, err := io.Copy(io.Discard, aheadVerifier(body, want, int64(c.size))); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > uint64(c.most) {
			t.Errorf("io.Copy of %d bytes allocates %d bytes, want at most %d", c.size, per, c.most)
		}
	}
}

// TestVerifierKeepsAReadError: a body cut short (io.ErrUnexpectedEOF, as an
// HTTP body whose connection is lost) fails a read of the attachment with
// that error, through Read and through the read-ahead of WriteTo alike,
// not as ErrChecksum: the read is worth retrying, the data is not damaged.
func TestVerifierKeepsAReadError(t *testing.T) {
	body := bytes.Repeat([]byte("y"), 3*readAheadChunk)
	for _, cut := range []int{0, 10, readAheadChunk, 2*readAheadChunk + 5} {
		for _, ahead := range []bool{false, true} {
			r := io.MultiReader(bytes.NewReader(body[:cut]), iotest.ErrReader(io.ErrUnexpectedEOF))
			v := newVerifier(r, func() error { return nil }, digestOf(body), int64(len(body)))
			v.ahead = ahead
			_, err := io.Copy(io.Discard, v)
			if !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrChecksum) {
				t.Errorf("cut at %d, read-ahead %v: %v, want io.ErrUnexpectedEOF", cut, ahead, err)
			}
		}
	}
}
