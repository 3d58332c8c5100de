package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"golang.org/x/sys/unix"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
	"github.com/ecsd/ecsd/runtime"
)

// mkimageBuild builds hack/mkimage (a module of its own) once per test binary.
var mkimageBuild struct {
	sync.Once
	path string
	err  error
}

func mkimagePath(t *testing.T) string {
	t.Helper()
	mkimageBuild.Do(func() {
		dir, err := os.MkdirTemp("", "ecsd-e2e-mkimage-")
		if err != nil {
			mkimageBuild.err = err
			return
		}
		mkimageBuild.path = filepath.Join(dir, "mkimage")
		build := exec.Command("go", "build", "-o", mkimageBuild.path, ".")
		build.Dir = filepath.Join("..", "..", "hack", "mkimage")
		build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
		if out, err := build.CombinedOutput(); err != nil {
			mkimageBuild.err = fmt.Errorf("build hack/mkimage: %w\n%s", err, out)
		}
	})
	if mkimageBuild.err != nil {
		t.Fatal(mkimageBuild.err)
	}
	return mkimageBuild.path
}

// pushPayloadImage pushes repo:tag to the test registry: busybox plus a layer holding
// /payload, size bytes of pseudo-random data seeded by repo:tag. Random data does not
// compress, so the image takes about size in the content store and size again unpacked;
// derived from the name, the same image is pushed on every run (the registry keeps one
// copy, whatever the number of runs). It returns the reference.
func pushPayloadImage(t *testing.T, repo, tag string, size int) string {
	t.Helper()
	seed := sha256.Sum256([]byte(repo + ":" + tag))
	payload := make([]byte, size)
	rng := rand.NewChaCha8(seed)
	_, _ = rng.Read(payload)
	file := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(file, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(mkimagePath(t), "-registry", testenv.Registry(), "-repo", repo, "-tag", tag,
		"-extra-file", file+":/payload").CombinedOutput()
	if err != nil {
		t.Fatalf("push %s:%s: %v\n%s", repo, tag, err, out)
	}
	return testenv.Registry() + "/" + repo + ":" + tag
}

// ownContainerd starts a containerd of the test's own whose root (content store and
// snapshots) is root, so the test can measure and fill the file system images live on
// without sharing it with other tests. It returns the socket; the daemon is stopped, by its
// PID, when the test ends (register anything that must outlive it, like a tmpfs holding
// root, before calling this, and the agent host after).
func ownContainerd(t *testing.T, root string) string {
	t.Helper()
	testenv.RequireRoot(t)
	// Short: the shims' sockets live under it, and a socket path has at most 107 bytes.
	state := filepath.Join(testHostDir, testenv.UniqueName(t, "cd"))
	for _, d := range []string{root, state} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	addr := filepath.Join(state, "containerd.sock")
	cfg := filepath.Join(state, "config.toml")
	toml := fmt.Sprintf(`version = 3
root = '%[1]s'
state = '%[2]s'
imports = []
disabled_plugins = [
  'io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.images', 'io.containerd.cri.v1.runtime',
  'io.containerd.podsandbox.controller.v1.podsandbox', 'io.containerd.nri.v1.nri',
  'io.containerd.snapshotter.v1.btrfs', 'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.devmapper', 'io.containerd.snapshotter.v1.blockfile',
  'io.containerd.snapshotter.v1.aufs',
]
[grpc]
  address = '%[3]s'
[ttrpc]
  address = '%[3]s.ttrpc'
[plugins]
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = '%[2]s/s'
  [plugins.'io.containerd.internal.v1.opt']
    path = '%[2]s/opt'
  [plugins.'io.containerd.transfer.v1.local']
    config_path = ''
`, root, state, addr)
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("containerd", "--config", cfg)
	// The shim finds runc on the daemon's PATH.
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/local/bin:/usr/bin:/sbin:/bin")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if err := os.RemoveAll(state); err != nil {
			t.Errorf("remove containerd state: %v", err)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("unix", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("containerd on %s did not answer in 30 s:\n%s", addr, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// duBytes is the disk space the files under dir take, counted in blocks as du does.
func duBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		n += st.Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatalf("du %s: %v", dir, err)
	}
	return n
}

// imageDataBytes is what a containerd root's content store and overlayfs snapshots take.
func imageDataBytes(t *testing.T, root string) int64 {
	t.Helper()
	return duBytes(t, filepath.Join(root, "io.containerd.content.v1.content")) +
		duBytes(t, filepath.Join(root, "io.containerd.snapshotter.v1.overlayfs"))
}

// imageDef registers a task definition of one essential container of image running the
// shell command cmd.
func (b *backend) imageDef(family, image, cmd string) string {
	b.t.Helper()
	out, err := b.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String(family),
		NetworkMode: types.NetworkModeHost,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:      aws.String("app"),
			Image:     aws.String(image),
			Essential: aws.Bool(true),
			Memory:    aws.Int32(32),
			Command:   []string{"sh", "-c", cmd},
		}},
	})
	if err != nil {
		b.t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// runToCompletion runs a one-shot task of image and waits until it stopped after its
// container ran and exited 0.
func (b *backend) runToCompletion(family, image string) {
	b.t.Helper()
	arn := b.runTask(b.imageDef(family, image, "test -s /payload"), 1)
	tasks := b.waitTasks(family+" STOPPED", 2*time.Minute, arn, lastStatus("STOPPED"))
	c := tasks[0].Containers
	if len(c) != 1 || c[0].ExitCode == nil || *c[0].ExitCode != 0 || !slices.Contains(b.taskStatuses(arn[0]), "RUNNING") {
		b.t.Fatalf("task %s of %s did not run to completion: reason %q, containers %+v, statuses %v",
			family, image, aws.ToString(tasks[0].StoppedReason), c, b.taskStatuses(arn[0]))
	}
}

// agentImages are the Image objects by reference, read through the object API.
func agentImages(t *testing.T, o *objectClient) map[string]api.Image {
	t.Helper()
	var list api.ImageList
	if !o.get(t, "/images", &list) {
		return nil
	}
	out := map[string]api.Image{}
	for _, im := range list.Items {
		for _, ref := range im.Status.References {
			out[ref] = im
		}
	}
	return out
}

// runtimeHas reports whether the agent's containerd namespace has the image ref.
func runtimeHas(t *testing.T, h *agentHost, ref string) bool {
	t.Helper()
	_, err := h.rt.InspectImage(context.Background(), ref)
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

var (
	removedImageLine = regexp.MustCompile(`msg="removed image" .*?\bimage=(\S+) .*reason="([^"]+)"`)
	cycleLine        = regexp.MustCompile(`msg="image cleanup cycle" .*?\bremoved=(\d+)`)
)

// removals are the images the agent's log says it removed (and why), in order, and how
// many each cleanup cycle that removed any removed, from byte offset from of the log.
func removals(t *testing.T, h *agentHost, from int) (images, reasons []string, cycles []int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b[min(from, len(b)):]), "\n") {
		if m := removedImageLine.FindStringSubmatch(line); m != nil {
			images = append(images, m[1])
			reasons = append(reasons, m[2])
		}
		if m := cycleLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			cycles = append(cycles, n)
		}
	}
	return images, reasons, cycles
}

func logSize(t *testing.T, h *agentHost) int {
	t.Helper()
	st, err := os.Stat(filepath.Join(h.dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Size())
}

// TestImageCleanupRemovesUnusedImagesLRU: with its own containerd (so the disk it frees can
// be measured), an agent runs one-shot tasks of five images, an excluded image and a
// service that keeps running. While no cycle has run, every image stays, and the object API
// and `ecsctl get images` show each one's size, users, and when it may go or why it stays.
// Restarted with a 2 s cycle and two images per cycle, the agent removes the five, least
// recently used first, two per cycle (2, 2, 1), keeps the service's and the excluded image,
// and the content store and snapshots shrink by the five images' layers.
func TestImageCleanupRemovesUnusedImagesLRU(t *testing.T) {
	root := filepath.Join(t.TempDir(), "containerd")
	h := newAgentHostOn(t, ownContainerd(t, root))
	b := newBackend(t)
	const size = 4 << 20
	var refs []string
	for i := range 5 {
		refs = append(refs, pushPayloadImage(t, "ecsd/gc-lru", strconv.Itoa(i), size))
	}
	inUse := pushPayloadImage(t, "ecsd/gc-lru", "in-use", size)
	excluded := pushPayloadImage(t, "ecsd/gc-lru", "excluded", size)

	h.args = []string{}
	base := append(b.agentEnv(),
		"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER=1ms",
		"ECS_IMAGE_MINIMUM_CLEANUP_AGE=2s", "ECS_NUM_IMAGES_DELETE_PER_CYCLE=2",
		"ECS_EXCLUDE_UNTRACKED_IMAGE="+excluded,
		// Timed cycles only: this test is not about disk pressure.
		"ECSD_IMAGE_GC_HIGH_PERCENT=100")
	h.env = append(slices.Clone(base), "ECSD_IMAGE_CLEANUP_INTERVAL=1h")
	h.start()
	defer func() { h.kill(syscall.SIGTERM) }()
	b.waitConnected(h)
	objects := newObjectClient(h)

	svc := b.runTask(b.imageDef("gc-service", inUse, "trap 'exit 0' TERM; while true; do sleep 1; done"), 1)
	b.waitTasks("service RUNNING", 2*time.Minute, svc, lastStatus("RUNNING"))
	// The excluded image is the least recently used of all: it would go first. Each image
	// is released (its task cleaned up) in a second of its own, the resolution of the
	// checkpoint's times, so that least recently used is one order.
	for i, ref := range append([]string{excluded}, refs...) {
		b.runToCompletion(fmt.Sprintf("gc-once-%d", i), ref)
		var released time.Time
		waitUntil(t, h, ref+" released by its task's cleanup", time.Minute, func() bool {
			im, ok := agentImages(t, objects)[ref]
			if ok && len(im.Status.Users) == 0 && im.Status.LastUsedAt != nil {
				released = im.Status.LastUsedAt.Time
			}
			return !released.IsZero() && time.Now().Unix() > released.Unix()
		})
	}
	// Every one-shot task cleaned up and every image old enough: each says so.
	want := func(ref string) string {
		switch ref {
		case inUse:
			return "in use by "
		case excluded:
			return "excluded by ECS_EXCLUDE_UNTRACKED_IMAGE"
		}
		return "waiting for the next cleanup cycle"
	}
	all := append(slices.Clone(refs), inUse, excluded)
	var mismatch string
	waitUntil(t, h, "every image's cleanup status", 2*time.Minute, func() bool {
		ims := agentImages(t, objects)
		for _, ref := range all {
			im, ok := ims[ref]
			if !ok || !strings.HasPrefix(im.Status.KeptBecause, want(ref)) || im.Status.Size < size ||
				(ref == inUse) != (len(im.Status.Users) == 1) || (ref != inUse && ref != excluded) != (im.Status.CleanupAfter != nil) {
				mismatch = fmt.Sprintf("%s: %t %+v", ref, ok, im.Status)
				return false
			}
		}
		return true
	}, func() string { return mismatch })
	ctl := ecsctlIn{t: t, bin: buildEcsctl(t), h: h}
	out := ctl.must("get", "images")
	for _, ref := range all {
		row := rowOf(out, api.ImageName(agentImages(t, objects)[ref].Spec.Digest))
		wantCleanup := "due"
		switch ref {
		case inUse:
			wantCleanup = "in"
		case excluded:
			wantCleanup = "excluded"
		}
		// NAME REFERENCES SIZE USERS PULLED LAST-USED CLEANUP…
		if len(row) < 7 || row[1] != ref || !strings.HasSuffix(row[2], "MiB") || row[6] != wantCleanup {
			t.Errorf("ecsctl get images row of %s: %q, want its size and %q; output:\n%s", ref, row, wantCleanup, out)
		}
	}
	for _, ref := range all {
		if !runtimeHas(t, h, ref) {
			t.Fatalf("%s was removed before any cleanup cycle ran", ref)
		}
	}
	if imgs, _, _ := removals(t, h, 0); len(imgs) != 0 {
		t.Fatalf("images removed before any cleanup cycle: %v", imgs)
	}
	before := imageDataBytes(t, root)

	// The cycles: every 2 s, two images at most, least recently used first.
	h.kill(syscall.SIGTERM)
	from := logSize(t, h)
	h.env = append(slices.Clone(base), "ECSD_IMAGE_CLEANUP_INTERVAL=2s")
	h.start()
	waitUntil(t, h, "the five unused images removed, their objects and the cycles' log lines", 2*time.Minute, func() bool {
		_, _, cycles := removals(t, h, from)
		removed := 0
		for _, n := range cycles {
			removed += n
		}
		ims := agentImages(t, objects)
		return removed >= len(refs) && !slices.ContainsFunc(refs, func(ref string) bool {
			_, tracked := ims[ref]
			return tracked || runtimeHas(t, h, ref)
		})
	})
	imgs, reasons, cycles := removals(t, h, from)
	if !slices.Equal(imgs, refs) {
		t.Errorf("removed %v, want %v (least recently used first)", imgs, refs)
	}
	if !slices.Equal(cycles, []int{2, 2, 1}) {
		t.Errorf("cycles removed %v images, want 2, 2, 1 (ECS_NUM_IMAGES_DELETE_PER_CYCLE=2)", cycles)
	}
	for _, r := range reasons {
		if r != "cleanup cycle" {
			t.Errorf("removal reason %q", r)
		}
	}
	for _, ref := range []string{inUse, excluded} {
		if !runtimeHas(t, h, ref) {
			t.Errorf("%s was removed", ref)
		}
	}
	ims := agentImages(t, objects)
	for _, ref := range refs {
		if _, ok := ims[ref]; ok {
			t.Errorf("the Image object of removed %s is left", ref)
		}
	}
	// The bytes are gone from the disk: each image's own layer, compressed and unpacked.
	after := imageDataBytes(t, root)
	if freed := before - after; freed < 5*2*size*9/10 {
		t.Errorf("content and snapshots took %d bytes before and %d after: %d freed, want at least %d", before, after, freed, 5*2*size*9/10)
	}
	t.Logf("image data: %d bytes before the cycles, %d after", before, after)
}

// TestImageCleanupPullsRemovedImageAgain: with prefer-cached and once (where the reference
// agent turns cleanup off, or would keep using a record of a pull that is gone), an image
// removed by cleanup is pulled again when a task needs it, and the task runs.
func TestImageCleanupPullsRemovedImageAgain(t *testing.T) {
	ref := pushPayloadImage(t, "ecsd/gc-again", "1", 1<<20)
	for _, behavior := range []string{"prefer-cached", "once"} {
		t.Run(behavior, func(t *testing.T) {
			h := newAgentHost(t)
			b := newBackend(t)
			h.args = []string{}
			h.env = append(b.agentEnv(), "ECS_IMAGE_PULL_BEHAVIOR="+behavior,
				"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER=1ms",
				"ECSD_IMAGE_CLEANUP_INTERVAL=1s", "ECS_IMAGE_MINIMUM_CLEANUP_AGE=1s", "ECSD_IMAGE_GC_HIGH_PERCENT=100")
			h.start()
			defer h.kill(syscall.SIGTERM)
			b.waitConnected(h)
			b.runToCompletion("gc-again-1", ref)
			waitUntil(t, h, "the image removed once its task was cleaned up", 2*time.Minute, func() bool {
				imgs, _, _ := removals(t, h, 0)
				return len(imgs) == 1 && !runtimeHas(t, h, ref)
			})
			b.runToCompletion("gc-again-2", ref)
		})
	}
}

// TestImageCleanupUntracked: with ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP, images no task
// pulled and another client's stopped container in the agent's containerd namespace go
// once old enough; an excluded untracked image stays.
func TestImageCleanupUntracked(t *testing.T) {
	h := newAgentHost(t)
	b := newBackend(t)
	unused := pushPayloadImage(t, "ecsd/gc-untracked", "unused", 1<<20)
	used := pushPayloadImage(t, "ecsd/gc-untracked", "used", 1<<20)
	keep := pushPayloadImage(t, "ecsd/gc-untracked", "keep", 1<<20)
	ctx := context.Background()
	for _, ref := range []string{unused, used, keep} {
		if _, err := h.rt.PullImage(ctx, ref, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Another client's container (as ctr would make it: no ecsd labels), never started.
	out, err := exec.Command("ctr", "--address", h.containerd, "-n", h.ns, "containers", "create", used, "other-client").CombinedOutput()
	if err != nil {
		t.Fatalf("ctr containers create: %v\n%s", err, out)
	}
	h.args = []string{}
	h.env = append(b.agentEnv(), "ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP=true", "NON_ECS_IMAGE_MINIMUM_CLEANUP_AGE=1s",
		"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s", "ECSD_IMAGE_CLEANUP_INTERVAL=1s",
		"ECS_EXCLUDE_UNTRACKED_IMAGE="+keep, "ECSD_IMAGE_GC_HIGH_PERCENT=100")
	h.start()
	defer h.kill(syscall.SIGTERM)
	waitUntil(t, h, "the untracked images and the stopped container removed", 2*time.Minute, func() bool {
		others, err := h.rt.ListUnmanagedContainers(ctx)
		return err == nil && len(others) == 0 && !runtimeHas(t, h, unused) && !runtimeHas(t, h, used)
	})
	if !runtimeHas(t, h, keep) {
		t.Error("the excluded untracked image was removed")
	}
	h.waitLog("container=other-client image=" + used)
}

// TestDiskPressureKeepsImagesUnderHighWater: the containerd's root is a 256 MiB tmpfs, and
// a service plus a sequence of one-shot tasks, each with an image of its own taking about
// 33 MiB (16 MiB of random data, stored compressed and unpacked), would need far more. With
// the high- and low-water marks at 70 % and 50 % and no timed cycle, every task runs, the
// file system never goes more than one image over the high-water mark, and the service's
// image, in use all along, stays.
func TestDiskPressureKeepsImagesUnderHighWater(t *testing.T) {
	mnt := testenv.MountTmpfs(t, "size=256m")
	root := filepath.Join(mnt, "containerd")
	h := newAgentHostOn(t, ownContainerd(t, root))
	b := newBackend(t)
	const size, tasks = 16 << 20, 8
	svcImage := pushPayloadImage(t, "ecsd/gc-pressure", "service", size)
	var refs []string
	for i := range tasks {
		refs = append(refs, pushPayloadImage(t, "ecsd/gc-pressure", strconv.Itoa(i), size))
	}
	usage := func() (used, total uint64) {
		var st unix.Statfs_t
		if err := unix.Statfs(mnt, &st); err != nil {
			t.Fatal(err)
		}
		used = (st.Blocks - st.Bfree) * uint64(st.Bsize)
		return used, used + st.Bavail*uint64(st.Bsize)
	}
	h.args = []string{}
	h.env = append(b.agentEnv(), "ECSD_IMAGE_GC_HIGH_PERCENT=70", "ECSD_IMAGE_GC_LOW_PERCENT=50",
		"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1s", "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION_JITTER=1ms",
		"ECS_IMAGE_MINIMUM_CLEANUP_AGE=1s", "ECSD_IMAGE_CLEANUP_INTERVAL=1h")
	h.start()
	defer func() { h.kill(syscall.SIGTERM) }()
	b.waitConnected(h)

	used0, total := usage()
	svc := b.runTask(b.imageDef("gc-pressure-service", svcImage, "trap 'exit 0' TERM; while true; do sleep 1; done"), 1)
	b.waitTasks("service RUNNING", 2*time.Minute, svc, lastStatus("RUNNING"))
	used1, _ := usage()
	// One image, measured: the service's (its busybox layer included, which the others share).
	oneImage := used1 - used0
	high := total * 70 / 100
	if need := uint64(tasks+1) * oneImage; need <= total {
		t.Fatalf("the images need %d bytes in all, the file system has %d: the test would not fill it", need, total)
	}

	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if u, _ := usage(); u > peak {
				peak = u
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	for i, ref := range refs {
		b.runToCompletion(fmt.Sprintf("gc-pressure-%d", i), ref)
	}
	close(stop)
	<-sampled

	if !runtimeHas(t, h, svcImage) {
		t.Error("the image of the running service was removed")
	}
	imgs, reasons, _ := removals(t, h, 0)
	if len(imgs) == 0 {
		t.Fatal("nothing was removed under disk pressure")
	}
	for i, r := range reasons {
		if r != "disk pressure" || imgs[i] == svcImage {
			t.Errorf("removal of %s: reason %q", imgs[i], r)
		}
	}
	h.waitLog("image file system above the high-water mark")
	t.Logf("tmpfs of %d MiB: high-water mark %d MiB, one image %d MiB, peak %d MiB; removed %d images",
		total>>20, high>>20, oneImage>>20, peak>>20, len(imgs))
	if peak > high+oneImage {
		t.Errorf("the image file system peaked at %d bytes, more than one image (%d) over the high-water mark (%d)", peak, oneImage, high)
	}
}
