package objstore

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Helpers for backends that evaluate the contract themselves instead of
// leaving it to a server (memstore, fsstore): each rule of Store's doc
// comments that such a backend must apply is written here once.

// ValidateUpload checks the arguments of Store.Upload before any side
// effect: the key and options as ValidatePut does, and a non-nil body
// (ErrInvalidArgument). It returns opts, or the zero options for nil.
func ValidateUpload(key string, body io.Reader, opts *UploadOptions) (*UploadOptions, error) {
	if opts == nil {
		opts = &UploadOptions{}
	}
	if err := ValidatePut(key, &opts.PutOptions); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, fmt.Errorf("%w: nil body", ErrInvalidArgument)
	}
	return opts, nil
}

// CheckCondition evaluates a write or delete condition (If-None-Match: *
// when ifNoneMatch, If-Match when ifMatch is not empty) against the
// current object under the key: exists says whether there is one, etag is
// its ETag. A condition that does not hold is an error matching
// ErrPreconditionFailed; If-Match on a missing object does not hold.
func CheckCondition(exists bool, etag string, ifNoneMatch bool, ifMatch string) error {
	switch {
	case ifNoneMatch && exists:
		return fmt.Errorf("%w: object exists", ErrPreconditionFailed)
	case ifMatch != "" && !exists:
		return fmt.Errorf("%w: object does not exist (if-match %q)", ErrPreconditionFailed, ifMatch)
	case ifMatch != "" && etag != ifMatch:
		return fmt.Errorf("%w: etag is %q, not %q", ErrPreconditionFailed, etag, ifMatch)
	}
	return nil
}

// ResolveRange turns r into an offset and length within an object of size
// bytes. A nil r is the whole object. An offset that is negative or at or
// past the end (even of an empty object) is ErrInvalidArgument, as S3
// answers 416; a length past the end, or a negative one, runs to the end.
func ResolveRange(r *Range, size int64) (off, n int64, err error) {
	if r == nil {
		return 0, size, nil
	}
	if r.Offset < 0 || r.Offset >= size {
		return 0, 0, fmt.Errorf("%w: range offset %d outside object of %d bytes", ErrInvalidArgument, r.Offset, size)
	}
	n = size - r.Offset
	if r.Length >= 0 && r.Length < n {
		n = r.Length
	}
	return r.Offset, n, nil
}

// RollUp returns the common prefix that key, listed under prefix with the
// delimiter delim, rolls up to: prefix plus everything after it up to and
// including the first delim. ok is false if key is listed as itself (delim
// is empty or does not occur after prefix). key must start with prefix.
func RollUp(key, prefix, delim string) (cp string, ok bool) {
	if delim == "" {
		return "", false
	}
	i := strings.Index(key[len(prefix):], delim)
	if i < 0 {
		return "", false
	}
	return key[:len(prefix)+i+len(delim)], true
}

// SortUploads sorts uploads by key, then initiation time, then upload id:
// the order in which a backend that lists uploads itself yields them.
func SortUploads(us []UploadInfo) {
	sort.Slice(us, func(i, j int) bool {
		a, b := us[i], us[j]
		switch {
		case a.Key != b.Key:
			return a.Key < b.Key
		case !a.Initiated.Equal(b.Initiated):
			return a.Initiated.Before(b.Initiated)
		}
		return a.UploadID < b.UploadID
	})
}

// DeleteEach implements Store.DeleteMany for a backend that deletes one key
// at a time: each key is checked with ValidateKey and, if valid, deleted
// with del, which must treat a missing key as deleted. The keys that fail
// are reported in a *DeleteManyError, each error an *OpError of backend
// and OpDeleteMany naming its key; the other keys are deleted.
func DeleteEach(backend string, keys []string, del func(key string) error) error {
	failed := map[string]error{}
	for _, key := range keys {
		err := ValidateKey(key)
		if err == nil {
			err = del(key)
		}
		if err != nil {
			failed[key] = &OpError{Backend: backend, Op: OpDeleteMany, Key: key, Err: err}
		}
	}
	if len(failed) > 0 {
		return &DeleteManyError{Failed: failed}
	}
	return nil
}
