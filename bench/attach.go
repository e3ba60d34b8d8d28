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

// attachments measures attach_put (with its peak RSS) and attach_get: one
// attachment of AttachSize from a stream of unknown size, against a plain
// SDK multipart upload of the same size, part size and concurrency; then a
// full read of each (stowage's checks the digest as it streams).
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

// attachPut measures attach_put and attach_put_peak_rss, and leaves the
// baseline's object at r.rawAttachKey.
func (r *run) attachPut(ctx context.Context, a *attach.Store) (attach.Ref, error) {
	size, part, conc := r.cfg.AttachSize, r.cfg.PartSize, r.cfg.Concurrency
	note := fmt.Sprintf("%s, %s parts x %d in flight", sizeName(size), sizeName(part), conc)
	seed := uint64(time.Now().UnixNano())
	r.progress("attach_put: stowage, %s", note)
	var ref attach.Ref
	var putTime time.Duration
	rss, rssOK, err := peakRSS(func() error {
		start := time.Now()
		var err error
		ref, err = a.Put(ctx, soak.Stream(seed, size), attach.PutOptions{MediaType: "application/octet-stream"})
		putTime = time.Since(start)
		return err
	})
	if err != nil {
		return ref, err
	}
	if ref.Size != size {
		return ref, fmt.Errorf("put %d bytes, ref says %d", size, ref.Size)
	}
	r.progress("attach_put: baseline")
	r.rawAttachKey = "attachment"
	var rawTime time.Duration
	rawRSS, _, err := peakRSS(func() error {
		rawTime, err = r.timeRawUpload(ctx, r.rawAttachKey, soak.Stream(seed+1, size))
		return err
	})
	if err != nil {
		return ref, err
	}
	hashedTime, err := r.timeRawUpload(ctx, "attachment-hashed", io.TeeReader(soak.Stream(seed+2, size), sha256.New()))
	if err != nil {
		return ref, err
	}
	if err := r.raw.Delete(ctx, []string{"attachment-hashed"}); err != nil {
		return ref, err
	}
	r.add(Figure{Name: AttachPut, Unit: "MB/s", Stowage: mbps(size, putTime), Baseline: mbps(size, rawTime),
		BaselineOp: "multipart upload", Check: RatioAtLeast, Target: 0.95, Note: note,
		Bound: rawTime.Seconds() / hashedTime.Seconds(), BoundOp: "the same upload, every byte hashed with SHA-256 as it is read"})
	if rssOK {
		r.add(Figure{Name: AttachPeakRSS, Unit: "MiB", Stowage: rss, Baseline: rawRSS,
			BaselineOp: "peak RSS of the multipart upload", Check: ValueAtMost, Target: 160,
			Note: "peak resident set of the whole bench process during the put"})
	}
	return ref, nil
}

// attachGet measures attach_get: a full read of ref against a GET of the
// baseline's object.
func (r *run) attachGet(ctx context.Context, a *attach.Store, ref attach.Ref) error {
	size := r.cfg.AttachSize
	r.progress("attach_get: %s", sizeName(size))
	start := time.Now()
	body, _, err := a.Get(ctx, ref.ID, nil)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, body)
	body.Close()
	if err != nil {
		return err
	}
	getTime := time.Since(start)
	if n != size {
		return fmt.Errorf("read %d bytes of %d", n, size)
	}
	rawGet, err := r.timeRawGet(ctx, io.Discard)
	if err != nil {
		return err
	}
	bound, err := r.getBound(ctx)
	if err != nil {
		return err
	}
	r.add(Figure{Name: AttachGet, Unit: "MB/s", Stowage: mbps(size, getTime), Baseline: mbps(size, rawGet),
		BaselineOp: "GET", Check: RatioAtLeast, Target: 0.95, Note: sizeName(size) + ", digest checked",
		Bound: bound, BoundOp: "the same GET, every byte hashed with SHA-256 by a second goroutine as the next MiB is read (medians of 3, alternated with plain GETs)"})
	return nil
}

// getBound measures attach_get's bound: 3 GETs of the baseline's
// attachment hashed (hashAhead) alternated with 3 plain ones, the plain
// median over the hashed (one pair each moved the bound over 0.73-1.15
// on MinIO).
func (r *run) getBound(ctx context.Context) (float64, error) {
	var plain, hashed samples
	for range 3 {
		for _, w := range []struct {
			to io.Writer
			s  *samples
		}{{io.Discard, &plain}, {hashAhead{}, &hashed}} {
			d, err := r.timeRawGet(ctx, w.to)
			if err != nil {
				return 0, err
			}
			*w.s = append(*w.s, d)
		}
	}
	return plain.p50().Seconds() / hashed.p50().Seconds(), nil
}

// timeRawGet times the baseline's GET of its attachment into w.
func (r *run) timeRawGet(ctx context.Context, w io.Writer) (time.Duration, error) {
	start := time.Now()
	n, err := r.raw.Get(ctx, r.rawAttachKey, w)
	d := time.Since(start)
	if err == nil && n != r.cfg.AttachSize {
		err = fmt.Errorf("baseline read %d bytes of %d", n, r.cfg.AttachSize)
	}
	return d, err
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

// timeRawUpload times the baseline's multipart upload of body into key.
func (r *run) timeRawUpload(ctx context.Context, key string, body io.Reader) (time.Duration, error) {
	start := time.Now()
	n, err := r.raw.Upload(ctx, key, body, r.cfg.PartSize, r.cfg.Concurrency)
	d := time.Since(start)
	if err == nil && n != r.cfg.AttachSize {
		err = fmt.Errorf("baseline uploaded %d bytes of %d", n, r.cfg.AttachSize)
	}
	return d, err
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
