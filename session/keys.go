package session

import (
	"strings"

	"github.com/stowage-dev/stowage/manifest"
)

// Key layout. Every key a session uses is built here and nowhere else.
//
//	sessions/<sid>/head           the CAS point: the only mutable object
//	sessions/<sid>/seg/<ulid>     an immutable graph/receipt segment
//	sessions/<sid>/idx/<ulid>     the node and turn index of seg/<ulid>
//	sessions/<sid>/blob/<ulid>    an immutable checkpoint blob
//	sessions/<sid>/dir/<ulid>     a node directory run (dir.go)
//
// Keys are relative to the store handed to the session package (which may be
// a prefixed view of a bucket). Immutable objects are written create-only
// under fresh ULIDs and are never rewritten, so a delayed DELETE of one can
// never destroy newer data.
const SessionsPrefix = "sessions/"

// KeyKind classifies a key under SessionsPrefix.
type KeyKind string

// Key kinds.
const (
	KeyHead    KeyKind = "head"
	KeySegment KeyKind = "seg"
	KeyIndex   KeyKind = "idx"
	KeyBlob    KeyKind = "blob"
	KeyDir     KeyKind = "dir"
)

// SessionPrefix returns the prefix under which every key of sid lives.
func SessionPrefix(sid string) string { return SessionsPrefix + sid + "/" }

// HeadKey returns the key of sid's head.
func HeadKey(sid string) string { return SessionPrefix(sid) + "head" }

func segKey(sid, id string) string  { return SessionPrefix(sid) + "seg/" + id }
func idxKey(sid, id string) string  { return SessionPrefix(sid) + "idx/" + id }
func blobKey(sid, id string) string { return SessionPrefix(sid) + "blob/" + id }
func dirKey(sid, id string) string  { return SessionPrefix(sid) + "dir/" + id }

// ParseKey splits a key of the session key space into its session id and
// kind. ok is false for keys that are not exactly of the layout above (an
// invalid session id, or anything but a ULID as ids are written, see
// manifest.IsULID): the sweeper must leave those alone and report them.
func ParseKey(key string) (sid string, kind KeyKind, ok bool) {
	rest, found := strings.CutPrefix(key, SessionsPrefix)
	if !found {
		return "", "", false
	}
	sid, rest, found = strings.Cut(rest, "/")
	if !found || ValidateSessionID(sid) != nil {
		return "", "", false
	}
	if rest == string(KeyHead) {
		return sid, KeyHead, true
	}
	k, id, found := strings.Cut(rest, "/")
	if !found || !manifest.IsULID(id) {
		return "", "", false
	}
	switch KeyKind(k) {
	case KeySegment, KeyIndex, KeyBlob, KeyDir:
		return sid, KeyKind(k), true
	}
	return "", "", false
}
