package attach_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/chromedp/chromedp"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/objstore/s3store"
)

// uploadPage is what a web app serves: the user picks a file, the page
// sends it with the grant's request, straight to the bucket.
const uploadPage = `<!doctype html>
<html><body>
<input type="file" id="file">
<script>
window.result = "";
async function upload(grant) {
  const file = document.getElementById("file").files[0];
  const headers = {};
  for (const [k, v] of Object.entries(grant.header || {})) {
    if (k.toLowerCase() !== "content-length") headers[k] = v[0];
  }
  try {
    const resp = await fetch(grant.url, {method: grant.method, headers, body: file});
    window.result = String(resp.status);
  } catch (e) {
    window.result = "error: " + e;
  }
}
</script>
</body></html>`

// chromium returns Debian's chromium, or skips: outside CI only (CI
// installs the package, and there a missing browser fails the test).
func chromium(t *testing.T) string {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" || testenv.Required("chromium") {
			t.Fatalf("chromium is required here: %v (apt-get install chromium)", err)
		}
		t.Skipf("no chromium (apt-get install chromium): %v", err)
	}
	return path
}

// TestGrantFromBrowser uploads a file from a real headless Chromium
// through a grant on MinIO (which answers CORS for any origin), then seals
// it and reads it back through the library.
func TestGrantFromBrowser(t *testing.T) {
	exe := chromium(t)
	srv := testenv.Need(t, testenv.MinIO)
	base, err := s3store.New(t.Context(), s3store.Config{
		Bucket: srv.Bucket, Endpoint: srv.Endpoint, Region: srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		Quirks:      s3test.Profile(t, srv),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() }) // after s3test.Prefixed cleans up
	e := newGrantEnv(t, base, time.Now())
	data := randomBytes(12, 3<<20+5)
	file := filepath.Join(t.TempDir(), "upload.bin")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	a := e.attach("s")
	g, err := a.GrantPut(e.ctx, attach.GrantPutOptions{SHA256: digestOf(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	grant, _ := json.Marshal(g.Put)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, uploadPage)
	}))
	defer page.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(e.ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	if _, err := chromedp.Run(bctx, chromedp.Navigate(page.URL)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{file})); err != nil {
		t.Fatal(err)
	}
	result, err := chromedp.Run(bctx, chromedp.Evaluate[string]("upload("+string(grant)+").then(() => window.result)", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if result != "200" {
		t.Fatalf("the browser's PUT: %s", result)
	}
	ref, err := a.Seal(e.ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := a.Get(e.ctx, ref.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || digestOf(got) != digestOf(data) {
		t.Fatalf("read back: %v, digest match %v", err, digestOf(got) == digestOf(data))
	}
}
