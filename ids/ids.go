// Package ids is stowage's id grammar: one validator per kind of id and the
// one sentinel, ErrInvalidID, that every package's invalid-id errors match
// (session.ErrInvalidID, manifest.ErrInvalidID and attach.ErrInvalidID are
// this value). Ids are validated once, at the public API boundary, before
// any key is built.
//
// There are three grammars:
//
//   - Key-segment ids (Session): 1 to MaxSessionLen bytes of printable
//     ASCII (0x21-0x7e) without '/' or '\', and not "." or "..". They are
//     one segment of object keys as they are.
//   - Attachment ids (Attachment): exactly 64 lowercase hex digits, the
//     SHA-256 of the bytes. Upload ids (Upload) are ULIDs minted by stowage.
//   - Text ids (Turn, Node, Process, LeaseOwner, SourceKey, Queue, Input and
//     the rest, through Text): 1 to MaxTextLen bytes of valid UTF-8 without
//     control characters. Where a text id becomes part of a key (a turn id
//     in attach/turns/<sid>/<turn>/<id>) it is encoded by KeySegment, so any
//     text id is safe there.
//
// Ids are compared as bytes everywhere: "café" in NFC and in NFD, or "T1"
// and "t1", are distinct ids in every layer and on every backend (fsstore
// escapes upper case, so case-insensitive file systems keep them apart).
package ids

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidID is the one sentinel of a malformed id, whatever its kind and
// whichever package refused it.
var ErrInvalidID = errors.New("stowage: invalid id")

// Grammar bounds.
const (
	// MaxSessionLen bounds key-segment ids (session ids).
	MaxSessionLen = 128
	// MaxTextLen bounds text ids (turn, node, process, ... ids).
	MaxTextLen = 512
	// AttachmentLen is the length of an attachment id.
	AttachmentLen = 64
	// UploadLen is the length of an upload id (a ULID).
	UploadLen = 26
)

// Session checks a session id (a key-segment id).
func Session(id string) error { return segment("session id", id) }

// segment checks a key-segment id; what names it in errors.
func segment(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidID, what)
	case len(id) > MaxSessionLen:
		return fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrInvalidID, what, len(id), MaxSessionLen)
	case id == "." || id == "..":
		return fmt.Errorf("%w: %s %q", ErrInvalidID, what, id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '/' || c == '\\' {
			return fmt.Errorf("%w: %s has byte 0x%02x at %d", ErrInvalidID, what, c, i)
		}
	}
	return nil
}

// Attachment checks an attachment id: exactly 64 lowercase hex digits.
func Attachment(id string) error {
	if len(id) != AttachmentLen {
		return fmt.Errorf("%w: attachment id of %d bytes (want 64 lowercase hex)", ErrInvalidID, len(id))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: attachment id has %q at %d (want lowercase hex)", ErrInvalidID, c, i)
		}
	}
	return nil
}

// Upload checks an upload id: a ULID (26 characters of Crockford's base32,
// upper case, as stowage mints them).
func Upload(id string) error {
	if len(id) != UploadLen {
		return fmt.Errorf("%w: upload id of %d bytes (want a 26-character ULID)", ErrInvalidID, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') || c == 'I' || c == 'L' || c == 'O' || c == 'U' {
			return fmt.Errorf("%w: upload id has %q at %d", ErrInvalidID, c, i)
		}
	}
	if id[0] > '7' {
		return fmt.Errorf("%w: upload id %q overflows a ULID", ErrInvalidID, id)
	}
	return nil
}

// Turn checks a turn id.
func Turn(id string) error { return Text("turn id", id) }

// Node checks a graph node id.
func Node(id string) error { return Text("node id", id) }

// Process checks a process id (an attachment owner).
func Process(id string) error { return Text("process id", id) }

// LeaseOwner checks a lease owner id.
func LeaseOwner(id string) error { return Text("lease owner id", id) }

// SourceKey checks a pending turn input's source key.
func SourceKey(id string) error { return Text("source key", id) }

// Queue checks a queued batch or claim id.
func Queue(id string) error { return Text("queue id", id) }

// Input checks a turn input or claim id.
func Input(id string) error { return Text("input id", id) }

// Text checks a text id: 1 to MaxTextLen bytes of valid UTF-8 without
// control characters (C0, DEL, C1). what names the kind in errors.
func Text(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidID, what)
	case len(id) > MaxTextLen:
		return fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrInvalidID, what, len(id), MaxTextLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidID, what)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: %s has control character %U", ErrInvalidID, what, r)
		}
	}
	return nil
}

// OptionalText is Text for ids that may be empty.
func OptionalText(what, id string) error {
	if id == "" {
		return nil
	}
	return Text(what, id)
}

// maxPlainSegment is the longest text id KeySegment encodes as base32 of
// its bytes (205 characters); longer ids are encoded by their digest.
const maxPlainSegment = 128

// segmentEncoding is RFC 4648 base32 in lower case, unpadded: it keeps
// fsstore's file names short and is stable under case folding.
var segmentEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// DigestSegmentPrefix starts the key segment of a text id longer than 128
// bytes; '-' is not in the base32 alphabet, so the two forms never meet.
const DigestSegmentPrefix = "sha256-"

// KeySegment returns the key segment of a valid text id: the unpadded
// lower-case base32 of its bytes (a-z, 2-7) for ids of up to 128 bytes,
// else DigestSegmentPrefix and the hex SHA-256 of its bytes. The map is
// injective on bytes (up to SHA-256 collisions), so distinct ids (NFC and
// NFD twins, case twins) get distinct segments, and no segment is empty,
// "." or "..", or holds '/'.
func KeySegment(id string) string {
	if len(id) <= maxPlainSegment {
		return segmentEncoding.EncodeToString([]byte(id))
	}
	sum := sha256.Sum256([]byte(id))
	return DigestSegmentPrefix + hex.EncodeToString(sum[:])
}

// ParseKeySegment returns the id a KeySegment of at most 128 bytes encodes;
// ok is false for a digest segment (not reversible) or a malformed one.
func ParseKeySegment(seg string) (id string, ok bool) {
	b, err := segmentEncoding.DecodeString(seg)
	if err != nil || len(b) == 0 || segmentEncoding.EncodeToString(b) != seg {
		return "", false
	}
	return string(b), Text("id", string(b)) == nil
}

// ValidKeySegment reports whether seg is a KeySegment of some text id
// (either form).
func ValidKeySegment(seg string) bool {
	if rest, ok := strings.CutPrefix(seg, DigestSegmentPrefix); ok {
		return Attachment(rest) == nil // 64 lowercase hex, like an attachment id
	}
	_, ok := ParseKeySegment(seg)
	return ok
}
