package attach

import (
	"context"
	"errors"
	"fmt"

	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
)

// errMiss: resolve without an upload found no live bytes to adopt.
var errMiss = errors.New("attach: no live bytes to adopt")

// maxResolve bounds the rounds of resolve; each lost round means another
// writer published a pointer or a sweep reclaimed data.
const maxResolve = 8

// resolve writes the row (in.SessionID, in.AttachmentID) naming live data
// and returns it. The data is, in order of preference: what the row already
// names, what the digest's blob pointer names (only if proven), or own (the
// caller's fresh upload; nil if it has none, and then resolve fails with
// errMiss when nothing else is live). Every choice is confirmed by Protect
// after the row is durable; data found reclaimed is passed over.
//
// proven says the caller streamed the bytes through the hash (an upload, or
// PutKnown's proof of possession). Without it only data this session's own
// row names is adopted: a digest alone never reaches another session's
// bytes. The blob pointer is not even read then.
//
// When the row ends up naming other data, own is deleted at once: no row
// named it (a row adopts only what it already named or what the pointer
// names) and the pointer never did. When the row names own, own is published
// as the pointer if none names live data; a writer that loses that race
// adopts the winner's data in the next round, unless a commit relied on
// the row naming own meanwhile (reliedOn): then the row keeps own.
//
// The row returned is settled (manifest.Store.SettleRow) when it names own
// or the data of the pointer read in the last round: no other put
// re-points such a row (a put re-points only a row naming its own upload),
// so a commit may name it without a compare-and-swap. A row naming another
// put's upload that the pointer does not name is not settled: that put may
// still re-point it.
func (a *Store) resolve(ctx context.Context, in manifest.Intent, info manifest.Info, own *uploaded, proven bool) (manifest.Row, error) {
	var (
		dead   = map[string]bool{}
		ownKey string
		unsure bool // a pointer write of ours has an unknown outcome
	)
	if own != nil {
		ownKey = own.data.Key
	}
	for round := 0; round < maxResolve; round++ {
		var (
			blob    manifest.Blob
			hasBlob bool
		)
		if proven {
			var err error
			if blob, hasBlob, err = a.m.LoadBlob(ctx, in.AttachmentID); err != nil {
				return manifest.Row{}, err
			}
		}
		var cand *manifest.Data
		switch {
		case hasBlob && !dead[blob.Data.Key]:
			cand = &blob.Data
		case own != nil:
			cand = &own.data
		}
		row, err := a.m.RecordRef(ctx, in, info, func(cur *manifest.Row) (manifest.Data, error) {
			if cur != nil && !cur.Data.IsZero() && !dead[cur.Data.Key] && (cur.Data.Key != ownKey || reliedOn(cur)) {
				return cur.Data, nil
			}
			if cand == nil {
				return manifest.Data{}, errMiss
			}
			return *cand, nil
		})
		if err != nil {
			return manifest.Row{}, err
		}
		key := row.Data.Key
		if err := a.m.ProtectRow(ctx, row); err != nil {
			if !errors.Is(err, manifest.ErrReclaimed) {
				return manifest.Row{}, err
			}
			if key == ownKey {
				return manifest.Row{}, fmt.Errorf("new upload %s reclaimed before it was protected (is the sweeper's grace period shorter than uploads take?): %w", key, err)
			}
			dead[key] = true
			continue
		}
		if key != ownKey {
			if own != nil && !unsure && !own.keep {
				a.deleteData(ctx, ownKey)
			}
			if hasBlob && key == blob.Data.Key {
				a.m.SettleRow(row)
			}
			return row, nil
		}
		if hasBlob && (blob.Data.Key == ownKey || !dead[blob.Data.Key]) {
			a.m.SettleRow(row)
			return row, nil // published, or the row is reliedOn: the pointer stays
		}
		var prev *manifest.Blob
		if hasBlob {
			prev = &blob // its data is reclaimed
		}
		done, unknown := a.publish(ctx, in.AttachmentID, own, prev)
		unsure = unsure || unknown
		if done {
			a.m.SettleRow(row)
			return row, nil
		}
	}
	return manifest.Row{}, fmt.Errorf("resolve %s: %w", in.AttachmentID, manifest.ErrContended)
}

// publish publishes own as id's blob pointer over prev (nil: none) and
// reports whether the put is done with its row: not if another writer
// published first (the next round adopts its data), nor if the outcome is
// unknown (unknown; the next round reads the pointer).
func (a *Store) publish(ctx context.Context, id string, own *uploaded, prev *manifest.Blob) (done, unknown bool) {
	err := a.m.PublishBlob(ctx, id, own.data, prev)
	switch {
	case err == nil:
		return true, false
	case errors.Is(err, objstore.ErrPreconditionFailed):
		return false, false
	case errors.Is(err, objstore.ErrOutcomeUnknown):
		return false, true
	}
	// The ref is sound; only deduplication of later puts suffers.
	a.log.WarnContext(ctx, "attach: blob pointer not published", "attachment_id", id, "err", err)
	return true, false
}

// reliedOn reports whether a commit prepared or stamped row: its data was
// protected for that commit, which may be acknowledged, so the row is never
// re-pointed to data this put has not protected yet (it could be reclaimed
// in between, leaving the commit's attachment without bytes). The prepare
// is a compare-and-swap on the row, so a put that read the row before it
// fails its write and reads the row again.
func reliedOn(row *manifest.Row) bool { return row.Committed() || !row.PreparedAt.IsZero() }
