package s3store

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"maps"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
)

// wire records the requests a client sends and answers each with reply.
type wire struct {
	reqs  []*http.Request
	reply func(*http.Request) *http.Response
}

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
	}
	w.reqs = append(w.reqs, req)
	resp := w.reply(req)
	resp.Request = req
	return resp, nil
}

// answer is a canned response.
func answer(status int, header map[string]string, body string) func(*http.Request) *http.Response {
	return func(req *http.Request) *http.Response {
		h := http.Header{}
		for k, v := range header {
			h.Set(k, v)
		}
		b := body
		if req.Method == http.MethodHead {
			b = ""
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(b)), ContentLength: -1}
	}
}

// twoClients returns a Store's client, which sends the four single-object
// requests directly, and the same client with every request through the
// SDK, both sending to w.
func twoClients(t *testing.T, cfg Config, w *wire) (direct, sdk *client) {
	t.Helper()
	cfg.HTTPClient = &http.Client{Transport: w}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKID", "SECRET", "TOKEN")
	}
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.c.direct == nil {
		t.Fatalf("%+v: no direct client", cfg)
	}
	return s.c, &client{api: s.c.api, bucket: s.c.bucket}
}

// sent is what of a request must be the same from both clients.
func sent(req *http.Request) map[string]any {
	h := map[string]any{}
	for k, v := range req.Header {
		switch k {
		case "Authorization", "X-Amz-Date", "User-Agent", "Amz-Sdk-Invocation-Id", "Amz-Sdk-Request":
		default:
			h[k] = v
		}
	}
	auth := req.Header.Get("Authorization")
	scope := ""
	if i := strings.Index(auth, "Credential="); i >= 0 {
		scope, _, _ = strings.Cut(auth[i:], ",")
		scope = scope[strings.Index(scope, "/"):] // date/region/service/aws4_request
		scope = scope[strings.Index(scope[1:], "/")+1:]
	}
	q := req.URL.Query()
	q.Del("x-id") // the SDK names its operation in the query; servers ignore it
	return map[string]any{"method": req.Method, "url": req.URL.Scheme + "://" + req.URL.Host + req.URL.EscapedPath() + "?" + q.Encode(),
		"header": h, "length": req.ContentLength, "scope": scope}
}

// TestDirectRequestsAreTheSDKs: for each of the four operations it sends
// itself, the direct client sends what the SDK sends (method, URL, the
// headers that carry meaning, the signing scope), for path-style and
// virtual-host buckets, AWS's regional endpoints and keys that need
// escaping; and it reads the same ObjectInfo and the same errors from the
// same responses.
func TestDirectRequestsAreTheSDKs(t *testing.T) {
	configs := []Config{
		{Bucket: "bkt", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", UsePathStyle: true},
		{Bucket: "bkt", Endpoint: "https://s3.example.com", Region: "eu-central-1"},
		{Bucket: "bkt", Region: "eu-west-1"},
		{Bucket: "bkt.with.dots", Region: "us-east-1"},
		{Bucket: "bkt", Region: "us-west-2", UsePathStyle: true},
	}
	keys := []string{"sessions/s1/head", "a b/c+d%e~f!g'h(i)*j&k=l;m:n@o,p$q", "unicode/é/日本", "//double//slash/"}
	ok := answer(http.StatusOK, map[string]string{
		"ETag": `"abc"`, "Last-Modified": "Mon, 02 Jan 2006 15:04:05 GMT", "Content-Type": "application/x-test",
		"Content-Length": "5", "Content-Range": "bytes 0-4/42", "X-Amz-Meta-Writer": " w1 ", "x-amz-meta-Other-Key": "v",
	}, "hello")
	for _, cfg := range configs {
		w := &wire{reply: ok}
		d, sdk := twoClients(t, cfg, w)
		for _, key := range keys {
			ops := directOps(key)
			for _, op := range ops {
				w.reqs = nil
				gotD, errD := op.run(t.Context(), d)
				gotS, errS := op.run(t.Context(), sdk)
				if errD != nil || errS != nil {
					t.Fatalf("%s %q: direct %v, sdk %v", op.name, key, errD, errS)
				}
				if len(w.reqs) != 2 {
					t.Fatalf("%s %q: %d requests", op.name, key, len(w.reqs))
				}
				if a, b := sent(w.reqs[0]), sent(w.reqs[1]); !reflect.DeepEqual(a, b) {
					t.Errorf("%+v %s %q:\ndirect %v\nsdk    %v", cfg, op.name, key, a, b)
				}
				if !reflect.DeepEqual(gotD, gotS) {
					t.Errorf("%s %q: direct read %+v, sdk %+v", op.name, key, gotD, gotS)
				}
			}
		}
	}
}

// directOp is one of the four operations, returning what it read.
type directOp struct {
	name string
	run  func(ctx context.Context, c *client) (any, error)
}

func directOps(key string) []directOp {
	put := func(opts *objstore.PutOptions) func(context.Context, *client) (any, error) {
		return func(ctx context.Context, c *client) (any, error) {
			body := s3compat.NewRequestBody([]byte("payload"))
			defer body.Release()
			return c.PutObject(ctx, key, body, opts)
		}
	}
	return []directOp{
		{"put", put(&objstore.PutOptions{})},
		{"put crc32c", func(ctx context.Context, c *client) (any, error) { // Quirks.ChecksPutCRC32C
			body := s3compat.NewCRC32CRequestBody([]byte("payload"))
			defer body.Release()
			return c.PutObject(ctx, key, body, &objstore.PutOptions{IfMatch: "e1"})
		}},
		{"put if-match", put(&objstore.PutOptions{IfMatch: "e1", ContentType: "text/plain", Metadata: map[string]string{"writer": "w1", "Other-Key": "v"}})},
		{"put if-none-match", put(&objstore.PutOptions{IfNoneMatch: true})},
		{"get", func(ctx context.Context, c *client) (any, error) {
			rc, info, err := c.GetObject(ctx, key, "", "")
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			return []any{info, string(b)}, err
		}},
		{"get range if-none-match", func(ctx context.Context, c *client) (any, error) {
			rc, info, err := c.GetObject(ctx, key, "bytes=0-4", "e1")
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return info, nil
		}},
		{"head", func(ctx context.Context, c *client) (any, error) { return c.HeadObject(ctx, key) }},
		{"delete", func(ctx context.Context, c *client) (any, error) { return nil, c.DeleteObject(ctx, key, "") }},
		{"delete if-match", func(ctx context.Context, c *client) (any, error) { return nil, c.DeleteObject(ctx, key, "e1") }},
	}
}

// TestDirectErrorsAreTheSDKs: the same error response maps to the same
// objstore error from either client, for each operation.
func TestDirectErrorsAreTheSDKs(t *testing.T) {
	xmlErr := func(code string) string {
		return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>m</Message><RequestId>r1</RequestId></Error>`
	}
	cases := []struct {
		name   string
		status int
		header map[string]string
		body   string
	}{
		{"precondition", http.StatusPreconditionFailed, nil, xmlErr("PreconditionFailed")},
		{"no such key", http.StatusNotFound, nil, xmlErr("NoSuchKey")},
		{"not found, no body", http.StatusNotFound, nil, ""},
		{"no such bucket", http.StatusNotFound, nil, xmlErr("NoSuchBucket")},
		{"not modified", http.StatusNotModified, nil, ""},
		{"slow down", http.StatusServiceUnavailable, nil, xmlErr("SlowDown")},
		{"internal", http.StatusInternalServerError, nil, xmlErr("InternalError")},
		{"bad digest", http.StatusBadRequest, nil, xmlErr("BadDigest")},
		{"access denied", http.StatusForbidden, nil, xmlErr("AccessDenied")},
		{"forbidden, no body", http.StatusForbidden, nil, ""},
		{"bad key", http.StatusForbidden, nil, xmlErr("InvalidAccessKeyId")},
		{"minio header", http.StatusBadRequest, map[string]string{"X-Minio-Error-Code": "XMinioInvalidObjectName"}, ""},
		{"conflict", http.StatusConflict, nil, xmlErr("ConditionalRequestConflict")},
		{"unknown 400", http.StatusBadRequest, nil, xmlErr("Whatever")},
		{"garbage body", http.StatusBadGateway, nil, "<html>bad gateway</html>"},
	}
	sentinels := []error{objstore.ErrPreconditionFailed, objstore.ErrNotExist, objstore.ErrNoBucket, objstore.ErrNotModified,
		objstore.ErrThrottled, objstore.ErrUnavailable, objstore.ErrChecksum, objstore.ErrPermission, objstore.ErrCredentials,
		objstore.ErrInvalidKey, objstore.ErrConflict, objstore.ErrInvalidArgument}
	for _, tc := range cases {
		w := &wire{reply: answer(tc.status, tc.header, tc.body)}
		d, sdk := twoClients(t, Config{Bucket: "bkt", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", UsePathStyle: true}, w)
		for _, op := range directOps("k") {
			ifMatch := strings.Contains(op.name, "if-match")
			_, errD := op.run(t.Context(), d)
			_, errS := op.run(t.Context(), sdk)
			errD, errS = d.MapErr(t.Context(), "op", "k", errD, ifMatch), sdk.MapErr(t.Context(), "op", "k", errS, ifMatch)
			if errD == nil || errS == nil {
				t.Fatalf("%s, %s: direct %v, sdk %v", tc.name, op.name, errD, errS)
			}
			for _, s := range sentinels {
				if tc.status == http.StatusConflict && op.name == "head" && s == objstore.ErrConflict {
					// A HEAD's 409 has no body: the SDK names its code
					// "Conflict" after the status, which no rule knows;
					// the direct client leaves the code empty, and
					// s3compat.Classify's rule for an uncoded 409 holds.
					continue
				}
				if errors.Is(errD, s) != errors.Is(errS, s) {
					t.Errorf("%s, %s: errors.Is(_, %v): direct %v (%v), sdk %v (%v)", tc.name, op.name, s, errors.Is(errD, s), errD, errors.Is(errS, s), errS)
				}
			}
		}
	}
}

// TestDirectChecksAsTheSDK: a GET's body is checked against the checksum
// its response carries, as the SDK checks it: the same bodies pass and
// fail through both clients, and the direct client's failure is
// objstore.ErrChecksum.
func TestDirectChecksAsTheSDK(t *testing.T) {
	sum := func(h hash.Hash, s string) string {
		h.Write([]byte(s))
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	body := "hello, checksums"
	cases := []struct {
		name   string
		header map[string]string
		fails  bool
	}{
		{"none", nil, false},
		{"crc64nvme", map[string]string{"X-Amz-Checksum-Crc64nvme": sum(crc64.New(crc64NVME), body)}, false},
		{"crc64nvme wrong", map[string]string{"X-Amz-Checksum-Crc64nvme": sum(crc64.New(crc64NVME), body+"!")}, true},
		{"crc32", map[string]string{"X-Amz-Checksum-Crc32": sum(crc32.NewIEEE(), body)}, false},
		{"crc32 wrong", map[string]string{"X-Amz-Checksum-Crc32": sum(crc32.NewIEEE(), "x")}, true},
		{"crc32c", map[string]string{"X-Amz-Checksum-Crc32c": sum(crc32.New(crc32.MakeTable(crc32.Castagnoli)), body)}, false},
		{"crc32c wrong", map[string]string{"X-Amz-Checksum-Crc32c": sum(crc32.NewIEEE(), body)}, true},
		{"sha256", map[string]string{"X-Amz-Checksum-Sha256": sum(sha256.New(), body)}, false},
		{"sha256 wrong", map[string]string{"X-Amz-Checksum-Sha256": sum(sha256.New(), "")}, true},
		{"sha1 wrong", map[string]string{"X-Amz-Checksum-Sha1": sum(sha1.New(), "")}, true},
		{"composite", map[string]string{"X-Amz-Checksum-Crc32c": "AAAAAA==-3"}, false},
		{"last preferred", map[string]string{"X-Amz-Checksum-Crc64nvme": "AAAAAAAAAAA=", "X-Amz-Checksum-Sha256": sum(sha256.New(), body)}, false},
	}
	for _, tc := range cases {
		h := map[string]string{"ETag": `"e"`, "Content-Length": strconv.Itoa(len(body))}
		maps.Copy(h, tc.header)
		w := &wire{reply: answer(http.StatusOK, h, body)}
		d, sdk := twoClients(t, Config{Bucket: "bkt", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", UsePathStyle: true}, w)
		var errs [2]error
		for i, c := range []*client{d, sdk} {
			rc, _, err := c.GetObject(t.Context(), "k", "", "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err == nil && string(got) != body {
				t.Fatalf("%s: read %q", tc.name, got)
			}
			errs[i] = err
		}
		if (errs[0] != nil) != tc.fails || (errs[1] != nil) != tc.fails {
			t.Errorf("%s: direct %v, sdk %v; want failure %v", tc.name, errs[0], errs[1], tc.fails)
		}
		if tc.fails && !errors.Is(errs[0], objstore.ErrChecksum) {
			t.Errorf("%s: %v, want ErrChecksum", tc.name, errs[0])
		}
	}
	// CRC-64/NVME's check value, and the slicing-by-8 hash against
	// hash/crc64's, over lengths and split writes.
	if got := crc64.Checksum([]byte("123456789"), crc64NVME); got != 0xae8b14860a799888 {
		t.Errorf("crc64nvme check %#x", got)
	}
	data := []byte(strings.Repeat("0123456789abcdef-the quick brown fox ", 300))
	for _, n := range []int{0, 1, 7, 8, 9, 63, 2047, 2048, 5000, len(data)} {
		h, want := &nvme{}, crc64.New(crc64NVME)
		h.Write(data[:n/3])
		h.Write(data[n/3 : n])
		want.Write(data[:n])
		if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
			t.Errorf("nvme of %d bytes: %x, hash/crc64 %x", n, h.Sum(nil), want.Sum(nil))
		}
	}
}

// BenchmarkCRC64NVME: the checked GET's CRC-64/NVME against hash/crc64's
// with the same table (which rebuilds its slicing tables on every write of
// 2 KiB or more), in writes of 4 KiB as a body is read.
func BenchmarkCRC64NVME(b *testing.B) {
	data := make([]byte, 64<<10)
	for name, h := range map[string]func() hash.Hash{"slicing8": func() hash.Hash { return &nvme{} }, "hash-crc64": func() hash.Hash { return crc64.New(crc64NVME) }} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				hh := h()
				for p := data; len(p) > 0; p = p[4096:] {
					hh.Write(p[:4096])
				}
			}
		})
	}
}

// TestDirectLeavesTheSDKWhatItCannotSign: anonymous credentials (the SDK
// sends such requests unsigned), access point ARNs and directory buckets
// get no direct client.
func TestDirectLeavesTheSDKWhatItCannotSign(t *testing.T) {
	for _, cfg := range []Config{
		{Bucket: "bkt", Region: "us-east-1", Credentials: aws.AnonymousCredentials{}},
		{Bucket: "arn:aws:s3:us-west-2:123456789012:accesspoint/ap", Region: "us-west-2"},
		{Bucket: "bkt--usw2-az1--x-s3", Region: "us-west-2"},
	} {
		if cfg.Credentials == nil {
			cfg.Credentials = credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")
		}
		s, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if s.c.direct != nil {
			t.Errorf("%s: direct client %+v, want none", cfg.Bucket, s.c.direct.base)
		}
		s.Close()
	}
}
