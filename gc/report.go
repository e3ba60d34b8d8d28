package gc

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Kind names a kind of object the sweeper reclaims.
type Kind string

// Kinds of reclaimed objects.
const (
	// KindAttachmentData is attachment bytes no ref names (attach/data/).
	KindAttachmentData Kind = "attachment_data"
	// KindUploadIntent is an aged upload intent (attach/uploads/).
	KindUploadIntent Kind = "upload_intent"
	// KindRefRow is a dead manifest row (attach/refs/) forgotten by the
	// manifest's owner-death rules.
	KindRefRow Kind = "ref_row"
	// KindMultipart is an incomplete multipart upload older than grace.
	KindMultipart Kind = "multipart_upload"
	// KindSessionObject is a session segment, index or checkpoint blob no
	// head names (including everything a deleted session left behind).
	KindSessionObject Kind = "session_object"
)

// Reasons an eligible-looking object was skipped.
const (
	SkipYoung      = "young"       // within the grace period
	SkipReferenced = "referenced"  // a ref, live intent or head names it
	SkipRevoked    = "revoked"     // a writer revoked it, or a ref appeared, after it was condemned
	SkipUnknown    = "unknown_key" // outside stowage's key layout: reported, never deleted
)

// maxSample bounds the key samples a Report carries.
const maxSample = 100

// Report is the outcome of one sweep. A dry run fills it the same way, with
// Reclaimed counting what would have been reclaimed.
type Report struct {
	Shard    string    `json:"shard"`
	DryRun   bool      `json:"dry_run"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Scanned counts the objects and uploads listed.
	Scanned int64 `json:"scanned"`
	// Roots counts refs, live upload intents and session heads seen.
	Roots int64 `json:"roots"`
	// Reclaimed counts deletions (and aborted uploads) by kind.
	Reclaimed map[Kind]int64 `json:"reclaimed"`
	// BytesReclaimed sums the listed sizes of deleted objects and the
	// stored bytes of aborted multipart uploads (objstore's UploadSize,
	// read just before the abort). In a dry run: what would be reclaimed.
	BytesReclaimed int64 `json:"bytes_reclaimed"`
	// Skipped counts objects that were not reclaimed, by reason.
	Skipped map[string]int64 `json:"skipped"`
	// Deferred counts reclaimable objects left for a later sweep (the
	// deletion budget ran out, a shard was held by a live sweeper, or a head
	// kept changing).
	Deferred int64 `json:"deferred"`
	// Failed counts deletions that failed; FailedKeys samples them.
	Failed     int64    `json:"failed"`
	FailedKeys []string `json:"failed_keys,omitempty"`
	// FailureCauses samples the distinct errors behind Failed (Run's
	// ErrIncomplete error wraps them, for errors.Is and errors.As).
	FailureCauses []string `json:"failure_causes,omitempty"`
	// DeletedWhileReferenced counts data keys deleted in this sweep that a
	// ref named afterwards: a writer that lost the fence race (its Protect
	// returns ErrReclaimed and it uploads again). Logged at warning level.
	DeletedWhileReferenced     int64    `json:"deleted_while_referenced"`
	DeletedWhileReferencedKeys []string `json:"deleted_while_referenced_keys,omitempty"`
	// Unknown samples keys outside stowage's layout (counted in Skipped):
	// never deleted.
	Unknown []string `json:"unknown_keys,omitempty"`
	// Unreadable counts objects of stowage's layout that exist but cannot
	// be read (an upload intent or row that does not decode, a corrupt
	// session head); UnreadableKeys samples them. Each is left alone and
	// the rest of the sweep goes on; while a row cannot be read no
	// attachment data is deleted (it could be what the row names).
	Unreadable     int64    `json:"unreadable"`
	UnreadableKeys []string `json:"unreadable_keys,omitempty"`
	// NeedsAttention says a person should look at the bucket: something
	// was unreadable or outside stowage's layout. The sweep itself may
	// have succeeded; the sweeper command exits with its own code for it.
	NeedsAttention bool `json:"needs_attention"`
}

// Total returns the number of reclaimed objects of every kind.
func (r *Report) Total() int64 {
	var n int64
	for _, v := range r.Reclaimed {
		n += v
	}
	return n
}

// tally is a Report under construction, safe for concurrent use.
type tally struct {
	mu     sync.Mutex
	r      Report
	causes []error // distinct errors behind failures (FailureCauses)
}

func newTally(shard Shard, dryRun bool, now time.Time) *tally {
	return &tally{r: Report{
		Shard: shard.String(), DryRun: dryRun, Started: now,
		Reclaimed: map[Kind]int64{}, Skipped: map[string]int64{},
	}}
}

func (t *tally) scanned(n int64) {
	t.mu.Lock()
	t.r.Scanned += n
	t.mu.Unlock()
}

func (t *tally) roots(n int64) {
	t.mu.Lock()
	t.r.Roots += n
	t.mu.Unlock()
}

func (t *tally) skip(reason string, n int64) {
	t.mu.Lock()
	t.r.Skipped[reason] += n
	t.mu.Unlock()
}

func (t *tally) unknown(key string) {
	t.mu.Lock()
	t.r.Skipped[SkipUnknown]++
	if len(t.r.Unknown) < maxSample {
		t.r.Unknown = append(t.r.Unknown, key)
	}
	t.mu.Unlock()
}

func (t *tally) unreadable(key string) {
	t.mu.Lock()
	t.r.Unreadable++
	if len(t.r.UnreadableKeys) < maxSample {
		t.r.UnreadableKeys = append(t.r.UnreadableKeys, key)
	}
	t.mu.Unlock()
}

func (t *tally) reclaimed(k Kind, n, bytes int64) {
	t.mu.Lock()
	t.r.Reclaimed[k] += n
	t.r.BytesReclaimed += bytes
	t.mu.Unlock()
}

func (t *tally) deferred(n int64) {
	t.mu.Lock()
	t.r.Deferred += n
	t.mu.Unlock()
}

// failed counts keys whose deletion (or judgement) failed with cause.
func (t *tally) failed(cause error, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.r.Failed += int64(len(keys))
	for _, k := range keys {
		if len(t.r.FailedKeys) < maxSample {
			t.r.FailedKeys = append(t.r.FailedKeys, k)
		}
	}
	t.causeLocked(cause)
}

func (t *tally) causeLocked(err error) {
	if err == nil || len(t.causes) >= maxCauses || slices.Contains(t.r.FailureCauses, err.Error()) {
		return
	}
	t.causes = append(t.causes, err)
	t.r.FailureCauses = append(t.r.FailureCauses, err.Error())
}

// maxCauses bounds the distinct failure causes a sweep keeps.
const maxCauses = 8

// failure returns the error of a sweep that failed deletions: ErrIncomplete
// wrapping the causes seen.
func (t *tally) failure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.r.Failed == 0 {
		return nil
	}
	if len(t.causes) == 0 {
		return fmt.Errorf("%w: %d deletions failed", ErrIncomplete, t.r.Failed)
	}
	return fmt.Errorf("%w: %d deletions failed: %w", ErrIncomplete, t.r.Failed, errors.Join(t.causes...))
}

func (t *tally) deletedWhileReferenced(key string) {
	t.mu.Lock()
	t.r.DeletedWhileReferenced++
	if len(t.r.DeletedWhileReferencedKeys) < maxSample {
		t.r.DeletedWhileReferencedKeys = append(t.r.DeletedWhileReferencedKeys, key)
	}
	t.mu.Unlock()
}

// snapshot returns a copy of the report so far.
func (t *tally) snapshot() Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.r
	r.Reclaimed = maps.Clone(t.r.Reclaimed)
	r.Skipped = maps.Clone(t.r.Skipped)
	r.FailedKeys = slices.Clone(t.r.FailedKeys)
	r.DeletedWhileReferencedKeys = slices.Clone(t.r.DeletedWhileReferencedKeys)
	r.Unknown = slices.Clone(t.r.Unknown)
	r.UnreadableKeys = slices.Clone(t.r.UnreadableKeys)
	return r
}
