package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/stowage-dev/stowage/objstore/openurl"
)

// Raw is the baseline of every figure: the same operation done directly with
// the SDK (S3) or with plain os file operations (file stores), on the same
// server or disk, in the same run. Keys are relative to the baseline's own
// prefix, which the bench deletes at the end.
type Raw interface {
	// Name describes the baseline ("aws-sdk-go-v2", "os").
	Name() string
	// Put writes data under key unconditionally (setup only, not timed).
	Put(ctx context.Context, key string, data []byte) (etag string, err error)
	// PutIfMatch writes data under key if its current ETag is etag
	// (create-only if etag is empty) and returns the new ETag.
	PutIfMatch(ctx context.Context, key string, data []byte, etag string) (string, error)
	// Get reads the whole object into w and returns its size.
	Get(ctx context.Context, key string, w io.Writer) (int64, error)
	// GetIfNoneMatch revalidates key against etag; notModified is true for
	// a 304 (or the os equivalent: an unchanged file).
	GetIfNoneMatch(ctx context.Context, key, etag string) (notModified bool, err error)
	// Upload streams r into key in parts of partSize, concurrency parts in
	// flight, and returns the bytes written.
	Upload(ctx context.Context, key string, r io.Reader, partSize int64, concurrency int) (int64, error)
	// Delete deletes keys in one request (S3: DeleteObjects); a key that
	// does not exist is not an error.
	Delete(ctx context.Context, keys []string) error
	// ListDelete lists every key under prefix and deletes them in batches,
	// returning how many it deleted.
	ListDelete(ctx context.Context, prefix string) (int, error)
	// Cleanup deletes everything the baseline wrote.
	Cleanup(ctx context.Context) error
	// Close releases resources.
	Close() error
}

// OpenRaw returns the baseline for the store rawURL names, keeping its keys
// under sub (relative to the URL's prefix or directory). getenv supplies the
// endpoint and region fallbacks (nil means none).
func OpenRaw(ctx context.Context, rawURL, sub string, getenv func(string) string) (Raw, error) {
	spec, err := openurl.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if spec, err = spec.WithEnv(getenv); err != nil {
		return nil, err
	}
	switch spec.Scheme {
	case openurl.SchemeFile:
		// A directory beside the file store's own (objects/, tmp/, ...).
		r, err := newFileRaw(filepath.Join(spec.Path, filepath.FromSlash(sub)))
		if err != nil {
			return nil, err
		}
		return r, nil
	case openurl.SchemeS3:
		r, err := newS3Raw(ctx, spec, spec.Prefix+sub)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	return nil, fmt.Errorf("bench: no raw baseline for %s stores", spec.Scheme)
}
