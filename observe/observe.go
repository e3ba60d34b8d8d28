// Package observe is the library's instrumentation hook: the operations and
// events that packages session, attach and gc report, and the Observer
// interface that receives them.
//
// It links nothing beyond the standard library, so that a program that
// wants no telemetry links no metrics or tracing library: package telemetry
// implements Observer with Prometheus metrics and OpenTelemetry spans, and
// stowage.Config.Telemetry takes it. A nil Observer observes nothing.
package observe

import (
	"context"
	"io"
)

// The operations reported; each is one span, named so.
const (
	Commit    = "stowage.commit"         // session.Store.CommitRuntimeState
	Load      = "stowage.load"           // session.Store.LoadSession
	AttachPut = "stowage.attachment.put" // attach.Store.Put and PutKnown
	AttachGet = "stowage.attachment.get" // attach.Store.Get, until its body is closed
	Sweep     = "stowage.sweep"          // gc.Sweeper.Run
)

// Ops lists the operations, in a fixed order.
func Ops() []string { return []string{Commit, Load, AttachPut, AttachGet, Sweep} }

// The events reported within an operation (or outside of one).
const (
	// HeadRetry: a head write lost its compare-and-swap to another writer
	// and the update is evaluated again on the newer head.
	HeadRetry = "head_retry"
	// Resolved*: a head write whose response was lost or failed (not a
	// plain lost race) was resolved by reading the head back: it landed,
	// it lost, or the read-back could not tell (ErrCommitOutcomeUnknown).
	ResolvedLanded  = "resolved_landed"
	ResolvedLost    = "resolved_lost"
	ResolvedUnknown = "resolved_unknown"
)

// Observer receives the library's operations and events. Implementations
// must be safe for concurrent use.
type Observer interface {
	// Start begins operation op (one of the constants above) on session
	// sessionID (empty for a sweep). The returned context carries the
	// operation (e.g. its span) to the calls made under it.
	Start(ctx context.Context, op, sessionID string) (context.Context, Op)
	// Event records an event (HeadRetry, Resolved*) under ctx.
	Event(ctx context.Context, name string)
}

// Op is one started operation. Its methods are called from the goroutine
// that runs it; End is called once, last.
type Op interface {
	// Revision records the session head revision the operation read or
	// wrote.
	Revision(rev uint64)
	// Attachment records the attachment the operation moved and how many
	// of its bytes.
	Attachment(id string, bytes int64)
	// End ends the operation with its outcome: nil for success, else the
	// error the caller gets.
	End(err error)
}

// Start starts op on o, or a no-op operation when o is nil.
func Start(ctx context.Context, o Observer, op, sessionID string) (context.Context, Op) {
	if o == nil {
		return ctx, nop{}
	}
	return o.Start(ctx, op, sessionID)
}

// Event records name on o; nothing when o is nil.
func Event(ctx context.Context, o Observer, name string) {
	if o != nil {
		o.Event(ctx, name)
	}
}

type nop struct{}

func (nop) Revision(uint64)          {}
func (nop) Attachment(string, int64) {}
func (nop) End(error)                {}

// Body returns rc counting the bytes read through it; Close records them
// as attachment id's on op and ends op with the first read error other
// than io.EOF, or Close's error.
func Body(rc io.ReadCloser, op Op, id string) io.ReadCloser {
	if _, ok := op.(nop); ok {
		return rc
	}
	return &body{ReadCloser: rc, op: op, id: id}
}

type body struct {
	io.ReadCloser
	op     Op
	id     string
	n      int64
	err    error
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// WriteTo lets io.Copy use the body's own WriteTo, if it has one.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	var n int64
	var err error
	if wt, ok := b.ReadCloser.(io.WriterTo); ok {
		n, err = wt.WriteTo(w)
	} else {
		n, err = io.Copy(w, struct{ io.Reader }{b.ReadCloser})
	}
	b.n += n
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	if !b.closed {
		b.closed = true
		b.op.Attachment(b.id, b.n)
		if b.err == nil {
			b.err = err
		}
		b.op.End(b.err)
	}
	return err
}
