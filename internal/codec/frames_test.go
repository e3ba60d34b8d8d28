package codec

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// letters is text with no repeats to speak of, made of 37 symbols: what
// shrinks it is entropy coding alone.
func letters(r *rand.Rand, n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 "
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// A payload assembled from frames, some made before (Frame, Append), some
// compressed in place (Compress), some empty, some incompressible, decodes
// to the concatenation of its pieces, with the streaming decoder too (any
// zstd reader), and is checked by the envelope's CRC like any other.
func TestFramedPayloadDecodesAsItsPieces(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		var f Framed
		var want []byte
		for range r.IntN(8) {
			var piece []byte
			switch r.IntN(4) {
			case 0: // empty
			case 1:
				piece = letters(r, r.IntN(20000))
			case 2:
				piece = make([]byte, r.IntN(3000))
				for i := range piece {
					piece[i] = byte(r.Uint32())
				}
			default:
				piece = bytes.Repeat([]byte(`{"k":"v"},`), r.IntN(500))
			}
			want = append(want, piece...)
			if r.IntN(2) == 0 {
				if err := f.Compress(piece); err != nil {
					t.Fatal(err)
				}
				continue
			}
			frame, err := Frame(piece)
			if err != nil {
				t.Fatal(err)
			}
			f.Append(frame, len(piece))
		}
		if f.Len() != len(want) {
			t.Fatalf("round %d: Len %d, want %d", round, f.Len(), len(want))
		}
		env, err := f.Envelope(testSchema)
		if err != nil {
			t.Fatal(err)
		}
		got, v, err := DecodeRaw(testSchema, env)
		if err != nil || v != testSchema.Current || !bytes.Equal(got, want) {
			t.Fatalf("round %d: decoded %d bytes (want %d), version %d: %v", round, len(got), len(want), v, err)
		}
		zr, err := zstd.NewReader(bytes.NewReader(env[headerLen:]))
		if err != nil {
			t.Fatal(err)
		}
		streamed, err := io.ReadAll(zr)
		zr.Close()
		if err != nil || !bytes.Equal(streamed, want) {
			t.Fatalf("round %d: the streaming decoder read %d bytes: %v", round, len(streamed), err)
		}
		if len(env) > headerLen {
			bad := bytes.Clone(env)
			bad[headerLen+r.IntN(len(env)-headerLen)] ^= 1 << r.IntN(8)
			if _, _, err := DecodeRaw(testSchema, bad); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("round %d: a flipped bit: %v", round, err)
			}
		}
	}
}

// Text split into frames is stored about as small as the same text
// compressed whole, also where a frame's text repeats nothing (its letters
// are still entropy-coded): at most a few dozen bytes a frame more.
func TestFramedIsAboutAsSmallAsWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var f Framed
	var whole []byte
	const frames = 6
	for range frames {
		piece := letters(r, 8<<10)
		whole = append(whole, piece...)
		frame, err := Frame(piece)
		if err != nil {
			t.Fatal(err)
		}
		f.Append(frame, len(piece))
	}
	framed, err := f.Envelope(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	one, err := Frame(whole)
	if err != nil {
		t.Fatal(err)
	}
	if len(one) >= len(whole)*3/4 {
		t.Fatalf("the whole text compressed to %d of %d bytes", len(one), len(whole))
	}
	if len(framed)-headerLen > len(one)+frames*64 {
		t.Fatalf("%d frames stored in %d bytes, the whole in %d", frames, len(framed), len(one))
	}
}

// An envelope of text that repeats nothing (a segment block of one large
// node of such text) is compressed by its letters' frequencies, as a
// frame is, not stored raw: the fastest zstd level skips entropy coding
// of a block with no repeats unless told not to.
func TestEnvelopeOfTextWithoutRepeatsShrinks(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{4 << 10, 8 << 10, 200 << 10} {
		piece := letters(r, n)
		env, err := EncodeRaw(testSchema, piece)
		if err != nil {
			t.Fatal(err)
		}
		if stored := len(env) - headerLen; stored >= n*3/4 {
			t.Errorf("%d bytes of text stored in %d", n, stored)
		}
		got, _, err := DecodeRaw(testSchema, env)
		if err != nil || !bytes.Equal(got, piece) {
			t.Fatalf("%d bytes: decoded %d bytes, %v", n, len(got), err)
		}
	}
}
