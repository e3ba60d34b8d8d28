package s3store

import (
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// DefaultMaxConns is the default Config.MaxConns.
const DefaultMaxConns = 64

// newHTTPClient returns the Store's own HTTP client: the SDK's default
// transport (dialer, TLS and timeouts) with an idle pool sized to maxConns,
// so that up to maxConns concurrent requests reuse their connections (the
// SDK keeps 10 idle per host: above 10 concurrent requests every request
// would open a new connection, a TLS handshake on real S3), and redirects
// returned rather than followed, as the SDK's client does.
func newHTTPClient(maxConns int) (*http.Client, *http.Transport) {
	tr := awshttp.NewBuildableClient().GetTransport()
	tr.MaxIdleConns = maxConns
	tr.MaxIdleConnsPerHost = maxConns
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, tr
}

// Close implements objstore.Store: later calls fail with ErrClosed, and the
// idle connections of the Store's own client are closed (an injected
// Config.HTTPClient is the caller's to close).
func (s *Store) Close() error {
	err := s.Store.Close()
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	return err
}
