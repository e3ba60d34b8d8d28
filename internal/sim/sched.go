// Package sim is a deterministic simulation of stowage's real code: a seeded
// scheduler owns every object-store request of every actor (writers,
// deleters, sweepers), releases them one at a time in an order drawn from
// the seed, and may drop a response or fail a request. Actors run inside a
// testing/synctest bubble, so time is fake and advances only when every
// goroutine is blocked: the scheduler learns that every actor is parked (or
// sleeping) from synctest.Wait, then picks one pending request.
//
// The world, its invariants and the mutants are in the package's test
// (docs/protocol.md, "Simulation of the real code").
package sim

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/stowage-dev/stowage/objstore"
)

// Fate is what the scheduler does with a released request.
type Fate int

const (
	// Deliver: the request is applied and answered.
	Deliver Fate = iota
	// LoseResponse: a mutating request is applied, then its caller gets
	// objstore.ErrOutcomeUnknown (the response was lost).
	LoseResponse
	// Fail: the request is not applied and fails retryably.
	Fail
)

func (f Fate) String() string { return [...]string{"deliver", "lose-response", "fail"}[f] }

// Request is one pending object-store call of an actor.
type Request struct {
	Actor string
	Op    string
	Key   string
	// Body is the digest of a put's bytes (short hex), "" for other calls.
	Body string
	seq  uint64 // the actor's call counter: ties between identical requests
	fate chan Fate
}

func (r *Request) String() string {
	if r.Body != "" {
		return r.Actor + " " + r.Op + " " + r.Key + " " + r.Body
	}
	return r.Actor + " " + r.Op + " " + r.Key
}

// Scheduler holds the pending requests of every actor.
type Scheduler struct {
	// Log, if set, receives every applied put and delete with its
	// condition and outcome (for reading a failing schedule).
	Log func(string)

	mu      sync.Mutex
	pending []*Request
	seqs    map[string]uint64
}

// NewScheduler returns an empty scheduler.
func NewScheduler() *Scheduler { return &Scheduler{seqs: map[string]uint64{}} }

// park registers a request and blocks until the scheduler releases it.
func (s *Scheduler) park(ctx context.Context, actor, op, key, body string) (Fate, error) {
	r := &Request{Actor: actor, Op: op, Key: key, Body: body, fate: make(chan Fate, 1)}
	s.mu.Lock()
	s.seqs[actor]++
	r.seq = s.seqs[actor]
	s.pending = append(s.pending, r)
	s.mu.Unlock()
	select {
	case f := <-r.fate:
		return f, nil
	case <-ctx.Done():
		s.mu.Lock()
		s.pending = slices.DeleteFunc(s.pending, func(p *Request) bool { return p == r })
		s.mu.Unlock()
		return Fail, ctx.Err()
	}
}

// Pending returns the pending requests in a deterministic order: by actor,
// op, key and the actor's call order.
func (s *Scheduler) Pending() []*Request {
	s.mu.Lock()
	out := slices.Clone(s.pending)
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *Request) int {
		return cmp.Or(cmp.Compare(a.Actor, b.Actor), cmp.Compare(a.Op, b.Op), cmp.Compare(a.Key, b.Key), cmp.Compare(a.seq, b.seq))
	})
	return out
}

// Release removes r from the pending set and lets it proceed with fate.
func (s *Scheduler) Release(r *Request, fate Fate) {
	s.mu.Lock()
	s.pending = slices.DeleteFunc(s.pending, func(p *Request) bool { return p == r })
	s.mu.Unlock()
	r.fate <- fate
}

// Pick draws one of the pending requests (in Pending's order) with rng.
func Pick(rng *rand.Rand, pending []*Request) *Request { return pending[rng.IntN(len(pending))] }

// Store is one actor's view of the object store: every call parks with the
// scheduler until released, then runs on Inner with the fate it was given.
// Mutate, if set, may rewrite a request before it runs (a mutant).
type Store struct {
	objstore.Store
	Sched *Scheduler
	Actor string
	// Rewrite, if set, is called before a released request runs (with the
	// body of a put); it may change its options or answer it itself
	// (handled true).
	Rewrite func(ctx context.Context, op, key string, body []byte, put *objstore.PutOptions, del *objstore.DeleteOptions) (handled bool, err error)
}

var (
	errFailed = fmt.Errorf("%w: sim: request failed", objstore.ErrUnavailable)
	errLost   = fmt.Errorf("%w: sim: response lost", objstore.ErrOutcomeUnknown)
)

func (s *Store) step(ctx context.Context, op, key string, mutating bool) (Fate, error) {
	return s.stepBody(ctx, op, key, "", mutating)
}

func (s *Store) stepBody(ctx context.Context, op, key, body string, mutating bool) (Fate, error) {
	f, err := s.Sched.park(ctx, s.Actor, op, key, body)
	if err != nil {
		return f, err
	}
	if f == LoseResponse && !mutating {
		f = Deliver
	}
	if f == Fail {
		return f, errFailed
	}
	return f, nil
}

func (s *Store) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	sum := sha256.Sum256(data)
	f, err := s.stepBody(ctx, "put", key, hex.EncodeToString(sum[:4]), true)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	if s.Rewrite != nil {
		o := objstore.PutOptions{}
		if opts != nil {
			o = *opts
		}
		opts = &o
		if handled, err := s.Rewrite(ctx, "put", key, data, opts, nil); handled {
			return objstore.ObjectInfo{}, err
		}
	}
	info, err := s.Store.Put(ctx, key, data, opts)
	if s.Sched.Log != nil {
		s.Sched.Log(fmt.Sprintf("%s put %s %+v -> %s %v", s.Actor, key, opts, info.ETag, err))
	}
	if err == nil && f == LoseResponse {
		return objstore.ObjectInfo{}, errLost
	}
	return info, err
}

func (s *Store) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if _, err := s.step(ctx, "get", key, false); err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	if s.Rewrite != nil {
		if handled, err := s.Rewrite(ctx, "get", key, nil, nil, nil); handled {
			return nil, objstore.ObjectInfo{}, err
		}
	}
	return s.Store.Get(ctx, key, opts)
}

func (s *Store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if _, err := s.step(ctx, "head", key, false); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if s.Rewrite != nil {
		if handled, err := s.Rewrite(ctx, "head", key, nil, nil, nil); handled {
			return objstore.ObjectInfo{}, err
		}
	}
	return s.Store.Head(ctx, key)
}

func (s *Store) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	f, err := s.step(ctx, "delete", key, true)
	if err != nil {
		return err
	}
	if s.Rewrite != nil {
		o := objstore.DeleteOptions{}
		if opts != nil {
			o = *opts
		}
		opts = &o
		if handled, err := s.Rewrite(ctx, "delete", key, nil, nil, opts); handled {
			return err
		}
	}
	err = s.Store.Delete(ctx, key, opts)
	if s.Sched.Log != nil {
		s.Sched.Log(fmt.Sprintf("%s delete %s %+v -> %v", s.Actor, key, opts, err))
	}
	if err == nil && f == LoseResponse {
		return errLost
	}
	return err
}

func (s *Store) DeleteMany(ctx context.Context, keys []string) error {
	first := ""
	if len(keys) > 0 {
		first = keys[0]
	}
	f, err := s.step(ctx, "delete-many", first, true)
	if err != nil {
		return err
	}
	err = s.Store.DeleteMany(ctx, keys)
	if err == nil && f == LoseResponse {
		return errLost
	}
	return err
}

func (s *Store) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		if _, err := s.step(ctx, "list", prefix, false); err != nil {
			yield(objstore.ObjectInfo{}, err)
			return
		}
		if s.Rewrite != nil {
			if handled, err := s.Rewrite(ctx, "list", prefix, nil, nil, nil); handled {
				if err != nil {
					yield(objstore.ObjectInfo{}, err)
				}
				return
			}
		}
		// Collect first: the listing is one request, answered at once.
		var infos []objstore.ObjectInfo
		for info, err := range s.Store.List(ctx, prefix, opts) {
			if err != nil {
				yield(objstore.ObjectInfo{}, err)
				return
			}
			infos = append(infos, info)
		}
		for _, info := range infos {
			if !yield(info, nil) {
				return
			}
		}
	}
}

func (s *Store) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	f, err := s.step(ctx, "upload", key, true)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	info, err := s.Store.Upload(ctx, key, body, opts)
	if err == nil && f == LoseResponse {
		return objstore.ObjectInfo{}, errLost
	}
	return info, err
}

func (s *Store) ListUploads(ctx context.Context, prefix string) iter.Seq2[objstore.UploadInfo, error] {
	return func(yield func(objstore.UploadInfo, error) bool) {
		if _, err := s.step(ctx, "list-uploads", prefix, false); err != nil {
			yield(objstore.UploadInfo{}, err)
			return
		}
		var ups []objstore.UploadInfo
		for u, err := range s.Store.ListUploads(ctx, prefix) {
			if err != nil {
				yield(objstore.UploadInfo{}, err)
				return
			}
			ups = append(ups, u)
		}
		for _, u := range ups {
			if !yield(u, nil) {
				return
			}
		}
	}
}

func (s *Store) AbortUpload(ctx context.Context, key, uploadID string) error {
	if _, err := s.step(ctx, "abort-upload", key, true); err != nil {
		return err
	}
	return s.Store.AbortUpload(ctx, key, uploadID)
}

// Close does nothing: the actors share the inner store.
func (s *Store) Close() error { return nil }
