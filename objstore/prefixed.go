package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
)

// WithPrefix returns a Store that keeps every object of s under prefix: the
// key k of the returned store is the key prefix+k of s. Keys passed in are
// validated on their own (an empty key stays invalid even though prefix+""
// would not be); keys coming back (ObjectInfo.Key, listed keys, upload keys,
// the keys of a *DeleteManyError) have the prefix stripped. Errors of s are
// returned as they are, so their messages name the full key.
//
// The prefix is prepended verbatim: end it with "/" to get a folder. An
// empty prefix returns s itself. Closing the returned store closes s.
func WithPrefix(s Store, prefix string) Store {
	if prefix == "" {
		return s
	}
	return &prefixedStore{base: s, prefix: prefix}
}

type prefixedStore struct {
	base   Store
	prefix string
}

var _ Store = (*prefixedStore)(nil)

// Unwrap returns the store the prefix is applied to.
func (p *prefixedStore) Unwrap() Store { return p.base }

func (p *prefixedStore) strip(info ObjectInfo) ObjectInfo {
	info.Key = strings.TrimPrefix(info.Key, p.prefix)
	return info
}

func (p *prefixedStore) Put(ctx context.Context, key string, data []byte, opts *PutOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	info, err := p.base.Put(ctx, p.prefix+key, data, opts)
	return p.strip(info), err
}

func (p *prefixedStore) Get(ctx context.Context, key string, opts *GetOptions) (io.ReadCloser, ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return nil, ObjectInfo{}, err
	}
	rc, info, err := p.base.Get(ctx, p.prefix+key, opts)
	return rc, p.strip(info), err
}

func (p *prefixedStore) Head(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	info, err := p.base.Head(ctx, p.prefix+key)
	return p.strip(info), err
}

func (p *prefixedStore) Delete(ctx context.Context, key string, opts *DeleteOptions) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	return p.base.Delete(ctx, p.prefix+key, opts)
}

// DeleteMany reports invalid keys in the *DeleteManyError, as a backend
// would, and deletes the valid ones.
func (p *prefixedStore) DeleteMany(ctx context.Context, keys []string) error {
	failed := make(map[string]error)
	full := make([]string, 0, len(keys))
	for _, k := range keys {
		if err := ValidateKey(k); err != nil {
			failed[k] = err
			continue
		}
		full = append(full, p.prefix+k)
	}
	var err error
	if len(full) > 0 {
		err = p.base.DeleteMany(ctx, full)
	}
	var dme *DeleteManyError
	switch {
	case errors.As(err, &dme):
		for k, e := range dme.Failed {
			failed[strings.TrimPrefix(k, p.prefix)] = e
		}
	case err != nil:
		return err
	}
	if len(failed) == 0 {
		return nil
	}
	return &DeleteManyError{Failed: failed}
}

func (p *prefixedStore) List(ctx context.Context, prefix string, opts *ListOptions) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := ValidatePrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		var o ListOptions
		if opts != nil {
			o = *opts
		}
		if o.StartAfter != "" {
			o.StartAfter = p.prefix + o.StartAfter
		}
		for info, err := range p.base.List(ctx, p.prefix+prefix, &o) {
			if err == nil {
				var ok bool
				if info.Key, ok = strings.CutPrefix(info.Key, p.prefix); !ok {
					err = fmt.Errorf("objstore: prefixed list: key %q lies outside prefix %q", info.Key, p.prefix)
				}
			}
			if !yield(info, err) || err != nil {
				return
			}
		}
	}
}

func (p *prefixedStore) Upload(ctx context.Context, key string, body io.Reader, opts *UploadOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	info, err := p.base.Upload(ctx, p.prefix+key, body, opts)
	return p.strip(info), err
}

func (p *prefixedStore) ListUploads(ctx context.Context, prefix string) iter.Seq2[UploadInfo, error] {
	return func(yield func(UploadInfo, error) bool) {
		if err := ValidatePrefix(prefix); err != nil {
			yield(UploadInfo{}, err)
			return
		}
		for u, err := range p.base.ListUploads(ctx, p.prefix+prefix) {
			if err == nil {
				var ok bool
				if u.Key, ok = strings.CutPrefix(u.Key, p.prefix); !ok {
					err = fmt.Errorf("objstore: prefixed list uploads: key %q lies outside prefix %q", u.Key, p.prefix)
				}
			}
			if !yield(u, err) || err != nil {
				return
			}
		}
	}
}

func (p *prefixedStore) AbortUpload(ctx context.Context, key, uploadID string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	return p.base.AbortUpload(ctx, p.prefix+key, uploadID)
}

func (p *prefixedStore) UploadSize(ctx context.Context, key, uploadID string) (int64, error) {
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	return p.base.UploadSize(ctx, p.prefix+key, uploadID)
}

func (p *prefixedStore) Capabilities() Capabilities { return p.base.Capabilities() }

func (p *prefixedStore) Close() error { return p.base.Close() }
