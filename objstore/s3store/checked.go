package s3store

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strings"

	"github.com/stowage-dev/stowage/objstore"
)

// A direct GET asks for the object's checksum (X-Amz-Checksum-Mode:
// ENABLED) and checks the body against it as it streams, as the SDK does:
// AWS stores a full-object CRC64NVME of every object written since 2025,
// and any server returns the checksum an upload sent. A composite
// checksum (of a multipart upload's parts, "<sum>-<parts>") and a range's
// response (no checksum header) are not checked, as by the SDK. A body
// that does not match fails its last read with objstore.ErrChecksum.

// checksums are the algorithms checked, in the SDK's order of preference:
// the last one the response carries is checked.
var checksums = []struct {
	header string
	hash   func() hash.Hash
}{
	{"X-Amz-Checksum-Crc64nvme", func() hash.Hash { return &nvme{} }},
	{"X-Amz-Checksum-Crc32", func() hash.Hash { return crc32.NewIEEE() }},
	{"X-Amz-Checksum-Crc32c", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"X-Amz-Checksum-Sha256", sha256.New},
	{"X-Amz-Checksum-Sha1", sha1.New},
}

// crc64NVME is CRC-64/NVME's table (polynomial 0xad93d23594c93659,
// reflected), and nvme8 its slicing-by-8 tables: hash/crc64 rebuilds those
// on every write of 2 KiB or more for any table but its own two, which
// cost more than the checksum itself (a GET from versitygw or AWS carries
// a CRC64NVME).
var (
	crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)
	nvme8     = func() *[8][256]uint64 {
		var t [8][256]uint64
		t[0] = *crc64NVME
		for i := range 256 {
			for k := 1; k < 8; k++ {
				t[k][i] = t[k-1][i]>>8 ^ t[0][t[k-1][i]&0xff]
			}
		}
		return &t
	}()
)

// nvme is a hash.Hash of CRC-64/NVME, slicing by 8.
type nvme struct{ crc uint64 }

func (h *nvme) Write(p []byte) (int, error) {
	n, t, crc := len(p), nvme8, ^h.crc
	for ; len(p) >= 8; p = p[8:] {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^ t[6][crc>>8&0xff] ^ t[5][crc>>16&0xff] ^ t[4][crc>>24&0xff] ^
			t[3][crc>>32&0xff] ^ t[2][crc>>40&0xff] ^ t[1][crc>>48&0xff] ^ t[0][crc>>56]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	h.crc = ^crc
	return n, nil
}

func (h *nvme) Sum(b []byte) []byte { return binary.BigEndian.AppendUint64(b, h.crc) }
func (h *nvme) Reset()              { h.crc = 0 }
func (h *nvme) Size() int           { return 8 }
func (h *nvme) BlockSize() int      { return 8 }

// checked returns resp's body, checked against the checksum it carries.
func checked(resp *http.Response) io.ReadCloser {
	var (
		want string
		h    hash.Hash
	)
	for _, c := range checksums {
		if v := resp.Header.Get(c.header); v != "" {
			want, h = v, c.hash()
		}
	}
	if h == nil || strings.Contains(want, "-") {
		return resp.Body
	}
	return &checkedBody{rc: resp.Body, h: h, want: want}
}

type checkedBody struct {
	rc   io.ReadCloser
	h    hash.Hash
	want string
}

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.h.Write(p[:n])
	if err == io.EOF {
		if got := base64.StdEncoding.EncodeToString(b.h.Sum(nil)); got != b.want {
			return n, fmt.Errorf("%w: body checksum %s, response header says %s", objstore.ErrChecksum, got, b.want)
		}
	}
	return n, err
}

func (b *checkedBody) Close() error { return b.rc.Close() }
