package s3test

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// corruptor is a RoundTripper that flips one byte in the body of every PUT
// whose query matches, after the SDK has computed checksums and signed the
// request: what a bad NIC or proxy would do.
type corruptor struct {
	base  http.RoundTripper
	match func(*http.Request) bool

	mu   sync.Mutex
	hits int
}

func (c *corruptor) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.Body != nil && r.ContentLength > 0 && c.match(r) {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		// Flip a byte in the middle; for aws-chunked bodies that is payload,
		// not chunk framing, as long as the payload is large.
		body[len(body)/2] ^= 0x55
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = nil
		c.mu.Lock()
		c.hits++
		c.mu.Unlock()
	}
	return c.base.RoundTrip(r)
}

func (c *corruptor) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}
