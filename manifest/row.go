package manifest

import (
	"time"

	"github.com/stowage-dev/stowage/internal/codec"
)

// Envelopes (package internal/codec) of the manifest's objects: JSON
// payloads, each with its kind and schema version, checksummed.
var (
	rowSchema    = codec.Schema{Kind: "AREF", Current: 1, Min: 1}
	uploadSchema = codec.Schema{Kind: "AUPL", Current: 1, Min: 1}
	blobSchema   = codec.Schema{Kind: "ABLB", Current: 1, Min: 1}
)

// Encodings of data objects.
const (
	// EncodingRaw: the data object holds the attachment's bytes.
	EncodingRaw = ""
	// EncodingZstdSeekable: the data object is a sequence of independent zstd
	// frames of FrameSize original bytes each (the last may be shorter),
	// followed by a seek table in a skippable frame (the zstd seekable
	// format). Ranged reads fetch only the frames they need.
	EncodingZstdSeekable = "zstd-seekable"
)

// Data describes a data object holding an attachment's bytes.
type Data struct {
	// Key is the data key (attach/data/<ulid>).
	Key string `json:"key"`
	// Size is the attachment's size in bytes (before any encoding).
	Size int64 `json:"size"`
	// StoredSize is the data object's size.
	StoredSize int64 `json:"stored_size"`
	// Encoding is EncodingRaw or EncodingZstdSeekable.
	Encoding string `json:"encoding,omitempty"`
	// FrameSize is the original bytes per zstd frame (zstd-seekable only).
	FrameSize int64 `json:"frame_size,omitempty"`
}

// IsZero reports whether d names no data object.
func (d Data) IsZero() bool { return d.Key == "" }

// Info is what a session says about its attachment (lash's AttachmentRef
// fields besides id and size). It is per row: two sessions sharing bytes may
// label them differently.
type Info struct {
	MediaType string            `json:"media_type,omitempty"`
	Label     string            `json:"label,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// Row is a manifest row as stored: an Entry, the data it names (zero for an
// intent whose bytes are not written yet) and the session's Info.
type Row struct {
	Entry
	// PreparedAt is when a commit last named the uncommitted row
	// (PrepareCommit); ForgetAgedUncommitted keeps the row while this is
	// younger than its cutoff.
	PreparedAt time.Time `json:"prepared_at,omitzero"`
	Data       Data      `json:"data,omitzero"`
	Info       Info      `json:"info,omitzero"`
	// Inc binds the row to an incarnation of its session (the session
	// head's incarnation, see session.HeadInfo.Incarnation): set by the
	// PrepareCommit of a commit on a head of that incarnation, or by a
	// RecordRef that adopts directly (the live head its process had
	// cached), and kept by its stamp and by RecordIntent, it never
	// decreases; 0 (unbound) until then. ForgetSession removes a bound row only when its incarnation
	// ended, so a delete never touches a row a re-created session committed.
	Inc uint64 `json:"inc,omitempty"`
	// Fence marks a row put by a Store whose commits may name it without a
	// request (Options HeadCache, Fencer and Announcer: docs/protocol.md,
	// "Turns with attachments: adoption without a request"). Kept by every
	// later write; a removal of such a row must fence its session head
	// first, and a Store without Options.Fencer refuses to remove it
	// (ErrFenceRequired).
	Fence bool `json:"fence,omitempty"`
	// Rev is unique per write of the row, so that a write whose outcome was
	// unknown can be recognised, and no two writes share an ETag.
	Rev string `json:"rev"`
}

func encodeRow(r *Row) ([]byte, error) { return codec.Encode(rowSchema, r) }

func decodeRow(data []byte) (Row, error) {
	var r Row
	if _, err := codec.Decode(rowSchema, data, &r); err != nil {
		return Row{}, errorf("decode row: %w", err)
	}
	return r, nil
}

// Upload states.
const (
	UploadActive  = "uploading"
	UploadAborted = "aborted"
	// UploadGranted: the intent of a direct upload (attach.Store.GrantPut):
	// a client holds presigned requests for DataKey until ExpiresAt. It is
	// reclaimable once ExpiresAt is aged, whoever its owner.
	UploadGranted = "granted"
)

// Upload is an upload intent: recorded before the first byte of an
// attachment is written, it roots its data key until a row names the data.
type Upload struct {
	ID        string    `json:"upload_id"`
	SessionID string    `json:"session_id"`
	Owner     Owner     `json:"owner"`
	IntentAt  time.Time `json:"intent_at"`
	DataKey   string    `json:"data_key"`
	// AttachmentID is set when the digest was declared up front.
	AttachmentID string `json:"attachment_id,omitempty"`
	// State is UploadActive, or UploadAborted once the writer gave up (an
	// aborted intent is reclaimable once aged, whoever its owner).
	State string `json:"state"`
	// ExpiresAt is when a granted upload's presigned requests expire (zero
	// for other uploads).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Size is a granted upload's declared size in bytes.
	Size int64 `json:"size,omitempty"`

	etag string
}

// AgedAt is the time the sweeper's cutoff is compared with: the intent
// time, or for a granted upload the expiry of its presigned requests.
func (u Upload) AgedAt() time.Time {
	if u.ExpiresAt.After(u.IntentAt) {
		return u.ExpiresAt
	}
	return u.IntentAt
}

// Abandoned reports whether the intent is reclaimable once aged whoever
// its owner: its writer gave up, or it is a grant (whose writer is a
// client that no owner rule can see).
func (u Upload) Abandoned() bool { return u.State == UploadAborted || u.State == UploadGranted }

func encodeUpload(u *Upload) ([]byte, error) { return codec.Encode(uploadSchema, u) }

func decodeUpload(data []byte) (Upload, error) {
	var u Upload
	if _, err := codec.Decode(uploadSchema, data, &u); err != nil {
		return Upload{}, errorf("decode upload intent: %w", err)
	}
	return u, nil
}

// Blob is a blob pointer: the data object that new refs to an attachment
// adopt, so that identical content is stored once.
type Blob struct {
	AttachmentID string `json:"attachment_id"`
	Data         Data   `json:"data"`
	// ETag of the pointer object when it was read (for ReplaceBlob).
	ETag string `json:"-"`
}

func encodeBlob(b *Blob) ([]byte, error) { return codec.Encode(blobSchema, b) }

func decodeBlob(data []byte) (Blob, error) {
	var b Blob
	if _, err := codec.Decode(blobSchema, data, &b); err != nil {
		return Blob{}, errorf("decode blob pointer: %w", err)
	}
	return b, nil
}

// Bounds of the times the manifest stores and compares (JSON time stamps
// hold years 0 to 9999).
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// ClampTime returns t in UTC, without monotonic reading, clamped to the
// years 1 to 9999. Cutoffs and stamps are clamped so that no caller value
// overflows an encoding or inverts a comparison.
func ClampTime(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t.UTC().Round(0)
}

// Cutoff returns now - grace clamped: a negative grace counts as zero, and
// the result never underflows.
func Cutoff(now time.Time, grace time.Duration) time.Time {
	if grace < 0 {
		grace = 0
	}
	now = ClampTime(now)
	if now.Sub(minTime) <= grace {
		return minTime
	}
	return now.Add(-grace)
}
