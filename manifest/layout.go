package manifest

import (
	"strings"

	"github.com/stowage-dev/stowage/ids"
)

// Key layout of the attachment subsystem (part of the bucket format).
//
// All keys are relative to the store the manifest is given (a deployment
// prefix is applied by objstore.WithPrefix). <id> is an attachment id (64
// lowercase hex), <sid> a session id, <turn> a turn id encoded by
// ids.KeySegment (unpadded lower-case base32 of its bytes, or "sha256-" and
// the hex digest of an id over 128 bytes), <ulid> an upload id (a ULID
// minted per upload, never reused).
//
//	attach/uploads/<ulid>           upload intent (JSON Upload): session, owner,
//	                                intent time, the data key it will write.
//	                                Created before any byte; deleted once a ref
//	                                row names the data (or the data was dropped).
//	attach/data/<ulid>              attachment bytes, raw or zstd-seekable.
//	                                Written once by one upload, never rewritten.
//	attach/refs/<id>/<sid>          manifest row (JSON Row): the intent fields,
//	                                commit stamp and the data it names. A 0-byte
//	                                object here is a tombstone: "no row".
//	attach/blobs/<id>               blob pointer (JSON Blob): the data key that
//	                                new refs to <id> adopt. A hint, never a root.
//	attach/sessions/<sid>/<id>      0-byte marker: <sid> may hold a row for <id>.
//	attach/turns/<sid>/<turn>/<id>  0-byte marker: the row may be owned by <turn>.
//
// Queries: "does anyone reference <id>" is one LIST of attach/refs/<id>/;
// HoldsRef is one HEAD; a session's rows are found through its markers (a
// superset: every reader confirms with the row); a turn's rows likewise.
//
// Roots for the sweeper: every data key named by an upload intent or by a
// live row (see WalkRoots). Blob pointers and markers root nothing.
const (
	// Prefix holds every key of the attachment subsystem.
	Prefix = "attach/"
	// DataPrefix holds the data objects (and their multipart uploads).
	DataPrefix = Prefix + "data/"
	// UploadPrefix holds the upload intents.
	UploadPrefix = Prefix + "uploads/"
	// RefPrefix holds the manifest rows.
	RefPrefix = Prefix + "refs/"
	// BlobPrefix holds the blob pointers.
	BlobPrefix = Prefix + "blobs/"
	// SessionPrefix holds the per-session markers.
	SessionPrefix = Prefix + "sessions/"
	// TurnPrefix holds the per-turn markers.
	TurnPrefix = Prefix + "turns/"
)

// DataKey returns the data key of upload uploadID.
func DataKey(uploadID string) string { return DataPrefix + uploadID }

// UploadKey returns the key of upload uploadID's intent.
func UploadKey(uploadID string) string { return UploadPrefix + uploadID }

// RefKey returns the key of the row (sessionID, id).
func RefKey(id, sessionID string) string { return RefPrefix + id + "/" + sessionID }

// RefsOf returns the prefix of every row for attachment id.
func RefsOf(id string) string { return RefPrefix + id + "/" }

// BlobKey returns the key of attachment id's blob pointer.
func BlobKey(id string) string { return BlobPrefix + id }

func sessionMarkers(sessionID string) string { return SessionPrefix + sessionID + "/" }

func sessionMarker(sessionID, id string) string { return sessionMarkers(sessionID) + id }

// SessionMarkerKey returns the key of the marker that session sessionID
// recorded attachment id. It is written before the session's first row for
// id and outlives Forget (only ForgetSession removes it), so a session that
// committed id and later forgot it still has it.
func SessionMarkerKey(sessionID, id string) string { return sessionMarker(sessionID, id) }

func turnMarkers(sessionID, turnID string) string {
	return TurnPrefix + sessionID + "/" + ids.KeySegment(turnID) + "/"
}

// legacyTurnMarkers is the marker prefix of turnID in the first format,
// which put the raw turn id in the key (only ids of the session grammar
// were accepted then); ok is false for an id that format could not hold.
// Markers are hints that readers confirm with the row, so a legacy prefix
// that happens to equal another turn's encoded one costs a row read, never
// a wrong adoption.
func legacyTurnMarkers(sessionID, turnID string) (string, bool) {
	if ids.Session(turnID) != nil {
		return "", false
	}
	return TurnPrefix + sessionID + "/" + turnID + "/", true
}

// turnMarkerPrefixes returns the marker prefixes of turnID: the current
// one and, if it can exist, the legacy one.
func turnMarkerPrefixes(sessionID, turnID string) []string {
	out := []string{turnMarkers(sessionID, turnID)}
	if legacy, ok := legacyTurnMarkers(sessionID, turnID); ok && legacy != out[0] {
		out = append(out, legacy)
	}
	return out
}

func turnMarker(sessionID, turnID, id string) string { return turnMarkers(sessionID, turnID) + id }

// ParseRefKey splits a row key into attachment id and session id. ok is
// false for keys that are not well-formed row keys.
func ParseRefKey(key string) (id, sessionID string, ok bool) {
	rest, found := strings.CutPrefix(key, RefPrefix)
	if !found {
		return "", "", false
	}
	id, sessionID, found = strings.Cut(rest, "/")
	if !found || ValidateAttachmentID(id) != nil || ValidateSessionID(sessionID) != nil {
		return "", "", false
	}
	return id, sessionID, true
}

// ParseDataKey returns the upload id of a data key; ok is false for any key
// that is not exactly DataPrefix followed by a ULID (IsULID), the only data
// keys stowage writes.
func ParseDataKey(key string) (uploadID string, ok bool) {
	uploadID, found := strings.CutPrefix(key, DataPrefix)
	if !found || !IsULID(uploadID) {
		return "", false
	}
	return uploadID, true
}

// ParseUploadKey returns the upload id of an upload intent's key; ok is
// false for any key that is not exactly UploadPrefix followed by a ULID.
func ParseUploadKey(key string) (uploadID string, ok bool) {
	uploadID, found := strings.CutPrefix(key, UploadPrefix)
	if !found || !IsULID(uploadID) {
		return "", false
	}
	return uploadID, true
}

// tailAfter returns what follows prefix in key.
func tailAfter(key, prefix string) string { return strings.TrimPrefix(key, prefix) }
