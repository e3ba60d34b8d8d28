package objstore

import (
	"context"
	"fmt"
	"io"
)

// ReadOnly returns a Store that reads through s and refuses every write
// (Put, Delete, DeleteMany, Upload, AbortUpload) with an *OpError matching
// ErrReadOnly (and ErrPermission), before anything reaches s. A store that
// is already read-only is returned as it is. Closing it closes s.
func ReadOnly(s Store) Store {
	if _, ok := s.(readOnly); ok {
		return s
	}
	return readOnly{s}
}

// IsReadOnly reports whether s was made by ReadOnly.
func IsReadOnly(s Store) bool {
	_, ok := s.(readOnly)
	return ok
}

type readOnly struct{ Store }

// Unwrap returns the store read through.
func (r readOnly) Unwrap() Store { return r.Store }

func errReadOnly(op, key string) error {
	return &OpError{Backend: "readonly", Op: op, Key: key, Err: fmt.Errorf("%w (%w)", ErrReadOnly, ErrPermission)}
}

func (readOnly) Put(_ context.Context, key string, _ []byte, _ *PutOptions) (ObjectInfo, error) {
	return ObjectInfo{}, errReadOnly(OpPut, key)
}

func (readOnly) Delete(_ context.Context, key string, _ *DeleteOptions) error {
	return errReadOnly(OpDelete, key)
}

func (readOnly) DeleteMany(context.Context, []string) error {
	return errReadOnly(OpDeleteMany, "")
}

func (readOnly) Upload(_ context.Context, key string, _ io.Reader, _ *UploadOptions) (ObjectInfo, error) {
	return ObjectInfo{}, errReadOnly(OpUpload, key)
}

func (readOnly) AbortUpload(_ context.Context, key, _ string) error {
	return errReadOnly(OpAbortUpload, key)
}
