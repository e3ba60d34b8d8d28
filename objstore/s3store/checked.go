package s3store

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
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
	{"X-Amz-Checksum-Crc64nvme", func() hash.Hash { return crc64.New(crc64NVME) }},
	{"X-Amz-Checksum-Crc32", func() hash.Hash { return crc32.NewIEEE() }},
	{"X-Amz-Checksum-Crc32c", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"X-Amz-Checksum-Sha256", sha256.New},
	{"X-Amz-Checksum-Sha1", sha1.New},
}

// crc64NVME is CRC-64/NVME's table (polynomial 0xad93d23594c93659,
// reflected).
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

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
