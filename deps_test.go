package stowage_test

import (
	"os/exec"
	"strings"
	"testing"
)

// heavy matches the packages a light program must not link.
func heavy(pkg string) bool {
	for _, p := range []string{"github.com/aws/", "github.com/minio/", "github.com/prometheus/", "go.opentelemetry.io/"} {
		if strings.HasPrefix(pkg, p) {
			return true
		}
	}
	return false
}

func goList(t *testing.T, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("go list -deps %v: %v", pkgs, err)
	}
	return strings.Fields(string(out))
}

// TestLightImportsLinkNoSDK: a program that imports only session, the root
// package, attach, gc and the file backend links no AWS, MinIO, Prometheus
// or OpenTelemetry package; the S3 backends come with objstore/all and the
// metrics and spans with telemetry (which do link them: the check can
// fail).
func TestLightImportsLinkNoSDK(t *testing.T) {
	const mod = "github.com/stowage-dev/stowage"
	light := goList(t, mod+"/session", mod, mod+"/objstore/fsstore", mod+"/objstore/openurl", mod+"/attach", mod+"/gc")
	for _, p := range light {
		if heavy(p) {
			t.Errorf("session, stowage, attach, gc, fsstore and openurl link %s", p)
		}
	}
	n := 0
	for _, p := range goList(t, mod+"/objstore/all") {
		if heavy(p) {
			n++
		}
	}
	if n == 0 {
		t.Errorf("objstore/all links no S3 SDK: the check above proves nothing")
	}
	otel := 0
	for _, p := range goList(t, mod+"/telemetry") {
		if strings.HasPrefix(p, "go.opentelemetry.io/") {
			otel++
		}
	}
	if otel == 0 {
		t.Errorf("telemetry links no OpenTelemetry package: the check above proves nothing")
	}
	t.Logf("light program: %d packages; objstore/all adds %d AWS, MinIO and Prometheus packages", len(light), n)
}
