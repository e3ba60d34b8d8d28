package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/internal/testenv"
)

// readmeBlock returns README.md's sh block that contains marker.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?ms)^```sh\n(.*?)^```").FindAllStringSubmatch(string(b), -1) {
		if strings.Contains(m[1], marker) {
			return m[1]
		}
	}
	t.Fatalf("README.md has no sh block with %q", marker)
	return ""
}

// TestReadmeMakeDev runs README's `make dev` block as a person would, in
// bash from the repository root, with `make dev` run twice: the second run
// starts nothing (the same processes serve), the env file exports the AWS
// credentials, region and STOWAGE_STORE, and the demo runs against MinIO
// with them. On main the env file had no AWS_* or STOWAGE_STORE (the demo
// failed on IMDS) and a second `make dev` leaked the first servers.
func TestReadmeMakeDev(t *testing.T) {
	testenv.Need(t, testenv.MinIO) // the servers are installed
	if testenv.Short() {
		t.Skip("the demo streams about 300 MiB")
	}
	block := readmeBlock(t, "make -s dev")
	dir := filepath.Join(t.TempDir(), "dev")
	bash := func(script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = "../.."
		cmd.Env = append(cleanEnv(), "STOWAGE_LOCALSTACK_DIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { _ = exec.Command("../../localstack/down.sh", dir).Run() })
	bash("make -s dev >/dev/null")
	pids := readPids(t, dir)
	bash("make -s dev >/dev/null")
	if again := readPids(t, dir); again != pids {
		t.Fatalf("a second make dev started new servers: %s, then %s", pids, again)
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "STOWAGE_STORE"} {
		if !strings.Contains(string(env), "export "+v+"=") {
			t.Fatalf("the env file does not export %s:\n%s", v, env)
		}
	}
	out := bash(block)
	if !strings.Contains(out, "exactly the orphans") {
		t.Fatalf("the README block's demo:\n%s", out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("make dev-down left %s: %v", dir, err)
	}
}

// readPids returns the pid files' contents, in order.
func readPids(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.pid"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no pid files in %s: %v", dir, err)
	}
	var b strings.Builder
	for _, f := range files {
		p, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(filepath.Base(f) + "=" + strings.TrimSpace(string(p)) + " ")
	}
	return b.String()
}

// cleanEnv is the process environment without AWS_*, STOWAGE_* and the
// test servers' variables: a person's shell before `make dev`.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "STOWAGE_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
}
