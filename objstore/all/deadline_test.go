package all

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/objstore/retry"
)

// silentServer listens on loopback, accepts every connection and never
// answers (nor reads). It returns its address.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestSilentServerTimesOut: against a server that accepts connections and
// never answers, every request of both S3 backends fails within its
// request_timeout with objstore.ErrTimeout, retried as any unavailability;
// a read is ErrUnavailable, a write's outcome is unknown, and Open's probe
// fails the same way instead of hanging.
func TestSilentServerTimesOut(t *testing.T) {
	isolateAWSEnv(t, "silentaccess", "silentsecret")
	addr := silentServer(t)
	for _, scheme := range []string{openurl.SchemeS3, openurl.SchemeMinIO} {
		t.Run(scheme, func(t *testing.T) {
			q := url.Values{"endpoint": {"http://" + addr}, "region": {"us-east-1"}, "request_timeout": {"50ms"}}
			if scheme == openurl.SchemeMinIO {
				q = url.Values{"endpoint": {addr}, "tls": {"false"}, "region": {"us-east-1"}, "request_timeout": {"50ms"}}
			}
			raw := scheme + "://bucket/p?" + q.Encode()
			var attempts sync.Map
			ropts := retry.Options{MaxAttempts: 2, Sleep: func(context.Context, time.Duration) error { return nil },
				OnRetry: func(op string, attempt int, err error) { attempts.Store(op, attempt) }}
			s, err := openurl.Open(t.Context(), raw, &openurl.Options{SkipProbe: true, Retry: ropts})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			_, _, err = s.Get(t.Context(), "k", nil)
			if !errors.Is(err, objstore.ErrTimeout) || !errors.Is(err, objstore.ErrUnavailable) || errors.Is(err, objstore.ErrOutcomeUnknown) {
				t.Errorf("Get = %v, want ErrTimeout and ErrUnavailable", err)
			}
			if _, ok := attempts.Load(objstore.OpGet); !ok {
				t.Errorf("a timed-out Get was not retried")
			}
			for info, err := range s.List(t.Context(), "", nil) {
				if !errors.Is(err, objstore.ErrTimeout) {
					t.Errorf("List = %v, %v; want ErrTimeout", info, err)
				}
			}
			for what, err := range map[string]error{
				"Put": func() error { _, err := s.Put(t.Context(), "k", []byte("v"), nil); return err }(),
				"create-only Put": func() error {
					_, err := s.Put(t.Context(), "k", []byte("v"), &objstore.PutOptions{IfNoneMatch: true})
					return err
				}(),
				"Delete": s.Delete(t.Context(), "k", nil),
				"Upload": func() error { _, err := s.Upload(t.Context(), "k", strings.NewReader("v"), nil); return err }(),
			} {
				if !errors.Is(err, objstore.ErrTimeout) || !errors.Is(err, objstore.ErrOutcomeUnknown) {
					t.Errorf("%s = %v, want ErrTimeout and ErrOutcomeUnknown", what, err)
				}
			}
			// Open probes with a HEAD first: it fails, typed, not hangs.
			_, err = openurl.Open(t.Context(), raw, &openurl.Options{Retry: ropts})
			if !errors.Is(err, objstore.ErrTimeout) {
				t.Errorf("Open = %v, want ErrTimeout", err)
			}
		})
	}
}
