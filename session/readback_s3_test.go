package session_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stowage-dev/stowage/internal/faultnet"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session"
)

// TestCommitReadBackRetriesTruncatedHead: a commit that loses its
// compare-and-swap reads the head back to decide what happened; that read
// is cut off mid-body (as rclone serve s3 cuts a GET racing an overwrite).
// The read is retried and the commit reports the conflict it met, not
// ErrCommitOutcomeUnknown. On every server, through both SDKs.
func TestCommitReadBackRetriesTruncatedHead(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		for _, scheme := range []string{"s3", "minio"} {
			t.Run(scheme, func(t *testing.T) { readBackTruncated(t, srv, scheme) })
		}
	})
}

func readBackTruncated(t *testing.T, srv testenv.Server, scheme string) {
	ctx := t.Context()
	prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
	const sid = "readback"
	var armed atomic.Bool
	tr := &faultnet.Transport{Rules: []faultnet.Rule{{
		Name: "cut", Fault: faultnet.Truncate, Limit: 1, Method: http.MethodGet,
		PathPrefix: "/" + srv.Bucket + "/" + prefix + "/" + session.HeadKey(sid),
		Match:      func(*http.Request) bool { return armed.Load() },
	}}, Base: http.DefaultTransport}
	q := url.Values{"endpoint": {srv.Endpoint}, "region": {srv.Region}, "quirks": {srv.Name}}
	if scheme == "minio" {
		q.Set("endpoint", srv.Host())
		q.Set("tls", "false")
	}
	raw := scheme + "://" + srv.Bucket + "/" + prefix + "?" + q.Encode()
	handle := func(client *http.Client) *session.Store {
		st, err := openurl.Open(ctx, raw, &openurl.Options{HTTPClient: client, SkipProbe: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		s, err := session.New(session.Config{Store: st, SessionID: sid})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := handle(tr.Client()), handle(nil)
	if _, err := a.CommitRuntimeState(ctx, benchCommit(sid, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CommitRuntimeState(ctx, benchCommit(sid, 1, 1)); err != nil {
		t.Fatal(err)
	}
	// a still holds revision 1: its compare-and-swap fails, and it reads
	// the head back.
	armed.Store(true)
	_, err := a.CommitRuntimeState(ctx, benchCommit(sid, 1, 2))
	if n := tr.Stats().Rules["cut"]; n != 1 {
		t.Fatalf("the truncation fired %d times, want 1 (commit: %v)", n, err)
	}
	if !errors.Is(err, session.ErrHeadRevisionConflict) || errors.Is(err, objstore.ErrOutcomeUnknown) {
		t.Fatalf("commit over a moved head whose read-back was cut off: %v, want ErrHeadRevisionConflict", err)
	}
}
