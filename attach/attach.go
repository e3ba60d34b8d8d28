package attach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stowage-dev/stowage/internal/errwrap"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/observe"
)

// Errors.
var (
	// ErrNotFound: the session holds no ref to the attachment (or its bytes
	// are gone).
	ErrNotFound = errors.New("attach: attachment not found")
	// ErrInvalidID: an id is not 64 lowercase hex digits (or a session or
	// owner id is malformed). It is ids.ErrInvalidID, the one sentinel of
	// every package.
	ErrInvalidID = manifest.ErrInvalidID
	// ErrTooLarge: the attachment exceeds Options.MaxSize (see TooLargeError).
	ErrTooLarge = errors.New("attach: attachment too large")
	// ErrChecksum: bytes do not hash to their id (or to a declared digest).
	ErrChecksum = fmt.Errorf("attach: %w", objstore.ErrChecksum)
	// ErrInvalidRange: a range starts outside the attachment.
	ErrInvalidRange = fmt.Errorf("attach: %w: range", objstore.ErrInvalidArgument)
)

// TooLargeError is returned by Put when the body exceeds the limit. It
// matches ErrTooLarge.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("attach: attachment exceeds the maximum size of %d bytes", e.Limit)
}

// Is makes a *TooLargeError match ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// DefaultMaxSize is the default limit on an attachment's size.
const DefaultMaxSize = 5 << 30

// Options configure a Store. A nil *Options is the zero value.
type Options struct {
	// MaxSize limits an attachment's size in bytes: 0 means DefaultMaxSize,
	// < 0 means no limit.
	MaxSize int64
	// PartSize and Concurrency shape multipart uploads (see
	// objstore.UploadOptions); memory per Put is bounded by about
	// PartSize x (Concurrency+1) plus 3 MiB for compression.
	PartSize    int64
	Concurrency int
	// DisableCompression stores every attachment raw.
	DisableCompression bool
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// Range is a byte range: Length bytes from Offset; Length < 0 means to the
// end. A range reaching past the end is cut at the end.
type Range = objstore.Range

// Ref describes an attachment as a session holds it (lash's AttachmentRef).
type Ref struct {
	// ID is the lowercase hex SHA-256 of the bytes.
	ID        string
	MediaType string
	// Size is the attachment's size in bytes.
	Size     int64
	Label    string
	Metadata map[string]string
	// CommittedAt is when a session commit adopted the ref (zero if not yet).
	CommittedAt time.Time
}

// URI returns the attachment's canonical URI, lash-attachment://sha256/<id>.
func (r Ref) URI() string { return manifest.CanonicalURI(r.ID) }

func refOf(row manifest.Row) Ref {
	return Ref{
		ID:          row.AttachmentID,
		MediaType:   row.Info.MediaType,
		Size:        row.Data.Size,
		Label:       row.Info.Label,
		Metadata:    row.Info.Metadata,
		CommittedAt: row.CommittedAt,
	}
}

// PutOptions describe an attachment being put.
type PutOptions struct {
	MediaType string
	Label     string
	Metadata  map[string]string
	// Owner scopes the intent while it is uncommitted. The zero value means
	// the owner of ctx (WithOwner), or ownerless if ctx has none.
	Owner manifest.Owner
}

// Store is one session's attachment store. It is safe for concurrent use.
type Store struct {
	m         *manifest.Store
	obj       objstore.Store
	sessionID string
	maxSize   int64
	partSize  int64
	conc      int
	compress  bool
	log       *slog.Logger
	enc       *zstd.Encoder
	dec       *zstd.Decoder
	obs       observe.Observer // the manifest's (Observer): Put and Get spans
}

// New returns the attachment store of session sessionID over m.
func New(m *manifest.Store, sessionID string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := manifest.ValidateSessionID(sessionID); err != nil {
		return nil, errorf("%w", err)
	}
	a := &Store{
		m:         m,
		obj:       m.ObjectStore(),
		sessionID: sessionID,
		maxSize:   opts.MaxSize,
		partSize:  opts.PartSize,
		conc:      opts.Concurrency,
		compress:  !opts.DisableCompression,
		log:       opts.Logger,
		obs:       m.Observer(),
	}
	if a.maxSize == 0 {
		a.maxSize = DefaultMaxSize
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	codec := sharedCodec()
	a.enc, a.dec = codec.enc, codec.dec
	return a, nil
}

// Durable reports whether attachments survive the loss of this process
// (lash's AttachmentStorePersistence: Durable, else Ephemeral), as the
// object store reports it.
func (a *Store) Durable() bool { return a.obj.Capabilities().Durable }

// SessionID returns the session the store is bound to.
func (a *Store) SessionID() string { return a.sessionID }

type ownerKey struct{}

// WithOwner returns a context whose puts are owned by o (the runtime's turn
// or process scope). Scopes nest: the innermost wins, and leaving it (using
// the outer context again) restores the outer owner.
func WithOwner(ctx context.Context, o manifest.Owner) context.Context {
	return context.WithValue(ctx, ownerKey{}, o)
}

// OwnerFrom returns the owner of ctx (zero if none).
func OwnerFrom(ctx context.Context) manifest.Owner {
	o, _ := ctx.Value(ownerKey{}).(manifest.Owner)
	return o
}

// cleanupTimeout bounds best-effort cleanup after a failed or cancelled put.
const cleanupTimeout = 30 * time.Second

// cleanupContext returns a context for cleanup that survives ctx's
// cancellation.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// errorf is fmt.Errorf for package attach: the message starts with "attach: "
// once, however many of the package's own errors it wraps.
func errorf(format string, args ...any) error { return errwrap.Errorf("attach", format, args...) }
