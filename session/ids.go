package session

import "github.com/stowage-dev/stowage/ids"

// MaxSessionIDLen bounds session ids (they become part of object keys).
const MaxSessionIDLen = ids.MaxSessionLen

// MaxIDLen bounds node, turn, frame, input and claim ids and source keys.
const MaxIDLen = ids.MaxTextLen

// ValidateSessionID reports whether id may name a session: 1 to 128 bytes of
// printable ASCII (0x21-0x7e: no space, no control characters), without '/'
// or '\\', and not "." or "..". Such an id cannot escape its key space on
// any backend. It is ids.Session; the error matches ErrInvalidID.
func ValidateSessionID(id string) error { return ids.Session(id) }

// validateID checks a text id (node, turn, ...; ids.Text): 1 to MaxIDLen
// bytes of valid UTF-8 without control characters. what names it in errors.
// Text ids are never part of a session key; where one reaches an attachment
// key it is encoded (ids.KeySegment).
func validateID(what, id string) error { return ids.Text(what, id) }

// validateOptionalID is validateID for ids that may be empty.
func validateOptionalID(what, id string) error { return ids.OptionalText(what, id) }

// ValidateNodeID reports whether id may name a graph node (ids.Node).
func ValidateNodeID(id string) error { return ids.Node(id) }
