package gc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
)

// simStore is an actor's view of the store through the scheduler.
type simStore struct {
	sim *sim
	a   *actor
}

var _ objstore.Store = (*simStore)(nil)

// park waits for the scheduler to grant a request.
func (s *simStore) park(op, key string, mutating bool) fault {
	if s.a.crashed.Load() {
		return faultCrashBefore
	}
	c := &call{actor: s.a, op: op, key: key, mutating: mutating, resume: make(chan fault, 1)}
	s.sim.events <- event{actor: s.a, call: c}
	return <-c.resume
}

// write runs a mutating request under the scheduler's decision.
func (s *simStore) write(op, key string, apply func() error) error {
	f := s.park(op, key, true)
	switch f {
	case faultCrashBefore:
		return errCrashed
	case faultUnavailable:
		return fmt.Errorf("sim: %s %q: %w", op, key, objstore.ErrUnavailable)
	case faultDelay:
		s.sim.late = append(s.sim.late, delayed{due: s.sim.step + 1 + s.sim.rng.IntN(200), apply: func() { _ = apply() }})
		return fmt.Errorf("sim: %s %q delayed: %w", op, key, objstore.ErrOutcomeUnknown)
	}
	err := apply()
	if err == nil || !errors.Is(err, objstore.ErrPreconditionFailed) {
		s.sim.dirty = true
	}
	switch f {
	case faultCrashAfter:
		return errCrashed
	case faultLost:
		return fmt.Errorf("sim: %s %q response lost: %w", op, key, objstore.ErrOutcomeUnknown)
	}
	return err
}

// read runs a read request under the scheduler's decision.
func (s *simStore) read(op, key string) error { return s.request(op, key, false) }

// request runs a request that can fail or crash its actor but is never lost
// or delayed. mutating marks writes (after which an actor may stall).
func (s *simStore) request(op, key string, mutating bool) error {
	switch s.park(op, key, mutating) {
	case faultCrashBefore, faultCrashAfter:
		return errCrashed
	case faultUnavailable:
		return fmt.Errorf("sim: %s %q: %w", op, key, objstore.ErrUnavailable)
	}
	return nil
}

// bg is the context of an applied request: a request that reached the
// server completes even if its sender's context is gone.
var bg = context.Background()

func (s *simStore) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	var info objstore.ObjectInfo
	data = bytes.Clone(data)
	var o *objstore.PutOptions
	if opts != nil {
		c := *opts
		o = &c
	}
	op := "put"
	switch {
	case o != nil && o.IfNoneMatch:
		op = "put-if-none-match"
	case o != nil && o.IfMatch != "":
		op = "put-if-match" // not the ETag: memstore ETags have a random base
	}
	err := s.write(op, key, func() error {
		var err error
		info, err = s.sim.mem.Put(bg, key, data, o)
		return err
	})
	return info, err
}

func (s *simStore) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if err := s.read("get", key); err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	return s.sim.mem.Get(ctx, key, opts)
}

func (s *simStore) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := s.read("head", key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	return s.sim.mem.Head(ctx, key)
}

func (s *simStore) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	return s.write("delete", key, func() error { return s.sim.mem.Delete(bg, key, opts) })
}

func (s *simStore) DeleteMany(ctx context.Context, keys []string) error {
	keys = append([]string(nil), keys...)
	return s.write("delete-many", fmt.Sprint(len(keys), " keys"), func() error { return s.sim.mem.DeleteMany(bg, keys) })
}

// simPage is how many entries one simulated LIST request returns: small,
// so that listings interleave with writes as S3 pages do.
const simPage = 4

func (s *simStore) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	var o objstore.ListOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(objstore.ObjectInfo, error) bool) {
		after := o.StartAfter
		for {
			if err := s.read("list", prefix+"@"+after); err != nil {
				yield(objstore.ObjectInfo{}, err)
				return
			}
			var page []objstore.ObjectInfo
			for info, err := range s.sim.mem.List(ctx, prefix, &objstore.ListOptions{StartAfter: after, Delimiter: o.Delimiter}) {
				if err != nil {
					yield(objstore.ObjectInfo{}, err)
					return
				}
				page = append(page, info)
				if len(page) == simPage {
					break
				}
			}
			for _, info := range page {
				if !yield(info, nil) {
					return
				}
			}
			if len(page) < simPage {
				return
			}
			after = page[len(page)-1].Key
		}
	}
}

func (s *simStore) ListUploads(ctx context.Context, prefix string) iter.Seq2[objstore.UploadInfo, error] {
	return func(yield func(objstore.UploadInfo, error) bool) {
		if err := s.read("list-uploads", prefix); err != nil {
			yield(objstore.UploadInfo{}, err)
			return
		}
		var all []objstore.UploadInfo
		for u, err := range s.sim.mem.ListUploads(ctx, prefix) {
			if err != nil {
				yield(objstore.UploadInfo{}, err)
				return
			}
			all = append(all, u)
		}
		for _, u := range all {
			if !yield(u, nil) {
				return
			}
		}
	}
}

func (s *simStore) AbortUpload(ctx context.Context, key, uploadID string) error {
	return s.write("abort-upload", key, func() error { return s.sim.mem.AbortUpload(bg, key, uploadID) })
}

// UploadSize is answered without a scheduling point, so that the
// simulation's schedules (and the seeds that found each mutant) stay as
// they were before the sweeper asked for upload sizes.
func (s *simStore) UploadSize(ctx context.Context, key, uploadID string) (int64, error) {
	return s.sim.mem.UploadSize(ctx, key, uploadID)
}

// Upload is two requests: initiation (the upload becomes visible to
// ListUploads) and completion. An actor that crashes in between leaves the
// upload incomplete until the end of the run, as a dead process would.
func (s *simStore) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	var o objstore.UploadOptions
	if opts != nil {
		o = *opts
	}
	if err := s.request("upload-initiate", key, true); err != nil {
		return objstore.ObjectInfo{}, err
	}
	gate := make(chan bool, 1) // true: complete; false: fail
	started := make(chan struct{})
	type result struct {
		info objstore.ObjectInfo
		err  error
	}
	res := make(chan result, 1)
	go func() {
		info, err := s.sim.mem.Upload(bg, key, &gatedReader{data: data, gate: gate, limbo: s.sim.limbo, started: started}, &o)
		res <- result{info, err}
	}()
	<-started
	done := make(chan result, 1) // filled when the completion was applied now
	err = s.write("upload-complete", key, func() error {
		gate <- true
		r := <-res
		done <- r
		return r.err
	})
	if errors.Is(err, objstore.ErrUnavailable) {
		gate <- false
		<-res
		return objstore.ObjectInfo{}, err
	}
	select {
	case r := <-done:
		return r.info, err
	default:
		// Not applied yet: delayed, or the actor crashed before it left (the
		// upload stays incomplete until the end of the run).
		return objstore.ObjectInfo{}, err
	}
}

// gatedReader yields the first byte, then waits for its gate. It closes
// started when the upload asks for more than that byte, not when it takes
// it: by then the store has taken the byte in (memstore counts each read
// before the next), so the upload's size is settled while it waits. (It
// closed started on the first read once, and an upload whose actor crashed
// then could count its byte only after the final dry run, under load: the
// dry run saw 0 bytes and the sweep 1.)
type gatedReader struct {
	data     []byte
	gate     chan bool
	limbo    chan struct{}
	started  chan struct{}
	pos      int
	opened   bool
	signaled bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.pos == 0 && len(g.data) > 0 {
		n := copy(p, g.data[:1])
		g.pos = n
		return n, nil
	}
	if !g.signaled {
		g.signaled = true
		close(g.started)
	}
	if !g.opened {
		select {
		case ok := <-g.gate:
			if !ok {
				return 0, errors.New("sim: upload failed")
			}
		case <-g.limbo:
			return 0, errors.New("sim: upload abandoned")
		}
		g.opened = true
	}
	if g.pos >= len(g.data) {
		return 0, io.EOF
	}
	n := copy(p, g.data[g.pos:])
	g.pos += n
	return n, nil
}

func (s *simStore) Capabilities() objstore.Capabilities { return s.sim.mem.Capabilities() }

func (s *simStore) Close() error { return nil }

// TestGatedReaderStartsAfterTheFirstByte: the simulation's upload body
// signals started only when the upload asks for more than its first byte,
// so the store has counted that byte before the simulation goes on (the
// final dry run and sweep must see the same size). A body that signals on
// its first read fails it.
func TestGatedReaderStartsAfterTheFirstByte(t *testing.T) {
	g := &gatedReader{data: []byte("ab"), gate: make(chan bool, 1), limbo: make(chan struct{}), started: make(chan struct{})}
	buf := make([]byte, 8)
	if n, err := g.Read(buf); n != 1 || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	select {
	case <-g.started:
		t.Fatal("started before the upload asked for more than its first byte")
	default:
	}
	g.gate <- true
	if n, err := g.Read(buf); n != 1 || err != nil || buf[0] != 'b' {
		t.Fatalf("second read: %d, %v", n, err)
	}
	select {
	case <-g.started:
	default:
		t.Fatal("not started once the upload asked for more")
	}
	if _, err := g.Read(buf); err != io.EOF {
		t.Fatalf("third read: %v", err)
	}
}
