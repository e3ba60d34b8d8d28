package s3compat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/stowage-dev/stowage/objstore"
)

// codes maps S3 XML error codes (AWS's, and the extra ones MinIO and
// versitygw send) to sentinels. Codes not listed fall back to the status.
var codes = map[string]error{
	"PreconditionFailed": objstore.ErrPreconditionFailed,
	"NotModified":        objstore.ErrNotModified,

	// 409 from a conditional write racing a DELETE (AWS); OperationAborted is
	// AWS's older "a conflicting conditional operation is in progress".
	"ConditionalRequestConflict": objstore.ErrConflict,
	"OperationAborted":           objstore.ErrConflict,

	"SlowDown":                 objstore.ErrThrottled,
	"SlowDownRead":             objstore.ErrThrottled, // MinIO
	"SlowDownWrite":            objstore.ErrThrottled, // MinIO
	"Throttling":               objstore.ErrThrottled,
	"ThrottlingException":      objstore.ErrThrottled,
	"RequestLimitExceeded":     objstore.ErrThrottled,
	"TooManyRequests":          objstore.ErrThrottled,
	"TooManyRequestsException": objstore.ErrThrottled,

	"InternalError":              objstore.ErrUnavailable,
	"ServiceUnavailable":         objstore.ErrUnavailable,
	"RequestTimeout":             objstore.ErrUnavailable, // 400, but a timeout
	"XMinioServerNotInitialized": objstore.ErrUnavailable,
	"XMinioReadQuorum":           objstore.ErrUnavailable,
	"XMinioWriteQuorum":          objstore.ErrUnavailable,

	"AccessDenied":      objstore.ErrPermission,
	"AllAccessDisabled": objstore.ErrPermission,
	"AccountProblem":    objstore.ErrPermission,

	"NoSuchKey":    objstore.ErrNotExist,
	"NotFound":     objstore.ErrNotExist, // HEAD has no body; SDKs name its 404 so
	"NoSuchUpload": objstore.ErrNotExist,

	// A missing bucket is a configuration error, never a missing object: a
	// Delete must not report it as success.
	"NoSuchBucket": objstore.ErrNoBucket,

	"InvalidRange":     objstore.ErrInvalidArgument,
	"InvalidArgument":  objstore.ErrInvalidArgument,
	"InvalidRequest":   objstore.ErrInvalidArgument,
	"EntityTooSmall":   objstore.ErrInvalidArgument,
	"EntityTooLarge":   objstore.ErrInvalidArgument,
	"InvalidPart":      objstore.ErrInvalidArgument,
	"InvalidPartOrder": objstore.ErrInvalidArgument,
	"MetadataTooLarge": objstore.ErrInvalidArgument,
	"KeyTooLongError":  objstore.ErrInvalidKey,

	// Keys a server that stores objects as files cannot hold: MinIO refuses
	// what objstore.ValidateKey refuses too; versitygw's posix backend cannot
	// hold a key K next to keys under "K/", nor data under a key ending in "/".
	"XMinioInvalidObjectName":     objstore.ErrInvalidKey,
	"XMinioInvalidResourceName":   objstore.ErrInvalidKey,
	"ObjectParentIsFile":          objstore.ErrInvalidKey, // versitygw, 409
	"ExistingObjectIsDirectory":   objstore.ErrInvalidKey, // versitygw, 409
	"DirectoryObjectContainsData": objstore.ErrInvalidKey, // versitygw, 400
	"ErrDirectoryNotEmpty":        objstore.ErrInvalidKey, // versitygw, 400

	"BadDigest":                   objstore.ErrChecksum,
	"InvalidDigest":               objstore.ErrChecksum,
	"XAmzContentSHA256Mismatch":   objstore.ErrChecksum,
	"XAmzContentChecksumMismatch": objstore.ErrChecksum,
	"InvalidChecksum":             objstore.ErrChecksum,

	"NotImplemented": objstore.ErrNotSupported,
}

// credentialCodes are the codes of a request refused for its credentials,
// not its permissions: Classify makes them an *objstore.CredentialsError.
var credentialCodes = map[string]bool{
	"InvalidAccessKeyId":    true, // AWS, MinIO: unknown access key id
	"SignatureDoesNotMatch": true, // AWS, MinIO, versitygw: wrong secret
	"XAdminUserNotFound":    true, // versitygw, 404: unknown access key id
	"ExpiredToken":          true,
	"InvalidToken":          true,
	"TokenRefreshRequired":  true,
}

// errUncoded is a 403 whose response named no error code (a HEAD has no
// body): the credentials or the policy refused it, and nothing says which.
var errUncoded error = &uncoded{}

type uncoded struct{}

func (*uncoded) Error() string { return "permission denied (403, no error code)" }

// Is reports that errUncoded is an ErrPermission.
func (*uncoded) Is(target error) bool { return target == objstore.ErrPermission }

// Classify returns the sentinel for an S3 error response with the given XML
// error code (may be empty, e.g. for HEAD) and HTTP status (0 if unknown),
// or nil if it matches none. NoSuchBucket is ErrNoBucket, deliberately not
// ErrNotExist. A code that refuses the credentials (InvalidAccessKeyId,
// SignatureDoesNotMatch, versitygw's XAdminUserNotFound, ...) is an
// *objstore.CredentialsError naming it (matching ErrCredentials and
// ErrPermission); a 403 with no code matches ErrPermission and is marked
// uncoded (Denied then names both possible causes).
//
// ifMatch says the request carried If-Match: S3 answers such a write on a
// missing key with 404 NoSuchKey rather than 412, and both mean the
// precondition failed.
func Classify(code string, status int, ifMatch bool) error {
	if ifMatch && (code == "NoSuchKey" || code == "NotFound" || code == "" && status == http.StatusNotFound) {
		return objstore.ErrPreconditionFailed
	}
	if err, ok := codes[code]; ok {
		return err
	}
	if credentialCodes[code] {
		return &objstore.CredentialsError{Code: code}
	}
	switch {
	case status == http.StatusNotModified:
		return objstore.ErrNotModified
	case status == http.StatusForbidden && code == "":
		return errUncoded
	case status == http.StatusForbidden:
		return objstore.ErrPermission
	case status == http.StatusNotFound && code == "":
		return objstore.ErrNotExist
	case status == http.StatusConflict && code == "":
		return objstore.ErrConflict
	case status == http.StatusPreconditionFailed:
		return objstore.ErrPreconditionFailed
	case status == http.StatusRequestedRangeNotSatisfiable:
		return objstore.ErrInvalidArgument
	case status == http.StatusTooManyRequests:
		return objstore.ErrThrottled
	case status == http.StatusNotImplemented:
		return objstore.ErrNotSupported
	case status >= 500:
		return objstore.ErrUnavailable
	}
	return nil
}

// IsTransport reports whether err is a network failure rather than an
// answer from the server: a reset, refused or timed-out connection, or a
// response cut short. Callers check their own context first: a failure
// caused by the caller's cancellation is not a transport failure.
func IsTransport(err error) bool {
	var (
		netErr  net.Error
		urlErr  *url.Error
		connErr interface{ ConnectionError() bool } // aws-sdk-go-v2's send errors
	)
	switch {
	case err == nil:
		return false
	case errors.As(err, &connErr) && connErr.ConnectionError():
		return true
	case errors.As(err, &netErr), errors.As(err, &urlErr):
		return true
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// Wrap builds the error a backend returns: an *objstore.OpError whose cause
// matches sentinel (or ctx's error) and still wraps the SDK error for
// errors.As. It is the common tail of each backend's one mapping function:
//
//   - if the server's answer matched a sentinel, that is the cause: a known
//     outcome stays known even if ctx ended meanwhile;
//   - else if ctx is done, the cause is ctx.Err() (context.Canceled or
//     DeadlineExceeded), whatever the SDK made of it;
//   - else if sdkErr is a transport failure, the cause is ErrUnavailable;
//   - else sdkErr alone.
func Wrap(ctx context.Context, backend, op, key string, sentinel, sdkErr error) error {
	if sdkErr == nil {
		return nil
	}
	cause := sentinel
	switch {
	case cause != nil:
	case ctx.Err() != nil:
		cause = ctx.Err()
	case IsTransport(sdkErr):
		cause = objstore.ErrUnavailable
	}
	err := sdkErr
	if cause != nil && !errors.Is(sdkErr, cause) {
		err = fmt.Errorf("%w: %w", cause, sdkErr)
	}
	return &objstore.OpError{Backend: backend, Op: op, Key: key, Err: err}
}

// iamActions maps each S3 operation the backends send to the IAM action
// that authorises it (AWS's service authorization reference; MinIO's policy
// engine uses the same names).
var iamActions = map[string]string{
	"PutObject":               "s3:PutObject",
	"GetObject":               "s3:GetObject",
	"HeadObject":              "s3:GetObject",
	"DeleteObject":            "s3:DeleteObject",
	"DeleteObjects":           "s3:DeleteObject",
	"ListObjectsV2":           "s3:ListBucket",
	"CreateMultipartUpload":   "s3:PutObject",
	"UploadPart":              "s3:PutObject",
	"CompleteMultipartUpload": "s3:PutObject",
	"ListMultipartUploads":    "s3:ListBucketMultipartUploads",
	"AbortMultipartUpload":    "s3:AbortMultipartUpload",
	"ListParts":               "s3:ListMultipartUploadParts",
}

// Denied names, in an error that matches objstore.ErrPermission, the S3
// operation that was refused and the IAM action that grants it: the
// *objstore.OpError's cause becomes an *objstore.AccessError (Uncoded if the
// response gave no error code). Other errors, and those already naming
// their operation, are returned as they are.
func Denied(operation string, err error) error {
	var ae *objstore.AccessError
	if !errors.Is(err, objstore.ErrPermission) || errors.As(err, &ae) {
		return err
	}
	access := func(cause error) error {
		return &objstore.AccessError{Operation: operation, Action: iamActions[operation],
			Uncoded: errors.Is(err, errUncoded), Err: cause}
	}
	if oe, ok := err.(*objstore.OpError); ok {
		c := *oe
		c.Err = access(oe.Err)
		return &c
	}
	return access(err)
}

// KeyError is the error of one key in a DeleteObjects response, which
// carries an S3 error code and message but no HTTP status.
func KeyError(backend, op, key, code, message string) error {
	err := fmt.Errorf("%s: %s", code, message)
	if sentinel := Classify(code, 0, false); sentinel != nil {
		err = fmt.Errorf("%w: %w", sentinel, err)
	}
	return &objstore.OpError{Backend: backend, Op: op, Key: key, Err: err}
}

// ErrRangeNotSatisfiable is the error of a range starting at or beyond the
// end of an object of size bytes, as S3 answers it (416).
func ErrRangeNotSatisfiable(off, size int64) error {
	return fmt.Errorf("s3compat: range offset %d not within object of %d bytes: %w", off, size, objstore.ErrInvalidArgument)
}
