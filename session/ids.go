package session

import (
	"fmt"
	"unicode/utf8"
)

// MaxSessionIDLen bounds session ids (they become part of object keys).
const MaxSessionIDLen = 128

// MaxIDLen bounds node, turn, frame, input and claim ids and source keys.
const MaxIDLen = 512

// ValidateSessionID reports whether id may name a session: 1 to 128 bytes of
// printable ASCII (0x21-0x7e: no space, no control characters), without '/'
// or '\\', and not "." or "..". Such an id cannot escape its key space on
// any backend. The error matches ErrInvalidID.
func ValidateSessionID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty session id", ErrInvalidID)
	case len(id) > MaxSessionIDLen:
		return fmt.Errorf("%w: session id of %d bytes exceeds %d", ErrInvalidID, len(id), MaxSessionIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("%w: session id %q", ErrInvalidID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= 0x20 || c >= 0x7f || c == '/' || c == '\\' {
			return fmt.Errorf("%w: session id has byte 0x%02x at %d", ErrInvalidID, c, i)
		}
	}
	return nil
}

// validateID checks a non-key id (node, turn, ...): 1 to MaxIDLen bytes of
// valid UTF-8 without control characters. what names it in errors.
func validateID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidID, what)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrInvalidID, what, len(id), MaxIDLen)
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

// validateOptionalID is validateID for ids that may be empty.
func validateOptionalID(what, id string) error {
	if id == "" {
		return nil
	}
	return validateID(what, id)
}

// ValidateNodeID reports whether id may name a graph node.
func ValidateNodeID(id string) error { return validateID("node id", id) }
