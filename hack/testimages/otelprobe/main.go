// Command otelprobe runs inside a test task container to see the container the way
// monitoring tools do. It runs OpenTelemetry's ECS resource detector
// (go.opentelemetry.io/contrib/detectors/aws/ecs), which reads the container ID from
// /proc/self/cgroup (the pattern /ecs/<task>/<64 hex>) and the rest from task metadata v4,
// and prints every resource attribute as "attr <key>=<value>", sorted. It also prints the
// ID a /proc/self/mountinfo reader finds, as Datadog's libraries and OpenTelemetry's Java,
// JavaScript and .NET container detectors do on cgroup v2 ("mountinfo.container.id=…"),
// the container's own task metadata v4 DockerId and DockerName ("v4.DockerId=…"), and the
// raw /proc/self/cgroup lines ("cgroup <line>"), then "done=1". It exits 1 when the
// detector or the metadata request fails, so a test reads its log and exit code.
//
// It is its own module so the detector's dependencies stay out of the agent's go.mod.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/detectors/aws/ecs"
)

// mountinfoID is the pattern mountinfo readers use: a bind mount whose source lies in a
// ".../<dir>/<64 hex>/" directory of the runtime and ends in hostname (Docker's
// /var/lib/docker/containers/<id>/hostname).
var mountinfoID = regexp.MustCompile(`/([^\s/]+)/([0-9a-f]{64})/[\S]*hostname`)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Printf("error=%v\n", err)
		os.Exit(1)
	}
	fmt.Println("done=1")
}

func run(ctx context.Context) error {
	res, err := ecs.NewResourceDetector().Detect(ctx)
	if err != nil {
		return fmt.Errorf("ecs detector: %w", err)
	}
	if res == nil {
		return fmt.Errorf("ecs detector: not on ECS (no ECS_CONTAINER_METADATA_URI_V4 or ECS_CONTAINER_METADATA_URI)")
	}
	var lines []string
	for _, kv := range res.Attributes() {
		lines = append(lines, fmt.Sprintf("attr %s=%s", kv.Key, kv.Value.Emit()))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	fmt.Printf("mountinfo.container.id=%s\n", fromMountinfo("/proc/self/mountinfo"))
	if err := printMetadata(ctx, os.Getenv("ECS_CONTAINER_METADATA_URI_V4")); err != nil {
		return err
	}
	return printLines("/proc/self/cgroup", "cgroup ")
}

// printMetadata prints the DockerId and DockerName of the container's own task metadata
// v4 document, what the detector's container.id is compared with.
func printMetadata(ctx context.Context, uri string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return fmt.Errorf("task metadata: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("task metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("task metadata: %s", resp.Status)
	}
	var doc struct{ DockerId, DockerName string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return fmt.Errorf("task metadata: %w", err)
	}
	fmt.Printf("v4.DockerId=%s\nv4.DockerName=%s\n", doc.DockerId, doc.DockerName)
	return nil
}

// fromMountinfo returns the first container ID the mountinfo pattern finds, skipping
// containerd's "sandboxes" (pod sandboxes, not the container), or "".
func fromMountinfo(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		for _, m := range mountinfoID.FindAllStringSubmatch(s.Text(), -1) {
			if m[1] != "sandboxes" {
				return m[2]
			}
		}
	}
	return ""
}

func printLines(path, prefix string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fmt.Println(prefix + l)
	}
	return nil
}
