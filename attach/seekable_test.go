package attach

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// failAfter yields head, then fails every read with err.
func failAfter(head []byte, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(head), errSource{err})
}

type errSource struct{ err error }

func (e errSource) Read([]byte) (int, error) { return 0, e.err }

// TestEncodingKeepsUnexpectedEOF: a stream that fails with
// io.ErrUnexpectedEOF (a client gone mid-body) is no short stream to the
// compression path: in the sample, at its end, and in a later frame the
// error reaches the upload, and no seek table ends the stream early.
func TestEncodingKeepsUnexpectedEOF(t *testing.T) {
	a := &Store{compress: true, enc: sharedCodec().enc}
	text := []byte(strings.Repeat("compressible text ", 200_000)) // 3.4 MiB
	for _, n := range []int{0, 10, frameSize, frameSize + 10, 2 * frameSize, len(text)} {
		r, _, err := a.chooseEncoding(failAfter(text[:n], io.ErrUnexpectedEOF), "text/plain")
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes, then io.ErrUnexpectedEOF: %v", n, err)
		}
	}
}
