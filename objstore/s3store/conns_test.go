package s3store

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"golang.org/x/sync/errgroup"

	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore"
)

// countingProxy forwards TCP connections to a server and counts them.
type countingProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	opened int
	open   int
	closed chan struct{} // receives when a connection closes
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln, target: target, closed: make(chan struct{}, 1024)}
	go p.serve()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *countingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.opened++
		p.open++
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *countingProxy) forward(c net.Conn) {
	defer func() {
		c.Close()
		p.mu.Lock()
		p.open--
		p.mu.Unlock()
		p.closed <- struct{}{}
	}()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	go func() { _, _ = io.Copy(s, c); s.Close() }()
	_, _ = io.Copy(c, s)
}

func (p *countingProxy) counts() (opened, open int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opened, p.open
}

// TestBurstReusesConnections runs a burst of 32 workers against a real
// server through a proxy that counts TCP connections: the Store's own
// client keeps one connection per worker for reuse (the SDK default keeps
// 10, and a burst of 32 then opens a connection for most requests), and
// Close closes them.
func TestBurstReusesConnections(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		p := newCountingProxy(t, srv.Host())
		s, err := New(t.Context(), Config{
			Bucket:      srv.Bucket,
			Endpoint:    "http://" + p.ln.Addr().String(),
			Region:      srv.Region,
			Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
			Quirks:      s3test.Profile(t, srv),
		})
		if err != nil {
			t.Fatal(err)
		}
		st := objstore.WithPrefix(s, testenv.UniquePrefix(t))
		ctx := t.Context()
		if _, err := st.Put(ctx, "k", []byte("burst"), nil); err != nil {
			t.Fatal(err)
		}
		const workers, rounds, each = 32, 5, 10
		for range rounds {
			g, gctx := errgroup.WithContext(ctx)
			for range workers {
				g.Go(func() error {
					for range each {
						rc, _, err := st.Get(gctx, "k", nil)
						if err != nil {
							return err
						}
						_, _ = io.Copy(io.Discard, rc)
						rc.Close()
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
		}
		_ = st.Delete(ctx, "k", nil)
		opened, _ := p.counts()
		t.Logf("%d requests opened %d connections", workers*rounds*each+2, opened)
		// One per worker, and some slack for connections a loaded server
		// closes; the SDK's pool of 10 opens over a hundred here.
		if opened > 2*workers {
			t.Fatalf("%d requests by %d workers opened %d connections", workers*rounds*each+2, workers, opened)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wait, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for {
			if _, open := p.counts(); open == 0 {
				break
			}
			select {
			case <-p.closed:
			case <-wait.Done():
				_, open := p.counts()
				t.Fatalf("%d connections still open after Close", open)
			}
		}
	})
}
