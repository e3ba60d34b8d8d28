package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/internal/clitest"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
	"github.com/stowage-dev/stowage/session"
)

// docBlocks returns the sh blocks of a doc's section, in order.
func docBlocks(t *testing.T, doc, section string) []string {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n## "+section+"\n")
	if i < 0 {
		t.Fatalf("%s has no section %q", doc, section)
	}
	text = text[i+1:]
	if j := strings.Index(text[3:], "\n## "); j >= 0 {
		text = text[:j+3]
	}
	var out []string
	for _, m := range regexp.MustCompile("(?ms)^```sh\n(.*?)^```").FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestAttachCommandsAsDocumented runs docs/attachments.md's "Try it by
// hand" blocks as they stand, in bash, with the stowage binary built from
// this tree on PATH, against each server: grant-put, the client's curl
// through the grant, seal; then (after a commit) grant-get, and the bytes
// fetched with the presigned GET hash to the id.
func TestAttachCommandsAsDocumented(t *testing.T) {
	blocks := docBlocks(t, "../../docs/attachments.md", "Try it by hand")
	if len(blocks) != 2 {
		t.Fatalf("docs/attachments.md's Try it by hand has %d sh blocks, want 2", len(blocks))
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "stowage"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		dir := t.TempDir()
		data := make([]byte, 3<<20+7)
		rand.NewChaCha8([32]byte{7}).Read(data)
		if err := os.WriteFile(filepath.Join(dir, "recording.webm"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		id := hex.EncodeToString(sum[:])
		store := s3env.PrefixURL(t, srv)
		env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STOWAGE_STORE="+store,
			"AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey, "AWS_REGION="+srv.Region)
		bash := func(script string) string {
			t.Helper()
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", script, err, out)
			}
			return string(out)
		}
		// One shell session, as a person types it: the second block sees
		// the first one's variables.
		sealed := bash(blocks[0] + "\ndeclare -p sha size > .vars\n")
		// seal prints the ref as inspect refs --json does: snake_case, no
		// zero committed_at (on main: Go field names, "0001-01-01...").
		if !strings.Contains(sealed, `"id": "`+id+`"`) || !strings.Contains(sealed, `"media_type": "video/webm"`) ||
			strings.Contains(sealed, `"ID"`) || strings.Contains(sealed, "committed_at") || strings.Contains(sealed, "0001-01-01") {
			t.Errorf("seal's output is not inspect refs --json's row:\n%s", sealed)
		}
		commitNaming(t, store, env, id)
		bash(". ./.vars\n" + blocks[1])
		var get objstore.PresignedRequest
		b, err := os.ReadFile(filepath.Join(dir, "get.json"))
		if err != nil || json.Unmarshal(b, &get) != nil {
			t.Fatalf("get.json: %v\n%s", err, b)
		}
		resp, err := http.Get(get.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, resp.Body); err != nil || resp.StatusCode != http.StatusOK || hex.EncodeToString(h.Sum(nil)) != id {
			t.Fatalf("GET through get.json: %d, %v, digest match %v", resp.StatusCode, err, hex.EncodeToString(h.Sum(nil)) == id)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "recording.webm") {
			t.Errorf("Content-Disposition %q", cd)
		}
	})
}

// commitNaming commits session s1's first turn naming id, as the agent does.
func commitNaming(t *testing.T, store string, env []string, id string) {
	t.Helper()
	getenv := func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
		t.Setenv(k, getenv(k))
	}
	ctx := context.Background()
	_, s, _ := clitest.Session(t, store, stowage.Config{URL: &openurl.Options{Getenv: getenv}}, "s1")
	var rev uint64
	_, err := s.CommitRuntimeState(ctx, session.RuntimeCommit{
		SessionID: "s1", ExpectedHeadRevision: &rev,
		Graph: session.GraphDelta{Kind: session.DeltaAppend, Leaf: "n1",
			Nodes: []session.NodeRecord{{NodeID: "n1", Timestamp: "2026-01-01T00:00:00Z", Kind: session.PayloadEvent, Event: []byte(`{}`)}}},
		CommittedAttachmentIDs: []string{id},
	})
	if err != nil {
		t.Fatal(err)
	}
}
