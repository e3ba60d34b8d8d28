package s3store

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/stowage-dev/stowage/internal/s3compat"
	"github.com/stowage-dev/stowage/objstore"
)

// direct sends the four single-object requests (PutObject, GetObject,
// HeadObject, DeleteObject) itself, on the Store's HTTP client, signed
// with the SDK's SigV4 signer, instead of through the SDK's middleware
// stack: the same request on the wire (URL, headers, payload hash), for
// about half the client CPU per request (docs/performance.md, "Requests
// without the SDK's middleware"). Every request a session's commit or load
// makes is one of these four. Everything else (listings, batch deletes,
// multipart uploads, presigning) stays with the SDK.
//
// Where the bucket's requests go (the URL, the signing region and service)
// is the SDK's answer, taken once from a request it presigns at New
// (directFor): AWS's endpoint rules, path or virtual-host style, FIPS and
// dual-stack endpoints included. A bucket the SDK would sign other than as
// plain SigV4 for "s3" (an access point ARN, a directory bucket) gets no
// direct client: its requests all go through the SDK.
type direct struct {
	doer    s3compat.Doer
	base    url.URL // the bucket's URL, its path ending in "/"
	creds   aws.CredentialsProvider
	signer  *v4.Signer
	region  string
	service string
}

// emptySHA256 is the payload hash of a request without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// directFor returns the direct client of api's bucket, or nil if its
// requests must go through the SDK. It sends nothing: the presigned
// request is signed with throwaway credentials and never sent.
func directFor(ctx context.Context, api *s3.Client, bucket string, doer s3compat.Doer) *direct {
	creds := api.Options().Credentials
	if creds == nil || !plainBucket(bucket) {
		return nil // nil for anonymous credentials: the SDK sends those unsigned
	}
	const probe = "k"
	pc := s3.NewPresignClient(api, func(o *s3.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(o *s3.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider("stowage", "stowage", "")
		})
	})
	req, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(probe)})
	if err != nil {
		return nil
	}
	u, err := url.Parse(req.URL)
	if err != nil || !strings.HasSuffix(u.EscapedPath(), "/"+probe) {
		return nil
	}
	// X-Amz-Credential: <key>/<date>/<region>/<service>/aws4_request
	scope := strings.Split(u.Query().Get("X-Amz-Credential"), "/")
	if len(scope) != 5 || scope[3] != "s3" || scope[4] != "aws4_request" || u.Query().Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		return nil
	}
	base := url.URL{Scheme: u.Scheme, Host: u.Host}
	base.RawPath = strings.TrimSuffix(u.EscapedPath(), probe)
	if base.Path, err = url.PathUnescape(base.RawPath); err != nil {
		return nil
	}
	return &direct{
		doer:    doer,
		base:    base,
		creds:   creds,
		signer:  v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		region:  scope[2],
		service: scope[3],
	}
}

// plainBucket reports whether bucket is an ordinary bucket name: not an
// ARN, not a directory bucket (session authentication).
func plainBucket(bucket string) bool {
	return bucket != "" && !strings.Contains(bucket, ":") && !strings.HasSuffix(bucket, "--x-s3")
}

// request builds a signed request for key. body may be nil; header adds the
// operation's headers before signing.
func (d *direct) request(ctx context.Context, method, key string, body *s3compat.RequestBody, header http.Header) (*http.Request, error) {
	u := d.base
	u.Path += key
	u.RawPath += httpbinding.EscapePath(key, false)
	req, err := http.NewRequestWithContext(ctx, method, "", nil)
	if err != nil {
		return nil, err
	}
	req.URL, req.Host = &u, u.Host
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept-Encoding", "identity") // as the SDK: no transparent gzip
	hash := emptySHA256
	if body != nil {
		hash = "UNSIGNED-PAYLOAD"
		switch {
		case body.PayloadSHA256() != "":
			hash = body.PayloadSHA256()
		case body.ChecksumCRC32C() != "":
			req.Header.Set("X-Amz-Checksum-Crc32c", body.ChecksumCRC32C())
		default:
			req.Header.Set("Content-MD5", body.ContentMD5())
		}
		req.ContentLength = body.Size()
		req.Body, req.GetBody = io.NopCloser(body), rewind(body)
		if body.Size() == 0 {
			req.Body = http.NoBody
		}
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds, err := d.creds.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.signer.SignHTTP(ctx, creds, req, hash, d.service, d.region, time.Now().UTC()); err != nil {
		return nil, err
	}
	return req, nil
}

// rewind lets the transport send body again on a new connection when the
// one it picked was closed before the request was written.
func rewind(body *s3compat.RequestBody) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return io.NopCloser(body), nil
	}
}

// do sends req and returns its response if the status is 2xx; otherwise
// it closes the response and returns a *responseError.
func (d *direct) do(req *http.Request) (*http.Response, error) {
	resp, err := d.doer.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, newResponseError(req.Method, resp)
}

func (d *direct) putObject(ctx context.Context, key string, body *s3compat.RequestBody, opts *objstore.PutOptions) (string, error) {
	h := http.Header{}
	h.Set("Content-Type", s3compat.ContentType(opts))
	for k, v := range opts.Metadata {
		h.Set("X-Amz-Meta-"+k, v)
	}
	ifNoneMatch, ifMatch := conditions(opts)
	if ifNoneMatch != nil {
		h.Set("If-None-Match", *ifNoneMatch)
	}
	if ifMatch != nil {
		h.Set("If-Match", *ifMatch)
	}
	req, err := d.request(ctx, http.MethodPut, key, body, h)
	if err != nil {
		return "", err
	}
	resp, err := d.do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("ETag"), nil
}

func (d *direct) getObject(ctx context.Context, key, rng, ifNoneMatch string) (io.ReadCloser, objstore.ObjectInfo, error) {
	h := http.Header{}
	if rng != "" {
		h.Set("Range", rng)
	}
	if ifNoneMatch != "" {
		h.Set("If-None-Match", s3compat.QuoteETag(ifNoneMatch))
	}
	h.Set("X-Amz-Checksum-Mode", "ENABLED") // as the SDK: checked.go
	req, err := d.request(ctx, http.MethodGet, key, nil, h)
	if err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	resp, err := d.do(req)
	if err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	return checked(resp), objectInfo(key, resp.Header), nil
}

func (d *direct) headObject(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	req, err := d.request(ctx, http.MethodHead, key, nil, nil)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	resp, err := d.do(req)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	resp.Body.Close()
	info := objectInfo(key, resp.Header)
	info.Size, _ = strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64) // a HEAD's size, whatever else it says
	return info, nil
}

func (d *direct) deleteObject(ctx context.Context, key, ifMatch string) error {
	h := http.Header{}
	if ifMatch != "" {
		h.Set("If-Match", s3compat.QuoteETag(ifMatch))
	}
	req, err := d.request(ctx, http.MethodDelete, key, nil, h)
	if err != nil {
		return err
	}
	resp, err := d.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// objectInfo describes key from the headers of a GET or HEAD response, as
// the SDK's GetObjectOutput and HeadObjectOutput do.
func objectInfo(key string, h http.Header) objstore.ObjectInfo {
	n, _ := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	mod, _ := http.ParseTime(h.Get("Last-Modified"))
	md := map[string]string{}
	const prefix = "X-Amz-Meta-"
	for k, v := range h {
		if len(k) > len(prefix) && strings.EqualFold(k[:len(prefix)], prefix) && len(v) > 0 {
			md[k[len(prefix):]] = strings.TrimSpace(v[0])
		}
	}
	return objstore.ObjectInfo{
		Key:         key,
		Size:        s3compat.ObjectSize(h.Get("Content-Range"), n),
		ETag:        s3compat.UnquoteETag(h.Get("ETag")),
		ModTime:     mod,
		ContentType: h.Get("Content-Type"),
		Metadata:    s3compat.Metadata(md),
	}
}

// responseError is a direct request's error response. It answers as the
// SDK's errors do (smithy.APIError's code and message, the HTTP status), so
// client.MapErr maps both alike.
type responseError struct {
	method    string
	status    int
	code      string
	message   string
	requestID string
}

var _ smithy.APIError = (*responseError)(nil)

// maxErrorBody bounds the bytes of an error response read for its code.
const maxErrorBody = 64 << 10

// newResponseError reads resp's error code: the XML body's, or, for a
// response without one (HEAD, 304), MinIO's X-Minio-Error-Code header.
func newResponseError(method string, resp *http.Response) *responseError {
	e := &responseError{method: method, status: resp.StatusCode, requestID: resp.Header.Get("X-Amz-Request-Id")}
	var body struct {
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
		RequestID string `xml:"RequestId"`
	}
	if raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody)); err == nil && len(raw) > 0 {
		if xml.Unmarshal(raw, &body) == nil {
			e.code, e.message = body.Code, body.Message
			if e.requestID == "" {
				e.requestID = body.RequestID
			}
		}
	}
	if h := resp.Header.Get("X-Minio-Error-Code"); h != "" {
		e.code = h
	}
	return e
}

func (e *responseError) Error() string {
	s := fmt.Sprintf("%s: status %d", e.method, e.status)
	if e.code != "" {
		s += ", " + e.code
	}
	if e.message != "" {
		s += ": " + e.message
	}
	if e.requestID != "" {
		s += " (request id " + e.requestID + ")"
	}
	return s
}

// ErrorCode implements smithy.APIError.
func (e *responseError) ErrorCode() string { return e.code }

// ErrorMessage implements smithy.APIError.
func (e *responseError) ErrorMessage() string { return e.message }

// ErrorFault implements smithy.APIError.
func (e *responseError) ErrorFault() smithy.ErrorFault { return smithy.FaultUnknown }

// HTTPStatusCode is the response's status, as the SDK's errors report it.
func (e *responseError) HTTPStatusCode() int { return e.status }
