package faultnet

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// Proxy is a fault-injecting reverse proxy listening on 127.0.0.1. Requests
// go through its Transport to the target, bodies streamed both ways. The
// inbound Host header is kept, so SigV4 signatures made for the proxy's
// address stay valid at the server. An injected Reset or LoseResponse
// aborts the client's connection without a response (after forwarding, for
// LoseResponse); SlowDown is answered as the Transport answers it.
type Proxy struct {
	t   *Transport
	ln  net.Listener
	srv *http.Server
	url string
}

// NewProxy starts a proxy on 127.0.0.1 (a free port) that forwards to
// target (an http:// or https:// URL) through t, whose Base sends the
// forwarded requests. Close stops it.
func NewProxy(target string, t *Transport) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("faultnet: proxy target %q is not an http(s) URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultnet: proxy listen: %w", err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		Transport:    t,
		ErrorHandler: proxyError,
		ErrorLog:     log.New(io.Discard, "", 0),
	}
	p := &Proxy{
		t:  t,
		ln: ln,
		srv: &http.Server{
			Handler:           rp,
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          log.New(io.Discard, "", 0),
		},
		url: "http://" + ln.Addr().String(),
	}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// proxyError answers a failed forward: injected connection faults abort the
// client's connection; anything else is a 502.
func proxyError(w http.ResponseWriter, _ *http.Request, err error) {
	var fe *Error
	if errors.As(err, &fe) && (fe.Fault == Reset || fe.Fault == LoseResponse) {
		panic(http.ErrAbortHandler) // the server closes the connection
	}
	http.Error(w, "faultnet: "+err.Error(), http.StatusBadGateway)
}

// URL is the proxy's base URL, http://127.0.0.1:port.
func (p *Proxy) URL() string { return p.url }

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Transport is the proxy's fault-injecting transport (for Stats).
func (p *Proxy) Transport() *Transport { return p.t }

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error { return p.srv.Close() }
