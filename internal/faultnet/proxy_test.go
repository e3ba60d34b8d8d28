package faultnet_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stowage-dev/stowage/internal/faultnet"
)

func newProxy(t *testing.T, target string, rules ...faultnet.Rule) *faultnet.Proxy {
	t.Helper()
	p, err := faultnet.NewProxy(target, &faultnet.Transport{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestProxyForwardsHostAndRawPath(t *testing.T) {
	type seen struct{ host, uri, hdr string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.RequestURI, r.Header.Get("X-Amz-Date")}
		w.Header().Set("ETag", `"abc"`)
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	p := newProxy(t, srv.URL)
	if !strings.HasPrefix(p.URL(), "http://127.0.0.1:") {
		t.Errorf("proxy URL %q is not on 127.0.0.1", p.URL())
	}
	const uri = "/bucket/a%20b/%E6%97%A5+c%2Fd?x-id=GetObject"
	code, body, err := do(t, http.DefaultClient, "GET", p.URL()+uri, "", "X-Amz-Date", "20260101T000000Z")
	if err != nil || code != 200 || body != "hello" {
		t.Fatalf("GET via proxy = %d %q %v", code, body, err)
	}
	s := <-got
	if s.host != p.Addr() || s.uri != uri || s.hdr != "20260101T000000Z" {
		t.Errorf("server saw host %q uri %q date %q; want %q %q (signatures cover them)", s.host, s.uri, s.hdr, p.Addr(), uri)
	}
}

// TestProxyStreams proves that neither direction is buffered whole: each
// side waits for the other to see its first chunk before sending the rest.
// A buffering proxy deadlocks, and the deadline turns that into a failure.
func TestProxyStreams(t *testing.T) {
	const chunk = 1 << 20
	serverGotFirst := make(chan struct{})
	clientGotFirst := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, chunk)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			t.Errorf("server read first chunk: %v", err)
			return
		}
		close(serverGotFirst)
		n, _ := io.Copy(io.Discard, r.Body)
		if n != 3*chunk {
			t.Errorf("server read %d more bytes, want %d", n, 3*chunk)
		}
		w.Write(bytes.Repeat([]byte("r"), chunk))
		w.(http.Flusher).Flush()
		select {
		case <-clientGotFirst:
		case <-r.Context().Done():
			return
		}
		w.Write(bytes.Repeat([]byte("s"), 3*chunk))
	}))
	defer srv.Close()
	p := newProxy(t, srv.URL)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	go func() {
		pw.Write(bytes.Repeat([]byte("a"), chunk))
		select {
		case <-serverGotFirst:
		case <-ctx.Done():
			pw.CloseWithError(ctx.Err())
			return
		}
		pw.Write(bytes.Repeat([]byte("b"), 3*chunk))
		pw.Close()
	}()
	req, _ := http.NewRequestWithContext(ctx, "PUT", p.URL()+"/bucket/big", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT via proxy: %v (a proxy that buffers whole bodies deadlocks here)", err)
	}
	defer resp.Body.Close()
	buf := make([]byte, chunk)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatalf("read first response chunk: %v", err)
	}
	close(clientGotFirst)
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 3*chunk {
		t.Fatalf("read rest of response: %d bytes, %v", n, err)
	}
}

func TestProxyFaults(t *testing.T) {
	srv := newServer(t)
	p := newProxy(t, srv.URL,
		faultnet.Rule{Name: "slow", Fault: faultnet.SlowDown, Nth: []int{1}},
		faultnet.Rule{Name: "reset", Fault: faultnet.Reset, Nth: []int{2}},
		faultnet.Rule{Name: "lose", Fault: faultnet.LoseResponse, Nth: []int{3}},
	)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	code, body, err := do(t, c, "PUT", p.URL()+"/b/1", "one")
	if err != nil || code != 503 || !strings.Contains(body, "SlowDown") {
		t.Errorf("request 1 = %d %q %v, want 503 SlowDown", code, body, err)
	}
	if _, _, err := do(t, c, "PUT", p.URL()+"/b/2", "two"); err == nil {
		t.Errorf("request 2 succeeded, want a broken connection")
	}
	if _, _, err := do(t, c, "PUT", p.URL()+"/b/3", "three"); err == nil {
		t.Errorf("request 3 succeeded, want a broken connection")
	}
	code, body, err = do(t, c, "PUT", p.URL()+"/b/4", "four")
	if err != nil || code != 200 || body != "ok /b/4" {
		t.Errorf("request 4 = %d %q %v, want 200", code, body, err)
	}
	if got, want := srv.seen(), []string{"PUT /b/3 three", "PUT /b/4 four"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("server saw %q, want %q (only the lost response and the clean request reach it)", got, want)
	}
	st := p.Transport().Stats()
	if st.Rules["slow"] != 1 || st.Rules["reset"] != 1 || st.Rules["lose"] != 1 || st.Forwarded != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestProxyRejectsBadTarget(t *testing.T) {
	for _, target := range []string{"", "127.0.0.1:9000", "ftp://127.0.0.1/"} {
		if p, err := faultnet.NewProxy(target, &faultnet.Transport{}); err == nil {
			p.Close()
			t.Errorf("NewProxy(%q) succeeded", target)
		}
	}
}
