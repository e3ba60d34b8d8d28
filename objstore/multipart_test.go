package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sync"
	"testing"
	"time"
)

// fakeMP is an in-memory Multiparter that records what the engine does and
// checks the engine's memory bound as it goes.
type fakeMP struct {
	t        *testing.T
	partSize int
	conc     int

	mu        sync.Mutex
	uploads   map[string]map[int][]byte
	objects   map[string][]byte
	puts      int
	creates   []PutOptions
	completes []PutOptions
	aborts    []string
	abortCtx  []error // ctx.Err() seen by each abort
	inflight  int
	maxIn     int
	partsDone int // UploadPart calls that returned
	arrays    map[*byte]bool
	attempts  map[int]int

	// readBytes is updated by the body (see boundedBody).
	readBytes int64

	failPart func(number, attempt int) error // nil: no failure
	gate     chan struct{}                   // if non-nil, UploadPart waits on it
	// hold makes UploadPart wait for a release, sent only when the engine
	// blocks (tune.blocked), or for the end of the body.
	hold     bool
	release  chan struct{}
	bodyDone chan struct{}
	onPart   func(number int) // called as UploadPart starts
	failDone error            // CompleteUpload error
	// tune is the engine's tuning for f.stream: no backoff between part
	// attempts (tests never sleep).
	tune streamTuning
}

func newFakeMP(t *testing.T, partSize, conc int) *fakeMP {
	tune := defaultStreamTuning()
	tune.backoff = func(int) time.Duration { return 0 }
	return &fakeMP{t: t, partSize: partSize, conc: conc, uploads: map[string]map[int][]byte{},
		objects: map[string][]byte{}, arrays: map[*byte]bool{}, attempts: map[int]int{}, tune: tune}
}

// stream runs the upload engine on f with f's tuning.
func (f *fakeMP) stream(ctx context.Context, key string, body io.Reader, opts *UploadOptions) (ObjectInfo, error) {
	return streamUploadWith(ctx, f, key, body, opts, f.tune)
}

func (f *fakeMP) PutObject(ctx context.Context, key string, data []byte, opts *PutOptions) (ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	f.objects[key] = bytes.Clone(data)
	return ObjectInfo{ETag: "single"}, nil
}

func (f *fakeMP) CreateUpload(ctx context.Context, key string, opts *PutOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("u%d", len(f.creates))
	f.creates = append(f.creates, *opts)
	f.uploads[id] = map[int][]byte{}
	return id, nil
}

func (f *fakeMP) UploadPart(ctx context.Context, key, uploadID string, n int, data []byte) (string, error) {
	f.mu.Lock()
	f.inflight++
	f.maxIn = max(f.maxIn, f.inflight)
	f.arrays[&data[:1][0]] = true
	f.attempts[n]++
	attempt := f.attempts[n]
	f.mu.Unlock()
	if f.onPart != nil {
		f.onPart(n)
	}
	var err error
	if f.hold {
		select {
		case <-f.release:
		case <-f.bodyDone:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil && f.failPart != nil {
		err = f.failPart(n, attempt)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight--
	f.partsDone++
	if err != nil {
		return "", err
	}
	f.uploads[uploadID][n] = bytes.Clone(data)
	return fmt.Sprintf("etag-%d", n), nil
}

func (f *fakeMP) CompleteUpload(ctx context.Context, key, uploadID string, parts []CompletedPart, opts *PutOptions) (ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completes = append(f.completes, *opts)
	if f.failDone != nil {
		return ObjectInfo{}, f.failDone
	}
	var obj []byte
	for i, p := range parts {
		if p.Number != i+1 || p.ETag != fmt.Sprintf("etag-%d", p.Number) {
			f.t.Errorf("complete: part %d is %+v", i, p)
		}
		obj = append(obj, f.uploads[uploadID][p.Number]...)
	}
	f.objects[key] = obj
	delete(f.uploads, uploadID)
	return ObjectInfo{ETag: "multi"}, nil
}

func (f *fakeMP) AbortUpload(ctx context.Context, key, uploadID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aborts = append(f.aborts, uploadID)
	f.abortCtx = append(f.abortCtx, ctx.Err())
	delete(f.uploads, uploadID)
	return nil
}

// boundedBody serves data and fails the test if the engine reads further
// ahead than its memory bound allows: a buffer is only reused after the
// UploadPart call holding it returned, so the bytes read can never exceed
// (returned parts + Concurrency + 1) x PartSize.
type boundedBody struct {
	f    *fakeMP
	r    io.Reader
	err  error // returned at the end instead of io.EOF, if set
	once sync.Once
}

func (b *boundedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.f.mu.Lock()
	b.f.readBytes += int64(n)
	limit := int64(b.f.partsDone+b.f.conc+1) * int64(b.f.partSize)
	if b.f.readBytes > limit {
		b.f.t.Errorf("engine read %d bytes with %d parts returned; bound is %d", b.f.readBytes, b.f.partsDone, limit)
	}
	b.f.mu.Unlock()
	if err == io.EOF && b.f.bodyDone != nil {
		b.once.Do(func() { close(b.f.bodyDone) })
	}
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func randomBytes(t *testing.T, n int) []byte {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

const mpPart = MinPartSize

func TestStreamUploadSinglePut(t *testing.T) {
	for _, size := range []int{0, 1, mpPart - 1, mpPart} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			f := newFakeMP(t, mpPart, 2)
			data := randomBytes(t, size)
			opts := &UploadOptions{PutOptions: PutOptions{IfNoneMatch: true}, PartSize: mpPart, Concurrency: 2}
			info, err := StreamUpload(context.Background(), f, "k", &boundedBody{f: f, r: bytes.NewReader(data)}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if f.puts != 1 || len(f.creates) != 0 {
				t.Fatalf("puts=%d creates=%d, want one put and no multipart", f.puts, len(f.creates))
			}
			if info.Key != "k" || info.Size != int64(size) || info.ETag != "single" {
				t.Fatalf("info = %+v", info)
			}
			if !bytes.Equal(f.objects["k"], data) {
				t.Fatal("stored object differs from body")
			}
		})
	}
}

// holdParts makes f's parts wait until the engine has read as far ahead as
// it may, then releases one part each time the engine blocks: a read beyond
// the memory bound is then caught by boundedBody every time, not by luck.
func holdParts(f *fakeMP) {
	f.hold = true
	f.release = make(chan struct{})
	f.bodyDone = make(chan struct{})
	f.tune.blocked = func() {
		select {
		case f.release <- struct{}{}:
		case <-f.bodyDone:
		}
	}
}

func TestStreamUploadMultipart(t *testing.T) {
	const conc = 3
	f := newFakeMP(t, mpPart, conc)
	holdParts(f)
	data := randomBytes(t, 7*mpPart+mpPart/2)
	opts := &UploadOptions{
		PutOptions:  PutOptions{IfMatch: "abc", ContentType: "text/plain", Metadata: map[string]string{"a": "b"}},
		PartSize:    1, // raised to MinPartSize
		Concurrency: conc,
	}
	info, err := f.stream(context.Background(), "k", &boundedBody{f: f, r: bytes.NewReader(data)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "k" || info.Size != int64(len(data)) || info.ETag != "multi" {
		t.Fatalf("info = %+v", info)
	}
	if !bytes.Equal(f.objects["k"], data) {
		t.Fatal("stored object differs from body")
	}
	if f.puts != 0 || len(f.creates) != 1 || len(f.completes) != 1 || len(f.aborts) != 0 {
		t.Fatalf("puts=%d creates=%d completes=%d aborts=%d", f.puts, len(f.creates), len(f.completes), len(f.aborts))
	}
	if c := f.creates[0]; c.Conditional() || c.ContentType != "text/plain" || c.Metadata["a"] != "b" {
		t.Fatalf("CreateUpload got %+v; want content type and metadata, no condition", c)
	}
	if c := f.completes[0]; c.IfMatch != "abc" {
		t.Fatalf("CompleteUpload got %+v; want the If-Match condition", c)
	}
	if f.maxIn > conc {
		t.Fatalf("%d parts in flight, limit %d", f.maxIn, conc)
	}
	if len(f.arrays) > conc+1 {
		t.Fatalf("engine used %d part buffers, bound is %d", len(f.arrays), conc+1)
	}
}

// TestStreamUploadParallel holds every part until Concurrency parts are in
// flight at once: an engine that serialised parts would never get there.
func TestStreamUploadParallel(t *testing.T) {
	const conc = 4
	f := newFakeMP(t, mpPart, conc)
	f.gate = make(chan struct{})
	var once sync.Once
	f.onPart = func(int) {
		f.mu.Lock()
		full := f.inflight == conc
		f.mu.Unlock()
		if full {
			once.Do(func() { close(f.gate) })
		}
	}
	data := randomBytes(t, 10*mpPart)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // guard, not a wait
	defer cancel()
	if _, err := f.stream(ctx, "k", &boundedBody{f: f, r: bytes.NewReader(data)}, &UploadOptions{PartSize: mpPart, Concurrency: conc}); err != nil {
		t.Fatalf("upload never reached %d parts in flight: %v", conc, err)
	}
	if f.maxIn != conc || !bytes.Equal(f.objects["k"], data) {
		t.Fatalf("max in flight %d, want %d; object ok=%v", f.maxIn, conc, bytes.Equal(f.objects["k"], data))
	}
}

func TestStreamUploadRetriesTransientParts(t *testing.T) {
	f := newFakeMP(t, mpPart, 2)
	f.failPart = func(n, attempt int) error {
		if n == 2 && attempt < partAttempts {
			return fmt.Errorf("fake: %w", ErrUnavailable)
		}
		if n == 3 && attempt == 1 {
			return fmt.Errorf("fake: %w", ErrThrottled)
		}
		return nil
	}
	data := randomBytes(t, 3*mpPart)
	if _, err := f.stream(context.Background(), "k", bytes.NewReader(data), &UploadOptions{PartSize: mpPart, Concurrency: 2}); err != nil {
		t.Fatal(err)
	}
	if f.attempts[2] != partAttempts || f.attempts[3] != 2 || !bytes.Equal(f.objects["k"], data) {
		t.Fatalf("attempts %v; object ok=%v", f.attempts, bytes.Equal(f.objects["k"], data))
	}
}

func TestStreamUploadAbortsOnFailure(t *testing.T) {
	readErr := errors.New("disk on fire")
	cases := []struct {
		name     string
		setup    func(f *fakeMP, cancel context.CancelFunc)
		bodyErr  error
		want     error
		complete int
	}{
		{name: "permanent part error", want: ErrPermission, setup: func(f *fakeMP, _ context.CancelFunc) {
			f.failPart = func(n, _ int) error {
				if n == 3 {
					return fmt.Errorf("fake: %w", ErrPermission)
				}
				return nil
			}
		}},
		{name: "retries exhausted", want: ErrUnavailable, setup: func(f *fakeMP, _ context.CancelFunc) {
			f.failPart = func(n, _ int) error {
				if n == 2 {
					return fmt.Errorf("fake: %w", ErrUnavailable)
				}
				return nil
			}
		}},
		{name: "body error", want: readErr, bodyErr: readErr, setup: func(*fakeMP, context.CancelFunc) {}},
		{name: "cancelled", want: context.Canceled, setup: func(f *fakeMP, cancel context.CancelFunc) {
			f.onPart = func(n int) {
				if n == 2 {
					cancel()
				}
			}
		}},
		{name: "complete fails", want: ErrPreconditionFailed, complete: 1, setup: func(f *fakeMP, _ context.CancelFunc) {
			f.failDone = fmt.Errorf("fake: %w", ErrPreconditionFailed)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeMP(t, mpPart, 2)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c.setup(f, cancel)
			data := randomBytes(t, 5*mpPart)
			body := &boundedBody{f: f, r: bytes.NewReader(data), err: c.bodyErr}
			_, err := f.stream(ctx, "k", body, &UploadOptions{PartSize: mpPart, Concurrency: 2})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if len(f.aborts) != 1 || f.abortCtx[0] != nil {
				t.Fatalf("aborts %v with ctx errors %v; want one abort with a live context", f.aborts, f.abortCtx)
			}
			if len(f.completes) != c.complete || len(f.objects) != 0 {
				t.Fatalf("completes=%d objects=%d", len(f.completes), len(f.objects))
			}
		})
	}
}

func TestStreamUploadMaxParts(t *testing.T) {
	f := newFakeMP(t, mpPart, 2)
	f.tune.maxParts = 3
	_, err := f.stream(context.Background(), "k", bytes.NewReader(make([]byte, 3*mpPart+1)), &UploadOptions{PartSize: mpPart, Concurrency: 2})
	if !errors.Is(err, ErrInvalidArgument) || len(f.aborts) != 1 || len(f.completes) != 0 {
		t.Fatalf("err = %v, aborts %d, completes %d; want ErrInvalidArgument and an abort", err, len(f.aborts), len(f.completes))
	}
	f = newFakeMP(t, mpPart, 2)
	f.tune.maxParts = 3
	if _, err := f.stream(context.Background(), "k", bytes.NewReader(make([]byte, 3*mpPart)), &UploadOptions{PartSize: mpPart, Concurrency: 2}); err != nil {
		t.Fatalf("exactly maxParts parts: %v", err)
	}
}

func TestStreamUploadValidates(t *testing.T) {
	f := newFakeMP(t, mpPart, 2)
	cases := []struct {
		key  string
		opts *UploadOptions
		want error
	}{
		{"", nil, ErrInvalidKey},
		{"k", &UploadOptions{PutOptions: PutOptions{IfNoneMatch: true, IfMatch: "x"}}, ErrInvalidArgument},
		{"k", &UploadOptions{PartSize: MaxPartSize + 1}, ErrInvalidArgument},
	}
	for _, c := range cases {
		if _, err := StreamUpload(context.Background(), f, c.key, bytes.NewReader(nil), c.opts); !errors.Is(err, c.want) {
			t.Errorf("StreamUpload(%q, %+v) = %v, want %v", c.key, c.opts, err, c.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := StreamUpload(ctx, f, "k", bytes.NewReader(nil), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if f.puts != 0 || len(f.creates) != 0 {
		t.Errorf("side effects after invalid input: puts=%d creates=%d", f.puts, len(f.creates))
	}
}

// TestStreamUploadUnexpectedEOF: a body that fails with io.ErrUnexpectedEOF
// (as a net/http request body does when its client disconnects) fails the
// upload with it, wherever it fails: nothing is put or completed, and a
// multipart upload is aborted. io.ReadFull reported such a body as a short
// one, and the bytes read so far were stored as the whole object.
func TestStreamUploadUnexpectedEOF(t *testing.T) {
	for _, size := range []int{0, 10, mpPart, mpPart + 10, 2 * mpPart, 3*mpPart + 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			f := newFakeMP(t, mpPart, 2)
			body := &boundedBody{f: f, r: bytes.NewReader(randomBytes(t, size)), err: io.ErrUnexpectedEOF}
			_, err := f.stream(context.Background(), "k", body, &UploadOptions{PartSize: mpPart, Concurrency: 2})
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
			}
			if f.puts != 0 || len(f.completes) != 0 || len(f.objects) != 0 {
				t.Fatalf("puts=%d completes=%d objects=%d; want nothing committed", f.puts, len(f.completes), len(f.objects))
			}
			if len(f.creates) != len(f.aborts) {
				t.Fatalf("%d uploads created, %d aborted", len(f.creates), len(f.aborts))
			}
		})
	}
}

// TestReadChunk: only io.EOF ends a stream; any other error, even
// io.ErrUnexpectedEOF, is an error with the bytes read before it.
func TestReadChunk(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name    string
		r       io.Reader
		n       int
		eof     bool
		wantErr error
	}{
		{"Full", bytes.NewReader(make([]byte, 10)), 8, false, nil},
		{"Exact", bytes.NewReader(make([]byte, 8)), 8, false, nil},
		{"Short", bytes.NewReader(make([]byte, 5)), 5, true, nil},
		{"Empty", bytes.NewReader(nil), 0, true, nil},
		{"UnexpectedEOF", io.MultiReader(bytes.NewReader(make([]byte, 5)), errAfter{io.ErrUnexpectedEOF}), 5, false, io.ErrUnexpectedEOF},
		{"UnexpectedEOFFirst", errAfter{io.ErrUnexpectedEOF}, 0, false, io.ErrUnexpectedEOF},
		{"Other", io.MultiReader(bytes.NewReader(make([]byte, 3)), errAfter{boom}), 3, false, boom},
		{"NoProgress", errAfter{nil}, 0, false, io.ErrNoProgress},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, eof, err := ReadChunk(c.r, make([]byte, 8))
			if n != c.n || eof != c.eof || !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("ReadChunk = (%d, %v, %v), want (%d, %v, %v)", n, eof, err, c.n, c.eof, c.wantErr)
			}
		})
	}
}

// errAfter returns (0, err) on every read.
type errAfter struct{ err error }

func (e errAfter) Read([]byte) (int, error) { return 0, e.err }

// TestReadSized: the bytes of a body of exactly its announced size; a
// shorter body's count, a longer one's as size+1, and an error of the
// reader's own (io.ErrUnexpectedEOF too) as itself.
func TestReadSized(t *testing.T) {
	for _, c := range []struct {
		name    string
		r       io.Reader
		got     int64
		wantErr error
	}{
		{"Exact", bytes.NewReader([]byte("01234567")), 8, nil},
		{"Short", bytes.NewReader([]byte("0123")), 4, nil},
		{"Long", bytes.NewReader([]byte("0123456789")), 9, nil},
		{"ErrorInside", io.MultiReader(bytes.NewReader([]byte("012")), errAfter{io.ErrUnexpectedEOF}), 3, io.ErrUnexpectedEOF},
		{"ErrorAtEnd", io.MultiReader(bytes.NewReader([]byte("01234567")), errAfter{io.ErrUnexpectedEOF}), 8, io.ErrUnexpectedEOF},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, got, err := ReadSized(c.r, 8)
			if got != c.got || !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("ReadSized = (%q, %d, %v), want %d bytes, %v", data, got, err, c.got, c.wantErr)
			}
			if want := "01234567"[:min(got, 8)]; string(data) != want {
				t.Fatalf("data %q, want %q", data, want)
			}
		})
	}
}
