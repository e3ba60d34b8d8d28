package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// directPut measures direct transfer (attach.GrantPut, a client's PUT
// through the presigned request, attach.Seal) against the SDK's own PUT of
// the same bytes, and what the agent's side costs: its CPU time in GrantPut
// and Seal, and the bytes it moved through its store. The client is a plain
// net/http request in this process. One single-PUT grant of
// min(AttachSize, 64 MiB), the default multipart threshold, so the server
// verifies the signed SHA-256 and the agent reads nothing back.
func (r *run) directPut(ctx context.Context) error {
	if _, ok := objstore.FindPresigner(r.objs); !ok {
		r.progress("direct_put: %s cannot presign; skipped", r.res.Provider)
		return nil
	}
	size := min(r.cfg.AttachSize, attach.DefaultMultipartThreshold)
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(time.Now().UnixNano())}).Read(data)
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])

	r.seq++
	counted := &countingStore{Store: objstore.WithPrefix(r.objs, fmt.Sprintf("%sdirect-%d/", r.pfx, r.seq))}
	st, err := stowage.OpenStore(ctx, counted, stowage.Config{Logger: r.cfg.Logger})
	if err != nil {
		return err
	}
	a, err := attach.New(st.Manifest(), "bench-direct", nil)
	if err != nil {
		return err
	}
	r.progress("direct_put: %s through a grant, and the SDK's PUT, %d rounds interleaved", sizeName(size), directRounds)
	var (
		direct, raw, agentCPU, rawCPU samples
		agentBytes                    int64
	)
	for i := range directRounds {
		before := counted.bytes.Load()
		d, cpu, err := grantRound(ctx, a, id, size, data)
		if err != nil {
			return err
		}
		direct = append(direct, d)
		agentCPU = append(agentCPU, cpu)
		agentBytes = max(agentBytes, counted.bytes.Load()-before)
		var t time.Duration
		rawCPU = append(rawCPU, cpuTime(func() {
			start := time.Now()
			_, err = r.raw.Put(ctx, fmt.Sprintf("direct-%d", i), data)
			t = time.Since(start)
		}))
		if err != nil {
			return err
		}
		raw = append(raw, t)
		if err := a.Delete(ctx, id); err != nil { // the next round uploads anew
			return err
		}
	}
	note := sizeName(size) + ", one presigned PUT, SHA-256 verified by the server"
	r.add(Figure{Name: DirectPut, Unit: "MB/s", Stowage: mbps(size, direct.p50()), Baseline: mbps(size, raw.p50()),
		BaselineOp: "SDK PutObject", Check: RatioAtLeast, Target: 0.95, Note: note + fmt.Sprintf("; grant, client PUT and seal timed together; median of %d rounds", directRounds)})
	r.add(Figure{Name: DirectPutAgentCPU, Unit: "ms", Stowage: ms(agentCPU.p50()), Baseline: ms(rawCPU.p50()),
		BaselineOp: "CPU of the SDK PutObject in this process", Check: ValueAtMost, Target: 50,
		Note: "the agent's CPU in GrantPut and Seal"})
	r.add(Figure{Name: DirectPutAgentBytes, Unit: "bytes", Stowage: float64(agentBytes), Baseline: float64(size),
		BaselineOp: "bytes an agent moves putting them itself", Check: ValueAtMost, Target: 64 << 10,
		Note: "object bytes the agent's store sent and received during the grant and seal"})
	return nil
}

// directRounds is how many grants (and SDK PUTs) direct_put times.
const directRounds = 5

// grantRound is one direct upload: GrantPut, the client's PUT, Seal. It
// returns the elapsed time and the agent's CPU time (GrantPut and Seal).
func grantRound(ctx context.Context, a *attach.Store, id string, size int64, data []byte) (elapsed, cpu time.Duration, err error) {
	start := time.Now()
	var g attach.UploadGrant
	cpu = cpuTime(func() { g, err = a.GrantPut(ctx, attach.GrantPutOptions{SHA256: id, Size: size}) })
	if err != nil {
		return 0, 0, err
	}
	if err := sendGrant(ctx, *g.Put, data); err != nil {
		return 0, 0, err
	}
	cpu += cpuTime(func() { _, err = a.Seal(ctx, g) })
	return time.Since(start), cpu, err
}

// sendGrant sends data through a presigned request, as a client would.
func sendGrant(ctx context.Context, req objstore.PresignedRequest, data []byte) error {
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(data))
	if err != nil {
		return err
	}
	for k, v := range req.Header {
		if k != "Content-Length" {
			hr.Header[k] = v
		}
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("presigned PUT: %s: %s", resp.Status, body)
	}
	return nil
}

// cpuTime returns the process's user and system CPU time spent in fn.
func cpuTime(fn func()) time.Duration {
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	fn()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(after.Utime) + tv(after.Stime) - tv(before.Utime) - tv(before.Stime)
}

// countingStore counts the object bytes that pass through it: put bodies,
// uploaded streams and bytes read from gets.
type countingStore struct {
	objstore.Store
	bytes atomic.Int64
	// putBytes are the bytes of Puts alone; headBytes of the Puts of
	// session heads.
	putBytes, headBytes atomic.Int64
}

func (c *countingStore) Unwrap() objstore.Store { return c.Store }

func (c *countingStore) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	c.bytes.Add(int64(len(data)))
	c.putBytes.Add(int64(len(data)))
	if _, kind, ok := session.ParseKey(key); ok && kind == session.KeyHead {
		c.headBytes.Add(int64(len(data)))
	}
	return c.Store.Put(ctx, key, data, opts)
}

func (c *countingStore) Get(ctx context.Context, key string, opts *objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	rc, info, err := c.Store.Get(ctx, key, opts)
	if err != nil {
		return nil, info, err
	}
	return &countingReader{ReadCloser: rc, n: &c.bytes}, info, nil
}

func (c *countingStore) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	info, err := c.Store.Upload(ctx, key, body, opts)
	c.bytes.Add(info.Size)
	return info, err
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}
