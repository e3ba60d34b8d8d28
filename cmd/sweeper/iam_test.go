package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/stowage-dev/stowage/internal/exitcode"
	"github.com/stowage-dev/stowage/internal/s3compat/s3test"
	"github.com/stowage-dev/stowage/internal/testenv"
	"github.com/stowage-dev/stowage/internal/testenv/s3env"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

// iamCase runs one command as a user holding a policy and says what must
// come of it: the exit code and, for a refusal, words the error must hold
// (the S3 operation and the IAM action it needs).
type iamCase struct {
	policy string   // file under docs/iam
	remove string   // an action removed from the policy ("" for none)
	cmd    []string // "sweeper ..." or "stowage ..."
	code   int
	want   []string
}

// TestIAMPolicies applies the policies of docs/iam (the ones
// docs/operations.md shows) to MinIO users through MinIO's admin API and
// runs the sweeper, a dry run, fsck and inspect as those users: with the
// documented policy each succeeds; with one permission removed it fails
// with exit 2 and an error naming the S3 operation and the IAM action. On
// main MinIO refused the documented policy (s3:prefix is not a condition
// key of s3:ListBucketMultipartUploads) and it lacked the probe's writes.
func TestIAMPolicies(t *testing.T) {
	srv := testenv.Need(t, testenv.MinIO)
	ctx := context.Background()
	bin := buildCommands(t)
	prefix := strings.TrimSuffix(testenv.UniquePrefix(t), "/")
	storeURL := s3env.URL(srv, "s3store", prefix)
	seedIAMStore(t, srv, storeURL, prefix)
	adm, err := madmin.NewWithOptions(srv.Host(), &madmin.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []iamCase{
		{"readonly.json", "", []string{"stowage", "fsck"}, exitOK, nil},
		{"readonly.json", "", []string{"stowage", "inspect", "sessions"}, exitOK, []string{"sess", "live"}},
		{"readonly.json", "", []string{"stowage", "inspect", "head", "sess"}, exitOK, []string{`"session_id": "sess"`}},
		{"readonly.json", "", []string{"sweeper", "--dry-run", "--grace", "0s"}, exitOK, []string{"would reclaim"}},
		{"readonly.json", "", []string{"sweeper", "--grace", "0s"}, exitcode.Config, []string{"PutObject", "s3:PutObject"}},
		{"readonly.json", "s3:ListBucket", []string{"stowage", "fsck"}, exitcode.Config, []string{"ListObjectsV2", "s3:ListBucket"}},
		{"readonly.json", "s3:GetObject", []string{"stowage", "inspect", "head", "sess"}, exitcode.Config, []string{"GetObject", "s3:GetObject"}},
		{"sweeper.json", "", []string{"sweeper", "--dry-run", "--grace", "0s"}, exitOK, nil},
		{"sweeper.json", "s3:DeleteObject", []string{"sweeper", "--grace", "0s"}, exitcode.Config, []string{"DeleteObject", "s3:DeleteObject"}},
		{"sweeper.json", "", []string{"sweeper", "--grace", "0s", "--json"}, exitOK, []string{`"attachment_data": 2`, `"exit_code": 0`}},
		{"sweeper.json", "", []string{"stowage", "fsck"}, exitOK, []string{"clean"}},
		{"sweeper.json", "", []string{"stowage", "inspect", "sessions"}, exitOK, []string{"sess"}},
		{"sweeper.json", "s3:ListMultipartUploadParts", []string{"sweeper", "--grace", "0s"}, exitcode.Config, []string{"ListParts", "s3:ListMultipartUploadParts"}},
	} {
		name := strings.TrimSuffix(c.policy, ".json")
		if c.remove != "" {
			name += "-without-" + strings.TrimPrefix(c.remove, "s3:")
		}
		t.Run(strings.Join(append([]string{name}, c.cmd...), " "), func(t *testing.T) {
			if c.remove == "s3:ListMultipartUploadParts" {
				// The runs before aborted the seeded upload: leave another.
				s3test.OrphanUpload(t, srv, prefix+"/"+manifest.DataKey("01KBZ0RPHAN000000000000003"), 100)
			}
			user := policyUser(ctx, t, adm, loadPolicy(t, c.policy, srv.Bucket, prefix, c.remove), i)
			cmd := exec.Command(filepath.Join(bin, c.cmd[0]), append(c.cmd[1:], "--store", storeURL)...)
			cmd.Env = append(cleanEnv(), "AWS_ACCESS_KEY_ID="+user, "AWS_SECRET_ACCESS_KEY="+user+"-secret")
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != c.code {
				t.Fatalf("%q as a user with %s: exit %d, want %d\n%s", c.cmd, name, code, c.code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Fatalf("%q: output lacks %q:\n%s", c.cmd, w, out)
				}
			}
		})
	}
}

// loadPolicy reads docs/iam/file for bucket and prefix (the files say
// my-bucket and stowage), without the action remove.
func loadPolicy(t *testing.T, file, bucket, prefix, remove string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../docs/iam", file))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(raw), "arn:aws:s3:::my-bucket/stowage/", "arn:aws:s3:::"+bucket+"/"+prefix+"/")
	s = strings.ReplaceAll(s, "arn:aws:s3:::my-bucket", "arn:aws:s3:::"+bucket)
	s = strings.ReplaceAll(s, `"stowage/`, `"`+prefix+"/")
	var doc struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if remove != "" {
		found := false
		var kept []map[string]any
		for _, st := range doc.Statement {
			var actions []any
			for _, a := range st["Action"].([]any) {
				if a == remove {
					found = true
				} else {
					actions = append(actions, a)
				}
			}
			if len(actions) > 0 {
				st["Action"] = actions
				kept = append(kept, st)
			}
		}
		if !found {
			t.Fatalf("%s has no action %s", file, remove)
		}
		doc.Statement = kept
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// policyUser creates a MinIO user holding policy alone and returns its
// access key (its secret is the key + "-secret").
func policyUser(ctx context.Context, t *testing.T, adm *madmin.AdminClient, policy []byte, i int) string {
	t.Helper()
	user := fmt.Sprintf("iam-%d-%d", time.Now().UnixNano(), i)
	if err := adm.AddCannedPolicy(ctx, user, policy); err != nil {
		t.Fatalf("MinIO refused the policy: %v\n%s", err, policy)
	}
	if err := adm.AddUser(ctx, user, user+"-secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{user}, User: user}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = adm.RemoveUser(ctx, user)
		_ = adm.RemoveCannedPolicy(ctx, user)
	})
	return user
}

// seedIAMStore writes, as the server's root user, a session with a stray
// object and a dead intent, an orphaned attachment blob and an orphaned
// multipart upload of an attachment.
func seedIAMStore(t *testing.T, srv testenv.Server, storeURL, prefix string) {
	t.Helper()
	s3env.Env(t, srv)
	ctx := context.Background()
	s, err := openurl.Open(ctx, storeURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seedReferenced(t, s)
	seedSession(t, s, time.Now)
	if _, err := s.Put(ctx, manifest.DataKey("01KBZ0RPHAN000000000000001"), []byte("orphan"), nil); err != nil {
		t.Fatal(err)
	}
	s3test.OrphanUpload(t, srv, prefix+"/"+manifest.DataKey("01KBZ0RPHAN000000000000002"), 100)
}

// buildCommands builds both commands into a temporary directory.
func buildCommands(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/stowage", "./cmd/sweeper")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// cleanEnv is the process environment without AWS_* and STOWAGE_*.
func cleanEnv() []string {
	out := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "STOWAGE_")
	})
	return append(out, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
}
