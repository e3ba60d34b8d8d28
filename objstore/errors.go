package objstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors. Backends wrap them (usually in an *OpError) so that callers
// branch with errors.Is.
var (
	// ErrNotExist is returned when the object (or upload) does not exist.
	ErrNotExist = errors.New("object does not exist")
	// ErrPreconditionFailed is returned when a write or delete condition
	// (If-None-Match, If-Match) does not hold. Nothing was changed.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrNotModified is returned by Get with IfNoneMatch when the ETag matches.
	ErrNotModified = errors.New("not modified")
	// ErrConflict is S3's 409 ConditionalRequestConflict: a concurrent
	// operation interfered with a conditional request. Retryable.
	ErrConflict = errors.New("conditional request conflict")
	// ErrThrottled is returned for 503 SlowDown / 429. Retryable.
	ErrThrottled = errors.New("throttled")
	// ErrUnavailable is a transient server or network failure (5xx, reset,
	// timeout) where the request was not applied or its outcome is
	// irrelevant (reads). Retryable.
	ErrUnavailable = errors.New("service unavailable")
	// ErrTimeout is returned when the server did not answer a request
	// within its per-attempt timeout (a silent server, a stalled transfer).
	// Such an error also matches ErrUnavailable (retryable; a write may have
	// been applied). After the retry decorator, a write that timed out
	// matches ErrOutcomeUnknown.
	ErrTimeout = errors.New("request timed out")
	// ErrPermission is returned when credentials lack a permission. From an
	// S3 server the error is an *AccessError that names the S3 operation
	// refused and the IAM action that grants it.
	ErrPermission = errors.New("permission denied")
	// ErrCredentials is returned when the server refused the credentials
	// themselves (an unknown access key id, a wrong secret, an expired
	// token), not what they may do. Such an error also matches
	// ErrPermission; from an S3 server it is a *CredentialsError naming the
	// server's error code, inside an *AccessError.
	ErrCredentials error = &permissionKind{"credentials refused"}
	// ErrNoBucket is returned when the bucket does not exist (S3's
	// NoSuchBucket): a configuration error, never retried, and never taken
	// for a missing object (a Delete does not succeed on it).
	ErrNoBucket = errors.New("bucket does not exist")
	// ErrReadOnly is returned by every write (Put, Delete, DeleteMany,
	// Upload, AbortUpload) to a store opened read-only. Such an error also
	// matches ErrPermission. Nothing was sent.
	ErrReadOnly = errors.New("store opened read-only")
	// ErrInvalidKey is returned for a key that fails ValidateKey.
	ErrInvalidKey = errors.New("invalid key")
	// ErrInvalidArgument is returned for bad options (metadata, ranges, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotSupported is returned when the backend cannot do what was asked
	// (e.g. a conditional delete on a server that ignores If-Match on DELETE).
	ErrNotSupported = errors.New("not supported")
	// ErrChecksum is returned when a payload checksum does not match.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrOutcomeUnknown is returned when a write's outcome could not be
	// determined (its response was lost and a read-back could not prove it
	// ours). The write may or may not have been applied; callers must not
	// clean up after it.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrClosed is returned by a closed store.
	ErrClosed = errors.New("store closed")
)

// OpError records a failed operation on a key. Its message has the form
// `backend: op "key": cause`.
type OpError struct {
	Backend string
	Op      string
	Key     string
	Err     error
}

func (e *OpError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %s: %v", e.Backend, e.Op, e.Err)
	}
	return fmt.Sprintf("%s: %s %q: %v", e.Backend, e.Op, e.Key, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// AccessError is a request the server refused: it names the S3 operation
// (e.g. "ListObjectsV2") and the IAM action that grants it (e.g.
// "s3:ListBucket"), so that an operator can fix the policy. It matches
// ErrPermission and whatever Err matches. If Err matches ErrCredentials the
// credentials were refused, not the action, and the message says so; if
// Uncoded, the response named no error code (a HEAD has no body) and the
// message names both causes.
type AccessError struct {
	Operation string // the S3 API operation refused
	Action    string // the IAM action it needs; "" if unknown
	Uncoded   bool   // the response gave no error code: credentials or policy
	Err       error
}

func (e *AccessError) Error() string {
	switch {
	case errors.Is(e.Err, ErrCredentials):
		return fmt.Sprintf("S3 %s refused: %v", e.Operation, e.Err)
	case e.Uncoded && e.Action != "":
		return fmt.Sprintf("S3 %s refused with no error code (the credentials are wrong, or the policy must allow %s): %v", e.Operation, e.Action, e.Err)
	case e.Uncoded:
		return fmt.Sprintf("S3 %s refused with no error code (the credentials are wrong, or the policy forbids it): %v", e.Operation, e.Err)
	case e.Action == "":
		return fmt.Sprintf("S3 %s refused: %v", e.Operation, e.Err)
	}
	return fmt.Sprintf("S3 %s refused (the policy must allow %s): %v", e.Operation, e.Action, e.Err)
}

func (e *AccessError) Unwrap() error { return e.Err }

// Is reports that an AccessError is an ErrPermission.
func (e *AccessError) Is(target error) bool { return target == ErrPermission }

// permissionKind is a sentinel that also matches ErrPermission.
type permissionKind struct{ msg string }

func (e *permissionKind) Error() string { return e.msg }

// Is reports that the sentinel is an ErrPermission.
func (e *permissionKind) Is(target error) bool { return target == ErrPermission }

// CredentialsError is a request the server refused for its credentials:
// Code is the server's error code (InvalidAccessKeyId,
// SignatureDoesNotMatch, ...). It matches ErrCredentials and ErrPermission.
type CredentialsError struct {
	Code string
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("the server refused the credentials (%s): check the access key id and the secret key", e.Code)
}

// Is reports that a CredentialsError is an ErrCredentials and an
// ErrPermission.
func (e *CredentialsError) Is(target error) bool {
	return target == ErrCredentials || target == ErrPermission
}

// DeleteManyError names the keys DeleteMany failed to delete.
type DeleteManyError struct {
	Failed map[string]error
}

func (e *DeleteManyError) Error() string {
	keys := make([]string, 0, len(e.Failed))
	for k := range e.Failed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "delete many: %d keys failed", len(keys))
	for i, k := range keys {
		if i == 3 {
			b.WriteString(", ...")
			break
		}
		fmt.Fprintf(&b, "; %q: %v", k, e.Failed[k])
	}
	return b.String()
}

// Unwrap returns the individual failures so errors.Is sees through them.
func (e *DeleteManyError) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, err := range e.Failed {
		out = append(out, err)
	}
	return out
}

// IsRetryable reports whether err is a transient failure worth retrying:
// throttling, unavailability or a 409 conflict. A cancelled context, a failed
// precondition, a missing object and an unknown outcome are not retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrPreconditionFailed) ||
		errors.Is(err, ErrNotExist) || errors.Is(err, ErrInvalidKey) ||
		errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrPermission) ||
		errors.Is(err, ErrNotSupported) || errors.Is(err, ErrClosed) ||
		errors.Is(err, ErrNoBucket) || errors.Is(err, ErrReadOnly) {
		return false
	}
	return errors.Is(err, ErrThrottled) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConflict)
}

// ErrorCode returns a short stable label for err (for metrics and logs):
// "not_exist", "precondition_failed", ..., "other" or "" for nil.
func ErrorCode(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNotExist):
		return "not_exist"
	case errors.Is(err, ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.Is(err, ErrPreconditionFailed):
		return "precondition_failed"
	case errors.Is(err, ErrNotModified):
		return "not_modified"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrThrottled):
		return "throttled"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrNoBucket):
		return "no_bucket"
	case errors.Is(err, ErrReadOnly):
		return "read_only"
	case errors.Is(err, ErrPermission):
		return "permission"
	case errors.Is(err, ErrInvalidKey):
		return "invalid_key"
	case errors.Is(err, ErrInvalidArgument):
		return "invalid_argument"
	case errors.Is(err, ErrNotSupported):
		return "not_supported"
	case errors.Is(err, ErrChecksum):
		return "checksum"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	}
	return "other"
}
