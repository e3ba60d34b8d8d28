package bench

import (
	"context"
	"io"
	"iter"
	"sync"
	"time"

	"github.com/stowage-dev/stowage/internal/soak"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// request is one request a stowage round made: a Put (conditional on the
// key's current version, or create-only) or a DeleteMany.
type request struct {
	key     string
	size    int
	ifMatch bool
	deletes []string // a DeleteMany's keys; key is then ""
}

// recorder records the requests that pass through it while on, for the
// baseline to replay (Figure.Bound). A request it cannot replay (anything
// but Put and DeleteMany) makes the recording unusable.
type recorder struct {
	objstore.Store
	mu      sync.Mutex
	on      bool
	reqs    []request
	foreign bool // a request other than Put or DeleteMany was made while on
}

func (c *recorder) Unwrap() objstore.Store { return c.Store }

// start begins a new recording.
func (c *recorder) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on, c.reqs, c.foreign = true, nil, false
}

// stop ends the recording and returns it, ok false if it cannot be
// replayed.
func (c *recorder) stop() (reqs []request, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.reqs, !c.foreign
}

func (c *recorder) add(req request, foreign bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on {
		c.foreign = c.foreign || foreign
		if !foreign {
			c.reqs = append(c.reqs, req)
		}
	}
}

func (c *recorder) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	c.add(request{key: key, size: len(data), ifMatch: opts != nil && opts.IfMatch != ""}, false)
	return c.Store.Put(ctx, key, data, opts)
}

func (c *recorder) DeleteMany(ctx context.Context, keys []string) error {
	c.add(request{deletes: keys}, false)
	return c.Store.DeleteMany(ctx, keys)
}

func (c *recorder) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	c.add(request{}, true)
	return c.Store.Get(ctx, key, opts)
}

func (c *recorder) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	c.add(request{}, true)
	return c.Store.Head(ctx, key)
}

func (c *recorder) Delete(ctx context.Context, key string, opts *objstore.DeleteOptions) error {
	c.add(request{}, true)
	return c.Store.Delete(ctx, key, opts)
}

func (c *recorder) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	c.add(request{}, true)
	return c.Store.List(ctx, prefix, opts)
}

func (c *recorder) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	c.add(request{}, true)
	return c.Store.Upload(ctx, key, body, opts)
}

// replayer replays recorded rounds through the baseline, under its own
// keys: each session's requests in their order, the sessions at once. A
// conditional Put is an If-Match PUT of a key whose version the replayer
// follows; the rest are create-only PUTs of keys written once, and
// DeleteObjects.
type replayer struct {
	raw   Raw
	pfx   string
	data  []byte
	mu    sync.Mutex
	etags map[string]string // by the recorded key
}

func newReplayer(raw Raw, pfx string) *replayer {
	return &replayer{raw: raw, pfx: pfx, etags: map[string]string{}}
}

// replay replays reqs and returns the time it took.
func (p *replayer) replay(ctx context.Context, reqs []request) (elapsed time.Duration, err error) {
	bySession := map[string][]request{}
	var order []string
	for _, req := range reqs {
		key := req.key
		if key == "" && len(req.deletes) > 0 {
			key = req.deletes[0]
		}
		sid, _, _ := session.ParseKey(key)
		if _, seen := bySession[sid]; !seen {
			order = append(order, sid)
		}
		bySession[sid] = append(bySession[sid], req)
		if req.size > len(p.data) {
			p.data = soak.Text(3, req.size)
		}
		if _, known := p.etags[req.key]; req.ifMatch && !known {
			// The key stowage replaces must exist before its first If-Match
			// PUT (untimed).
			if p.etags[req.key], err = p.raw.Put(ctx, p.pfx+req.key, p.data[:req.size]); err != nil {
				return 0, err
			}
		}
	}
	d, err := parallel(ctx, len(order), func(ctx context.Context, i int) error {
		return p.session(ctx, bySession[order[i]])
	})
	return d, err
}

func (p *replayer) etagOf(key string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.etags[key]
}

func (p *replayer) setEtag(key, etag string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.etags[key] = etag
}

// session replays one session's requests in order.
func (p *replayer) session(ctx context.Context, reqs []request) error {
	for _, req := range reqs {
		var err error
		switch {
		case len(req.deletes) > 0:
			keys := make([]string, len(req.deletes))
			for i, k := range req.deletes {
				keys[i] = p.pfx + k
			}
			err = p.raw.Delete(ctx, keys)
		case req.ifMatch:
			var etag string
			etag, err = p.raw.PutIfMatch(ctx, p.pfx+req.key, p.data[:req.size], p.etagOf(req.key))
			p.setEtag(req.key, etag)
		default:
			_, err = p.raw.PutIfMatch(ctx, p.pfx+req.key, p.data[:req.size], "")
		}
		if err != nil {
			return err
		}
	}
	return nil
}
