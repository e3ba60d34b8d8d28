package manifest

import (
	"fmt"

	"github.com/stowage-dev/stowage/ids"
)

// ErrInvalidID is returned for an attachment, session, turn or process id
// that could escape its key space or is malformed. It is ids.ErrInvalidID,
// the one sentinel every package's invalid-id errors match.
var ErrInvalidID = ids.ErrInvalidID

// MaxIDLen bounds session ids (ids.MaxSessionLen). Turn and process ids are
// text ids of up to ids.MaxTextLen bytes.
const MaxIDLen = ids.MaxSessionLen

// URIScheme prefixes an attachment's canonical URI.
const URIScheme = "lash-attachment://sha256/"

// CanonicalURI returns lash-attachment://sha256/<id>.
func CanonicalURI(id string) string { return URIScheme + id }

// ValidateAttachmentID accepts exactly 64 lowercase hex digits (the SHA-256
// of the content): ids.Attachment.
func ValidateAttachmentID(id string) error { return ids.Attachment(id) }

// ValidateSessionID accepts 1 to MaxIDLen bytes of printable ASCII without
// space, '/' or '\', other than "." and "..": ids.Session. Such an id is one
// path segment of a key and never escapes it.
func ValidateSessionID(id string) error { return ids.Session(id) }

// Validate checks that o is ownerless, or a turn or process with a valid id
// (ids.Turn, ids.Process: any text id; a turn id is encoded where it
// becomes part of a key).
func (o Owner) Validate() error {
	switch o.Kind {
	case OwnerNone:
		if o.ID != "" {
			return fmt.Errorf("%w: ownerless owner with id %q", ErrInvalidID, o.ID)
		}
		return nil
	case OwnerTurn:
		return ids.Turn(o.ID)
	case OwnerProcess:
		return ids.Process(o.ID)
	}
	return fmt.Errorf("%w: unknown owner kind %q", ErrInvalidID, o.Kind)
}

// TurnOwner returns the owner of a turn.
func TurnOwner(turnID string) Owner { return Owner{Kind: OwnerTurn, ID: turnID} }

// ProcessOwner returns the owner of a process.
func ProcessOwner(processID string) Owner { return Owner{Kind: OwnerProcess, ID: processID} }

func validateIDs(list []string) error {
	for _, id := range list {
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
func IsULID(s string) bool { return ids.Upload(s) == nil }

// UnreadableError is an object of the manifest's layout that exists but
// cannot be read as what its key says (it does not decode, or names another
// id). Walks report it and go on; such an object is never deleted.
type UnreadableError struct {
	Key string
	Err error
}

func (e *UnreadableError) Error() string { return fmt.Sprintf("%q is unreadable: %v", e.Key, e.Err) }

func (e *UnreadableError) Unwrap() error { return e.Err }
