package objstore

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Multiparter is the small multipart surface a backend exposes so that
// StreamUpload, the one implementation of Store.Upload's streaming logic,
// can drive it. Implementations must not touch data after a call returns:
// StreamUpload reuses the buffer for the next part. (net/http may go on
// reading a request body after the response arrived; the S3 backends cut
// their bodies off with s3compat.RequestBody.)
type Multiparter interface {
	// PutObject writes a small body in a single request (Store.Put).
	PutObject(ctx context.Context, key string, data []byte, opts *PutOptions) (ObjectInfo, error)
	// CreateUpload starts a multipart upload with opts' content type and
	// metadata. It must ignore opts' condition: providers evaluate conditions
	// at completion, and one checked only at initiation is racy.
	CreateUpload(ctx context.Context, key string, opts *PutOptions) (uploadID string, err error)
	// UploadPart uploads one part (numbered from 1) and returns its ETag.
	// Uploading the same part again replaces it, so a retry is safe.
	UploadPart(ctx context.Context, key, uploadID string, partNumber int, data []byte) (etag string, err error)
	// CompleteUpload assembles the parts, in the given order, into the object.
	// opts' condition (If-None-Match / If-Match) is applied here.
	CompleteUpload(ctx context.Context, key, uploadID string, parts []CompletedPart, opts *PutOptions) (ObjectInfo, error)
	// AbortUpload discards the upload; an upload that no longer exists is not
	// an error.
	AbortUpload(ctx context.Context, key, uploadID string) error
}

// CompletedPart names an uploaded part for CompleteUpload.
type CompletedPart struct {
	Number int
	ETag   string
	// ChecksumCRC32C is the part's CRC32C (base64) for an S3 upload created
	// with that checksum algorithm, which completion must repeat; set by
	// the S3 backends, empty otherwise.
	ChecksumCRC32C string
}

// MaxPartSize is S3's largest part (and largest single PUT).
const MaxPartSize = 5 << 30

// Part retry policy: a part whose upload fails with a retryable error
// (IsRetryable) is sent again up to partAttempts times in all, after an
// exponential backoff. Parts are idempotent, so this is always safe.
const (
	partAttempts    = 4
	partBackoffBase = 100 * time.Millisecond
	abortTimeout    = 10 * time.Second
)

// streamTuning is what tests may change in StreamUpload; StreamUpload
// itself uses defaultStreamTuning.
type streamTuning struct {
	// maxParts is MaxParts (tests reach it without 50 GB).
	maxParts int
	// backoff returns the wait before attempt (1-based: the wait before
	// the second attempt is backoff(1)).
	backoff func(attempt int) time.Duration
	// blocked, if set, is called whenever the reading goroutine is about to
	// wait for a part buffer or a slot for a part: the moment the engine
	// has read as far ahead as its memory bound allows. Tests use it to
	// release parts only then, which makes the bound observable.
	blocked func()
}

func defaultStreamTuning() streamTuning {
	return streamTuning{
		maxParts: MaxParts,
		backoff:  func(attempt int) time.Duration { return partBackoffBase << (attempt - 1) },
	}
}

func (t streamTuning) block() {
	if t.blocked != nil {
		t.blocked()
	}
}

// StreamUpload implements Store.Upload on top of a Multiparter: a body that
// ends within the first part (or exactly at its end) is written with one
// PutObject; a longer one as a multipart upload with up to opts.Concurrency
// parts in flight, holding at most Concurrency+1 part buffers at any time.
//
// The write condition in opts is applied by CompleteUpload only. A body that
// needs more than MaxParts parts fails with ErrInvalidArgument. On any
// failure, including ctx cancellation, the upload is aborted with a short
// context detached from ctx, and CompleteUpload is never called once ctx is
// done, so a cancelled upload leaves no object behind.
func StreamUpload(ctx context.Context, mp Multiparter, key string, body io.Reader, opts *UploadOptions) (ObjectInfo, error) {
	return streamUploadWith(ctx, mp, key, body, opts, defaultStreamTuning())
}

// streamUploadWith is StreamUpload with tuning.
func streamUploadWith(ctx context.Context, mp Multiparter, key string, body io.Reader, opts *UploadOptions, tune streamTuning) (ObjectInfo, error) {
	if opts == nil {
		opts = &UploadOptions{}
	}
	if err := ValidatePut(key, &opts.PutOptions); err != nil {
		return ObjectInfo{}, err
	}
	partSize := opts.PartSize
	switch {
	case partSize == 0:
		partSize = DefaultPartSize
	case partSize < MinPartSize:
		partSize = MinPartSize
	case partSize > MaxPartSize:
		return ObjectInfo{}, fmt.Errorf("objstore: upload %q: part size %d exceeds %d: %w", key, partSize, int64(MaxPartSize), ErrInvalidArgument)
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}

	u := &streamUpload{mp: mp, key: key, opts: opts, tune: tune, bufs: newPartBuffers(int(partSize), conc+1, tune.block)}
	defer u.bufs.release()
	return u.run(ctx, body, conc)
}

type streamUpload struct {
	mp   Multiparter
	key  string
	opts *UploadOptions
	tune streamTuning
	bufs *partBuffers
}

// readPart fills a fresh buffer from body. It returns the bytes read and
// whether the body ended (io.EOF: any other error of body fails the upload).
func (u *streamUpload) readPart(ctx context.Context, body io.Reader) ([]byte, bool, error) {
	buf, err := u.bufs.get(ctx)
	if err != nil {
		return nil, false, err
	}
	n, eof, err := ReadChunk(body, buf)
	if err == nil {
		return buf[:n], eof, nil
	}
	u.bufs.put(buf)
	return nil, false, fmt.Errorf("objstore: upload %q: read body: %w", u.key, err)
}

func (u *streamUpload) run(ctx context.Context, body io.Reader, conc int) (ObjectInfo, error) {
	first, eof, err := u.readPart(ctx, body)
	if err != nil {
		return ObjectInfo{}, err
	}
	var second []byte
	if !eof {
		// Read ahead: a body of exactly one part is still a single put.
		if second, eof, err = u.readPart(ctx, body); err != nil {
			return ObjectInfo{}, err
		}
		if eof && len(second) == 0 {
			u.bufs.put(second)
			second = nil
		}
	}
	if second == nil {
		if err := ctx.Err(); err != nil {
			return ObjectInfo{}, err
		}
		info, err := u.mp.PutObject(ctx, u.key, first, &u.opts.PutOptions)
		u.bufs.put(first)
		if err != nil {
			return ObjectInfo{}, err
		}
		info.Key, info.Size = u.key, int64(len(first))
		return info, nil
	}
	return u.multipart(ctx, body, conc, first, second, eof)
}

// multipart uploads first, second and the rest of body as parts.
// eofAfterSecond says that second was the body's last part.
func (u *streamUpload) multipart(ctx context.Context, body io.Reader, conc int, first, second []byte, eofAfterSecond bool) (info ObjectInfo, err error) {
	// The condition is stripped here as well as ignored by CreateUpload:
	// it belongs to CompleteUpload alone.
	createOpts := PutOptions{ContentType: u.opts.ContentType, Metadata: u.opts.Metadata}
	uploadID, err := u.mp.CreateUpload(ctx, u.key, &createOpts)
	if err != nil {
		u.bufs.put(first)
		u.bufs.put(second)
		return ObjectInfo{}, err
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			_ = u.mp.AbortUpload(actx, u.key, uploadID)
			cancel()
		}
	}()

	p := newPartSender(ctx, u, uploadID, conc)
	readErr := p.send(1, first)
	if readErr == nil {
		readErr = p.send(2, second)
	} else {
		u.bufs.put(second)
	}
	if readErr == nil {
		readErr = p.sendRest(body, eofAfterSecond)
	}
	werr := p.g.Wait()
	switch {
	case werr != nil:
		return ObjectInfo{}, werr
	case readErr != nil:
		return ObjectInfo{}, readErr
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	parts := p.parts
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	info, err = u.mp.CompleteUpload(ctx, u.key, uploadID, parts, &u.opts.PutOptions)
	if err != nil {
		return ObjectInfo{}, err
	}
	info.Key, info.Size = u.key, p.total
	return info, nil
}

// partSender sends the parts of one multipart upload, at most conc at a
// time, and collects their ETags. Its sem bounds the parts in flight; with
// the one buffer being filled by the reader that makes Concurrency+1
// buffers at most.
type partSender struct {
	u        *streamUpload
	uploadID string
	g        *errgroup.Group
	gctx     context.Context
	sem      chan struct{}
	total    int64 // bytes sent; touched by the reading goroutine only

	mu    sync.Mutex
	parts []CompletedPart
}

func newPartSender(ctx context.Context, u *streamUpload, uploadID string, conc int) *partSender {
	g, gctx := errgroup.WithContext(ctx)
	return &partSender{u: u, uploadID: uploadID, g: g, gctx: gctx, sem: make(chan struct{}, conc)}
}

// send waits for a slot, then uploads data as part number in the
// background; the buffer goes back to the pool when the part is done.
func (p *partSender) send(number int, data []byte) error {
	select {
	case p.sem <- struct{}{}:
	default:
		p.u.tune.block()
		select {
		case p.sem <- struct{}{}:
		case <-p.gctx.Done():
			p.u.bufs.put(data)
			return p.gctx.Err()
		}
	}
	p.total += int64(len(data))
	p.g.Go(func() error {
		defer func() {
			p.u.bufs.put(data)
			<-p.sem
		}()
		etag, err := p.u.uploadPart(p.gctx, p.uploadID, number, data)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.parts = append(p.parts, CompletedPart{Number: number, ETag: etag})
		p.mu.Unlock()
		return nil
	})
	return nil
}

// sendRest reads the rest of body (unless eof: the body has ended) as parts
// numbered from 3 and sends them, until the body ends, a read fails, the
// body exceeds the part limit or a part failed.
func (p *partSender) sendRest(body io.Reader, eof bool) error {
	u := p.u
	for number := 3; !eof; number++ {
		if p.gctx.Err() != nil {
			return nil
		}
		var data []byte
		var err error
		if data, eof, err = u.readPart(p.gctx, body); err != nil {
			return err
		}
		if len(data) == 0 {
			u.bufs.put(data)
			return nil
		}
		if number > u.tune.maxParts {
			u.bufs.put(data)
			return fmt.Errorf("objstore: upload %q: body exceeds %d parts of %d bytes: %w", u.key, u.tune.maxParts, u.bufs.size, ErrInvalidArgument)
		}
		if err := p.send(number, data); err != nil {
			return err
		}
	}
	return nil
}

// uploadPart sends one part, retrying retryable failures with backoff.
func (u *streamUpload) uploadPart(ctx context.Context, uploadID string, number int, data []byte) (string, error) {
	for attempt := 1; ; attempt++ {
		etag, err := u.mp.UploadPart(ctx, u.key, uploadID, number, data)
		if err == nil || attempt == partAttempts || !IsRetryable(err) || ctx.Err() != nil {
			return etag, err
		}
		t := time.NewTimer(u.tune.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
	}
}

// partBuffers hands out at most max buffers of one size to one upload and
// recycles them. Only the reading goroutine calls get; any goroutine calls
// put. Buffers come from, and go back to, a process-wide pool.
type partBuffers struct {
	size    int
	max     int
	made    int // buffers handed out so far (reader goroutine only)
	free    chan []byte
	blocked func() // called before waiting for a buffer
}

var globalPartPool sync.Pool // of *[]byte

func newPartBuffers(size, max int, blocked func()) *partBuffers {
	return &partBuffers{size: size, max: max, free: make(chan []byte, max), blocked: blocked}
}

func (p *partBuffers) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.free:
		return b[:p.size], nil
	default:
	}
	if p.made < p.max {
		p.made++
		if bp, _ := globalPartPool.Get().(*[]byte); bp != nil && cap(*bp) >= p.size {
			return (*bp)[:p.size], nil
		}
		return make([]byte, p.size), nil
	}
	p.blocked()
	select {
	case b := <-p.free:
		return b[:p.size], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *partBuffers) put(b []byte) {
	if b == nil {
		return
	}
	p.free <- b[:cap(b)]
}

// release returns the idle buffers to the global pool. Called once every
// part goroutine has finished.
func (p *partBuffers) release() {
	for {
		select {
		case b := <-p.free:
			globalPartPool.Put(&b)
		default:
			return
		}
	}
}
