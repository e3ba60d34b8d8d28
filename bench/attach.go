package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/soak"
)

// attachments measures attach_put (with its peak RSS) and attach_get:
// attachments of AttachSize from a stream of unknown size, one at a time,
// against plain SDK multipart uploads of the same size, part size and
// concurrency; then full reads of the last of each (stowage's checks the
// digest as it streams).
func (r *run) attachments(ctx context.Context) error {
	st, _, err := r.stowage(ctx, "attach")
	if err != nil {
		return err
	}
	const sid = "bench-attach"
	a, err := attach.New(st.Manifest(), sid, &attach.Options{PartSize: r.cfg.PartSize, Concurrency: r.cfg.Concurrency, MaxSize: -1})
	if err != nil {
		return err
	}
	ref, err := r.attachPut(ctx, a)
	if err != nil {
		return err
	}
	if err := r.attachGet(ctx, a, ref); err != nil {
		return err
	}
	// The bytes are not needed any more; free the disk early.
	return a.Delete(ctx, ref.ID)
}

// attachRounds is how many times attach_put and attach_get measure each
// side, alternated: each figure, and its bound, is a ratio of medians (a
// single upload or GET of 1 GiB on each side moved a figure by a tenth
// and more between runs of the same build).
const attachRounds = 3

// attachPut measures attach_put and attach_put_peak_rss, and leaves the
// baseline's object at r.rawAttachKey and stowage's attachment, which it
// returns, for attachGet.
func (r *run) attachPut(ctx context.Context, a *attach.Store) (attach.Ref, error) {
	size, part, conc := r.cfg.AttachSize, r.cfg.PartSize, r.cfg.Concurrency
	note := fmt.Sprintf("%s, %s parts x %d in flight", sizeName(size), sizeName(part), conc)
	r.rawAttachKey = "attachment"
	var m putRounds
	var ref attach.Ref
	for i := range attachRounds {
		if i > 0 { // a new attachment each round (the same bytes would be deduplicated)
			if err := a.Delete(ctx, ref.ID); err != nil {
				return ref, err
			}
		}
		r.progress("attach_put: round %d of %d, %s", i+1, attachRounds, note)
		var err error
		if ref, err = m.round(ctx, r, a); err != nil {
			return ref, err
		}
	}
	if err := r.raw.Delete(ctx, []string{"attachment-hashed"}); err != nil {
		return ref, err
	}
	r.add(Figure{Name: AttachPut, Unit: "MB/s", Stowage: mbps(size, m.put.p50()), Baseline: mbps(size, m.raw.p50()),
		BaselineOp: "multipart upload", Check: RatioAtLeast, Target: 0.95,
		Note:  fmt.Sprintf("%s; medians of %d, alternated", note, attachRounds),
		Bound: m.raw.p50().Seconds() / m.hashed.p50().Seconds(), BoundOp: "the same upload, every byte hashed with SHA-256 as it is read"})
	if !m.noRSS {
		r.add(Figure{Name: AttachPeakRSS, Unit: "MiB", Stowage: m.rss, Baseline: m.rawRSS,
			BaselineOp: "peak RSS of the multipart upload", Check: ValueAtMost, Target: 160,
			Note: "peak resident set of the whole bench process during the put (the highest of the rounds)"})
	}
	return ref, nil
}

// putRounds accumulates attachPut's rounds.
type putRounds struct {
	put, raw, hashed samples
	rss, rawRSS      float64
	noRSS            bool // a round could not read its peak RSS
}

// round times one put by stowage, then the baseline's upload of as many
// bytes, plain and hashed, each of bytes of its own.
func (m *putRounds) round(ctx context.Context, r *run, a *attach.Store) (attach.Ref, error) {
	size := r.cfg.AttachSize
	seed := uint64(time.Now().UnixNano())
	var ref attach.Ref
	rss, ok, err := peakRSS(func() error {
		return m.put.time(func() (err error) {
			ref, err = a.Put(ctx, soak.Stream(seed, size), attach.PutOptions{MediaType: "application/octet-stream"})
			return err
		})
	})
	if err == nil && ref.Size != size {
		err = fmt.Errorf("put %d bytes, ref says %d", size, ref.Size)
	}
	if err != nil {
		return ref, err
	}
	rawRSS, _, err := peakRSS(func() error {
		return m.raw.time(func() error { return r.rawUpload(ctx, r.rawAttachKey, soak.Stream(seed+1, size)) })
	})
	if err == nil {
		err = m.hashed.time(func() error {
			return r.rawUpload(ctx, "attachment-hashed", io.TeeReader(soak.Stream(seed+2, size), sha256.New()))
		})
	}
	m.rss, m.rawRSS, m.noRSS = max(m.rss, rss), max(m.rawRSS, rawRSS), m.noRSS || !ok
	return ref, err
}

// attachGet measures attach_get: full reads of ref against GETs of the
// baseline's object, alternated, with the bound's hashed GETs between.
func (r *run) attachGet(ctx context.Context, a *attach.Store, ref attach.Ref) error {
	size := r.cfg.AttachSize
	var get, plain, hashed samples
	for i := range attachRounds {
		r.progress("attach_get: round %d of %d, %s", i+1, attachRounds, sizeName(size))
		err := get.time(func() error { return r.readAttachment(ctx, a, ref) })
		if err == nil {
			err = plain.time(func() error { return r.rawGet(ctx, io.Discard) })
		}
		if err == nil {
			err = hashed.time(func() error { return r.rawGet(ctx, hashAhead{}) })
		}
		if err != nil {
			return err
		}
	}
	r.add(Figure{Name: AttachGet, Unit: "MB/s", Stowage: mbps(size, get.p50()), Baseline: mbps(size, plain.p50()),
		BaselineOp: "GET", Check: RatioAtLeast, Target: 0.95,
		Note:  fmt.Sprintf("%s, digest checked; medians of %d, alternated", sizeName(size), attachRounds),
		Bound: plain.p50().Seconds() / hashed.p50().Seconds(), BoundOp: "the same GET, every byte hashed with SHA-256 by a second goroutine as the next MiB is read"})
	return nil
}

// readAttachment reads ref whole through stowage (its digest checked).
func (r *run) readAttachment(ctx context.Context, a *attach.Store, ref attach.Ref) error {
	body, _, err := a.Get(ctx, ref.ID, nil)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, body)
	body.Close()
	if err == nil && n != r.cfg.AttachSize {
		err = fmt.Errorf("read %d bytes of %d", n, r.cfg.AttachSize)
	}
	return err
}

// rawGet is the baseline's GET of its attachment into w.
func (r *run) rawGet(ctx context.Context, w io.Writer) error {
	n, err := r.raw.Get(ctx, r.rawAttachKey, w)
	if err == nil && n != r.cfg.AttachSize {
		err = fmt.Errorf("baseline read %d bytes of %d", n, r.cfg.AttachSize)
	}
	return err
}

// hashAhead is the baseline's digest check at its best: ReadFrom reads
// MiB chunks while a second goroutine hashes the chunks read before, as
// stowage's reads do (attach's verifier).
type hashAhead struct{}

func (hashAhead) Write([]byte) (int, error) {
	return 0, errors.New("bench: hashAhead takes ReadFrom only")
}

func (hashAhead) ReadFrom(src io.Reader) (int64, error) {
	const chunk, depth = 1 << 20, 4
	free, full := make(chan []byte, depth+1), make(chan []byte, depth)
	for range depth + 1 {
		free <- make([]byte, chunk)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h := sha256.New()
		for b := range full {
			h.Write(b)
			free <- b[:chunk]
		}
	}()
	var total int64
	var err error
	for err == nil {
		b := <-free
		var n int
		n, err = io.ReadFull(src, b)
		total += int64(n)
		if n > 0 {
			full <- b[:n]
		}
	}
	close(full)
	<-done
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return total, err
}

// rawUpload is the baseline's multipart upload of body into key.
func (r *run) rawUpload(ctx context.Context, key string, body io.Reader) error {
	n, err := r.raw.Upload(ctx, key, body, r.cfg.PartSize, r.cfg.Concurrency)
	if err == nil && n != r.cfg.AttachSize {
		err = fmt.Errorf("baseline uploaded %d bytes of %d", n, r.cfg.AttachSize)
	}
	return err
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
