package manifest

import (
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"
)

// ErrInvalidID is returned for an attachment, session, turn or process id
// that could escape its key space or is malformed.
var ErrInvalidID = errors.New("manifest: invalid id")

// MaxIDLen bounds session, turn and process ids.
const MaxIDLen = 128

// URIScheme prefixes an attachment's canonical URI.
const URIScheme = "lash-attachment://sha256/"

// CanonicalURI returns lash-attachment://sha256/<id>.
func CanonicalURI(id string) string { return URIScheme + id }

// ValidateAttachmentID accepts exactly 64 lowercase hex digits (the SHA-256
// of the content).
func ValidateAttachmentID(id string) error {
	if len(id) != 64 {
		return fmt.Errorf("%w: attachment id of %d bytes (want 64 lowercase hex)", ErrInvalidID, len(id))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: attachment id holds %q at %d (want lowercase hex)", ErrInvalidID, c, i)
		}
	}
	return nil
}

// ValidateSessionID accepts 1 to MaxIDLen bytes of printable ASCII without
// space, '/' or '\', other than "." and "..". Turn and process ids follow the
// same rule. Such an id is one path segment of a key and never escapes it.
func ValidateSessionID(id string) error { return validateSegment("session", id) }

func validateSegment(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s id", ErrInvalidID, what)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%w: %s id of %d bytes exceeds %d", ErrInvalidID, what, len(id), MaxIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("%w: %s id %q", ErrInvalidID, what, id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '/' || c == '\\' {
			return fmt.Errorf("%w: %s id holds byte 0x%02x at %d", ErrInvalidID, what, c, i)
		}
	}
	return nil
}

// Validate checks that o is ownerless, or a turn or process with a valid id.
func (o Owner) Validate() error {
	switch o.Kind {
	case OwnerNone:
		if o.ID != "" {
			return fmt.Errorf("%w: ownerless owner with id %q", ErrInvalidID, o.ID)
		}
		return nil
	case OwnerTurn:
		return validateSegment("turn", o.ID)
	case OwnerProcess:
		return validateSegment("process", o.ID)
	}
	return fmt.Errorf("%w: unknown owner kind %q", ErrInvalidID, o.Kind)
}

// TurnOwner returns the owner of a turn.
func TurnOwner(turnID string) Owner { return Owner{Kind: OwnerTurn, ID: turnID} }

// ProcessOwner returns the owner of a process.
func ProcessOwner(processID string) Owner { return Owner{Kind: OwnerProcess, ID: processID} }

func validateIDs(ids []string) error {
	for _, id := range ids {
		if err := ValidateAttachmentID(id); err != nil {
			return err
		}
	}
	return nil
}

// IsULID reports whether s is a ULID exactly as stowage writes one: 26
// characters of Crockford base32 in upper case, as ulid.ULID.String()
// makes it. Upload ids and session object ids are ULIDs; a key that holds
// anything else where one goes was not written by stowage and is never
// deleted (docs/protocol.md, rule 0).
func IsULID(s string) bool {
	u, err := ulid.ParseStrict(s)
	return err == nil && u.String() == s
}

// UnreadableError is an object of the manifest's layout that exists but
// cannot be read as what its key says (it does not decode, or names another
// id). Walks report it and go on; such an object is never deleted.
type UnreadableError struct {
	Key string
	Err error
}

func (e *UnreadableError) Error() string { return fmt.Sprintf("%q is unreadable: %v", e.Key, e.Err) }

func (e *UnreadableError) Unwrap() error { return e.Err }
