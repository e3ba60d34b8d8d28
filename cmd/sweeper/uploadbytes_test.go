package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/gc"
	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// TestSweepCountsAbortedUploadBytes leaves, on each server, a multipart
// upload of an attachment with parts of 1000 and 2345 bytes orphaned (sent
// by a raw client, as a writer that died would leave it) and sweeps: a dry
// run reports 3345 bytes it would reclaim and aborts nothing; the sweep
// aborts the upload and reports the same bytes in bytes_reclaimed and in
// the reclaimed-bytes metric. On main the report said 0 bytes.
func TestSweepCountsAbortedUploadBytes(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		s3env.Env(t, srv)
		ctx := context.Background()
		prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
		storeURL := s3env.URL(srv, "s3store", prefix)
		s, err := openurl.Open(ctx, storeURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		seedReferenced(t, s)
		key := manifest.DataKey("01KBZ0RPHAN00P0AD000000000")
		id := s3test.OrphanUpload(t, srv, prefix+"/"+key, 1000, 2345)
		const want = 1000 + 2345

		rep, text := sweepJSON(t, storeURL, "--dry-run")
		if !rep.DryRun || rep.Reclaimed[gc.KindMultipart] != 1 || rep.BytesReclaimed != want {
			t.Fatalf("dry run: %+v, want 1 upload and %d bytes\n%s", rep, want, text)
		}
		if n, err := s.UploadSize(ctx, key, id); err != nil || n != want {
			t.Fatalf("upload after the dry run: %d bytes, %v", n, err)
		}
		textfile := filepath.Join(t.TempDir(), "sweeper.prom")
		rep, text = sweepJSON(t, storeURL, "--metrics-textfile", textfile)
		if rep.Reclaimed[gc.KindMultipart] != 1 || rep.BytesReclaimed != want {
			t.Fatalf("sweep: reclaimed %v, bytes %d, want 1 upload and %d bytes\n%s", rep.Reclaimed, rep.BytesReclaimed, want, text)
		}
		if _, err := s.UploadSize(ctx, key, id); !errors.Is(err, objstore.ErrNotExist) {
			t.Fatalf("upload after the sweep: %v, want ErrNotExist (aborted)", err)
		}
		prom, err := os.ReadFile(textfile)
		if err != nil {
			t.Fatal(err)
		}
		if m := `stowage_sweeper_reclaimed_bytes{shard="0-of-1"} 3345`; !strings.Contains(string(prom), m) {
			t.Fatalf("metrics lack %q:\n%s", m, prom)
		}
	})
}

// sweepJSON runs the sweeper with grace 0, --json and args, and returns
// its report and everything it printed.
func sweepJSON(t *testing.T, storeURL string, args ...string) (output, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"--store", storeURL, "--grace", "0s", "--json"}, args...), func(string) string { return "" }, &out, &errb)
	if code != exitOK {
		t.Fatalf("sweeper %q: exit %d: %s", args, code, errb.String())
	}
	var rep output
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	return rep, out.String() + errb.String()
}
