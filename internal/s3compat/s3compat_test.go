package s3compat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		code    string
		status  int
		ifMatch bool
		want    error
	}{
		{"PreconditionFailed", 412, false, objstore.ErrPreconditionFailed},
		{"", 412, false, objstore.ErrPreconditionFailed},
		{"NoSuchKey", 404, false, objstore.ErrNotExist},
		{"NoSuchKey", 404, true, objstore.ErrPreconditionFailed},
		{"NotFound", 404, false, objstore.ErrNotExist},
		{"", 404, true, objstore.ErrPreconditionFailed},
		{"NoSuchUpload", 404, true, objstore.ErrNotExist},
		{"NoSuchBucket", 404, false, objstore.ErrNoBucket},
		{"NoSuchBucket", 404, true, objstore.ErrNoBucket},
		{"ConditionalRequestConflict", 409, false, objstore.ErrConflict},
		{"ObjectParentIsFile", 409, false, objstore.ErrInvalidKey},
		{"BucketAlreadyExists", 409, false, nil},
		{"SlowDown", 503, false, objstore.ErrThrottled},
		{"ServiceUnavailable", 503, false, objstore.ErrUnavailable},
		{"", 503, false, objstore.ErrUnavailable},
		{"", 429, false, objstore.ErrThrottled},
		{"InternalError", 500, false, objstore.ErrUnavailable},
		{"RequestTimeout", 400, false, objstore.ErrUnavailable},
		{"AccessDenied", 403, false, objstore.ErrPermission},
		{"", 403, false, errUncoded},
		{"BadDigest", 400, false, objstore.ErrChecksum},
		{"XAmzContentSHA256Mismatch", 400, false, objstore.ErrChecksum},
		{"InvalidRange", 416, false, objstore.ErrInvalidArgument},
		{"NotModified", 304, false, objstore.ErrNotModified},
		{"304 Not Modified", 304, false, objstore.ErrNotModified}, // minio-go's code for a bodiless 304
		{"NotImplemented", 501, false, objstore.ErrNotSupported},
		{"SomethingElse", 400, false, nil},
	} {
		if got := Classify(c.code, c.status, c.ifMatch); got != c.want {
			t.Errorf("Classify(%q, %d, ifMatch=%v) = %v, want %v", c.code, c.status, c.ifMatch, got, c.want)
		}
	}
}

// TestClassifyCredentials: a code that refuses the credentials is
// ErrCredentials (and still ErrPermission) and names the code; a refusal by
// policy is not ErrCredentials, and a 403 without a code is marked uncoded.
func TestClassifyCredentials(t *testing.T) {
	for _, c := range []struct {
		code   string
		status int
	}{
		{"InvalidAccessKeyId", 403}, {"SignatureDoesNotMatch", 403},
		{"XAdminUserNotFound", 404}, {"ExpiredToken", 400},
	} {
		for _, ifMatch := range []bool{false, true} {
			err := Classify(c.code, c.status, ifMatch)
			var ce *objstore.CredentialsError
			if !errors.Is(err, objstore.ErrCredentials) || !errors.Is(err, objstore.ErrPermission) ||
				!errors.As(err, &ce) || ce.Code != c.code {
				t.Errorf("Classify(%q, %d, %v) = %v, want a CredentialsError naming the code", c.code, c.status, ifMatch, err)
			}
			denied := Denied("HeadObject", err).Error()
			if !strings.Contains(denied, "refused the credentials ("+c.code+")") || strings.Contains(denied, "policy") {
				t.Errorf("Denied: %q, want the credentials named refused, no policy", denied)
			}
		}
	}
	for _, code := range []string{"AccessDenied", ""} {
		err := Denied("HeadObject", Classify(code, 403, false))
		if errors.Is(err, objstore.ErrCredentials) || !errors.Is(err, objstore.ErrPermission) {
			t.Errorf("Classify(%q, 403) = %v, want ErrPermission only", code, err)
		}
		var ae *objstore.AccessError
		if !errors.As(err, &ae) || ae.Uncoded != (code == "") {
			t.Errorf("Denied(Classify(%q, 403)) = %#v, want an AccessError, Uncoded %v", code, err, code == "")
		}
	}
	msg := Denied("HeadObject", Classify("", 403, false)).Error()
	if !strings.Contains(msg, "credentials are wrong, or the policy must allow s3:GetObject") {
		t.Errorf("uncoded 403: %q, want both causes named", msg)
	}
}

func TestWrap(t *testing.T) {
	sdk := errors.New("sdk: boom")
	err := Wrap(context.Background(), "b", "put", "k", objstore.ErrThrottled, sdk)
	var op *objstore.OpError
	if !errors.As(err, &op) || op.Key != "k" || !errors.Is(err, objstore.ErrThrottled) || !errors.Is(err, sdk) {
		t.Errorf("Wrap = %v; want an OpError matching the sentinel and the SDK error", err)
	}
	if err := Wrap(context.Background(), "b", "put", "k", nil, io.ErrUnexpectedEOF); !errors.Is(err, objstore.ErrUnavailable) {
		t.Errorf("transport failure: %v, want ErrUnavailable", err)
	}
	if err := Wrap(context.Background(), "b", "put", "k", nil, sdk); errors.Is(err, objstore.ErrUnavailable) || !errors.Is(err, sdk) {
		t.Errorf("unknown failure: %v, want only the SDK error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Wrap(ctx, "b", "put", "k", nil, io.ErrUnexpectedEOF); !errors.Is(err, context.Canceled) || objstore.IsRetryable(err) {
		t.Errorf("after cancel: %v, want context.Canceled and not retryable", err)
	}
	if err := KeyError("b", "delete_many", "k", "AccessDenied", "no"); !errors.Is(err, objstore.ErrPermission) {
		t.Errorf("KeyError = %v, want ErrPermission", err)
	}
}

func TestHTTPHelpers(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", "abc": "abc", `W/"abc"`: "abc", `"`: `"`, "": ""} {
		if got := UnquoteETag(in); got != want {
			t.Errorf("UnquoteETag(%q) = %q, want %q", in, got, want)
		}
	}
	if got := QuoteETag(`"abc"`); got != `"abc"` {
		t.Errorf("QuoteETag = %q", got)
	}
	for _, c := range []struct {
		r    *objstore.Range
		want string
		err  bool
	}{
		{nil, "", false}, {&objstore.Range{Offset: 0, Length: -1}, "bytes=0-", false},
		{&objstore.Range{Offset: 10, Length: 10}, "bytes=10-19", false}, {&objstore.Range{Offset: 5, Length: 1}, "bytes=5-5", false},
		{&objstore.Range{Offset: -1, Length: 1}, "", true}, {&objstore.Range{Offset: 3, Length: 0}, "", true},
	} {
		got, err := RangeHeader(c.r)
		if got != c.want || (err != nil) != c.err || err != nil && !errors.Is(err, objstore.ErrInvalidArgument) {
			t.Errorf("RangeHeader(%+v) = %q, %v", c.r, got, err)
		}
	}
	if ObjectSize("bytes 0-9/1000", 10) != 1000 || ObjectSize("", 10) != 10 || ObjectSize("bytes 0-9/*", 10) != 10 {
		t.Errorf("ObjectSize misreads Content-Range")
	}
	if md := Metadata(map[string]string{"Session-Id": "x"}); md["session-id"] != "x" || Metadata(nil) != nil {
		t.Errorf("Metadata = %v", md)
	}
}

func TestQuirks(t *testing.T) {
	for _, name := range []string{"aws", "MinIO", "versitygw", "generic"} {
		if _, err := Profile(name); err != nil {
			t.Errorf("Profile(%q): %v", name, err)
		}
	}
	if _, err := Profile("r2"); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Errorf("unknown profile: %v", err)
	}
	if (Quirks{}).Normalize() != Generic {
		t.Errorf("zero Quirks is not Generic")
	}
	if c := MinIO.Capabilities("s3store"); c.ConditionalDelete || !c.ConditionalPut || c.Provider != "s3store/minio" || !c.Durable {
		t.Errorf("MinIO capabilities %+v", c)
	}
	none := Quirks{Name: "none"}
	for _, c := range []struct {
		err  error
		want error
	}{
		{none.CheckPut(&objstore.PutOptions{IfNoneMatch: true}), objstore.ErrNotSupported},
		{none.CheckPut(&objstore.PutOptions{IfMatch: "e"}), objstore.ErrNotSupported},
		{none.CheckPut(&objstore.PutOptions{}), nil},
		{none.CheckComplete(&objstore.PutOptions{IfMatch: "e"}), objstore.ErrNotSupported},
		{none.CheckDelete(&objstore.DeleteOptions{IfMatch: "e"}), objstore.ErrNotSupported},
		{none.CheckDelete(nil), nil},
		{AWS.CheckPut(&objstore.PutOptions{IfMatch: "*"}), objstore.ErrInvalidArgument},
		{AWS.CheckDelete(&objstore.DeleteOptions{IfMatch: "*"}), objstore.ErrInvalidArgument},
		{CheckGet(&objstore.GetOptions{IfNoneMatch: "*"}), objstore.ErrInvalidArgument},
		{VersityGW.CheckDelete(&objstore.DeleteOptions{IfMatch: "e"}), nil},
	} {
		if !errors.Is(c.err, c.want) || c.want == nil && c.err != nil {
			t.Errorf("got %v, want %v", c.err, c.want)
		}
	}
}

// pages serves a fixed sequence of pages and records the tokens asked for.
type pages struct {
	list   []Page
	tokens []string
}

func (p *pages) fetch(_ context.Context, token string) (Page, error) {
	p.tokens = append(p.tokens, token)
	return p.list[len(p.tokens)-1], nil
}

func keysOf(t *testing.T, seq func(func(objstore.ObjectInfo, error) bool)) (keys []string, prefixes []string) {
	t.Helper()
	for info, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
		if info.IsPrefix {
			prefixes = append(prefixes, info.Key)
		}
	}
	return keys, prefixes
}

func objs(keys ...string) []objstore.ObjectInfo {
	out := make([]objstore.ObjectInfo, len(keys))
	for i, k := range keys {
		out[i] = objstore.ObjectInfo{Key: k}
	}
	return out
}

func TestList(t *testing.T) {
	p := &pages{list: []Page{
		{Objects: objs("a", "c"), Prefixes: []string{"b/", "d/"}, Truncated: true, Next: "t1"},
		{Objects: objs("d/", "e"), Prefixes: []string{"d/", "f/"}, Truncated: true, Next: "t2"}, // a repeated prefix
		{Objects: objs("g")},
	}}
	keys, prefixes := keysOf(t, List(context.Background(), "", p.fetch))
	if want := []string{"a", "b/", "c", "d/", "e", "f/", "g"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if want := []string{"b/", "d/", "f/"}; !slices.Equal(prefixes, want) {
		t.Errorf("prefixes %q, want %q", prefixes, want)
	}
	if want := []string{"", "t1", "t2"}; !slices.Equal(p.tokens, want) {
		t.Errorf("tokens %q, want %q", p.tokens, want)
	}

	// A common prefix at or before StartAfter (S3 rolls keys up after
	// applying start-after) is dropped.
	p = &pages{list: []Page{{Objects: objs("b/z"), Prefixes: []string{"b/"}}}}
	if keys, _ := keysOf(t, List(context.Background(), "b/y", p.fetch)); !slices.Equal(keys, []string{"b/z"}) {
		t.Errorf("keys after b/y: %q", keys)
	}

	// A truncated page without a new token is an error, not a loop.
	p = &pages{list: []Page{{Objects: objs("a"), Truncated: true, Next: "t"}, {Objects: objs("b"), Truncated: true, Next: "t"}}}
	var err error
	for _, e := range List(context.Background(), "", p.fetch) {
		if e != nil {
			err = e
		}
	}
	if err == nil {
		t.Errorf("repeated continuation token not reported")
	}
}

func TestListUploads(t *testing.T) {
	var asked []string
	fetch := func(_ context.Context, prefix, keyMarker, idMarker string) (UploadPage, error) {
		asked = append(asked, prefix+"|"+keyMarker+"|"+idMarker)
		if keyMarker == "" {
			return UploadPage{Uploads: []objstore.UploadInfo{{Key: "dir/a", UploadID: "1"}, {Key: "x", UploadID: "2"}}, Truncated: true, NextKey: "x", NextUploadID: "2"}, nil
		}
		return UploadPage{Uploads: []objstore.UploadInfo{{Key: "dir/b", UploadID: "3"}}}, nil
	}
	var got []string
	for u, err := range MinIO.ListUploads(context.Background(), "dir/", fetch) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, u.Key)
	}
	if !slices.Equal(got, []string{"dir/a", "dir/b"}) || !slices.Equal(asked, []string{"||", "|x|2"}) {
		t.Errorf("MinIO: got %q asking %q; want the dir/ uploads, asking with an empty prefix", got, asked)
	}
	asked = nil
	for range VersityGW.ListUploads(context.Background(), "dir/", fetch) {
	}
	if asked[0] != "dir/||" {
		t.Errorf("versitygw asked %q, want the prefix sent", asked)
	}
}

func TestDeleteMany(t *testing.T) {
	keys := make([]string, 0, 2600)
	for i := range 2500 {
		keys = append(keys, fmt.Sprintf("k%04d", i))
	}
	keys = append(keys, keys[:100]...) // duplicates
	var batches [][]string
	boom := errors.New("batch failed")
	err := DeleteMany(context.Background(), keys, func(_ context.Context, b []string) (map[string]error, error) {
		batches = append(batches, slices.Clone(b))
		switch len(batches) {
		case 2:
			return nil, boom
		case 3:
			return map[string]error{b[0]: fmt.Errorf("x: %w", objstore.ErrNotExist), b[1]: fmt.Errorf("x: %w", objstore.ErrPermission)}, nil
		}
		return nil, nil
	})
	if len(batches) != 3 || len(batches[0]) != 1000 || len(batches[1]) != 1000 || len(batches[2]) != 500 {
		t.Fatalf("batch sizes: %d batches", len(batches))
	}
	var dme *objstore.DeleteManyError
	if !errors.As(err, &dme) || len(dme.Failed) != 1001 || !errors.Is(dme.Failed[batches[1][0]], boom) ||
		!errors.Is(dme.Failed[batches[2][1]], objstore.ErrPermission) || dme.Failed[batches[2][0]] != nil {
		t.Errorf("DeleteMany = %v; want the failed batch and the one denied key", err)
	}

	called := false
	err = DeleteMany(context.Background(), []string{"ok", "bad\x00"}, func(context.Context, []string) (map[string]error, error) {
		called = true
		return nil, nil
	})
	if !errors.Is(err, objstore.ErrInvalidKey) || called {
		t.Errorf("invalid key: %v, called=%v; want ErrInvalidKey before any batch", err, called)
	}
}

func TestRequestBody(t *testing.T) {
	data := []byte("0123456789")
	b := NewRequestBody(data)
	// The MD5 of "0123456789" is 781e5e245d69b566979b86e28d23f2c7.
	if b.Size() != 10 || b.ContentMD5() != "eB5eJF1ptWaXm4bijSPyxw==" {
		t.Fatalf("size %d, md5 %s", b.Size(), b.ContentMD5())
	}
	if b.PayloadSHA256() != "" {
		t.Errorf("Content-MD5 body carries a payload hash %q", b.PayloadSHA256())
	}
	// A signed body carries the SHA-256 instead, and no MD5.
	if s := NewSignedRequestBody(data); s.Size() != 10 || s.ContentMD5() != "" ||
		s.PayloadSHA256() != "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882" {
		t.Errorf("signed body: size %d, md5 %q, sha256 %q", s.Size(), s.ContentMD5(), s.PayloadSHA256())
	}
	p := make([]byte, 4)
	if n, err := b.Read(p); n != 4 || err != nil || string(p) != "0123" {
		t.Fatalf("read: %d %v %q", n, err, p)
	}
	if off, err := b.Seek(0, io.SeekStart); off != 0 || err != nil {
		t.Fatalf("seek: %d %v", off, err)
	}
	b.Release()
	if n, err := b.Read(p); n != 0 || err == nil {
		t.Errorf("read after release: %d %v, want an error", n, err)
	}
	if _, err := b.Seek(0, io.SeekStart); err == nil {
		t.Errorf("seek after release succeeded")
	}
}
