package faultnet

import "net/http"

// Matchers of S3 requests, for Rule.Match. They look at the method and the
// query only, so they work for path-style and virtual-hosted URLs alike.

// PutObject matches a single-request object upload (PutObject).
func PutObject(r *http.Request) bool {
	q := r.URL.Query()
	return r.Method == http.MethodPut && !q.Has("partNumber") && !q.Has("uploadId") && r.Header.Get("X-Amz-Copy-Source") == ""
}

// UploadPart matches the upload of one multipart part.
func UploadPart(r *http.Request) bool {
	q := r.URL.Query()
	return r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId")
}

// CompleteMultipartUpload matches the completion of a multipart upload.
func CompleteMultipartUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

// Conditional matches a request carrying If-None-Match or If-Match.
func Conditional(r *http.Request) bool {
	return r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Match") != ""
}

// ConditionalWrite matches a conditional PutObject or completion: the
// requests whose lost responses make outcomes ambiguous.
func ConditionalWrite(r *http.Request) bool {
	return Conditional(r) && (PutObject(r) || CompleteMultipartUpload(r))
}
