package gc

import (
	"context"
	"errors"
	"strings"

	"github.com/stowage-dev/stowage/fence"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/marker"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// gcPrefix holds the sweeper's own objects (fences and leases).
const gcPrefix = "gc/"

// knownPrefixes are the top-level and attach/ sub-prefixes of stowage's
// layout; anything else is reported as unknown.
var knownPrefixes = map[string][]string{
	"": {manifest.Prefix, session.SessionsPrefix, gcPrefix},
	manifest.Prefix: {manifest.DataPrefix, manifest.UploadPrefix, manifest.RefPrefix, manifest.BlobPrefix,
		manifest.SessionPrefix, manifest.TurnPrefix},
	gcPrefix: {fence.Prefix, leasePrefix},
}

// reportUnknownTopLevel reports the keys and prefixes outside stowage's
// layout at the top level and under attach/ and gc/ (one delimited LIST
// each). Keys inside known prefixes that do not parse are reported where
// they are listed. Only the shard owning fence shard 0 does this.
func (r *run) reportUnknownTopLevel(ctx context.Context) error {
	if !r.shard.ownsFence(0) {
		return nil
	}
	for _, parent := range []string{"", manifest.Prefix, gcPrefix} {
		known := knownPrefixes[parent]
		for info, err := range r.store.List(ctx, parent, &objstore.ListOptions{Delimiter: "/"}) {
			if err != nil {
				return err
			}
			if info.IsPrefix && containsString(known, info.Key) || parent == "" && marker.IsMarker(info.Key) {
				continue // the store marker is stowage's and never deleted
			}
			if !info.IsPrefix {
				r.scanned(1)
			}
			r.tally.unknown(info.Key)
			r.log.InfoContext(ctx, "gc: key outside stowage's layout left alone", "key", info.Key)
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// uploadOwner returns the shard key of a multipart upload's object key:
// the data key itself, or the session id for session objects. ok is false
// for keys outside the layout, whose uploads are reported and never aborted.
func uploadOwner(key string) (string, bool) {
	if _, ok := manifest.ParseDataKey(key); ok {
		return key, true
	}
	if sid, _, ok := session.ParseKey(key); ok {
		return sid, true
	}
	return "", false
}

// sweepMultipart aborts the incomplete multipart uploads of the shard that
// were initiated before the cutoff. Uploads are listed from the bucket root
// (MinIO finds uploads only by exact key or an empty prefix). An aborted
// upload's writer fails its upload and writes again under a new key: nothing
// it relied on is lost.
func (r *run) sweepMultipart(ctx context.Context) error {
	for u, err := range r.store.ListUploads(ctx, "") {
		if err != nil {
			if errors.Is(err, objstore.ErrNotSupported) {
				return nil
			}
			return err
		}
		owner, ok := uploadOwner(u.Key)
		if !ok {
			if r.shard.ownsFence(0) {
				r.scanned(1)
				r.tally.unknown(u.Key + "?uploadId=" + u.UploadID)
			}
			continue
		}
		if !r.shard.ownsKey(owner) {
			continue
		}
		r.scanned(1)
		if !r.aged(u.Initiated) {
			r.tally.skip(SkipYoung, 1)
			continue
		}
		if named, err := r.intentNames(ctx, u.Key); err != nil || named {
			if err != nil {
				r.tally.failed(err, u.Key)
				r.log.WarnContext(ctx, "gc: upload intent unreadable", "key", u.Key, "err", err)
				continue
			}
			r.tally.skip(SkipYoung, 1) // its intent lives: a grant's client may still be sending parts
			continue
		}
		size, ok := r.uploadSize(ctx, u)
		if !ok {
			continue
		}
		if r.DryRun {
			r.tally.reclaimed(KindMultipart, 1, size)
			continue
		}
		if r.take(1) == 0 {
			r.tally.deferred(1)
			continue
		}
		if err := r.checkLease(ctx); err != nil {
			return err
		}
		if err := r.store.AbortUpload(ctx, u.Key, u.UploadID); err != nil {
			r.tally.failed(err, u.Key)
			r.log.WarnContext(ctx, "gc: abort upload failed", "key", u.Key, "upload_id", u.UploadID, "err", err)
			continue
		}
		r.tally.reclaimed(KindMultipart, 1, size)
	}
	return nil
}

// uploadSize returns the bytes an abort of u reclaims (its parts, as the
// store lists them just before the abort). ok is false when there is
// nothing to abort: the upload completed or was aborted since it was
// listed, or its size could not be read (counted as a failure: the abort
// waits for a sweep that can report it).
func (r *run) uploadSize(ctx context.Context, u objstore.UploadInfo) (size int64, ok bool) {
	size, err := r.store.UploadSize(ctx, u.Key, u.UploadID)
	switch {
	case errors.Is(err, objstore.ErrNotExist):
		return 0, false
	case err != nil:
		r.tally.failed(err, u.Key)
		r.log.WarnContext(ctx, "gc: upload size unreadable", "key", u.Key, "upload_id", u.UploadID, "err", err)
		return 0, false
	}
	return size, true
}

// intentNames reports whether an upload intent still names the data key
// of a multipart upload: such an upload is its writer's (a direct upload's
// client may send parts until the grant expires), and becomes the
// sweeper's once the intent is forgotten (docs/protocol.md, "What the
// sweeper treats as roots").
func (r *run) intentNames(ctx context.Context, key string) (bool, error) {
	id, ok := manifest.ParseDataKey(key)
	if !ok || r.forgotten[manifest.UploadKey(id)] {
		return false, nil // a dry run's forgotten intent: the sweep's is gone
	}
	_, err := r.store.Head(ctx, manifest.UploadKey(id))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, objstore.ErrNotExist):
		return false, nil
	}
	return false, err
}

// probeRoots refuses the sweep, before anything is deleted, when there are
// blobs but no root at all: no live row, no upload intent and no session
// head. A handful of LISTs, each stopped at its first hit.
func (r *run) probeRoots(ctx context.Context) error {
	if r.AllowEmptyRoots {
		return nil
	}
	blobs, err := r.anyKey(ctx, manifest.DataPrefix, nil)
	if err != nil {
		return err
	}
	if !blobs {
		if blobs, err = r.anyKey(ctx, session.SessionsPrefix, func(o objstore.ObjectInfo) bool {
			_, kind, ok := session.ParseKey(o.Key)
			return ok && kind != session.KeyHead
		}); err != nil {
			return err
		}
	}
	if !blobs {
		return nil
	}
	for _, p := range []struct {
		prefix string
		match  func(objstore.ObjectInfo) bool
	}{
		{manifest.UploadPrefix, nil},
		{manifest.RefPrefix, func(o objstore.ObjectInfo) bool { return o.Size > 0 }}, // 0 bytes: a tombstone
		{session.SessionsPrefix, func(o objstore.ObjectInfo) bool { return strings.HasSuffix(o.Key, "/head") }},
	} {
		found, err := r.anyKey(ctx, p.prefix, p.match)
		if err != nil || found {
			return err
		}
	}
	return ErrEmptyRoots
}

// anyKey reports whether some object under prefix satisfies match (nil:
// any object).
func (r *run) anyKey(ctx context.Context, prefix string, match func(objstore.ObjectInfo) bool) (bool, error) {
	for info, err := range r.store.List(ctx, prefix, nil) {
		if err != nil {
			return false, err
		}
		if match == nil || match(info) {
			return true, nil
		}
	}
	return false, nil
}
