package s3test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// request is what the fake server received.
type request struct {
	Method string
	Path   string
	Query  map[string][]string
	Header http.Header
	Body   []byte
}

// reply is a canned answer; hangUp closes the connection instead.
type reply struct {
	status int
	header map[string]string
	body   string
	hangUp bool
}

// fakeS3 is an S3 endpoint on loopback that records requests and answers
// each with respond.
type fakeS3 struct {
	t       *testing.T
	respond func(r request) reply

	mu   sync.Mutex
	reqs []request
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	rep := f.respond(req)
	if rep.hangUp {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			f.t.Errorf("fake s3: hijack: %v", err)
			return
		}
		conn.Close()
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.body != "" {
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("Content-Length", fmt.Sprint(len(rep.body)))
	}
	w.WriteHeader(rep.status)
	if r.Method != http.MethodHead {
		io.WriteString(w, rep.body)
	}
}

func (f *fakeS3) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// s3Error is an S3 XML error body.
func s3Error(code string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>fake ` + code +
		`</Message><RequestId>fake</RequestId></Error>`
}

func errReply(status int, code string) func(request) reply {
	return func(request) reply { return reply{status: status, body: s3Error(code)} }
}

// faultCase is one exchange with the fake server.
type faultCase struct {
	name    string
	quirks  *s3compat.Quirks // nil: Generic
	respond func(r request) reply
	op      func(ctx context.Context, s objstore.Store) error
	want    error // nil: success
	// requests is the number of requests the op must send (no SDK
	// retries); -1 skips the check.
	requests int
	check    func(t *testing.T, reqs []request)
}

func put(opts *objstore.PutOptions) func(context.Context, objstore.Store) error {
	return func(ctx context.Context, s objstore.Store) error {
		_, err := s.Put(ctx, "k", []byte("payload"), opts)
		return err
	}
}

// wantDenied returns err if it names the refused S3 operation and its IAM
// action (an *objstore.AccessError, in its message too), else an error
// saying what is missing.
func wantDenied(err error, operation, action string) error {
	var ae *objstore.AccessError
	switch {
	case !errors.As(err, &ae):
		return fmt.Errorf("err = %v, want an *objstore.AccessError", err)
	case ae.Operation != operation || ae.Action != action:
		return fmt.Errorf("AccessError names %s / %s, want %s / %s", ae.Operation, ae.Action, operation, action)
	case !strings.Contains(err.Error(), operation) || !strings.Contains(err.Error(), action):
		return fmt.Errorf("message %q does not name %s and %s", err, operation, action)
	}
	return err
}

func wantHeader(name, want string) func(*testing.T, []request) {
	return func(t *testing.T, reqs []request) {
		if got := reqs[0].Header.Get(name); got != want {
			t.Errorf("request header %s = %q, want %q", name, got, want)
		}
	}
}

var md5Payload = func() string {
	sum := md5.Sum([]byte("payload"))
	return base64.StdEncoding.EncodeToString(sum[:])
}()

// faultCases is every exchange Faults runs, table by table.
func faultCases() []faultCase {
	var cases []faultCase
	for _, table := range [][]faultCase{
		putFaultCases(), mappingFaultCases(), readFaultCases(), accessFaultCases(), batchFaultCases(),
		uploadSizeFaultCases(), rcloneDeleteFaultCases(), rcloneReadFaultCases(), rcloneListUploadsFaultCases(),
	} {
		cases = append(cases, table...)
	}
	return cases
}

// putFaultCases: what a put sends, and how its refusals map.
func putFaultCases() []faultCase {
	return []faultCase{
		{name: "PutSendsChecksumAndMetadata", requests: 1,
			respond: func(request) reply { return reply{status: 200, header: map[string]string{"ETag": `"e1"`}} },
			op: func(ctx context.Context, s objstore.Store) error {
				info, err := s.Put(ctx, "k", []byte("payload"), &objstore.PutOptions{Metadata: map[string]string{"session-id": "s1"}})
				if err == nil && info.ETag != "e1" {
					return fmt.Errorf("ETag %q, want e1 (unquoted)", info.ETag)
				}
				return err
			},
			check: func(t *testing.T, reqs []request) {
				h := reqs[0].Header
				if h.Get("Content-MD5") != md5Payload || h.Get("X-Amz-Meta-Session-Id") != "s1" || h.Get("Content-Type") != s3compat.DefaultContentType {
					t.Errorf("put headers: Content-MD5 %q (want %q), meta %q, type %q", h.Get("Content-MD5"), md5Payload, h.Get("X-Amz-Meta-Session-Id"), h.Get("Content-Type"))
				}
				if !bytes.Equal(reqs[0].Body, []byte("payload")) {
					t.Errorf("put body %q", reqs[0].Body)
				}
			}},
		{name: "CreateOnly412", respond: errReply(412, "PreconditionFailed"), requests: 1,
			op: put(&objstore.PutOptions{IfNoneMatch: true}), want: objstore.ErrPreconditionFailed,
			check: wantHeader("If-None-Match", "*")},
		{name: "IfMatchMissing404", respond: errReply(404, "NoSuchKey"), requests: 1,
			op: put(&objstore.PutOptions{IfMatch: "abc"}), want: objstore.ErrPreconditionFailed,
			check: wantHeader("If-Match", `"abc"`)},
		{name: "Conflict409", respond: errReply(409, "ConditionalRequestConflict"), requests: 1,
			op: put(&objstore.PutOptions{IfMatch: "abc"}), want: objstore.ErrConflict},
	}
}

// mappingFaultCases: throttling, server and transport failures, and
// refusals, as errors of objstore's vocabulary.
func mappingFaultCases() []faultCase {
	noConditions := s3compat.Generic
	noConditions.ConditionalPut, noConditions.CompareAndSwap = false, false
	return []faultCase{
		{name: "SlowDown503", respond: errReply(503, "SlowDown"), requests: 1,
			op: put(&objstore.PutOptions{IfNoneMatch: true}), want: objstore.ErrThrottled},
		{name: "Bare429", respond: func(request) reply { return reply{status: 429} }, requests: 1,
			op: put(nil), want: objstore.ErrThrottled},
		{name: "Internal500", respond: errReply(500, "InternalError"), requests: 1,
			op: put(&objstore.PutOptions{IfNoneMatch: true}), want: objstore.ErrUnavailable},
		{name: "Unavailable503", respond: errReply(503, "ServiceUnavailable"), requests: 1,
			op: put(nil), want: objstore.ErrUnavailable},
		{name: "ConnectionReset", respond: func(request) reply { return reply{hangUp: true} }, requests: 1,
			op: put(&objstore.PutOptions{IfNoneMatch: true}), want: objstore.ErrUnavailable},
		{name: "AccessDenied403", respond: errReply(403, "AccessDenied"), requests: 1,
			op: put(nil), want: objstore.ErrPermission},
		{name: "BadDigest", respond: errReply(400, "BadDigest"), requests: 1,
			op: put(nil), want: objstore.ErrChecksum},
		{name: "NotImplemented501", respond: errReply(501, "NotImplemented"), requests: 1,
			op: put(nil), want: objstore.ErrNotSupported},
		{name: "UnenforcedConditionRefused", quirks: &noConditions, requests: 0,
			respond: errReply(500, "InternalError"),
			op:      put(&objstore.PutOptions{IfNoneMatch: true}), want: objstore.ErrNotSupported},
		{name: "UnenforcedConditionalDeleteRefused", requests: 0, respond: errReply(500, "InternalError"),
			op: func(ctx context.Context, s objstore.Store) error {
				return s.Delete(ctx, "k", &objstore.DeleteOptions{IfMatch: "abc"})
			},
			want: objstore.ErrNotSupported},
		{name: "CancelledContext", requests: 0, respond: errReply(500, "InternalError"),
			op: func(ctx context.Context, s objstore.Store) error {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return put(nil)(ctx, s)
			},
			want: context.Canceled},
	}
}

// readFaultCases: HEAD and GET answers.
func readFaultCases() []faultCase {
	return []faultCase{
		{name: "HeadMissing", requests: 1, respond: func(request) reply { return reply{status: 404} },
			op: func(ctx context.Context, s objstore.Store) error {
				_, err := s.Head(ctx, "k")
				return err
			},
			want: objstore.ErrNotExist},
		{name: "GetNotModified", requests: 1, respond: func(request) reply { return reply{status: 304} },
			op: func(ctx context.Context, s objstore.Store) error {
				rc, _, err := s.Get(ctx, "k", &objstore.GetOptions{IfNoneMatch: "abc"})
				if rc != nil {
					rc.Close()
					return errors.New("body returned with 304")
				}
				return err
			},
			want: objstore.ErrNotModified, check: wantHeader("If-None-Match", `"abc"`)},
		{name: "GetRange", requests: 1,
			respond: func(request) reply {
				return reply{status: 206, body: "0123456789", header: map[string]string{
					"Content-Range": "bytes 10-19/1000", "ETag": `"e1"`, "Content-Type": "text/plain",
					"Last-Modified": "Mon, 02 Jan 2006 15:04:05 GMT", "X-Amz-Meta-Session-Id": "s1"}}
			},
			op: func(ctx context.Context, s objstore.Store) error {
				b, info, err := objstoretest.ReadAll(ctx, s, "k", &objstore.GetOptions{Range: &objstore.Range{Offset: 10, Length: 10}})
				if err == nil && (string(b) != "0123456789" || info.Size != 1000 || info.ETag != "e1" || info.Metadata["session-id"] != "s1") {
					return fmt.Errorf("ranged get: %q %+v", b, info)
				}
				return err
			},
			check: wantHeader("Range", "bytes=10-19")},
		{name: "GetRangeNotSatisfiable", requests: 1, respond: errReply(416, "InvalidRange"),
			op: func(ctx context.Context, s objstore.Store) error {
				_, _, err := objstoretest.ReadAll(ctx, s, "k", &objstore.GetOptions{Range: &objstore.Range{Offset: 1000, Length: -1}})
				return err
			},
			want: objstore.ErrInvalidArgument, check: wantHeader("Range", "bytes=1000-")},
	}
}

// accessFaultCases: a missing bucket, and refusals that name the S3
// operation and its IAM action.
func accessFaultCases() []faultCase {
	return []faultCase{
		{name: "NoSuchBucketIsNotMissingKey", requests: 1, respond: errReply(404, "NoSuchBucket"),
			op: func(ctx context.Context, s objstore.Store) error {
				err := s.Delete(ctx, "k", nil)
				if err == nil || errors.Is(err, objstore.ErrNotExist) {
					return fmt.Errorf("delete in a missing bucket: %v, want an error other than ErrNotExist", err)
				}
				return err
			},
			want: objstore.ErrNoBucket},
		{name: "AccessDeniedNamesOperationAndAction", requests: 1, respond: errReply(403, "AccessDenied"),
			op: func(ctx context.Context, s objstore.Store) error {
				_, err := objstoretest.ListAll(ctx, s, "p/", nil)
				return wantDenied(err, "ListObjectsV2", "s3:ListBucket")
			},
			want: objstore.ErrPermission},
		{name: "AccessDeniedOnPutNamesPutObject", requests: 1, respond: errReply(403, "AccessDenied"),
			op: func(ctx context.Context, s objstore.Store) error {
				return wantDenied(put(&objstore.PutOptions{IfNoneMatch: true})(ctx, s), "PutObject", "s3:PutObject")
			},
			want: objstore.ErrPermission},
	}
}

// batchFaultCases: aborts, batch deletes, upload listings and multipart
// completion.
func batchFaultCases() []faultCase {
	return []faultCase{
		{name: "AbortMissingUpload", requests: 1, respond: errReply(404, "NoSuchUpload"),
			op: func(ctx context.Context, s objstore.Store) error { return s.AbortUpload(ctx, "k", "u1") }},
		{name: "DeleteManyPerKeyErrors", requests: 1,
			respond: func(request) reply {
				return reply{status: 200, body: `<?xml version="1.0" encoding="UTF-8"?><DeleteResult>` +
					`<Deleted><Key>c</Key></Deleted>` +
					`<Error><Key>a</Key><Code>AccessDenied</Code><Message>no</Message></Error>` +
					`<Error><Key>b</Key><Code>NoSuchKey</Code><Message>gone</Message></Error></DeleteResult>`}
			},
			op: func(ctx context.Context, s objstore.Store) error {
				err := s.DeleteMany(ctx, []string{"a", "b", "c", "a"})
				var dme *objstore.DeleteManyError
				if !errors.As(err, &dme) || len(dme.Failed) != 1 || !errors.Is(dme.Failed["a"], objstore.ErrPermission) {
					return fmt.Errorf("delete many: %v, want a *DeleteManyError naming only a (ErrPermission)", err)
				}
				if err := wantDenied(dme.Failed["a"], "DeleteObjects", "s3:DeleteObject"); !errors.Is(err, objstore.ErrPermission) {
					return err
				}
				return nil
			}},
		{name: "ListUploadsFilters", requests: 1,
			respond: func(request) reply {
				return reply{status: 200, body: `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult>` +
					`<Bucket>bkt</Bucket><IsTruncated>false</IsTruncated>` +
					`<Upload><Key>dir/a</Key><UploadId>u1</UploadId><Initiated>2026-01-02T03:04:05.000Z</Initiated></Upload>` +
					`<Upload><Key>other/b</Key><UploadId>u2</UploadId><Initiated>2026-01-02T03:04:05.000Z</Initiated></Upload>` +
					`</ListMultipartUploadsResult>`}
			},
			op: func(ctx context.Context, s objstore.Store) error {
				ups, err := objstoretest.ListAllUploads(ctx, s, "dir/")
				if err == nil && (len(ups) != 1 || ups[0].Key != "dir/a" || ups[0].UploadID != "u1" || ups[0].Initiated.Year() != 2026) {
					return fmt.Errorf("uploads %+v, want dir/a u1", ups)
				}
				return err
			},
			check: func(t *testing.T, reqs []request) {
				if p := reqs[0].Query["prefix"]; len(p) > 0 && p[0] != "" {
					t.Errorf("Generic (ListUploadsExactPrefix) asked the server for prefix %q, want none", p[0])
				}
			}},
		multipartComplete200Error(),
		partChecks(&minioQuirks, checkCRC32C),
		partChecks(&signedOnlyQuirks, checkSigned),
		partChecks(&rcloneQuirks, checkMD5),
		putChecks(&minioQuirks, checkCRC32C),
		putChecks(&rcloneQuirks, checkMD5),
	}
}

// signedOnlyQuirks: a server that checks a part's signed SHA-256 but not
// its CRC32C.
var signedOnlyQuirks = func() s3compat.Quirks {
	q := s3compat.MinIO
	q.Name, q.ChecksPartCRC32C = "signed-only", false
	return q
}()

// getWithETag answers a GET with body and the MD5 ETag of etagOf.
func getWithETag(body, etagOf string) func(request) reply {
	sum := md5.Sum([]byte(etagOf))
	return func(request) reply {
		return reply{status: 200, body: body, header: map[string]string{"ETag": `"` + hex.EncodeToString(sum[:]) + `"`,
			"Last-Modified": "Mon, 02 Jan 2006 15:04:05 GMT"}}
	}
}

// getWithRawETag answers a GET with body and the ETag header etag.
func getWithRawETag(body, etag string) func(request) reply {
	return func(request) reply {
		return reply{status: 200, body: body, header: map[string]string{"ETag": etag, "Last-Modified": "Mon, 02 Jan 2006 15:04:05 GMT"}}
	}
}

func readAll(ctx context.Context, s objstore.Store) error {
	_, _, err := objstoretest.ReadAll(ctx, s, "k", nil)
	return err
}

// The rclone*FaultCases tables pin down what the quirks first found on
// rclone do, and that other profiles do none of it.
var rcloneQuirks, minioQuirks, versityQuirks = s3compat.RClone, s3compat.MinIO, s3compat.VersityGW

func del(ctx context.Context, s objstore.Store) error { return s.Delete(ctx, "k", nil) }

// deleteThenHead answers a DELETE with a 500 and a HEAD with status head.
func deleteThenHead(head int) func(r request) reply {
	return func(r request) reply {
		if r.Method == http.MethodHead {
			return reply{status: head}
		}
		return reply{status: 500, body: s3Error("InternalError")}
	}
}

// listNoUploads lists every upload and wants none.
func listNoUploads(ctx context.Context, s objstore.Store) error {
	ups, err := objstoretest.ListAllUploads(ctx, s, "")
	if err == nil && len(ups) != 0 {
		return fmt.Errorf("uploads %+v, want none", ups)
	}
	return err
}

// rcloneDeleteFaultCases: DeleteDirectoryFails and the batch size.
func rcloneDeleteFaultCases() []faultCase {
	return []faultCase{
		{name: "Delete500ThenHeadMissing", quirks: &rcloneQuirks, requests: 2, respond: deleteThenHead(404), op: del},
		{name: "Delete500ThenHeadFound", quirks: &rcloneQuirks, requests: 2, respond: deleteThenHead(200), op: del,
			want: objstore.ErrUnavailable},
		{name: "Delete500WithoutQuirk", quirks: &minioQuirks, requests: 1, respond: deleteThenHead(404), op: del,
			want: objstore.ErrUnavailable},
		{name: "DeleteManyInBatchesOf100", quirks: &rcloneQuirks, requests: 3,
			respond: func(request) reply {
				return reply{status: 200, body: `<?xml version="1.0" encoding="UTF-8"?><DeleteResult></DeleteResult>`}
			},
			op: func(ctx context.Context, s objstore.Store) error {
				keys := make([]string, 250)
				for i := range keys {
					keys[i] = fmt.Sprintf("k%03d", i)
				}
				return s.DeleteMany(ctx, keys)
			}},
	}
}

// rcloneReadFaultCases: OverwriteCorruptsReads and ListsDirectoryMarkers.
func rcloneReadFaultCases() []faultCase {
	return []faultCase{
		{name: "GetBodyNotMatchingETag", quirks: &rcloneQuirks, requests: 1, respond: getWithETag("0123456789", "payload"),
			op: readAll, want: s3compat.ErrBodyMismatch},
		{name: "GetWithoutETag", quirks: &rcloneQuirks, requests: 1,
			respond: func(request) reply {
				return reply{status: 200, body: "payload", header: map[string]string{"Last-Modified": "Mon, 02 Jan 2006 15:04:05 GMT"}}
			},
			op: readAll, want: s3compat.ErrBodyMismatch},
		{name: "GetBodyMatchingETag", quirks: &rcloneQuirks, requests: 1, respond: getWithETag("payload", "payload"), op: readAll},
		{name: "GetBodyNotMatchingETagWithoutQuirk", quirks: &minioQuirks, requests: 1, respond: getWithETag("0123456789", "payload"),
			op: readAll},
		{name: "GetOlderETagVersityGW", quirks: &versityQuirks, requests: 1, respond: getWithETag("version 2", "version 1"),
			op: readAll, want: s3compat.ErrBodyMismatch},
		{name: "GetImmutableUnchecked", quirks: &versityQuirks, requests: 1, respond: getWithETag("version 2", "version 1"),
			op: func(ctx context.Context, s objstore.Store) error {
				_, _, err := objstoretest.ReadAll(ctx, s, "k", &objstore.GetOptions{Immutable: true})
				return err
			}},
		{name: "GetMultipartETagUnchecked", quirks: &rcloneQuirks, requests: 1,
			respond: getWithRawETag("payload", `"780c50f4a982db38883a57ed5d8c8f8a-3"`), op: readAll},
		{name: "GetMalformedMultipartETag", quirks: &rcloneQuirks, requests: 1,
			respond: getWithRawETag("payload", `"780c50f4a982db38883a57ed5d8c8f8a-03"`), op: readAll, want: s3compat.ErrBodyMismatch},
		{name: "ListDropsDirectoryMarkers", quirks: &rcloneQuirks, requests: 1,
			respond: func(request) reply {
				return reply{status: 200, body: `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name>` +
					`<IsTruncated>false</IsTruncated><KeyCount>2</KeyCount>` +
					`<Contents><Key>a</Key><Size>1</Size><ETag>"e"</ETag><LastModified>2026-01-02T03:04:05.000Z</LastModified></Contents>` +
					`<Contents><Key>d/</Key><Size>0</Size><ETag>"e"</ETag><LastModified>2026-01-02T03:04:05.000Z</LastModified></Contents>` +
					`</ListBucketResult>`}
			},
			op: func(ctx context.Context, s objstore.Store) error {
				var keys []string
				for info, err := range s.List(ctx, "", nil) {
					if err != nil {
						return err
					}
					keys = append(keys, info.Key)
				}
				if len(keys) != 1 || keys[0] != "a" {
					return fmt.Errorf("listed %q, want only a (the directory marker dropped)", keys)
				}
				return nil
			}},
	}
}

// rcloneListUploadsFaultCases: ListUploadsMissingIsEmpty and
// EmptyDelimiterRollsUp.
func rcloneListUploadsFaultCases() []faultCase {
	return []faultCase{
		{name: "ListUploadsNoSuchUploadWithoutQuirk", quirks: &minioQuirks, requests: 1, respond: errReply(404, "NoSuchUpload"),
			op: listNoUploads, want: objstore.ErrNotExist},
		{name: "ListUploadsNoSuchUploadIsEmpty", quirks: &rcloneQuirks, requests: 1, respond: errReply(404, "NoSuchUpload"),
			op: listNoUploads,
			check: func(t *testing.T, reqs []request) {
				// minio-go always sends a delimiter: never an empty one here.
				if d, ok := reqs[0].Query["delimiter"]; ok && d[0] != s3compat.NoDelimiter {
					t.Errorf("delimiter %q sent to a server that rolls up on an empty one", d[0])
				}
			}},
		{name: "ListUploadsNoSuchBucket", quirks: &rcloneQuirks, requests: 1, respond: errReply(404, "NoSuchBucket"),
			op: func(ctx context.Context, s objstore.Store) error {
				if err := listNoUploads(ctx, s); err == nil || errors.Is(err, objstore.ErrNotExist) {
					return fmt.Errorf("list uploads of a missing bucket: %v, want an error other than ErrNotExist", err)
				}
				return nil
			}},
	}
}

// The answers of a fake server to CreateMultipartUpload and to
// CompleteMultipartUpload of key k in bucket bkt.
const (
	initiateUploadXML = `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult>` +
		`<Bucket>bkt</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`
	completeUploadXML = `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult>` +
		`<Bucket>bkt</Bucket><Key>k</Key><ETag>"e-2"</ETag></CompleteMultipartUploadResult>`
)

// multipartReply answers a fake server's multipart upload: the initiation
// and each part succeed; any other request of the upload (one naming an
// uploadId, but not a part) gets rest's reply; anything else is refused.
func multipartReply(r request, rest func(request) reply) reply {
	_, uploads := r.Query["uploads"]
	_, id := r.Query["uploadId"]
	switch {
	case r.Method == http.MethodPost && uploads:
		return reply{status: 200, body: initiateUploadXML}
	case r.Method == http.MethodPut && id:
		return reply{status: 200, header: map[string]string{"ETag": `"p` + r.Query["partNumber"][0] + `"`}}
	case id:
		return rest(r)
	}
	return reply{status: 400, body: s3Error("InvalidRequest")}
}

// The payload check a part carries.
const (
	checkMD5    = iota // Content-MD5, UNSIGNED-PAYLOAD
	checkSigned        // its SHA-256 signed as x-amz-content-sha256 (Quirks.ChecksPayloadHash)
	checkCRC32C        // x-amz-checksum-crc32c, UNSIGNED-PAYLOAD (Quirks.ChecksPartCRC32C)
)

// partChecks: each part carries the one check of the bytes the server
// makes (check); with CRC32C the upload is created with that algorithm
// and the completion repeats each part's checksum.
func partChecks(q *s3compat.Quirks, check int) faultCase {
	return faultCase{name: "PartPayloadCheck" + q.Name, quirks: q, requests: 4,
		respond: func(r request) reply {
			return multipartReply(r, func(r request) reply {
				if r.Method == http.MethodPost {
					return reply{status: 200, body: completeUploadXML}
				}
				return reply{status: 400, body: s3Error("InvalidRequest")}
			})
		},
		op: func(ctx context.Context, s objstore.Store) error {
			_, err := s.Upload(ctx, "k", objstoretest.PatternReader(3, objstore.MinPartSize+1),
				&objstore.UploadOptions{PartSize: objstore.MinPartSize})
			return err
		},
		check: func(t *testing.T, reqs []request) {
			var sums []string
			for _, r := range reqs {
				_, id := r.Query["uploadId"]
				_, create := r.Query["uploads"]
				switch {
				case r.Method == http.MethodPut && id:
					sums = append(sums, checkPayload(t, r, check))
				case create && (r.Header.Get("X-Amz-Checksum-Algorithm") == "CRC32C") != (check == checkCRC32C):
					t.Errorf("upload created with checksum algorithm %q", r.Header.Get("X-Amz-Checksum-Algorithm"))
				case r.Method == http.MethodPost && id && check == checkCRC32C:
					for _, sum := range sums {
						if !strings.Contains(string(r.Body), "<ChecksumCRC32C>"+sum+"</ChecksumCRC32C>") {
							t.Errorf("completion without part checksum %s: %s", sum, r.Body)
						}
					}
				}
			}
			if len(sums) != 2 {
				t.Errorf("%d parts sent, want 2", len(sums))
			}
		}}
}

// putChecks: a single put carries the one check of its bytes the server
// makes (check: Quirks.ChecksPutCRC32C, else Content-MD5).
func putChecks(q *s3compat.Quirks, check int) faultCase {
	return faultCase{name: "PutPayloadCheck" + q.Name, quirks: q, requests: 1,
		respond: func(request) reply { return reply{status: 200, header: map[string]string{"ETag": `"e1"`}} },
		op:      put(&objstore.PutOptions{IfMatch: "e0"}),
		check:   func(t *testing.T, reqs []request) { checkPayload(t, reqs[0], check) }}
}

// checkPayload checks the payload headers of put or part request r and
// returns its x-amz-checksum-crc32c.
func checkPayload(t *testing.T, r request, check int) string {
	t.Helper()
	sha, md, crc := r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("Content-MD5"), r.Header.Get("X-Amz-Checksum-Crc32c")
	sum, md5sum := sha256.Sum256(r.Body), md5.Sum(r.Body)
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc32.Checksum(r.Body, crc32.MakeTable(crc32.Castagnoli)))
	want := map[int][3]string{
		checkMD5:    {"UNSIGNED-PAYLOAD", base64.StdEncoding.EncodeToString(md5sum[:]), ""},
		checkSigned: {hex.EncodeToString(sum[:]), "", ""},
		checkCRC32C: {"UNSIGNED-PAYLOAD", "", base64.StdEncoding.EncodeToString(c[:])},
	}[check]
	if got := [3]string{sha, md, crc}; got != want {
		t.Errorf("%s %s %v: x-amz-content-sha256, Content-MD5, x-amz-checksum-crc32c %q; want %q", r.Method, r.Path, r.Query["partNumber"], got, want)
	}
	if check == checkSigned && !strings.Contains(r.Header.Get("Authorization"), "x-amz-content-sha256") {
		t.Errorf("%s %s %v: x-amz-content-sha256 not signed: %s", r.Method, r.Path, r.Query["partNumber"], r.Header.Get("Authorization"))
	}
	return crc
}

// multipartComplete200Error: CompleteMultipartUpload answers 200 with an
// <Error> body; the upload fails with the error inside, the condition went
// to Complete and not to Create, and the upload is aborted.
func multipartComplete200Error() faultCase {
	return faultCase{name: "CompleteUpload200WithError", requests: -1,
		respond: func(r request) reply {
			return multipartReply(r, func(r request) reply {
				switch r.Method {
				case http.MethodPost:
					return reply{status: 200, body: s3Error("PreconditionFailed")}
				case http.MethodDelete:
					return reply{status: 204}
				}
				return reply{status: 400, body: s3Error("InvalidRequest")}
			})
		},
		op: func(ctx context.Context, s objstore.Store) error {
			_, err := s.Upload(ctx, "k", objstoretest.PatternReader(3, objstore.MinPartSize+1),
				&objstore.UploadOptions{PutOptions: objstore.PutOptions{IfNoneMatch: true}, PartSize: objstore.MinPartSize})
			return err
		},
		want: objstore.ErrPreconditionFailed,
		check: func(t *testing.T, reqs []request) {
			var create, complete, abort int
			for _, r := range reqs {
				_, uploads := r.Query["uploads"]
				_, id := r.Query["uploadId"]
				switch {
				case r.Method == http.MethodPost && uploads:
					create++
					if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Match") != "" {
						t.Errorf("CreateMultipartUpload carried a condition")
					}
				case r.Method == http.MethodPost && id:
					complete++
					if r.Header.Get("If-None-Match") != "*" {
						t.Errorf("CompleteMultipartUpload If-None-Match = %q, want *", r.Header.Get("If-None-Match"))
					}
				case r.Method == http.MethodDelete && id:
					abort++
				case r.Method == http.MethodPut && id:
					if r.Header.Get("Content-MD5") == "" {
						t.Errorf("part %s sent without Content-MD5", r.Query["partNumber"])
					}
				}
			}
			if create != 1 || complete != 1 || abort != 1 {
				t.Errorf("create %d complete %d abort %d, want one of each", create, complete, abort)
			}
		}}
}

// Faults checks the backend's error mapping, condition headers and lack of
// SDK retries against a fake server that answers with canned responses.
func Faults(t *testing.T, open Opener) {
	for _, c := range faultCases() {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeS3{t: t, respond: c.respond}
			ts := httptest.NewServer(f)
			defer ts.Close()
			q := s3compat.Generic
			if c.quirks != nil {
				q = *c.quirks
			}
			srv := testenv.Server{Name: "fake", Endpoint: ts.URL, AccessKey: "fakeaccess", SecretKey: "fakesecret", Region: "us-east-1", Bucket: "bkt"}
			s := open(t, srv, q, nil)
			err := c.op(t.Context(), s)
			switch {
			case c.want == nil && err != nil:
				t.Errorf("err = %v, want success", err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Errorf("err = %v, want %v", err, c.want)
			}
			reqs := f.requests()
			if c.requests >= 0 && len(reqs) != c.requests {
				t.Errorf("%d requests, want %d (no SDK retries)", len(reqs), c.requests)
			}
			if c.check != nil && len(reqs) > 0 {
				c.check(t, reqs)
			}
		})
	}
}

// partsPage is a ListParts answer listing parts of the given sizes,
// numbered from first, truncated at next when next > 0.
func partsPage(first int, next int, sizes ...int64) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListPartsResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>u1</UploadId>`)
	fmt.Fprintf(&b, `<IsTruncated>%v</IsTruncated><NextPartNumberMarker>%d</NextPartNumberMarker>`, next > 0, next)
	for i, n := range sizes {
		fmt.Fprintf(&b, `<Part><PartNumber>%d</PartNumber><ETag>"e"</ETag><Size>%d</Size></Part>`, first+i, n)
	}
	b.WriteString(`</ListPartsResult>`)
	return b.String()
}

// uploadSizeFaultCases: UploadSize pages through ListParts, maps
// NoSuchUpload to ErrNotExist, names ListParts and its IAM action when
// refused, and stops on a truncated page that does not advance.
func uploadSizeFaultCases() []faultCase {
	uploadSize := func(want int64) func(context.Context, objstore.Store) error {
		return func(ctx context.Context, s objstore.Store) error {
			n, err := s.UploadSize(ctx, "k", "u1")
			if err == nil && n != want {
				return fmt.Errorf("UploadSize = %d, want %d", n, want)
			}
			return err
		}
	}
	return []faultCase{
		{name: "UploadSizePagesParts", requests: 2,
			respond: func(r request) reply {
				if url.Values(r.Query).Get("part-number-marker") == "2" {
					return reply{status: 200, body: partsPage(3, 0, 7)}
				}
				return reply{status: 200, body: partsPage(1, 2, 5<<20, 1000)}
			},
			op: uploadSize(5<<20 + 1000 + 7),
			check: func(t *testing.T, reqs []request) {
				if url.Values(reqs[0].Query).Get("uploadId") != "u1" || url.Values(reqs[1].Query).Get("part-number-marker") != "2" {
					t.Errorf("ListParts queries %v then %v, want uploadId u1, then part-number-marker 2", reqs[0].Query, reqs[1].Query)
				}
			}},
		{name: "UploadSizeNoSuchUpload", requests: 1, respond: errReply(404, "NoSuchUpload"),
			op: uploadSize(0), want: objstore.ErrNotExist},
		{name: "UploadSizeDeniedNamesListParts", requests: 1, respond: errReply(403, "AccessDenied"),
			op: func(ctx context.Context, s objstore.Store) error {
				return wantDenied(uploadSize(0)(ctx, s), "ListParts", "s3:ListMultipartUploadParts")
			},
			want: objstore.ErrPermission},
		{name: "UploadSizeTruncatedWithoutProgress", requests: 1,
			respond: func(request) reply { return reply{status: 200, body: truncatedNoMarker} },
			op:      uploadSize(0), want: objstore.ErrUnavailable},
	}
}

// truncatedNoMarker is a truncated ListParts page without a next marker.
const truncatedNoMarker = `<?xml version="1.0" encoding="UTF-8"?><ListPartsResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>u1</UploadId>` +
	`<IsTruncated>true</IsTruncated><Part><PartNumber>1</PartNumber><ETag>"e"</ETag><Size>10</Size></Part></ListPartsResult>`
