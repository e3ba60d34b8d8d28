package s3compat

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/stowage-dev/stowage/objstore"
)

// Page is one ListObjectsV2 response in SDK-neutral form.
type Page struct {
	Objects   []objstore.ObjectInfo // Contents, in key order
	Prefixes  []string              // CommonPrefixes, in key order
	Truncated bool                  // IsTruncated
	Next      string                // NextContinuationToken
}

// PageFunc fetches one page of ListObjectsV2 for prefix, delimiter and
// startAfter; token is "" for the first page and the previous page's Next
// after that. Errors must already be mapped by the backend.
type PageFunc func(ctx context.Context, token string) (Page, error)

// List turns ListObjectsV2 pages into Store.List's sequence: objects and
// common prefixes (IsPrefix) merged in key order, only keys strictly after
// startAfter, each at most once. S3 applies start-after before rolling keys
// up, so a common prefix that sorts before startAfter can come back; it is
// dropped here, as are entries a server repeats across pages.
func List(ctx context.Context, startAfter string, fetch PageFunc) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		last := startAfter
		for token, first := "", true; first || token != ""; first = false {
			page, err := fetch(ctx, token)
			if err != nil {
				yield(objstore.ObjectInfo{}, err)
				return
			}
			for _, info := range merge(page) {
				if info.Key <= last {
					continue
				}
				last = info.Key
				if !yield(info, nil) {
					return
				}
			}
			if !page.Truncated {
				return
			}
			if page.Next == "" || page.Next == token {
				yield(objstore.ObjectInfo{}, fmt.Errorf("s3compat: list: truncated page without a new continuation token (token %q)", page.Next))
				return
			}
			token = page.Next
		}
	}
}

// merge returns a page's objects and common prefixes in key order.
func merge(p Page) []objstore.ObjectInfo {
	if len(p.Prefixes) == 0 {
		return p.Objects
	}
	out := make([]objstore.ObjectInfo, 0, len(p.Objects)+len(p.Prefixes))
	out = append(out, p.Objects...)
	for _, pre := range p.Prefixes {
		out = append(out, objstore.ObjectInfo{Key: pre, IsPrefix: true})
	}
	slices.SortStableFunc(out, func(a, b objstore.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// UploadPage is one ListMultipartUploads response in SDK-neutral form.
type UploadPage struct {
	Uploads      []objstore.UploadInfo
	Truncated    bool
	NextKey      string // NextKeyMarker
	NextUploadID string // NextUploadIdMarker
}

// UploadPageFunc fetches one page of ListMultipartUploads for prefix, after
// the given key and upload id markers ("" for the first page).
type UploadPageFunc func(ctx context.Context, prefix, keyMarker, uploadIDMarker string) (UploadPage, error)

// ListUploads turns ListMultipartUploads pages into Store.ListUploads'
// sequence. With q.ListUploadsExactPrefix the server is asked for every
// upload and the prefix is applied here; the filter is applied in any case,
// so a server that over-matches is harmless. With
// q.ListUploadsMissingIsEmpty a first page that answers NoSuchUpload is an
// empty listing.
func (q Quirks) ListUploads(ctx context.Context, prefix string, fetch UploadPageFunc) iter.Seq2[objstore.UploadInfo, error] {
	return func(yield func(objstore.UploadInfo, error) bool) {
		ask := prefix
		if q.ListUploadsExactPrefix {
			ask = ""
		}
		var keyMarker, idMarker string
		for {
			page, err := fetch(ctx, ask, keyMarker, idMarker)
			if err != nil {
				first := keyMarker == "" && idMarker == ""
				if !(first && q.ListUploadsMissingIsEmpty && errors.Is(err, objstore.ErrNotExist)) {
					yield(objstore.UploadInfo{}, err)
				}
				return
			}
			for _, u := range page.Uploads {
				if strings.HasPrefix(u.Key, prefix) && !yield(u, nil) {
					return
				}
			}
			if !page.Truncated {
				return
			}
			if page.NextKey == keyMarker && page.NextUploadID == idMarker {
				yield(objstore.UploadInfo{}, fmt.Errorf("s3compat: list uploads: truncated page without new markers (key %q, upload %q)", keyMarker, idMarker))
				return
			}
			keyMarker, idMarker = page.NextKey, page.NextUploadID
		}
	}
}

// BatchFunc deletes one batch of at most objstore.MaxDeleteBatch distinct
// keys (DeleteObjects, quiet mode). It returns the per-key failures the
// server reported, already mapped, or an error for the whole batch.
type BatchFunc func(ctx context.Context, keys []string) (failed map[string]error, err error)

// DeleteMany implements Store.DeleteMany on top of a batch delete: it
// validates every key before deleting any, drops duplicates, sends batches
// of objstore.MaxDeleteBatch, and reports failures as a
// *objstore.DeleteManyError naming each key. A failed batch does not stop
// the others; keys whose batch was never sent (ctx done) fail with ctx's
// error. A per-key ErrNotExist is success: deleting a missing key succeeds.
func DeleteMany(ctx context.Context, keys []string, batch BatchFunc) error {
	return Quirks{}.DeleteMany(ctx, keys, batch)
}

// DeleteMany is DeleteMany in batches of q.DeleteBatch keys (if set, and
// below objstore.MaxDeleteBatch).
func (q Quirks) DeleteMany(ctx context.Context, keys []string, batch BatchFunc) error {
	size := objstore.MaxDeleteBatch
	if q.DeleteBatch > 0 && q.DeleteBatch < size {
		size = q.DeleteBatch
	}
	for _, k := range keys {
		if err := objstore.ValidateKey(k); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	uniq := slices.Clone(keys)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	failed := map[string]error{}
	for len(uniq) > 0 {
		n := min(len(uniq), size)
		b := uniq[:n]
		uniq = uniq[n:]
		if err := ctx.Err(); err != nil {
			for _, k := range b {
				failed[k] = err
			}
			continue
		}
		perKey, err := batch(ctx, b)
		if err != nil {
			for _, k := range b {
				failed[k] = err
			}
			continue
		}
		for k, kerr := range perKey {
			if !errors.Is(kerr, objstore.ErrNotExist) {
				failed[k] = kerr
			}
		}
	}
	if len(failed) > 0 {
		return &objstore.DeleteManyError{Failed: failed}
	}
	return nil
}

// Fail returns a sequence that yields only err: what List and ListUploads
// return for arguments they refuse before any request.
func Fail[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}
